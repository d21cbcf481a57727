// The built-in authorization server's first endpoints (src/access/authorization_server.hpp), served
// as HttpRoutes by an in-process HttpServer behind --public-url https://mcp.example.com/mcp: the
// RFC 8414 metadata, RFC 7591 registration of public clients (redirect URI rules, size limits,
// the rate limit per address), and the JWKS a token it signs verifies against. Not through the
// binary: test_authorization_protocol.cpp runs `serve --auth builtin`.
#include <catch2/catch.hpp>

#include "access/authorization_server.hpp"
#include "access/jwt.hpp"
#include "app/app.hpp"
#include "server/http.hpp"
#include "support/app_fixture.hpp"
#include "support/harness.hpp"
#include "support/http_client.hpp"
#include "support/serving_http.hpp"

using namespace concierge;
using namespace concierge::access;
using namespace concierge::test;
using namespace concierge::test::http;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPublicUrl = "https://mcp.example.com/mcp";
constexpr const char* kHost = "mcp.example.com";

// The app's store and an HttpServer serving the authorization server's routes; a trusted proxy on
// loopback, so a test can speak for other client addresses with X-Forwarded-For.
class AsServer {
 public:
  explicit AsServer(AuthorizationServerOptions ao = {})
      : as_(std::make_shared<AuthorizationServer>(app_.store, SigningKey::for_data_dir(app_.data), with_url(ao))), http_(*app_.server, options()) {}
  AuthorizationServer& as() { return *as_; }
  int port() const { return port_; }

  Reply get(const std::string& path, httplib::Headers h = {}) {
    h.emplace("Host", kHost);
    return request(port_, Request{"GET", path, std::move(h), {}});
  }
  Reply post(const std::string& path, const std::string& body, httplib::Headers h = {}) {
    h.emplace("Host", kHost);
    if (!h.count("Content-Type")) h.emplace("Content-Type", "application/json");
    return request(port_, Request{"POST", path, std::move(h), body});
  }
  Reply register_client(const Json& metadata, const std::string& from = "198.51.100.7") {
    return post("/register", dump(metadata), {{"X-Forwarded-For", from}});
  }

 private:
  static AuthorizationServerOptions with_url(AuthorizationServerOptions o) {
    o.public_url = kPublicUrl;
    return o;
  }
  HttpOptions options() {
    HttpOptions o;
    o.access.public_url = kPublicUrl;
    o.access.trusted_proxies = {"127.0.0.1"};
    o.routes = authorization_routes(as_);
    return o;
  }
  AppFixture app_;
  std::shared_ptr<AuthorizationServer> as_;
  ServingHttp http_;
  int port_ = http_.port();
};

Json good_client() {
  return Json{{"client_name", "Test Client"},
              {"redirect_uris", {"https://client.example.com/callback", "http://127.0.0.1:33418/cb"}},
              {"token_endpoint_auth_method", "none"},
              {"grant_types", {"authorization_code", "refresh_token"}},
              {"response_types", {"code"}},
              {"scope", "calendar:read mail:read"}};
}

}  // namespace

TEST_CASE("authorization server: RFC 8414 metadata names the issuer (the public origin) and every endpoint", "[access][authorization_server]") {
  AsServer s;
  Reply r = s.get("/.well-known/oauth-authorization-server", {{"Origin", "https://claude.ai"}});
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(r.header("Access-Control-Allow-Origin") == "*");
  Json m = r.json();
  CHECK(m["issuer"] == "https://mcp.example.com");
  CHECK(m["authorization_endpoint"] == "https://mcp.example.com/authorize");
  CHECK(m["token_endpoint"] == "https://mcp.example.com/token");
  CHECK(m["registration_endpoint"] == "https://mcp.example.com/register");
  CHECK(m["revocation_endpoint"] == "https://mcp.example.com/revoke");
  CHECK(m["jwks_uri"] == "https://mcp.example.com/jwks");
  CHECK(m["response_types_supported"] == Json::array({"code"}));
  CHECK(m["grant_types_supported"] == Json::array({"authorization_code", "refresh_token"}));
  CHECK(m["code_challenge_methods_supported"] == Json::array({"S256"}));
  CHECK(m["token_endpoint_auth_methods_supported"] == Json::array({"none"}));
  CHECK(m["client_id_metadata_document_supported"] == true);
  CHECK(m["scopes_supported"] == Json(all_scopes()));

  // Another Host is not this server (the transport's --public-url check applies to routes).
  CHECK(request(s.port(), Request{"GET", "/.well-known/oauth-authorization-server", {}, {}}).status == 421);
}

TEST_CASE("authorization server: the issuer is the public URL's origin, lowercase, default port dropped", "[access][authorization_server]") {
  AppFixture app;
  auto issuer = [&](const std::string& url) {
    AuthorizationServerOptions o;
    o.public_url = url;
    return AuthorizationServer(app.store, SigningKey::generate(), o).issuer();
  };
  CHECK(issuer("https://MCP.Example.com:443/mcp") == "https://mcp.example.com");
  CHECK(issuer("https://mcp.example.com:8443/a/b/mcp") == "https://mcp.example.com:8443");
  CHECK(issuer("http://127.0.0.1:8080/mcp") == "http://127.0.0.1:8080");
  CHECK_THROWS_WITH(issuer("mcp.example.com/mcp"), Catch::StartsWith("--public-url: "));
  CHECK_THROWS_WITH(app::make_authorization_server(*app.state, ""), Catch::StartsWith("--public-url: required with --auth builtin"));
  // The app's wiring: the data directory's key, kept there.
  auto as = app::make_authorization_server(*app.state, kPublicUrl);
  CHECK(as->issuer() == "https://mcp.example.com");
  CHECK(std::filesystem::exists(app.data / "signing-key.json"));
  CHECK(app::make_authorization_server(*app.state, kPublicUrl)->signing_key().kid() == as->signing_key().kid());
}

TEST_CASE("authorization server: /jwks publishes the signing key, and a token it signs verifies against it", "[access][authorization_server][jwt]") {
  AsServer s;
  Reply r = s.get("/jwks", {{"Origin", "https://claude.ai"}});
  REQUIRE(r.status == 200);
  CHECK(r.header("Access-Control-Allow-Origin") == "*");
  auto keys = keys_from_jwks(r.json());
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].kid == s.as().signing_key().kid());
  CHECK_FALSE(r.json()["keys"][0].contains("d"));  // the public half only
  const int64_t now = 1'700'000'000;
  std::string token = s.as().signing_key().sign(
      Json{{"iss", s.as().issuer()}, {"aud", kPublicUrl}, {"sub", "alice"}, {"iat", now}, {"exp", now + 3600}});
  auto jws = parse_jws(token);
  REQUIRE(std::holds_alternative<Jws>(jws));
  CHECK(signature_verifies(std::get<Jws>(jws), keys[0]));
  CHECK(check_claims(std::get<Jws>(jws).claims, ClaimRules{s.as().issuer(), kPublicUrl, 60s, now}) == std::nullopt);
}

TEST_CASE("authorization server: a public client registers and gets a random client_id and its metadata back", "[access][authorization_server]") {
  AsServer s;
  Reply r = s.register_client(good_client());
  INFO(r.describe());
  REQUIRE(r.status == 201);
  CHECK(r.header("Cache-Control") == "no-store");
  Json c = r.json();
  REQUIRE(c["client_id"].is_string());
  CHECK(c["client_id"].get<std::string>().size() >= 22);
  CHECK_FALSE(c.contains("client_secret"));
  CHECK(c["client_id_issued_at"].is_number_integer());
  CHECK(c["redirect_uris"] == good_client()["redirect_uris"]);
  CHECK(c["token_endpoint_auth_method"] == "none");
  CHECK(c["grant_types"] == Json::array({"authorization_code", "refresh_token"}));
  CHECK(c["client_name"] == "Test Client");
  CHECK(c["scope"] == "calendar:read mail:read");

  auto stored = s.as().clients().find(c["client_id"].get<std::string>());
  REQUIRE(stored);
  CHECK(stored->redirect_uris == good_client()["redirect_uris"].get<std::vector<std::string>>());
  CHECK(stored->issued_at == c["client_id_issued_at"].get<int64_t>());

  // Another registration is another client; the defaults are filled in and said.
  Reply minimal = s.register_client(Json{{"redirect_uris", {"http://localhost:9000/callback"}}});
  REQUIRE(minimal.status == 201);
  CHECK(minimal.json()["client_id"] != c["client_id"]);
  CHECK(minimal.json()["token_endpoint_auth_method"] == "none");
  CHECK(minimal.json()["grant_types"] == Json::array({"authorization_code"}));
  CHECK(minimal.json()["response_types"] == Json::array({"code"}));
  CHECK(s.as().clients().count() == 2);
}

TEST_CASE("authorization server: registrations that are not public clients with safe redirect URIs are refused (RFC 7591 errors)", "[access][authorization_server]") {
  AuthorizationServerOptions o;
  o.registrations_per_window = 1000;  // every case from one address: this test is not about the limit
  AsServer s(o);
  struct Case {
    const char* what;
    Json change;  // merged into good_client(); null values remove the member
    const char* error;
    const char* starts;  // the description names the member at fault
  };
  const std::vector<Case> cases{
      {"a confidential client", {{"token_endpoint_auth_method", "client_secret_basic"}}, "invalid_client_metadata", "token_endpoint_auth_method: "},
      {"no redirect_uris", {{"redirect_uris", nullptr}}, "invalid_redirect_uri", "redirect_uris: "},
      {"empty redirect_uris", {{"redirect_uris", Json::array()}}, "invalid_redirect_uri", "redirect_uris: "},
      {"http off loopback", {{"redirect_uris", {"http://client.example.com/cb"}}}, "invalid_redirect_uri", "redirect_uris[0]: "},
      {"a fragment", {{"redirect_uris", {"https://client.example.com/cb#x"}}}, "invalid_redirect_uri", "redirect_uris[0]: "},
      {"a custom scheme", {{"redirect_uris", {"https://ok.example.com/cb", "myapp://cb"}}}, "invalid_redirect_uri", "redirect_uris[1]: "},
      {"user info", {{"redirect_uris", {"https://user:pw@client.example.com/cb"}}}, "invalid_redirect_uri", "redirect_uris[0]: "},
      {"a relative URI", {{"redirect_uris", {"/cb"}}}, "invalid_redirect_uri", "redirect_uris[0]: "},
      {"not a string", {{"redirect_uris", {42}}}, "invalid_redirect_uri", "redirect_uris[0]: "},
      {"a URI too long", {{"redirect_uris", {"https://client.example.com/" + std::string(2000, 'a')}}}, "invalid_redirect_uri", "redirect_uris[0]: "},
      {"too many URIs", {{"redirect_uris", std::vector<std::string>(11, "https://client.example.com/cb")}}, "invalid_redirect_uri", "redirect_uris: "},
      {"a name too long", {{"client_name", std::string(201, 'n')}}, "invalid_client_metadata", "client_name: "},
      {"an unknown scope", {{"scope", "calendar:read root"}}, "invalid_client_metadata", "scope: "},
      {"client_credentials", {{"grant_types", {"client_credentials"}}}, "invalid_client_metadata", "grant_types: "},
      {"the implicit flow", {{"response_types", {"token"}}}, "invalid_client_metadata", "response_types: "},
      {"an http client_uri", {{"client_uri", "http://client.example.com"}}, "invalid_client_metadata", "client_uri: "},
  };
  for (const auto& c : cases) {
    Json body = good_client();
    body.merge_patch(c.change);
    Reply r = s.register_client(body);
    INFO(c.what << "\n" << r.describe());
    CHECK(r.status == 400);
    CHECK(r.json()["error"] == c.error);
    CHECK_THAT(r.json().value("error_description", ""), Catch::StartsWith(c.starts));
  }
  Reply not_json = s.post("/register", "{not json", {{"X-Forwarded-For", "198.51.100.8"}});
  CHECK(not_json.status == 400);
  CHECK(not_json.json()["error"] == "invalid_client_metadata");
  Reply form = s.post("/register", "redirect_uris=https://x", {{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Forwarded-For", "198.51.100.8"}});
  CHECK(form.status == 400);
  CHECK_THAT(form.json().value("error_description", ""), Catch::StartsWith("Content-Type: "));
  // Over the endpoint's 16 KiB: the transport refuses it before the handler sees it.
  Json huge = good_client();
  huge["padding"] = std::string(17 * 1024, 'p');
  CHECK(s.register_client(huge, "198.51.100.9").status == 413);
  CHECK(s.as().clients().count() == 0);
}

TEST_CASE("authorization server: registrations are rate-limited per client address, and allowed again after the window", "[access][authorization_server]") {
  AuthorizationServerOptions o;
  o.registrations_per_window = 3;
  AsServer s(o);
  for (int i = 0; i < 3; ++i) REQUIRE(s.register_client(good_client(), "203.0.113.5").status == 201);
  Reply limited = s.register_client(good_client(), "203.0.113.5");
  INFO(limited.describe());
  CHECK(limited.status == 429);
  CHECK(limited.json()["error"] == "temporarily_unavailable");
  CHECK(std::stoi(limited.header("Retry-After")) > 0);
  // Refused attempts count too; another address is not affected.
  CHECK(s.register_client(Json::object(), "203.0.113.6").status == 400);
  CHECK(s.register_client(good_client(), "203.0.113.6").status == 201);
  CHECK(s.as().clients().count() == 4);

  // After the window (the clock passed in), the first address may register again.
  HttpRequest req;
  req.method = "POST";
  req.path = "/register";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = dump(good_client());
  req.peer = "203.0.113.5";
  CHECK(s.as().register_client(req, RateLimiter::Clock::now()).status == 429);
  CHECK(s.as().register_client(req, RateLimiter::Clock::now() + o.registration_window + 1s).status == 201);
}

TEST_CASE("authorization server: redirect URI rules", "[access][authorization_server][unit]") {
  for (const char* ok : {"https://client.example.com/cb", "https://client.example.com:8443/cb?x=1", "http://127.0.0.1/cb",
                         "http://127.0.0.1:5173/callback", "http://[::1]:8080/cb", "http://localhost:3000/cb"}) {
    INFO(ok);
    CHECK(redirect_uri_problem(ok) == std::nullopt);
  }
  for (const char* bad : {"http://example.com/cb", "http://127.0.0.2.example.com/cb", "ftp://x/cb", "javascript:alert(1)",
                          "https://client.example.com/cb#frag", "https://a@client.example.com/cb", "https:///cb", "https://x/c b",
                          "https://client.example.com:99999999/cb"}) {
    INFO(bad);
    CHECK(redirect_uri_problem(bad).has_value());
  }
}

TEST_CASE("rate limiter: a sliding window per key, bounded keys, IPv6 counted per /64", "[access][rate_limit][unit]") {
  using Clock = RateLimiter::Clock;
  RateLimiter r(2, 60s, 3);
  auto t0 = Clock::now();
  CHECK(r.hit("a", t0).allowed);
  CHECK(r.hit("a", t0 + 10s).allowed);
  auto third = r.hit("a", t0 + 20s);
  CHECK_FALSE(third.allowed);
  CHECK(third.retry_after == 40s);  // when the first leaves the window
  CHECK(r.hit("a", t0 + 60s).allowed);
  CHECK_FALSE(r.hit("a", t0 + 65s).allowed);
  // Three keys at most: a fourth is refused while all are active, allowed once one went quiet.
  CHECK(r.hit("b", t0 + 65s).allowed);
  CHECK(r.hit("c", t0 + 65s).allowed);
  CHECK_FALSE(r.hit("d", t0 + 65s).allowed);
  CHECK(r.hit("d", t0 + 200s).allowed);

  CHECK(client_key("192.0.2.1") == "192.0.2.1");
  CHECK(client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2"));
  CHECK(client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1"));
}
