// Connecting services in the browser (web/connect.hpp) and the tools' way there (URL-mode
// elicitation at the protocol boundary, server/invoke.cpp): a fake Spotify whose authorize step
// the test follows by its Location header, a fake of the pages' browser sessions, and the
// music tools of the real server for two users.
#include <catch2/catch.hpp>
#include <httplib.h>

#include "providers/auth/credentials.hpp"
#include "providers/music/spotify.hpp"
#include "support/app_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/harness.hpp"
#include "support/serving_http.hpp"
#include "web/connect.hpp"

using namespace concierge;
using namespace concierge::test;
namespace auth = concierge::providers::auth;

namespace {

const std::string kOrigin = "https://mcp.example.org";

// The pages part's sessions as the interface promises them: a cookie naming a signed-in user,
// and that session's CSRF token in forms.
struct FakeSessions : access::WebSessions {
  std::map<std::string, access::WebSession> by_cookie;
  std::optional<access::WebSession> session_of(const HttpRequest& r) override {
    std::string c = r.header("Cookie");
    const std::string name = "concierge_session=";
    if (c.rfind(name, 0) != 0) return std::nullopt;
    auto it = by_cookie.find(c.substr(name.size()));
    return it == by_cookie.end() ? std::nullopt : std::optional(it->second);
  }
  bool csrf_ok(const HttpRequest& r) override {
    auto s = session_of(r);
    return s && r.body.find("csrf=" + s->csrf) != std::string::npos;
  }
  std::string sign_in_path(const std::string& next) const override { return "/signin?next=" + next; }
};

std::string header(const HttpReply& r, const std::string& name) {
  for (auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

std::string query_param(const std::string& url, const std::string& name) {
  auto q = url.find('?');
  REQUIRE(q != std::string::npos);
  httplib::Params params;
  httplib::detail::parse_query_text(url.substr(q + 1), params);
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

struct Fixture : AppFixture {
  FakeUpstream up;
  FakeSessions sessions;
  auth::TokenStore& tokens = state->connect().tokens;
  std::shared_ptr<auth::OAuthClient> oauth;
  std::shared_ptr<providers::http::Client> client;
  std::vector<HttpRoute> routes;

  Fixture() {
    // Spotify with nothing playing on no device: enough for music_now_playing to succeed.
    up.server.Get("/v1/me/player", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    up.server.Get("/v1/me/player/devices", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"devices": []})", "application/json");
    });
    auto policy = up.policy("spotify");
    policy.base_url = up.url("/v1");
    client = std::make_shared<providers::http::Client>(policy);
    oauth = std::make_shared<auth::OAuthClient>(up.oauth("spotify"), tokens, up.policy("spotify"));
    providers.music = {};
    providers.music.add("default", std::make_shared<providers::music::SpotifyMusic>(
                                       client, std::make_shared<auth::OAuthCredentials>(oauth, "spotify", "default")));
    sessions.by_cookie["alice-cookie"] = {"alice", "alice-csrf"};
    sessions.by_cookie["bob-cookie"] = {"bob", "bob-csrf"};
    server->set_connect_url([](const std::string&, const std::string& service) -> std::optional<std::string> {
      if (service != "spotify") return std::nullopt;
      return web::connect_url(kOrigin, service);
    });
    web::ConnectOptions o;
    o.origin = [] { return kOrigin; };
    o.services = {"spotify"};
    o.oauth = [this](const std::string&) { return oauth; };
    o.tokens = &tokens;
    o.revocation_urls = {{"spotify", up.url("/oauth/revoke")}};
    o.revocation_policy = up.policy("spotify");
    o.connected = [this](const std::string& user, const std::string& service) { server->connection_completed(user, service); };
    routes = web::connect_routes(sessions, std::move(o));
  }
  ~Fixture() {
    providers.music = {};
    client.reset();
    oauth.reset();
  }

  HttpReply serve(const std::string& method, const std::string& target, const std::string& cookie = "", std::string body = "") {
    HttpRequest r;
    r.method = method;
    r.path = target.substr(0, target.find('?'));
    if (target.find('?') != std::string::npos) {
      httplib::Params params;
      httplib::detail::parse_query_text(target.substr(target.find('?') + 1), params);
      for (auto& p : params) r.query.push_back(p);
    }
    if (!cookie.empty()) r.headers.emplace_back("Cookie", "concierge_session=" + cookie);
    r.body = std::move(body);
    for (auto& route : routes)
      if (route.method == method && route.path == r.path) return route.handler(r);
    FAIL("no route " << method << " " << r.path);
    return {};
  }

  // GET /connect/spotify, then the provider's consent: the callback URL (path and query) the
  // browser would be sent back to.
  std::string authorize(const std::string& cookie) {
    HttpReply start = serve("GET", "/connect/spotify", cookie);
    REQUIRE(start.status == 302);
    std::string location = header(start, "Location");
    REQUIRE(location.rfind(up.url("/oauth/authorize?"), 0) == 0);
    CHECK(query_param(location, "redirect_uri") == kOrigin + "/oauth/callback/spotify");
    CHECK(query_param(location, "code_challenge_method") == "S256");
    httplib::Client browser("127.0.0.1", up.port);
    auto consent = browser.Get(location.substr(up.url().size()));
    REQUIRE(consent);
    REQUIRE(consent->status == 302);
    std::string back = consent->get_header_value("Location");
    REQUIRE(back.rfind(kOrigin + "/oauth/callback/spotify?", 0) == 0);
    return back.substr(kOrigin.size());
  }
  void connect(const std::string& cookie) {
    HttpReply done = serve("GET", authorize(cookie), cookie);
    REQUIRE(done.status == 200);
    CHECK(done.body.find("return to the chat") != std::string::npos);
  }
  int64_t id(const std::string& user) { return store.user_id(user); }
};

// A client of `user`'s, as the HTTP transport makes one after authentication.
std::unique_ptr<Client> client_of(Server& server, const std::string& user) {
  auto c = std::make_unique<Client>(server);
  c->conn.user = user;
  c->conn.session->user = user;
  return c;
}

Json now_playing(Client& c, const Json& id, Json extra = Json::object()) {
  Json params{{"name", "music_now_playing"}, {"arguments", Json::object()}};
  params.update(extra);
  return c.request(id, "tools/call", params);
}

const Json kUrlCaps{{"elicitation", {{"url", Json::object()}}}};

}  // namespace

TEST_CASE("connect: the services page needs a session and shows each service's state, with the pages' headers", "[connect]") {
  Fixture f;
  HttpReply anon = f.serve("GET", "/connect");
  CHECK(anon.status == 302);
  CHECK(header(anon, "Location") == "/signin?next=/connect");
  CHECK(header(f.serve("GET", "/connect/spotify"), "Location") == "/signin?next=/connect/spotify");

  HttpReply page = f.serve("GET", "/connect", "alice-cookie");
  CHECK(page.status == 200);
  CHECK(page.content_type.rfind("text/html", 0) == 0);
  CHECK(page.body.find("Spotify</strong>: not connected") != std::string::npos);
  CHECK(page.body.find("href=\"/connect/spotify\"") != std::string::npos);
  CHECK(header(page, "Content-Security-Policy").find("frame-ancestors 'none'") != std::string::npos);
  CHECK(header(page, "Cache-Control") == "no-store");
  CHECK(header(page, "X-Frame-Options") == "DENY");
  CHECK(header(page, "Referrer-Policy") == "same-origin");  // a form post carries a real Origin

  f.connect("alice-cookie");
  page = f.serve("GET", "/connect", "alice-cookie");
  CHECK(page.body.find("Spotify</strong>: connected") != std::string::npos);
  CHECK(page.body.find("name=\"csrf\" value=\"alice-csrf\"") != std::string::npos);
  CHECK(f.serve("GET", "/connect", "bob-cookie").body.find("Spotify</strong>: not connected") != std::string::npos);
}

TEST_CASE("connect: the callback refuses a wrong state, another user's session and a spent state", "[connect]") {
  Fixture f;
  std::string callback = f.authorize("alice-cookie");
  std::string state = query_param(callback, "state");
  std::string wrong = callback;
  wrong.replace(wrong.find(state), state.size(), "forged-state");
  CHECK(f.serve("GET", wrong, "alice-cookie").status == 400);
  CHECK(f.serve("GET", callback).status == 403);  // no session in this browser
  HttpReply other = f.serve("GET", callback, "bob-cookie");
  CHECK(other.status == 403);
  CHECK(other.body.find("another user") != std::string::npos);
  // Refused for bob, and spent: alice's own late arrival is refused too.
  CHECK(f.serve("GET", callback, "alice-cookie").status == 400);
  CHECK_FALSE(f.tokens.load(f.id("alice"), "spotify", "default"));
  CHECK_FALSE(f.tokens.load(f.id("bob"), "spotify", "default"));
  CHECK(f.up.issued == 0);

  // A provider's refusal is shown escaped, and connects nothing.
  callback = f.authorize("alice-cookie");
  HttpReply refused = f.serve("GET", "/oauth/callback/spotify?error=%3Cscript%3E&state=" + query_param(callback, "state"), "alice-cookie");
  CHECK(refused.status == 400);
  CHECK(refused.body.find("<script>") == std::string::npos);
  CHECK(refused.body.find("&lt;script&gt;") != std::string::npos);
  CHECK_FALSE(f.tokens.load(f.id("alice"), "spotify", "default"));
}

TEST_CASE("connect: pending sign-ins expire and are bounded per user", "[connect]") {
  Fixture f;
  auto now = std::chrono::steady_clock::now();
  web::ConnectOptions o;
  o.origin = [] { return kOrigin; };
  o.services = {"spotify"};
  o.oauth = [&f](const std::string&) { return f.oauth; };
  o.tokens = &f.tokens;
  o.max_pending_per_user = 2;
  o.now = [&now] { return now; };
  f.routes = web::connect_routes(f.sessions, std::move(o));
  std::string first = f.authorize("alice-cookie");
  std::string second = f.authorize("alice-cookie");
  std::string third = f.authorize("alice-cookie");  // the oldest, `first`, makes room
  CHECK(f.serve("GET", first, "alice-cookie").status == 400);
  now += std::chrono::minutes(11);
  CHECK(f.serve("GET", second, "alice-cookie").status == 400);  // expired
  now -= std::chrono::minutes(11);
  CHECK(f.serve("GET", third, "alice-cookie").status == 200);
}

TEST_CASE("connect: a 2025-11-25 client that takes URL elicitation gets -32042, then the retried call succeeds", "[connect]") {
  Fixture f;
  auto alice = client_of(*f.server, "alice");
  alice->initialize("2025-11-25", kUrlCaps);
  Json r = now_playing(*alice, 1);
  REQUIRE(r.contains("error"));
  CHECK(r["error"]["code"] == -32042);
  REQUIRE(r["error"]["data"]["elicitations"].size() == 1);
  Json e = r["error"]["data"]["elicitations"][0];
  CHECK(e["mode"] == "url");
  CHECK(e["url"] == kOrigin + "/connect/spotify");
  CHECK_FALSE(e["message"].get<std::string>().empty());
  std::string id = e["elicitationId"];
  CHECK(id.size() >= 16);

  f.connect("alice-cookie");
  auto complete = alice->sink->wait_for([&](const Json& m) { return m.value("method", "") == "notifications/elicitation/complete"; });
  REQUIRE(complete);
  CHECK((*complete)["params"]["elicitationId"] == id);
  Json retried = now_playing(*alice, 2);
  REQUIRE(retried.contains("result"));
  CHECK_FALSE(retried["result"].value("isError", false));
  CHECK(f.up.calls_by("default") >= 1);

  // Another user's connection is unaffected: bob is still asked to connect.
  auto bob = client_of(*f.server, "bob");
  bob->initialize("2025-11-25", kUrlCaps);
  CHECK(now_playing(*bob, 3)["error"]["code"] == -32042);
}

TEST_CASE("connect: a 2026-07-28 client gets an input request for the URL, then the retry succeeds", "[connect]") {
  Fixture f;
  auto alice = client_of(*f.server, "alice");
  Json meta{{"_meta", modern_meta(kUrlCaps)}};
  Json r = now_playing(*alice, 1, meta);
  REQUIRE(r["result"]["resultType"] == "input_required");
  Json ask = r["result"]["inputRequests"]["connect_spotify"];
  CHECK(ask["method"] == "elicitation/create");
  CHECK(ask["params"]["mode"] == "url");
  CHECK(ask["params"]["url"] == kOrigin + "/connect/spotify");

  Json retry = meta;
  retry["inputResponses"] = {{"connect_spotify", {{"action", "accept"}}}};
  retry["requestState"] = r["result"]["requestState"];
  SECTION("the person connected: the retry succeeds") {
    f.connect("alice-cookie");
    Json done = now_playing(*alice, 2, retry);
    CHECK(done["result"]["resultType"] == "complete");
    CHECK_FALSE(done["result"].value("isError", false));
    CHECK(done["result"]["structuredContent"]["devices"] == Json::array());
  }
  SECTION("the person came back without connecting: a tool error with the URL, not another round") {
    Json done = now_playing(*alice, 2, retry);
    CHECK(done["result"]["resultType"] == "complete");
    CHECK(done["result"]["isError"] == true);
    CHECK(done["result"]["content"][0]["text"].get<std::string>().find(kOrigin + "/connect/spotify") != std::string::npos);
  }
}

TEST_CASE("connect: a client without URL elicitation gets a tool error carrying the URL", "[connect]") {
  Fixture f;
  auto alice = client_of(*f.server, "alice");
  SECTION("2025-11-25 with form elicitation only") { alice->initialize("2025-11-25", Json{{"elicitation", {{"form", Json::object()}}}}); }
  SECTION("2025-06-18") { alice->initialize("2025-06-18", Json{{"elicitation", Json::object()}}); }
  Json r = now_playing(*alice, 1);
  REQUIRE(r.contains("result"));
  CHECK(r["result"]["isError"] == true);
  std::string text = r["result"]["content"][0]["text"];
  CHECK(text.rfind("account: ", 0) == 0);
  CHECK(text.find(kOrigin + "/connect/spotify") != std::string::npos);

  // No connect page for the service: the message as before, without a URL.
  f.server->set_connect_url(nullptr);
  text = now_playing(*alice, 2)["result"]["content"][0]["text"];
  CHECK(text.find("/connect/") == std::string::npos);
  CHECK(text.find("concierge auth login spotify") != std::string::npos);
}

TEST_CASE("connect: disconnecting needs the form's CSRF token, deletes the tokens and revokes the grant", "[connect]") {
  Fixture f;
  f.connect("alice-cookie");
  f.connect("bob-cookie");
  auto refresh = f.tokens.load(f.id("alice"), "spotify", "default")->refresh_token;
  CHECK(f.serve("POST", "/connect/spotify/disconnect", "alice-cookie", "csrf=bob-csrf").status == 403);
  CHECK(f.serve("POST", "/connect/spotify/disconnect", "alice-cookie", "").status == 403);
  CHECK(f.tokens.load(f.id("alice"), "spotify", "default"));

  HttpReply gone = f.serve("POST", "/connect/spotify/disconnect", "alice-cookie", "csrf=alice-csrf");
  CHECK(gone.status == 303);
  CHECK(header(gone, "Location") == "/connect");
  CHECK_FALSE(f.tokens.load(f.id("alice"), "spotify", "default"));
  CHECK(f.up.revocations == std::vector<std::string>{refresh});
  CHECK(f.tokens.load(f.id("bob"), "spotify", "default"));

  auto alice = client_of(*f.server, "alice");
  alice->initialize("2025-11-25");
  CHECK(now_playing(*alice, 1)["result"]["isError"] == true);
  auto bob = client_of(*f.server, "bob");
  bob->initialize("2025-11-25");
  CHECK_FALSE(now_playing(*bob, 2)["result"].value("isError", false));
}

TEST_CASE("connect: the routes are served by the HTTP transport, the whole flow through it", "[connect][http]") {
  Fixture f;
  HttpOptions o;
  o.routes = f.routes;
  ServingHttp http(*f.server, o);
  httplib::Client browser("127.0.0.1", http.port());
  httplib::Headers alice{{"Cookie", "concierge_session=alice-cookie"}};
  auto list = browser.Get("/connect", alice);
  REQUIRE(list);
  CHECK(list->status == 200);
  CHECK(list->get_header_value("Content-Security-Policy").find("frame-ancestors 'none'") != std::string::npos);
  auto start = browser.Get("/connect/spotify", alice);
  REQUIRE(start);
  REQUIRE(start->status == 302);
  std::string to_provider = start->get_header_value("Location");
  httplib::Client provider("127.0.0.1", f.up.port);
  auto consent = provider.Get(to_provider.substr(f.up.url().size()));
  REQUIRE(consent);
  std::string back = consent->get_header_value("Location");
  REQUIRE(back.rfind(kOrigin + "/oauth/callback/spotify?", 0) == 0);
  auto done = browser.Get(back.substr(kOrigin.size()), alice);
  REQUIRE(done);
  CHECK(done->status == 200);
  CHECK(f.tokens.load(f.id("alice"), "spotify", "default"));
  // A cross-site form post is refused by the transport before the route (Origin rules).
  auto forged = browser.Post("/connect/spotify/disconnect",
                             httplib::Headers{{"Cookie", "concierge_session=alice-cookie"}, {"Origin", "https://evil.example"}},
                             "csrf=alice-csrf", "application/x-www-form-urlencoded");
  REQUIRE(forged);
  CHECK(forged->status == 403);
  CHECK(f.tokens.load(f.id("alice"), "spotify", "default"));
}
