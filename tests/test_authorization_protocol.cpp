// The built-in authorization server's protocol (issue 17): the authorization endpoint's checks and
// redirects, the token endpoint (codes, PKCE, rotating refresh tokens), revocation, Client ID
// Metadata Documents, and the resource server accepting the server's own tokens — through an
// in-process HttpServer on port 0 serving the routes behind https://mcp.example.com/mcp. The
// person's approval is approve() with a Decision (the pages are another part). One case runs
// the binary with `serve --auth builtin`.
#include <catch2/catch.hpp>
#include <openssl/sha.h>

#include <cstring>

#include "access/authenticator.hpp"
#include "access/authorization_server.hpp"
#include "access/cimd.hpp"
#include "common/base64.hpp"
#include "server/http.hpp"
#include "support/app_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/serving_http.hpp"
#include "support/temp_dir.hpp"

using namespace concierge;
using namespace concierge::access;
using namespace concierge::test;
using namespace concierge::test::http;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPublicUrl = "https://mcp.example.com/mcp";
constexpr const char* kIssuer = "https://mcp.example.com";
constexpr const char* kHost = "mcp.example.com";
constexpr const char* kRedirect = "https://client.example.com/callback";

std::string pct_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += char(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

std::string form(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  for (const auto& [k, v] : pairs) {
    out += out.empty() ? "" : "&";
    out += k + "=";
    for (unsigned char c : v) {
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out += char(c);
      else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", c);
        out += buf;
      }
    }
  }
  return out;
}

// A query parameter of a Location, decoded; "" when absent.
std::string param_of(const std::string& location, const std::string& name) {
  auto q = location.find('?');
  if (q == std::string::npos) return {};
  std::string rest = location.substr(q + 1);
  for (size_t pos = 0; pos <= rest.size();) {
    auto end = std::min(rest.find('&', pos), rest.size());
    auto pair = rest.substr(pos, end - pos);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string::npos ? "" : pct_decode(pair.substr(eq + 1));
    pos = end + 1;
  }
  return {};
}

std::string header_of(const HttpReply& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

struct Pkce {
  std::string verifier = base64url_encode(random_bytes(32));
  std::string challenge() const {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), md);
    return base64url_encode(std::string_view(reinterpret_cast<const char*>(md), sizeof md));
  }
};

// The app's store, the authorization server's routes on an HttpServer whose MCP endpoint takes
// the server's own tokens (StoreAuthenticator in builtin mode, grants re-checked on every use).
class Authz {
 public:
  explicit Authz(AuthorizationServerOptions ao = {}, std::string public_url = kPublicUrl)
      : public_url_(std::move(public_url)),
        as_(std::make_shared<AuthorizationServer>(app_.store, SigningKey::for_data_dir(app_.data), with_url(ao, public_url_))),
        authenticator_(make_authenticator()),
        http_(*app_.server, options()) {}
  AuthorizationServer& as() { return *as_; }
  StoreAuthenticator& authenticator() { return *authenticator_; }
  AppFixture& app() { return app_; }

  Reply post_form(const std::string& path, const std::vector<std::pair<std::string, std::string>>& pairs) {
    return request(port_, Request{"POST", path, {{"Host", kHost}, {"Content-Type", "application/x-www-form-urlencoded"}}, form(pairs)});
  }
  Reply mcp_with(const std::string& token) {
    Json init{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
              {"params", {{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()}, {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}};
    return request(port_, Request{"POST", "/mcp",
                                  {{"Host", kHost}, {"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"},
                                   {"Authorization", "Bearer " + token}},
                                  init.dump()});
  }
  std::string register_client(std::vector<std::string> redirects = {kRedirect}) {
    Reply r = request(port_, Request{"POST", "/register", {{"Host", kHost}, {"Content-Type", "application/json"}},
                                     dump(Json{{"client_name", "Test Client"}, {"redirect_uris", redirects}, {"token_endpoint_auth_method", "none"},
                                               {"grant_types", {"authorization_code", "refresh_token"}}})});
    INFO(r.describe());
    REQUIRE(r.status == 201);
    return r.json()["client_id"];
  }
  // GET /authorize's query checked.
  std::variant<AuthorizationRequest, HttpReply> authorize(std::vector<std::pair<std::string, std::string>> query) {
    HttpRequest req;
    req.method = "GET";
    req.path = "/authorize";
    req.query = std::move(query);
    req.peer = "127.0.0.1";
    return as_->check_authorization(req);
  }
  static std::vector<std::pair<std::string, std::string>> query(const std::string& client_id, const Pkce& pkce,
                                                                const std::string& scope = "calendar:read mail:read") {
    return {{"response_type", "code"}, {"client_id", client_id}, {"redirect_uri", kRedirect}, {"state", "st-1"},
            {"code_challenge", pkce.challenge()}, {"code_challenge_method", "S256"}, {"scope", scope}, {"resource", kPublicUrl}};
  }
  // The whole front channel: checked, approved by alice; the code from the redirect.
  std::string code_for(const std::string& client_id, const Pkce& pkce, std::vector<std::string> granted = {"calendar:read", "mail:read"}) {
    auto checked = authorize(query(client_id, pkce));
    REQUIRE(std::holds_alternative<AuthorizationRequest>(checked));
    HttpReply r = as_->approve(std::get<AuthorizationRequest>(checked), Decision{"alice", granted});
    REQUIRE(r.status == 302);
    std::string location = header_of(r, "Location");
    REQUIRE(location.rfind(std::string(kRedirect) + "?", 0) == 0);
    CHECK(param_of(location, "state") == "st-1");
    CHECK(param_of(location, "iss") == kIssuer);
    return param_of(location, "code");
  }
  Reply exchange(const std::string& client_id, const std::string& code, const std::string& verifier, const std::string& redirect = kRedirect) {
    return post_form("/token", {{"grant_type", "authorization_code"}, {"code", code}, {"redirect_uri", redirect}, {"client_id", client_id},
                                {"code_verifier", verifier}, {"resource", kPublicUrl}});
  }
  Reply refresh(const std::string& client_id, const std::string& token, const std::string& scope = "") {
    std::vector<std::pair<std::string, std::string>> f{{"grant_type", "refresh_token"}, {"refresh_token", token}, {"client_id", client_id}};
    if (!scope.empty()) f.emplace_back("scope", scope);
    return post_form("/token", f);
  }
  bool accepted(const std::string& token) { return authenticator_->authenticate(token).principal.has_value(); }

 private:
  static AuthorizationServerOptions with_url(AuthorizationServerOptions o, const std::string& url) {
    o.public_url = url;
    return o;
  }
  std::shared_ptr<StoreAuthenticator> make_authenticator() {
    AuthenticatorOptions o;
    o.builtin_key = as_->signing_key().public_key();
    o.grant_check = 0ms;  // a revocation is seen at once (the 1 s cache is the default)
    auto a = std::make_shared<StoreAuthenticator>(app_.store, o);
    a->set_audience(public_url_);
    return a;
  }
  HttpOptions options() {
    HttpOptions o;
    o.access.public_url = public_url_;
    o.access.authenticator = authenticator_;
    o.access.own_authorization_server = true;
    o.routes = authorization_routes(as_);
    return o;
  }
  AppFixture app_;
  std::string public_url_;
  std::shared_ptr<AuthorizationServer> as_;
  std::shared_ptr<StoreAuthenticator> authenticator_;
  ServingHttp http_;
  int port_ = http_.port();
};

void check_oauth_error(const Reply& r, const std::string& error) {
  INFO(r.describe());
  CHECK(r.status == (error == "invalid_client" ? 401 : 400));
  CHECK(r.json().value("error", "") == error);
  CHECK(r.header("Cache-Control") == "no-store");
}

}  // namespace

TEST_CASE("authz: code flow with PKCE gives a JWT the resource server takes, and a rotating refresh token", "[authz]") {
  Authz s;
  std::string client = s.register_client();
  Pkce pkce;
  std::string code = s.code_for(client, pkce);
  REQUIRE(code.size() >= 40);
  Reply t = s.exchange(client, code, pkce.verifier);
  INFO(t.describe());
  REQUIRE(t.status == 200);
  CHECK(t.header("Cache-Control") == "no-store");
  Json tok = t.json();
  CHECK(tok["token_type"] == "Bearer");
  CHECK(tok["expires_in"] == 3600);
  CHECK(tok["scope"] == "calendar:read mail:read");
  std::string access = tok["access_token"], refresh = tok["refresh_token"];

  // An ES256 JWT naming the issuer, the public URL, the user, the client and its grant.
  auto jws = parse_jws(access);
  REQUIRE(std::holds_alternative<Jws>(jws));
  const Json& c = std::get<Jws>(jws).claims;
  CHECK(std::get<Jws>(jws).alg == "ES256");
  CHECK(c["iss"] == kIssuer);
  CHECK(c["aud"] == kPublicUrl);
  CHECK(c["sub"] == "alice");
  CHECK(c["client_id"] == client);
  CHECK(c["gid"].is_string());
  CHECK(c["exp"].get<int64_t>() - c["iat"].get<int64_t>() == 3600);

  auto who = s.authenticator().authenticate(access);
  REQUIRE(who.principal);
  CHECK(who.principal->user == "alice");
  CHECK(who.principal->scopes == std::set<std::string>{"calendar:read", "mail:read"});
  Reply mcp = s.mcp_with(access);
  INFO(mcp.describe());
  CHECK(mcp.status == 200);

  // Refresh: a new refresh token each time; a narrower scope for this access token only.
  Reply r1 = s.refresh(client, refresh, "calendar:read");
  INFO(r1.describe());
  REQUIRE(r1.status == 200);
  CHECK(r1.json()["scope"] == "calendar:read");
  std::string refresh2 = r1.json()["refresh_token"];
  CHECK(refresh2 != refresh);
  CHECK(s.authenticator().authenticate(r1.json()["access_token"].get<std::string>()).principal->scopes == std::set<std::string>{"calendar:read"});
  Reply r2 = s.refresh(client, refresh2);
  REQUIRE(r2.status == 200);
  CHECK(r2.json()["scope"] == "calendar:read mail:read");  // the family keeps what was granted
  check_oauth_error(s.refresh(client, r2.json()["refresh_token"].get<std::string>(), "calendar:write"), "invalid_scope");
  // A refused narrower scope doesn't spend the refresh token.
  CHECK(s.refresh(client, r2.json()["refresh_token"].get<std::string>()).status == 200);
}

TEST_CASE("authz: PKCE is required and S256 only, and other refusals go back to the client with state and iss", "[authz]") {
  Authz s;
  std::string client = s.register_client();
  Pkce pkce;
  auto refused_with = [&](std::vector<std::pair<std::string, std::string>> q, const std::string& error) {
    auto checked = s.authorize(std::move(q));
    REQUIRE(std::holds_alternative<HttpReply>(checked));
    const HttpReply& r = std::get<HttpReply>(checked);
    CHECK(r.status == 302);
    std::string location = header_of(r, "Location");
    INFO(location);
    CHECK(location.rfind(std::string(kRedirect) + "?", 0) == 0);
    CHECK(param_of(location, "error") == error);
    CHECK(param_of(location, "state") == "st-1");
    CHECK(param_of(location, "iss") == kIssuer);
    CHECK(param_of(location, "code").empty());
    return param_of(location, "error_description");
  };
  auto without = [&](const std::string& name) {
    auto q = Authz::query(client, pkce);
    std::erase_if(q, [&](auto& p) { return p.first == name; });
    return q;
  };
  auto with = [&](const std::string& name, const std::string& value) {
    auto q = without(name);
    q.emplace_back(name, value);
    return q;
  };
  CHECK_THAT(refused_with(without("code_challenge_method"), "invalid_request"), Catch::StartsWith("code_challenge_method"));
  CHECK_THAT(refused_with(without("code_challenge"), "invalid_request"), Catch::StartsWith("code_challenge"));
  // plain: the challenge is the verifier itself.
  auto plain = with("code_challenge_method", "plain");
  std::erase_if(plain, [](auto& p) { return p.first == "code_challenge"; });
  plain.emplace_back("code_challenge", pkce.verifier);
  CHECK_THAT(refused_with(plain, "invalid_request"), Catch::StartsWith("code_challenge_method"));
  refused_with(with("response_type", "token"), "unsupported_response_type");
  refused_with(with("resource", "https://other.example.com/mcp"), "invalid_target");
  refused_with(with("scope", "calendar:read root"), "invalid_scope");
  // The good request passes, and the person's decline goes back too.
  auto ok = s.authorize(Authz::query(client, pkce));
  REQUIRE(std::holds_alternative<AuthorizationRequest>(ok));
  auto& ar = std::get<AuthorizationRequest>(ok);
  CHECK(ar.client_name == "Test Client");
  CHECK(ar.redirect_host() == "client.example.com");
  CHECK(ar.scopes == std::vector<std::string>{"calendar:read", "mail:read"});
  HttpReply denied = s.as().deny(ar);
  CHECK(param_of(header_of(denied, "Location"), "error") == "access_denied");
  CHECK(param_of(header_of(denied, "Location"), "iss") == kIssuer);
}

TEST_CASE("authz: an unknown client or a redirect_uri not registered exactly is a page, never a redirect", "[authz]") {
  Authz s;
  std::string client = s.register_client();
  Pkce pkce;
  auto page = [&](std::vector<std::pair<std::string, std::string>> q) {
    auto checked = s.authorize(std::move(q));
    REQUIRE(std::holds_alternative<HttpReply>(checked));
    const HttpReply& r = std::get<HttpReply>(checked);
    CHECK(r.status == 400);
    CHECK(r.content_type.rfind("text/html", 0) == 0);
    CHECK(header_of(r, "Location").empty());
    CHECK(r.body.find("https://evil.example.com") == std::string::npos);  // nothing to click through to
    return r.body;
  };
  auto q = Authz::query(client, pkce);
  for (auto& [k, v] : q)
    if (k == "redirect_uri") v = "https://evil.example.com/callback";
  CHECK_THAT(page(q), Catch::Contains("redirect_uri"));
  for (auto& [k, v] : q)
    if (k == "redirect_uri") v = std::string(kRedirect) + "/";  // exactly: no prefix or slash tolerance
  page(q);
  q = Authz::query("no-such-client", pkce);
  CHECK_THAT(page(q), Catch::Contains("client_id"));
}

TEST_CASE("authz: a wrong verifier, another client or redirect_uri, or an expired code get no token", "[authz]") {
  Authz s;
  std::string client = s.register_client({kRedirect, "http://127.0.0.1:9/cb"});
  std::string other = s.register_client();
  Pkce pkce;
  std::string code = s.code_for(client, pkce);
  check_oauth_error(s.exchange(client, code, Pkce().verifier), "invalid_grant");
  check_oauth_error(s.exchange(other, code, pkce.verifier), "invalid_grant");
  check_oauth_error(s.exchange(client, code, pkce.verifier, "http://127.0.0.1:9/cb"), "invalid_grant");
  check_oauth_error(s.exchange(client, code, "short"), "invalid_request");
  check_oauth_error(s.post_form("/token", {{"grant_type", "authorization_code"}, {"code", code}, {"redirect_uri", kRedirect}, {"client_id", client}}),
                    "invalid_request");  // no verifier at all
  check_oauth_error(s.post_form("/token", {{"grant_type", "password"}, {"client_id", client}}), "unsupported_grant_type");
  // Those attempts didn't spend the code: its holder with the verifier still gets the token.
  CHECK(s.exchange(client, code, pkce.verifier).status == 200);

  Authz quick([] {
    AuthorizationServerOptions o;
    o.code_ttl = 0s;  // expired as soon as issued
    return o;
  }());
  std::string c2 = quick.register_client();
  Pkce p2;
  std::string expired = quick.code_for(c2, p2);
  Reply r = quick.exchange(c2, expired, p2.verifier);
  check_oauth_error(r, "invalid_grant");
  CHECK_THAT(r.json().value("error_description", ""), Catch::Contains("expired"));
}

TEST_CASE("authz: a reused code revokes the grant: the tokens of the first exchange are refused", "[authz]") {
  Authz s;
  std::string client = s.register_client();
  Pkce pkce;
  std::string code = s.code_for(client, pkce);
  Reply first = s.exchange(client, code, pkce.verifier);
  REQUIRE(first.status == 200);
  std::string access = first.json()["access_token"], refresh = first.json()["refresh_token"];
  REQUIRE(s.accepted(access));
  REQUIRE(s.mcp_with(access).status == 200);

  Reply again = s.exchange(client, code, pkce.verifier);
  check_oauth_error(again, "invalid_grant");
  CHECK_FALSE(s.accepted(access));
  CHECK(s.mcp_with(access).status == 401);
  check_oauth_error(s.refresh(client, refresh), "invalid_grant");
}

TEST_CASE("authz: a reused refresh token revokes its whole family", "[authz]") {
  Authz s;
  std::string client = s.register_client();
  Pkce pkce;
  Reply first = s.exchange(client, s.code_for(client, pkce), pkce.verifier);
  REQUIRE(first.status == 200);
  std::string refresh1 = first.json()["refresh_token"];
  Reply second = s.refresh(client, refresh1);
  REQUIRE(second.status == 200);
  std::string access2 = second.json()["access_token"], refresh2 = second.json()["refresh_token"];
  REQUIRE(s.accepted(access2));
  // Another family (another approval) is untouched by what follows.
  Pkce pkce_b;
  Reply other = s.exchange(client, s.code_for(client, pkce_b), pkce_b.verifier);
  REQUIRE(other.status == 200);

  Reply reuse = s.refresh(client, refresh1);
  check_oauth_error(reuse, "invalid_grant");
  CHECK_FALSE(s.accepted(access2));
  CHECK_FALSE(s.accepted(first.json()["access_token"].get<std::string>()));
  check_oauth_error(s.refresh(client, refresh2), "invalid_grant");  // the newest one died with it
  CHECK(s.accepted(other.json()["access_token"].get<std::string>()));
  CHECK(s.refresh(client, other.json()["refresh_token"].get<std::string>()).status == 200);
  // A refresh token is the client's own.
  std::string stranger = s.register_client();
  Pkce pkce_c;
  Reply third = s.exchange(client, s.code_for(client, pkce_c), pkce_c.verifier);
  check_oauth_error(s.refresh(stranger, third.json()["refresh_token"].get<std::string>()), "invalid_grant");
}

TEST_CASE("authz: a token issued for another public URL is refused", "[authz]") {
  Authz s;
  // The same key and data directory, another deployment's public URL (another origin, or
  // another path on this one).
  for (const std::string other : {"https://other.example.com/mcp", "https://mcp.example.com/other"}) {
    AuthorizationServerOptions o;
    o.public_url = other;
    AuthorizationServer elsewhere(s.app().store, SigningKey::for_data_dir(s.app().data), o);
    std::string client = s.register_client();
    Pkce pkce;
    HttpRequest req;
    req.method = "GET";
    req.query = {{"response_type", "code"}, {"client_id", client}, {"redirect_uri", kRedirect}, {"code_challenge", pkce.challenge()},
                 {"code_challenge_method", "S256"}};
    auto checked = elsewhere.check_authorization(req);
    REQUIRE(std::holds_alternative<AuthorizationRequest>(checked));
    std::string code = param_of(header_of(elsewhere.approve(std::get<AuthorizationRequest>(checked), Decision{"alice", {"calendar:read"}}), "Location"), "code");
    HttpRequest token;
    token.method = "POST";
    token.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    token.body = form({{"grant_type", "authorization_code"}, {"code", code}, {"redirect_uri", kRedirect}, {"client_id", client},
                       {"code_verifier", pkce.verifier}});
    HttpReply issued = elsewhere.token(token);
    REQUIRE(issued.status == 200);
    std::string access = Json::parse(issued.body)["access_token"];
    auto refused = s.authenticator().authenticate(access);
    CHECK_FALSE(refused.principal);
    CHECK(refused.denied.error == "invalid_token");
    CHECK(s.mcp_with(access).status == 401);
  }
  // And one signed by another key altogether.
  const int64_t now = std::time(nullptr);
  std::string forged = SigningKey::generate().sign(Json{{"iss", kIssuer}, {"aud", kPublicUrl}, {"sub", "alice"}, {"gid", "x"}, {"iat", now}, {"exp", now + 60}});
  CHECK_FALSE(s.accepted(forged));
}

TEST_CASE("authz: /revoke kills a refresh token's or an access token's family, and is 200 for anything", "[authz]") {
  Authz s;
  std::string client = s.register_client();
  auto family = [&] {
    Pkce pkce;
    Reply r = s.exchange(client, s.code_for(client, pkce), pkce.verifier);
    REQUIRE(r.status == 200);
    return std::pair<std::string, std::string>{r.json()["access_token"].get<std::string>(), r.json()["refresh_token"].get<std::string>()};
  };
  auto [a1, r1] = family();
  Reply rv = s.post_form("/revoke", {{"token", r1}, {"token_type_hint", "refresh_token"}, {"client_id", client}});
  INFO(rv.describe());
  CHECK(rv.status == 200);
  CHECK_FALSE(s.accepted(a1));
  check_oauth_error(s.refresh(client, r1), "invalid_grant");

  auto [a2, r2] = family();
  CHECK(s.post_form("/revoke", {{"token", a2}, {"client_id", client}}).status == 200);
  CHECK_FALSE(s.accepted(a2));
  check_oauth_error(s.refresh(client, r2), "invalid_grant");

  // Another client's id: nothing happens (still 200).
  auto [a3, r3] = family();
  std::string other = s.register_client();
  CHECK(s.post_form("/revoke", {{"token", r3}, {"client_id", other}}).status == 200);
  CHECK(s.accepted(a3));
  CHECK(s.post_form("/revoke", {{"token", "not-a-token"}, {"client_id", client}}).status == 200);
  CHECK(s.post_form("/revoke", {{"client_id", client}}).status == 400);

  // `clients revoke`'s core: every grant of the client dies.
  CHECK(s.as().grants().revoke_client(client, "test") == 1);
  CHECK_FALSE(s.accepted(a3));
}

TEST_CASE("authz: the token endpoint is rate-limited per address and takes forms only", "[authz]") {
  AuthorizationServerOptions o;
  o.token_requests_per_window = 3;
  Authz s(o);
  for (int i = 0; i < 3; ++i) check_oauth_error(s.post_form("/token", {{"grant_type", "refresh_token"}, {"client_id", "x"}, {"refresh_token", "y"}}), "invalid_grant");
  Reply limited = s.post_form("/token", {{"grant_type", "refresh_token"}, {"client_id", "x"}, {"refresh_token", "y"}});
  CHECK(limited.status == 429);
  CHECK(limited.has_header("Retry-After"));

  Authz t;
  HttpRequest json;
  json.method = "POST";
  json.headers = {{"Content-Type", "application/json"}};
  json.body = R"({"grant_type":"refresh_token"})";
  CHECK(t.as().token(json).status == 400);
  Reply big = t.post_form("/token", {{"grant_type", "refresh_token"}, {"refresh_token", std::string(20000, 'a')}});
  CHECK(big.status == 413);
}

namespace {

// A client's metadata document, served on loopback.
struct DocumentHost : LoopbackFake {
  std::atomic<int> fetches{0};
  std::function<Json(const std::string& url)> document;
  DocumentHost() {
    server.Get("/client.json", [this](const httplib::Request&, httplib::Response& res) {
      ++fetches;
      res.set_content(dump(document(url("/client.json"))), "application/json");
    });
    server.Get("/moved.json", [this](const httplib::Request&, httplib::Response& res) {
      res.status = 302;
      res.set_header("Location", url("/client.json"));
    });
    server.Get("/big.json", [](const httplib::Request&, httplib::Response& res) { res.set_content(std::string(6000, ' ') + "{}", "application/json"); });
    start();
  }
  ~DocumentHost() { stop(); }
};

}  // namespace

TEST_CASE("authz: a Client ID Metadata Document is fetched, checked and cached, and a redirect_uri not in it is refused", "[authz][cimd]") {
  DocumentHost host;
  host.document = [](const std::string& url) {
    return Json{{"client_id", url}, {"client_name", "Document Client"}, {"redirect_uris", {kRedirect}}, {"token_endpoint_auth_method", "none"}};
  };
  AuthorizationServerOptions o;
  o.allow_http_client_metadata = true;
  Authz s(o);
  const std::string client = host.url("/client.json");
  Pkce pkce;
  auto checked = s.authorize(Authz::query(client, pkce));
  REQUIRE(std::holds_alternative<AuthorizationRequest>(checked));
  CHECK(std::get<AuthorizationRequest>(checked).client_name == "Document Client");
  // The whole flow with it.
  Reply t = s.exchange(client, s.code_for(client, pkce), pkce.verifier);
  INFO(t.describe());
  REQUIRE(t.status == 200);
  CHECK(s.accepted(t.json()["access_token"].get<std::string>()));
  CHECK(host.fetches == 1);  // cached

  auto page = [&](std::vector<std::pair<std::string, std::string>> q) {
    auto c = s.authorize(std::move(q));
    REQUIRE(std::holds_alternative<HttpReply>(c));
    CHECK(std::get<HttpReply>(c).status == 400);
    CHECK(header_of(std::get<HttpReply>(c), "Location").empty());
    return std::get<HttpReply>(c).body;
  };
  auto q = Authz::query(client, pkce);
  for (auto& [k, v] : q)
    if (k == "redirect_uri") v = "https://client.example.com/other";
  CHECK_THAT(page(q), Catch::Contains("redirect_uri"));
  // A document that speaks for another URL, one behind a redirect, one too large.
  host.document = [](const std::string&) { return Json{{"client_id", "https://elsewhere.example.com/c.json"}, {"redirect_uris", {kRedirect}}}; };
  CHECK_THAT(page(Authz::query(host.url("/client.json?v=2"), pkce)), Catch::Contains("not its own URL"));
  CHECK_THAT(page(Authz::query(host.url("/moved.json"), pkce)), Catch::Contains("302"));
  page(Authz::query(host.url("/big.json"), pkce));
  // Without --allow-http-client-metadata, http is refused before any fetch.
  AuthorizationServerOptions plain;
  plain.public_url = kPublicUrl;
  AuthorizationServer strict(s.app().store, SigningKey::generate(), plain);
  HttpRequest req;
  req.method = "GET";
  req.query = Authz::query(client, pkce);
  auto c = strict.check_authorization(req);
  REQUIRE(std::holds_alternative<HttpReply>(c));
  CHECK_THAT(std::get<HttpReply>(c).body, Catch::Contains("https"));
}

TEST_CASE("authz: client metadata document URLs", "[authz][cimd][unit]") {
  CHECK(client_document_url_problem("https://app.example.com/oauth/client.json", false) == std::nullopt);
  CHECK(client_document_url_problem("https://app.example.com", false));
  CHECK(client_document_url_problem("https://app.example.com/", false));
  CHECK(client_document_url_problem("https://app.example.com/a/../b.json", false));
  CHECK(client_document_url_problem("https://user@app.example.com/c.json", false));
  CHECK(client_document_url_problem("https://app.example.com/c.json#x", false));
  CHECK(client_document_url_problem("http://127.0.0.1:8/c.json", false));
  CHECK(client_document_url_problem("http://127.0.0.1:8/c.json", true) == std::nullopt);
  CHECK(client_document_url_problem("http://app.example.com/c.json", true));
}

TEST_CASE("authz: serve --auth builtin on loopback serves the authorization server at the bound address", "[authz][process]") {
  TempDir tmp;
  std::vector<std::string> argv{"/usr/bin/env", "CONCIERGE_CONFIG=" + (tmp.path / "none.json").string(), "CONCIERGE_TOKEN_KEY=" + std::string(64, 'a'),
                                CONCIERGE_BINARY, "--data-dir", (tmp.path / "data").string(), "serve", "--no-history",
                                "--http", "127.0.0.1:0", "--auth", "builtin", "--auth-token-ttl", "60"};
  ChildProcess proc(argv);
  int port = 0;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (port == 0 && std::chrono::steady_clock::now() < deadline) {
    auto text = proc.stderr_text();
    if (auto at = text.find("listening on http://127.0.0.1:"); at != std::string::npos) {
      port = std::atoi(text.c_str() + at + std::strlen("listening on http://127.0.0.1:"));
      break;
    }
    if (proc.wait_exit(20ms)) break;
  }
  INFO(proc.stderr_text());
  REQUIRE(port > 0);
  const std::string origin = "http://127.0.0.1:" + std::to_string(port);
  Reply m = request(port, Request{"GET", "/.well-known/oauth-authorization-server", {}, {}});
  INFO(m.describe());
  REQUIRE(m.status == 200);
  CHECK(m.json()["issuer"] == origin);
  CHECK(m.json()["token_endpoint"] == origin + "/token");
  Reply rm = request(port, Request{"GET", "/.well-known/oauth-protected-resource/mcp", {}, {}});
  INFO(rm.describe());
  CHECK(rm.json()["resource"] == origin + "/mcp");
  CHECK(rm.json()["authorization_servers"] == Json::array({origin}));
  Reply t = request(port, Request{"POST", "/token", {{"Content-Type", "application/x-www-form-urlencoded"}}, "grant_type=authorization_code&code=x&client_id=y&redirect_uri=z&code_verifier=" + std::string(43, 'a')});
  CHECK(t.status == 400);
  CHECK(t.json()["error"] == "invalid_grant");
  // A token signed by another key is not this server's.
  const int64_t now = std::time(nullptr);
  std::string forged = SigningKey::generate().sign(Json{{"iss", origin}, {"aud", origin + "/mcp"}, {"sub", "alice"}, {"gid", "g"}, {"iat", now}, {"exp", now + 60}});
  Reply mcp = request(port, Request{"POST", "/mcp", {{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"}, {"Authorization", "Bearer " + forged}}, "{}"});
  CHECK(mcp.status == 401);
  proc.signal(SIGTERM);
  auto st = proc.wait_exit(10s);
  REQUIRE(st);
  CHECK((st->exited && st->code == 0));
}
