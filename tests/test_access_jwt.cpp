// Access tokens from an external authorization server (issue 16, issuer mode): discovery, JWTs
// against the JWKS (rotation, the refetch limit), introspection for opaque tokens. Keys are made
// and tokens signed here; the issuer is a loopback fake that counts what it is asked.
#include <catch2/catch.hpp>

#include <map>
#include <mutex>

#include "access/audit.hpp"
#include "access/authenticator.hpp"
#include "access/identities.hpp"
#include "access/issuer.hpp"
#include "access/jwt.hpp"
#include "common/base64.hpp"
#include "support/fake_upstream.hpp"
#include "support/jwt_signer.hpp"
#include "support/test_database.hpp"

using namespace concierge;
using namespace concierge::access;
using concierge::test::SigningKey;
using concierge::test::unix_seconds;

namespace {

const SigningKey& rsa_key() {
  static const SigningKey k = SigningKey::rsa("rsa-1");
  return k;
}
const SigningKey& ec_key() {
  static const SigningKey k = SigningKey::ec("ec-1");
  return k;
}

// An authorization server: documents served at whatever paths the test puts them (discovery,
// JWKS), an introspection endpoint answering what the test says about each token, and a count of
// every path asked for.
struct FakeIssuer : test::LoopbackFake {
  std::map<std::string, Json> docs;             // path -> JSON served with 200 (others 404)
  std::map<std::string, Json> introspection;    // token -> answer (others {"active": false})
  std::map<std::string, int> hits;              // path -> requests
  std::vector<std::string> introspection_auth;  // the Authorization header of each introspection
  std::string prefix;                           // the issuer's path ("" or "/tenant")
  std::string everything_received;              // every request's target, headers and body

  void record(const httplib::Request& req) {
    everything_received += req.method + " " + req.target + "\n" + req.body + "\n";
    for (auto& [k, v] : req.headers) everything_received += k + ": " + v + "\n";
  }

  explicit FakeIssuer(std::string issuer_path = "") : prefix(std::move(issuer_path)) {
    server.Get(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++hits[req.path];
      record(req);
      auto it = docs.find(req.path);
      if (it == docs.end()) {
        res.status = 404;
        return;
      }
      res.set_content(it->second.dump(), "application/json");
    });
    server.Post("/introspect", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++hits[req.path];
      record(req);
      introspection_auth.push_back(req.get_header_value("Authorization"));
      bool form = req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0;
      auto it = introspection.find(req.get_param_value("token"));
      Json answer = form && req.get_param_value("token_type_hint") == "access_token" && it != introspection.end() ? it->second
                                                                                                                 : Json{{"active", false}};
      res.set_content(answer.dump(), "application/json");
    });
    start();
    // httplib's stop() does nothing before the listener runs, so a test that never calls the
    // fake would hang in its destructor: wait for the listener (a condition, not a delay).
    while (!server.is_running()) std::this_thread::yield();
    std::lock_guard l(m);
    docs["/.well-known/oauth-authorization-server" + prefix] = metadata();
    docs["/jwks"] = Json{{"keys", Json::array({rsa_key().jwk(), ec_key().jwk()})}};
  }
  ~FakeIssuer() { stop(); }
  std::string issuer() const { return url(prefix); }
  Json metadata() const {
    return Json{{"issuer", issuer()}, {"jwks_uri", url("/jwks")}, {"introspection_endpoint", url("/introspect")}};
  }
  int hits_of(const std::string& path) {
    std::lock_guard l(m);
    return hits[path];
  }
  void set_doc(const std::string& path, Json doc) {
    std::lock_guard l(m);
    if (doc.is_null())
      docs.erase(path);
    else
      docs[path] = std::move(doc);
  }
  IssuerOptions options() const {
    IssuerOptions o;
    o.issuer = issuer();
    o.audience = "https://mcp.example.com/mcp";
    return o;
  }
};

Json claims(const FakeIssuer& f, int64_t exp_in = 600) {
  int64_t now = unix_seconds();
  return Json{{"iss", f.issuer()}, {"sub", "user-42"}, {"aud", "https://mcp.example.com/mcp"}, {"exp", now + exp_in},
              {"iat", now},        {"scope", "calendar:read mail:read unknown:scope"}};
}

// The refusal, checked to be one and never to carry the token (nor its signature).
std::string refusal(IssuerVerifier& v, const std::string& token) {
  auto r = v.verify(token);
  REQUIRE(std::holds_alternative<std::string>(r));
  auto reason = std::get<std::string>(r);
  if (!token.empty()) CHECK(reason.find(token) == std::string::npos);
  if (auto dot = token.rfind('.'); dot != std::string::npos && token.size() - dot > 8)
    CHECK(reason.find(token.substr(dot + 1)) == std::string::npos);
  return reason;
}

VerifiedToken accepted(IssuerVerifier& v, const std::string& token) {
  auto r = v.verify(token);
  if (auto* why = std::get_if<std::string>(&r)) FAIL("refused: " << *why);
  return std::get<VerifiedToken>(r);
}

std::string b64(const std::string& s) { return base64url_encode(s); }

}  // namespace

TEST_CASE("issuer: a valid RS256 token verifies, with its subject, scopes and expiry", "[access][jwt]") {
  FakeIssuer f;
  IssuerVerifier v(f.options());
  auto c = claims(f);
  auto token = rsa_key().sign(c, Json{{"typ", "at+jwt"}});
  auto t = accepted(v, token);
  CHECK(t.issuer == f.issuer());
  CHECK(t.subject == "user-42");
  CHECK(t.scopes == std::set<std::string>{"calendar:read", "mail:read"});  // unknown names dropped
  CHECK(t.expires_at == c["exp"].get<int64_t>());
  CHECK(t.via == "jwt");
  CHECK(v.metadata()["jwks_uri"] == f.url("/jwks"));
  // Metadata and keys are fetched once, not per token.
  accepted(v, rsa_key().sign(c));
  CHECK(f.hits_of("/.well-known/oauth-authorization-server") == 1);
  CHECK(f.hits_of("/jwks") == 1);
  // No token passthrough: nothing the issuer received carries the token or its signature.
  std::lock_guard l(f.m);
  CHECK(f.everything_received.find("/jwks") != std::string::npos);
  CHECK(f.everything_received.find(token.substr(token.rfind('.') + 1)) == std::string::npos);
}

TEST_CASE("issuer: a valid ES256 token verifies, aud as an array and scp as an array", "[access][jwt]") {
  FakeIssuer f;
  IssuerVerifier v(f.options());
  auto c = claims(f);
  c["aud"] = Json::array({"https://other.example.com", "https://mcp.example.com/mcp"});
  c.erase("scope");
  c["scp"] = Json::array({"music:read", "booking:write"});
  auto t = accepted(v, ec_key().sign(c, Json{{"typ", "JWT"}}));
  CHECK(t.scopes == std::set<std::string>{"music:read", "booking:write"});
  // Without a kid, any of the issuer's keys may have signed it.
  accepted(v, ec_key().sign(c, Json{{"kid", nullptr}}));
}

TEST_CASE("issuer: time claims are checked with the leeway", "[access][jwt]") {
  FakeIssuer f;
  IssuerVerifier v(f.options());  // leeway 60 s
  CHECK(refusal(v, rsa_key().sign(claims(f, -3600))) == "expired");
  accepted(v, rsa_key().sign(claims(f, -30)));  // within the leeway
  auto c = claims(f);
  c["nbf"] = unix_seconds() + 3600;
  CHECK(refusal(v, rsa_key().sign(c)).find("nbf") != std::string::npos);
  c["nbf"] = unix_seconds() + 30;
  accepted(v, rsa_key().sign(c));
  c = claims(f);
  c["iat"] = unix_seconds() + 3600;
  CHECK(refusal(v, rsa_key().sign(c)).find("iat") != std::string::npos);
  c = claims(f);
  c.erase("exp");
  CHECK(refusal(v, rsa_key().sign(c)).find("no expiry") != std::string::npos);
  c = claims(f);
  c.erase("sub");
  CHECK(refusal(v, rsa_key().sign(c)).find("no subject") != std::string::npos);
}

TEST_CASE("issuer: a bad signature, another audience or another issuer is refused", "[access][jwt]") {
  FakeIssuer f;
  IssuerVerifier v(f.options());
  // Signed by a key the issuer doesn't have, under its key's kid.
  auto impostor = SigningKey::ec("ec-1");
  CHECK(refusal(v, impostor.sign(claims(f))) == "signature does not verify");
  // A valid token with its claims changed after signing.
  auto good = rsa_key().sign(claims(f));
  auto c = claims(f);
  c["sub"] = "admin";
  auto forged = good.substr(0, good.find('.') + 1) + b64(c.dump()) + good.substr(good.rfind('.'));
  CHECK(refusal(v, forged) == "signature does not verify");
  // An ES256 signature of the wrong length.
  auto es = ec_key().sign(claims(f));
  CHECK(refusal(v, es.substr(0, es.rfind('.') + 1) + b64(std::string(63, 'x'))) == "signature does not verify");

  c = claims(f);
  c["aud"] = "https://elsewhere.example.com/mcp";
  CHECK(refusal(v, rsa_key().sign(c)) == "audience does not include https://mcp.example.com/mcp");
  c["aud"] = Json::array({"https://elsewhere.example.com/mcp"});
  CHECK(refusal(v, rsa_key().sign(c)) == "audience does not include https://mcp.example.com/mcp");
  c.erase("aud");
  CHECK(refusal(v, rsa_key().sign(c)) == "audience does not include https://mcp.example.com/mcp");

  c = claims(f);
  c["iss"] = "https://evil.example.com";
  CHECK(refusal(v, rsa_key().sign(c)) == "issuer is not " + f.issuer());
  CHECK(f.hits_of("/jwks") == 1);
}

TEST_CASE("issuer: alg none, HMAC and other algorithms are refused before any key is looked at", "[access][jwt]") {
  FakeIssuer f;
  IssuerVerifier v(f.options());
  auto payload = b64(claims(f).dump());
  CHECK(refusal(v, b64(R"({"alg":"none"})") + "." + payload + ".") == "alg none is not accepted (RS256 or ES256)");
  // HS256 "signed" with the RSA key's public modulus: the classic confusion.
  CHECK(refusal(v, b64(R"({"alg":"HS256","kid":"rsa-1"})") + "." + payload + "." + b64(std::string(32, 's'))) ==
        "alg HS256 is not accepted (RS256 or ES256)");
  CHECK(refusal(v, b64(R"({"alg":"RS512"})") + "." + payload + "." + b64("sig")).find("RS512 is not accepted") != std::string::npos);
  CHECK(refusal(v, b64(R"({"alg":"x\n\u001b[31m"})") + "." + payload + "." + b64("sig")) == "alg (unrecognised) is not accepted (RS256 or ES256)");
  CHECK(refusal(v, rsa_key().sign(claims(f), Json{{"typ", "JWE"}})) == "token type is not at+jwt or JWT");
  CHECK(refusal(v, rsa_key().sign(claims(f), Json{{"crit", {"exp"}}})) == "token header has critical extensions");
  CHECK(f.hits_of("/jwks") == 0);
}

TEST_CASE("issuer: malformed and oversized tokens are refused with a reason", "[access][jwt]") {
  FakeIssuer f;
  IssuerVerifier v(f.options());
  CHECK(refusal(v, "").find("empty") != std::string::npos);
  auto good = rsa_key().sign(claims(f));
  CHECK(refusal(v, "e*yJ." + good.substr(good.find('.') + 1)) == "malformed token: a part is not base64url");
  CHECK(refusal(v, b64("{not json") + "." + b64(claims(f).dump()) + ".c2ln") == "malformed token: the header is not a JSON object");
  CHECK(refusal(v, b64(R"({"alg":"RS256"})") + "." + b64("[1,2]") + ".c2ln") == "malformed token: the claims are not a JSON object");
  CHECK(refusal(v, b64(R"({"typ":"JWT"})") + "." + b64("{}") + ".c2ln") == "malformed token: the header names no alg");
  auto deep = std::string(100, '[') + std::string(100, ']');
  CHECK(refusal(v, b64(R"({"alg":"RS256"})") + "." + b64(deep) + ".c2ln") == "malformed token: the claims are not a JSON object");
  auto big = claims(f);
  big["pad"] = std::string(kMaxTokenBytes, 'p');
  CHECK(refusal(v, rsa_key().sign(big)) == "token is longer than 16384 bytes");
  CHECK(f.hits_of("/jwks") == 0);
}

TEST_CASE("issuer: an unknown kid refetches the JWKS once per window (rotation works, a flood doesn't reach the issuer)", "[access][jwt]") {
  FakeIssuer f;
  IssuerVerifier v(f.options());  // jwks_min_refetch 30 s
  accepted(v, rsa_key().sign(claims(f)));
  REQUIRE(f.hits_of("/jwks") == 1);
  // The issuer rotates in a new key: the first token signed with it triggers one refetch.
  auto rotated = SigningKey::ec("ec-2");
  f.set_doc("/jwks", Json{{"keys", Json::array({rsa_key().jwk(), rotated.jwk()})}});
  accepted(v, rotated.sign(claims(f)));
  CHECK(f.hits_of("/jwks") == 2);
  accepted(v, rotated.sign(claims(f)));
  CHECK(f.hits_of("/jwks") == 2);
  // Random kids within the window: refused without asking the issuer again.
  for (int i = 0; i < 20; ++i) {
    auto stranger = SigningKey::ec("random-" + std::to_string(i));
    CHECK(refusal(v, stranger.sign(claims(f))) == "the token's signing key (kid) is not in the issuer's JWKS");
  }
  CHECK(f.hits_of("/jwks") == 2);
}

TEST_CASE("issuer: with no refetch window every unknown kid asks the issuer again", "[access][jwt]") {
  FakeIssuer f;
  auto o = f.options();
  o.jwks_min_refetch = std::chrono::seconds(0);
  IssuerVerifier v(o);
  accepted(v, rsa_key().sign(claims(f)));
  auto stranger = SigningKey::ec("random");
  refusal(v, stranger.sign(claims(f)));
  refusal(v, stranger.sign(claims(f)));
  CHECK(f.hits_of("/jwks") == 3);
}

TEST_CASE("issuer: discovery falls back to OpenID Connect, insertion then appending for an issuer with a path", "[access][jwt]") {
  SECTION("no RFC 8414 document: openid-configuration") {
    FakeIssuer f;
    f.set_doc("/.well-known/oauth-authorization-server", nullptr);
    f.set_doc("/.well-known/openid-configuration", f.metadata());
    IssuerVerifier v(f.options());
    accepted(v, rsa_key().sign(claims(f)));
    CHECK(f.hits_of("/.well-known/oauth-authorization-server") == 1);
    CHECK(f.hits_of("/.well-known/openid-configuration") == 1);
  }
  SECTION("an issuer with a path: OIDC with the path appended, after both insertion forms") {
    FakeIssuer f("/tenant");
    f.set_doc("/.well-known/oauth-authorization-server/tenant", nullptr);
    f.set_doc("/tenant/.well-known/openid-configuration", f.metadata());
    IssuerVerifier v(f.options());
    CHECK(v.metadata()["issuer"] == f.url("/tenant"));
    accepted(v, rsa_key().sign(claims(f)));
    CHECK(f.hits_of("/.well-known/oauth-authorization-server/tenant") == 1);
    CHECK(f.hits_of("/.well-known/openid-configuration/tenant") == 1);
    CHECK(f.hits_of("/tenant/.well-known/openid-configuration") == 1);
    CHECK(f.hits_of("/.well-known/oauth-authorization-server") == 0);
  }
}

TEST_CASE("issuer: metadata naming another issuer is not used, and failed discovery is retried lazily", "[access][jwt]") {
  FakeIssuer f;
  auto wrong = f.metadata();
  wrong["issuer"] = "https://evil.example.com";
  f.set_doc("/.well-known/oauth-authorization-server", wrong);
  IssuerVerifier v(f.options());
  CHECK_THROWS_WITH(v.metadata(), Catch::Contains("names another issuer"));
  auto reason = refusal(v, rsa_key().sign(claims(f)));
  CHECK(reason.find("metadata is unavailable") != std::string::npos);
  // Within the window the failure is remembered, not retried.
  CHECK(f.hits_of("/.well-known/oauth-authorization-server") == 1);
  CHECK(f.hits_of("/.well-known/openid-configuration") == 1);

  FakeIssuer g;
  g.set_doc("/.well-known/oauth-authorization-server", wrong);
  auto o = g.options();
  o.jwks_min_refetch = std::chrono::seconds(0);
  IssuerVerifier w(o);
  CHECK_THROWS(w.metadata());
  g.set_doc("/.well-known/oauth-authorization-server", g.metadata());  // the issuer is fixed
  accepted(w, rsa_key().sign(claims(g)));
  CHECK(g.hits_of("/.well-known/oauth-authorization-server") == 2);
}

TEST_CASE("issuer: opaque tokens go to introspection, cached while active", "[access][jwt]") {
  FakeIssuer f;
  auto o = f.options();
  o.introspection_url = f.url("/introspect");
  o.client_id = "concierge rs";
  o.client_secret = "s3cret:+/";
  const std::string live = "opaque-live-token-8c1f", dead = "opaque-dead-token-2b7e", foreign = "opaque-foreign-5d3a";
  int64_t exp = unix_seconds() + 600;
  {
    std::lock_guard l(f.m);
    f.introspection[live] = Json{{"active", true}, {"sub", "user-7"}, {"iss", f.issuer()}, {"aud", o.audience},
                                 {"exp", exp}, {"scope", "mail:read mail:send"}};
    f.introspection[foreign] = Json{{"active", true}, {"sub", "user-8"}, {"aud", "https://elsewhere.example.com"}, {"exp", exp}};
  }
  IssuerVerifier v(o);
  auto t = accepted(v, live);
  CHECK(t.via == "introspection");
  CHECK(t.subject == "user-7");
  CHECK(t.issuer == f.issuer());
  CHECK(t.expires_at == exp);
  CHECK(t.scopes == std::set<std::string>{"mail:read", "mail:send"});
  accepted(v, live);  // cached
  CHECK(f.hits_of("/introspect") == 1);
  {
    std::lock_guard l(f.m);
    // RFC 6749 2.3.1: id and secret form-encoded, then Basic.
    CHECK(f.introspection_auth.at(0) == "Basic " + std::string("Y29uY2llcmdlJTIwcnM6czNjcmV0JTNBJTJCJTJG"));
  }
  CHECK(refusal(v, dead) == "token is not active");
  CHECK(refusal(v, dead) == "token is not active");  // refusals are not cached
  CHECK(f.hits_of("/introspect") == 3);
  CHECK(refusal(v, foreign) == "audience does not include https://mcp.example.com/mcp");
  // Discovery is not needed for opaque tokens.
  CHECK(f.hits_of("/.well-known/oauth-authorization-server") == 0);
}

TEST_CASE("issuer: introspection answers are checked, and never cached past exp", "[access][jwt]") {
  FakeIssuer f;
  auto o = f.options();
  o.introspection_url = f.url("/introspect");
  const std::string wrong_iss = "opaque-a", expired = "opaque-b", ending = "opaque-c", no_sub = "opaque-d";
  int64_t now = unix_seconds();
  {
    std::lock_guard l(f.m);
    f.introspection[wrong_iss] = Json{{"active", true}, {"sub", "u"}, {"iss", "https://evil.example.com"}};
    f.introspection[expired] = Json{{"active", true}, {"sub", "u"}, {"exp", now - 3600}};
    f.introspection[ending] = Json{{"active", true}, {"sub", "u"}, {"exp", now - 10}};  // inside the leeway
    f.introspection[no_sub] = Json{{"active", true}};
  }
  IssuerVerifier v(o);
  CHECK(refusal(v, wrong_iss) == "issuer is not " + f.issuer());
  CHECK(refusal(v, expired) == "expired");
  CHECK(refusal(v, no_sub) == "introspection gives no subject (sub)");
  accepted(v, ending);
  accepted(v, ending);  // past its exp: asked again, not served from the cache
  CHECK(f.hits_of("/introspect") == 5);
  {
    std::lock_guard l(f.m);
    CHECK(f.introspection_auth.at(0).empty());  // no client credentials configured: none sent
  }
}

TEST_CASE("issuer: opaque tokens without introspection, and URLs that aren't https", "[access][jwt]") {
  FakeIssuer f;
  IssuerVerifier v(f.options());
  CHECK(refusal(v, "opaque-token-no-dots") == "opaque tokens need --auth-introspection-url");
  CHECK(refusal(v, "a.b.c.d") == "opaque tokens need --auth-introspection-url");
  auto o = f.options();
  o.issuer = "http://auth.example.com";
  CHECK_THROWS_WITH(IssuerVerifier(o), Catch::StartsWith("--auth-issuer: ") && Catch::Contains("https"));
  o.issuer = "not a url";
  CHECK_THROWS_WITH(IssuerVerifier(o), Catch::StartsWith("--auth-issuer: "));
  o.issuer = "https://auth.example.com";
  IssuerVerifier remote(o);  // https anywhere: fine (and no network in the constructor)
  o.introspection_url = "http://auth.example.com/introspect";
  CHECK_THROWS_WITH(IssuerVerifier(o), Catch::StartsWith("--auth-introspection-url: "));
  o.introspection_url.clear();
  o.audience.clear();
  CHECK_THROWS_WITH(IssuerVerifier(o), Catch::StartsWith("--public-url: "));
  // A JWKS on plain http off loopback is not fetched.
  auto md = f.metadata();
  md["jwks_uri"] = "http://keys.example.com/jwks";
  f.set_doc("/.well-known/oauth-authorization-server", md);
  IssuerVerifier w(f.options());
  CHECK(refusal(w, rsa_key().sign(claims(f))).find("must be https") != std::string::npos);
}

TEST_CASE("issuer: a JWKS past the size limit, or metadata without jwks_uri, refuses JWTs with the reason", "[access][jwt]") {
  FakeIssuer f;
  f.set_doc("/jwks", Json{{"keys", Json::array({rsa_key().jwk()})}, {"pad", std::string(kMaxIssuerDocumentBytes, 'p')}});
  IssuerVerifier v(f.options());
  auto reason = refusal(v, rsa_key().sign(claims(f)));
  CHECK(reason.find("JWKS is unavailable") != std::string::npos);
  CHECK(reason.find("larger than") != std::string::npos);

  FakeIssuer g;
  auto md = g.metadata();
  md.erase("jwks_uri");
  g.set_doc("/.well-known/oauth-authorization-server", md);
  IssuerVerifier w(g.options());
  CHECK(refusal(w, rsa_key().sign(claims(g))) == "the issuer's metadata has no jwks_uri, so JWTs can't be verified");
}

TEST_CASE("jwt: keys from a JWKS: usable ones kept, the rest skipped", "[access][jwt]") {
  auto rsa = rsa_key().jwk(), ec = ec_key().jwk();
  auto enc = ec;
  enc["use"] = "enc";
  auto other_alg = rsa;
  other_alg["alg"] = "PS256";
  auto short_x = ec;
  short_x["x"] = b64(std::string(31, 'x'));
  auto off_curve = ec;
  off_curve["y"] = b64(std::string(32, '\x01'));
  Json weak{{"kty", "RSA"}, {"n", b64(std::string(128, '\xff'))}, {"e", "AQAB"}};  // 1024 bits
  auto keys = keys_from_jwks(Json{{"keys", {rsa, ec, enc, other_alg, short_x, off_curve, weak, Json{{"kty", "oct"}, {"k", "AAAA"}}}}});
  REQUIRE(keys.size() == 2);
  CHECK(keys[0].alg == "RS256");
  CHECK(keys[1].alg == "ES256");
  CHECK(std::get<std::string>(key_from_jwk(weak)).find("1024 bits") != std::string::npos);
  CHECK(std::get<std::string>(key_from_jwk(off_curve)) == "EC key is not a point on P-256");
  CHECK(keys_from_jwks(Json::array()).empty());
  CHECK(keys_from_jwks(Json{{"keys", "x"}}).empty());
}

TEST_CASE("issuer: concurrent requests with a rotated key share one refetch", "[access][jwt]") {
  FakeIssuer f;
  IssuerVerifier v(f.options());
  accepted(v, rsa_key().sign(claims(f)));
  auto rotated = SigningKey::ec("ec-rotated");
  f.set_doc("/jwks", Json{{"keys", Json::array({rotated.jwk()})}});
  const auto token = rotated.sign(claims(f));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] { ok += std::holds_alternative<VerifiedToken>(v.verify(token)) ? 1 : 0; });
  for (auto& t : threads) t.join();
  CHECK(ok == 8);
  CHECK(f.hits_of("/jwks") == 2);
}

// What `serve --auth issuer` puts in front of the transport: tokens become users, a token seen
// again is answered from the cache (one sign-in in the audit, not one per request), and with
// --auth-require-provisioned only a linked identity gets in.
TEST_CASE("issuer: the server's authenticator maps identities to users, caches a verified token and audits its first sight", "[access][jwt]") {
  FakeIssuer f;
  store::Store s{std::filesystem::path(), test::database_url({})};
  AuthenticatorOptions ao;
  ao.issuer = f.options();
  StoreAuthenticator auth(s, ao);
  auto early = auth.authenticate(rsa_key().sign(claims(f)));
  CHECK_FALSE(early.principal);  // no audience yet: nothing is accepted before the listener is bound
  auth.set_audience("https://mcp.example.com/mcp");

  auto c = claims(f);
  const std::string token = rsa_key().sign(c);
  auto first = auth.authenticate(token);
  REQUIRE(first.principal);
  CHECK(first.principal->user == "user-42");
  CHECK(first.principal->via == "jwt");
  CHECK(first.principal->scopes == std::set<std::string>{"calendar:read", "mail:read"});
  for (int i = 0; i < 5; ++i) CHECK(auth.authenticate(token).principal->user == "user-42");
  Json audit = Audit(s).list("user-42");
  REQUIRE(audit.size() == 1);
  CHECK(audit[0]["event"] == "sign_in");
  CHECK(audit[0].dump().find(token) == std::string::npos);

  auto other = claims(f);
  other["sub"] = "someone-else";
  auto second = auth.authenticate(rsa_key().sign(other));
  REQUIRE(second.principal);
  CHECK(second.principal->user != "user-42");  // another identity, another user

  auto expired = claims(f, -3600);
  auto refused = auth.authenticate(rsa_key().sign(expired));
  CHECK_FALSE(refused.principal);
  CHECK(refused.denied.error == "invalid_token");

  AuthenticatorOptions strict = ao;
  strict.require_provisioned = true;
  StoreAuthenticator provisioned(s, strict);
  provisioned.set_audience("https://mcp.example.com/mcp");
  auto stranger = claims(f);
  stranger["sub"] = "stranger";
  auto no = provisioned.authenticate(rsa_key().sign(stranger));
  CHECK_FALSE(no.principal);
  CHECK(no.denied.reason.find("--auth-require-provisioned") != std::string::npos);
  Identities(s).add_user("grace");
  Identities(s).link("grace", f.issuer(), "stranger");
  auto yes = provisioned.authenticate(rsa_key().sign(stranger));
  REQUIRE(yes.principal);
  CHECK(yes.principal->user == "grace");
}
