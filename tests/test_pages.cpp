// The sign-in, consent and invite pages (src/web/pages.hpp) through the real HttpServer on
// 127.0.0.1:<any port>, with a temporary store and a fake of the authorization endpoint's protocol
// half: passwords (argon2id), the session cookie, wrong passwords and their rate limit (an
// injected clock: no waiting), CSRF on every form, HTML escaping of what clients send, the
// security headers, and invite links used once.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <regex>

#include "access/identities.hpp"
#include "access/passwords.hpp"
#include "access/web_sessions.hpp"
#include "common/base64.hpp"
#include "providers/auth/oauth.hpp"
#include "support/harness.hpp"
#include "support/http_client.hpp"
#include "support/serving_http.hpp"
#include "support/temp_dir.hpp"
#include "web/pages.hpp"
#include "support/test_database.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::test::http;

namespace {

const std::string kPassword = "correct horse battery";

// The protocol half: client "known" is trusted, anything else gets the error page that is not
// redirected. Records what the pages decided.
struct FakeEndpoint : web::AuthorizationEndpoint {
  std::string client_name = "Test Client";
  std::mutex m;
  std::vector<access::Decision> approved;
  int denied = 0;

  std::variant<access::AuthorizationRequest, HttpReply> check(const HttpRequest& r) override {
    if (r.param("client_id") != "known") return HttpReply{400, "text/html; charset=utf-8", "<p>unknown client</p>", {}};
    access::AuthorizationRequest a;
    a.client_id = "known";
    a.client_name = client_name;
    a.redirect_uri = "https://client.example.com/callback";
    a.state = r.param("state");
    a.code_challenge = r.param("code_challenge");
    a.scopes = {"calendar:read", "mail:read", "mail:send"};
    return a;
  }
  HttpReply approve(const access::AuthorizationRequest& a, const access::Decision& d) override {
    std::lock_guard l(m);
    approved.push_back(d);
    return HttpReply{302, "text/plain", "", {{"Location", a.redirect_uri + "?code=fake&state=" + a.state}}};
  }
  HttpReply deny(const access::AuthorizationRequest& a) override {
    std::lock_guard l(m);
    ++denied;
    return HttpReply{302, "text/plain", "", {{"Location", a.redirect_uri + "?error=access_denied&state=" + a.state}}};
  }
};

// The store (user ada with a password), sessions on a clock the test moves, the pages served.
struct Site {
  TempDir tmp;
  store::Store store{tmp.path, test::database_url(tmp.path)};
  std::shared_ptr<std::atomic<int64_t>> seconds = std::make_shared<std::atomic<int64_t>>(0);
  std::shared_ptr<FakeEndpoint> endpoint = std::make_shared<FakeEndpoint>();
  std::shared_ptr<access::StoreWebSessions> sessions;
  std::unique_ptr<Server> core = builtin_server();
  std::unique_ptr<ServingHttp> http;

  Site() {
    access::Identities(store).add_user("ada");
    access::Passwords(store).set("ada", kPassword);
    access::WebSessionOptions o;
    o.clock = [s = seconds] { return access::RateLimiter::Clock::time_point(std::chrono::seconds(s->load())); };
    sessions = std::make_shared<access::StoreWebSessions>(store, o);
    HttpOptions ho;
    ho.routes = web::page_routes(endpoint, sessions);
    http = std::make_unique<ServingHttp>(*core, ho);
  }
  int port() const { return http->port(); }
};

// A browser: keeps cookies, posts forms from the server's own origin.
struct Browser {
  int port;
  std::map<std::string, std::string> cookies;

  Reply go(const std::string& method, const std::string& path, const std::string& form = "") {
    httplib::Headers h;
    std::string jar;
    for (auto& [k, v] : cookies) jar += (jar.empty() ? "" : "; ") + k + "=" + v;
    if (!jar.empty()) h.emplace("Cookie", jar);
    if (method == "POST") {
      h.emplace("Content-Type", "application/x-www-form-urlencoded");
      h.emplace("Origin", "http://127.0.0.1:" + std::to_string(port));
    }
    Reply r = request(port, Request{method, path, h, form});
    auto range = r.headers.equal_range("Set-Cookie");
    for (auto it = range.first; it != range.second; ++it) {
      const std::string& c = it->second;
      const auto eq = c.find('='), semi = c.find(';');
      const std::string name = c.substr(0, eq), value = c.substr(eq + 1, semi - eq - 1);
      if (value.empty()) cookies.erase(name);
      else cookies[name] = value;
    }
    return r;
  }
  Reply get(const std::string& path) { return go("GET", path); }
  Reply post(const std::string& path, const std::vector<std::pair<std::string, std::string>>& fields) {
    return go("POST", path, access::form_encode(fields));
  }
  // The value of a hidden field of the last page.
  static std::string hidden(const Reply& r, const std::string& name) {
    std::smatch m;
    if (!std::regex_search(r.body, m, std::regex("name=\"" + name + "\" value=\"([^\"]*)\""))) return {};
    return m[1];
  }
  Reply sign_in(const std::string& user, const std::string& password, const std::string& next = "/signin") {
    Reply form = get("/signin");
    REQUIRE(form.status == 200);
    return post("/signin", {{"csrf", hidden(form, "csrf")}, {"next", next}, {"user", user}, {"password", password}});
  }
};

std::string set_cookie(const Reply& r, const std::string& name) {
  auto range = r.headers.equal_range("Set-Cookie");
  for (auto it = range.first; it != range.second; ++it)
    if (it->second.rfind(name + "=", 0) == 0) return it->second;
  return {};
}

const std::string kAuthorize = "/authorize?response_type=code&client_id=known&state=xyz&code_challenge=abc&code_challenge_method=S256"
                               "&redirect_uri=https%3A%2F%2Fclient.example.com%2Fcallback&scope=calendar%3Aread+mail%3Aread+mail%3Asend";

// The consent form's fields as the browser would post them, with `decision` and the scopes ticked.
std::vector<std::pair<std::string, std::string>> consent_fields(const Reply& page, const std::string& decision, const std::vector<std::string>& ticked) {
  std::vector<std::pair<std::string, std::string>> f;
  std::regex hidden_field("<input type=\"hidden\" name=\"([^\"]*)\" value=\"([^\"]*)\">");
  for (auto it = std::sregex_iterator(page.body.begin(), page.body.end(), hidden_field); it != std::sregex_iterator(); ++it) {
    std::string v = (*it)[2];
    v = std::regex_replace(v, std::regex("&amp;"), "&");  // the fields below have no other entity
    f.emplace_back((*it)[1], v);
  }
  for (auto& s : ticked) f.emplace_back("scope", s);
  f.emplace_back("decision", decision);
  return f;
}

}  // namespace

TEST_CASE("pages: passwords are argon2id hashes, salted, and verify only the right password", "[pages][unit]") {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string h = access::hash_password(kPassword);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  INFO("hash took " << took.count() << " ms");
  CHECK_THAT(h, Catch::StartsWith("$argon2id$v=19$m=65536,t=2,p=1$"));
  CHECK(h.find(kPassword) == std::string::npos);
  CHECK(access::verify_password(h, kPassword));
  CHECK_FALSE(access::verify_password(h, kPassword + " "));
  CHECK_FALSE(access::verify_password("not a hash", kPassword));
  CHECK(access::hash_password(kPassword) != h);  // a salt of its own each time
  CHECK_THROWS_WITH(access::hash_password("short"), Catch::StartsWith("password: at least 8"));
  CHECK_THROWS_WITH(access::hash_password(std::string(access::kMaxPasswordBytes + 1, 'x')), Catch::StartsWith("password: at most"));
}

TEST_CASE("pages: the right password signs in with an HttpOnly SameSite session cookie", "[pages]") {
  Site site;
  Browser b{site.port()};
  Reply form = b.get("/signin?next=%2Fsignin");
  REQUIRE(form.status == 200);
  CHECK(form.content_type() == "text/html; charset=utf-8");
  CHECK_THAT(form.body, Catch::Contains("<html lang=\"en\">") && Catch::Contains("<label for=\"user\">") &&
                            Catch::Contains("<input id=\"user\" name=\"user\"") && Catch::Contains("<label for=\"password\">") &&
                            Catch::Contains("<input id=\"password\" name=\"password\" type=\"password\"") &&
                            Catch::Contains("<button type=\"submit\">Sign in</button>"));
  CHECK_FALSE(Browser::hidden(form, "csrf").empty());

  Reply in = b.post("/signin", {{"csrf", Browser::hidden(form, "csrf")}, {"next", "/authorize?client_id=known"}, {"user", "ada"}, {"password", kPassword}});
  INFO(in.describe());
  REQUIRE(in.status == 303);
  CHECK(in.header("Location") == "/authorize?client_id=known");
  const std::string cookie = set_cookie(in, "concierge_session");
  CHECK_THAT(cookie, Catch::Contains("; Path=/") && Catch::Contains("; HttpOnly") && Catch::Contains("; SameSite=Lax"));
  CHECK(cookie.find("Secure") == std::string::npos);  // http on loopback
  CHECK(cookie.find(kPassword) == std::string::npos);

  Reply signed_in = b.get("/signin");
  CHECK(signed_in.status == 200);
  CHECK_THAT(signed_in.body, Catch::Contains("signed in as <strong>ada</strong>"));
  auto audit = access::Audit(site.store).list("ada");
  REQUIRE(audit.size() >= 1);
  CHECK(audit[0]["event"] == "sign_in");
  CHECK(audit[0]["detail"]["via"] == "password");
  CHECK(audit.dump().find(kPassword) == std::string::npos);

  // Signing out ends the session (the form's CSRF token required).
  CHECK(b.post("/signout", {}).status == 403);
  Reply out = b.post("/signout", {{"csrf", Browser::hidden(signed_in, "csrf")}});
  CHECK(out.status == 303);
  CHECK_THAT(b.get("/signin").body, Catch::Contains("id=\"password\""));

  SECTION("next is a path on this server, never another site") {
    for (std::string evil : {"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"}) {
      Browser c{site.port()};
      Reply r = c.sign_in("ada", kPassword, evil);
      CHECK(r.status == 303);
      CHECK(r.header("Location") == "/signin");
    }
  }
}

TEST_CASE("pages: a wrong password is refused, audited without the password", "[pages]") {
  Site site;
  Browser b{site.port()};
  Reply wrong = b.sign_in("ada", "not the password");
  CHECK(wrong.status == 401);
  CHECK(set_cookie(wrong, "concierge_session").empty());
  CHECK_THAT(wrong.body, Catch::Contains("Wrong user name or password.") && Catch::Contains("value=\"ada\""));
  Reply nobody = b.sign_in("nobody", kPassword);
  CHECK(nobody.status == 401);
  CHECK(b.cookies.count("concierge_session") == 0);
  auto audit = access::Audit(site.store).list("ada");
  REQUIRE(audit.size() >= 1);
  CHECK(audit[0]["event"] == "refused");
  CHECK(audit[0]["detail"]["reason"] == "wrong user name or password");
  CHECK(audit.dump().find("not the password") == std::string::npos);

  // The sign-in form needs its CSRF token (bound to the browser's cookie) too.
  Reply no_csrf = b.post("/signin", {{"user", "ada"}, {"password", kPassword}});
  CHECK(no_csrf.status == 403);
  Browser other{site.port()};
  Reply theirs = other.get("/signin");
  Reply cross = b.post("/signin", {{"csrf", Browser::hidden(theirs, "csrf")}, {"user", "ada"}, {"password", kPassword}});
  CHECK(cross.status == 403);
  CHECK(b.cookies.count("concierge_session") == 0);
}

TEST_CASE("pages: 20 wrong passwords are rate-limited, then after the window the right one works", "[pages][security]") {
  Site site;
  Browser b{site.port()};
  int wrong = 0, limited = 0;
  for (int i = 0; i < 20; ++i) {
    Reply r = b.sign_in("ada", "guess number " + std::to_string(i));
    if (r.status == 401) ++wrong;
    if (r.status == 429) {
      ++limited;
      CHECK(std::stoi(r.header("Retry-After")) > 0);
    }
  }
  CHECK(wrong == 10);  // failures_per_user
  CHECK(limited == 10);
  // While limited, even the right password is refused.
  Reply right = b.sign_in("ada", kPassword);
  CHECK(right.status == 429);
  CHECK(b.cookies.count("concierge_session") == 0);

  *site.seconds += 15 * 60;  // the window has passed
  Reply later = b.sign_in("ada", kPassword);
  INFO(later.describe());
  CHECK(later.status == 303);
  CHECK(b.cookies.count("concierge_session") == 1);

  SECTION("per client address too: guesses spread over user names") {
    Browser c{site.port()};
    for (int i = 0; i < 30; ++i) CHECK(c.sign_in("user" + std::to_string(i), "guess").status == 401);
    CHECK(c.sign_in("ada", kPassword).status == 429);
  }
}

TEST_CASE("pages: GET /authorize sends a browser that is not signed in to the sign-in page, and back", "[pages]") {
  Site site;
  Browser b{site.port()};
  Reply to = b.get(kAuthorize);
  REQUIRE(to.status == 302);
  // (httplib's client hands Location over decoded once: /signin?next=/authorize?...)
  const std::string location = to.header("Location"), prefix = "/signin?next=";
  REQUIRE_THAT(location, Catch::StartsWith(prefix + "/authorize?") && Catch::Contains("client_id=known") && Catch::Contains("state=xyz"));
  Reply form = b.get("/signin?" + access::form_encode({{"next", location.substr(prefix.size())}}));
  const std::string next = Browser::hidden(form, "next");
  CHECK_THAT(next, Catch::StartsWith("/authorize?") && Catch::Contains("&amp;state=xyz"));  // escaped in the attribute
  Reply in = b.post("/signin", {{"csrf", Browser::hidden(form, "csrf")}, {"next", std::regex_replace(next, std::regex("&amp;"), "&")},
                               {"user", "ada"}, {"password", kPassword}});
  REQUIRE(in.status == 303);
  Reply consent = b.get(in.header("Location"));
  INFO(consent.describe());
  CHECK(consent.status == 200);
  CHECK_THAT(consent.body, Catch::Contains("Test Client") && Catch::Contains("client.example.com") && Catch::Contains("calendar:read"));

  // A request the protocol half refuses gets its reply, not a page of ours.
  Reply unknown = b.get("/authorize?client_id=stranger");
  CHECK(unknown.status == 400);
  CHECK(unknown.body == "<p>unknown client</p>");
  CHECK_THAT(unknown.header("Content-Security-Policy"), Catch::Contains("frame-ancestors 'none'"));
}

TEST_CASE("pages: consent posts need the session's CSRF token, and pass on the scopes left ticked", "[pages][security]") {
  Site site;
  Browser b{site.port()};
  REQUIRE(b.sign_in("ada", kPassword).status == 303);
  Reply page = b.get(kAuthorize);
  REQUIRE(page.status == 200);
  CHECK_THAT(page.body, Catch::Contains("name=\"scope\" value=\"mail:send\" checked") &&
                            Catch::Contains("<button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>") &&
                            Catch::Contains("name=\"decision\" value=\"deny\""));

  auto fields = consent_fields(page, "approve", {"calendar:read", "mail:read", "mail:send"});
  SECTION("without the token: 403 with a page, nothing approved") {
    std::erase_if(fields, [](auto& f) { return f.first == "csrf"; });
    Reply r = b.post("/authorize/consent", fields);
    CHECK(r.status == 403);
    CHECK(r.content_type() == "text/html; charset=utf-8");
    CHECK_THAT(r.body, Catch::Contains("<h1>Form expired</h1>"));
    CHECK(site.endpoint->approved.empty());
  }
  SECTION("with another session's token: 403") {
    Browser other{site.port()};
    REQUIRE(other.sign_in("ada", kPassword).status == 303);
    for (auto& f : fields)
      if (f.first == "csrf") f.second = Browser::hidden(other.get(kAuthorize), "csrf");
    CHECK(b.post("/authorize/consent", fields).status == 403);
    CHECK(site.endpoint->approved.empty());
  }
  SECTION("without a session: 403") {
    Browser stranger{site.port()};
    CHECK(stranger.post("/authorize/consent", fields).status == 403);
    CHECK(site.endpoint->approved.empty());
  }
  SECTION("approved with a scope unticked: only the ticked ones, for the signed-in user") {
    Reply r = b.post("/authorize/consent", consent_fields(page, "approve", {"calendar:read", "mail:send", "music:write"}));
    INFO(r.describe());
    CHECK(r.status == 302);
    CHECK(r.header("Location") == "https://client.example.com/callback?code=fake&state=xyz");
    REQUIRE(site.endpoint->approved.size() == 1);
    CHECK(site.endpoint->approved[0].user == "ada");
    CHECK(site.endpoint->approved[0].granted == std::vector<std::string>{"calendar:read", "mail:send"});  // not what wasn't asked
  }
  SECTION("approved with nothing ticked: asked again") {
    Reply r = b.post("/authorize/consent", consent_fields(page, "approve", {}));
    CHECK(r.status == 400);
    CHECK_THAT(r.body, Catch::Contains("Tick at least one permission"));
    CHECK(site.endpoint->approved.empty());
    CHECK(site.endpoint->denied == 0);
  }
  SECTION("denied") {
    Reply r = b.post("/authorize/consent", consent_fields(page, "deny", {"calendar:read"}));
    CHECK(r.status == 302);
    CHECK(r.header("Location") == "https://client.example.com/callback?error=access_denied&state=xyz");
    CHECK(site.endpoint->denied == 1);
    CHECK(site.endpoint->approved.empty());
  }
}

TEST_CASE("pages: what a client sends is HTML-escaped on the consent page", "[pages][security]") {
  Site site;
  site.endpoint->client_name = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
  Browser b{site.port()};
  REQUIRE(b.sign_in("ada", kPassword).status == 303);
  Reply page = b.get("/authorize?client_id=known&state=%22%3E%3Cscript%3Ealert(3)%3C%2Fscript%3E&x%22%3E%3Cb%3E=1");
  REQUIRE(page.status == 200);
  CHECK(page.body.find("<script") == std::string::npos);
  CHECK(page.body.find("<img") == std::string::npos);
  CHECK(page.body.find("<b>") == std::string::npos);
  CHECK_THAT(page.body, Catch::Contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
  CHECK_THAT(page.body, Catch::Contains("value=\"&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;\""));
}

TEST_CASE("pages: every page has the CSP with frame-ancestors 'none' and the other security headers", "[pages][security]") {
  Site site;
  Browser b{site.port()};
  Reply sign_in = b.get("/signin");
  REQUIRE(b.sign_in("ada", kPassword).status == 303);
  Reply consent = b.get(kAuthorize);
  REQUIRE(consent.status == 200);
  Reply invite = b.get("/invite?token=nothing");
  for (const Reply* r : {&sign_in, &consent, &invite}) {
    INFO(r->describe());
    const std::string csp = r->header("Content-Security-Policy");
    CHECK_THAT(csp, Catch::Contains("default-src 'none'") && Catch::Contains("frame-ancestors 'none'") && Catch::Contains("form-action 'self'"));
    CHECK(csp.find("script-src") == std::string::npos);  // no JavaScript at all: default-src 'none' covers it
    CHECK(csp.find("unsafe-inline") == std::string::npos);
    CHECK(r->header("X-Frame-Options") == "DENY");
    CHECK(r->header("Cache-Control") == "no-store");
    CHECK(r->header("Referrer-Policy") == "same-origin");
    CHECK(r->header("X-Content-Type-Options") == "nosniff");
    // The inline style is the one the policy's hash allows.
    std::smatch style, hash;
    REQUIRE(std::regex_search(r->body, style, std::regex("<style>([^<]*)</style>")));
    REQUIRE(std::regex_search(csp, hash, std::regex("style-src 'sha256-([^']+)'")));
    std::string expected = base64url_encode(providers::auth::sha256(style[1]));
    std::replace(expected.begin(), expected.end(), '-', '+');
    std::replace(expected.begin(), expected.end(), '_', '/');
    while (expected.size() % 4) expected += '=';
    CHECK(hash[1] == expected);
  }
  // The consent form's redirect goes to the client: its origin may be the target of the post.
  CHECK_THAT(consent.header("Content-Security-Policy"), Catch::Contains("form-action 'self' https://client.example.com;"));
}

TEST_CASE("pages: an invite link signs in once and is refused the second time", "[pages]") {
  Site site;
  const std::string token = access::create_invite(site.store, "ada", 24);
  Browser b{site.port()};
  Reply ask = b.get("/invite?token=" + token);
  INFO(ask.describe());
  REQUIRE(ask.status == 200);
  CHECK_THAT(ask.body, Catch::Contains("signs you in as <strong>ada</strong>"));
  CHECK(b.cookies.count("concierge_session") == 0);  // opening the link (or a preview of it) uses nothing
  CHECK(b.get("/invite?token=" + token).status == 200);

  // The confirmation needs the pre-session CSRF token.
  CHECK(b.post("/invite", {{"token", token}}).status == 403);
  Reply in = b.post("/invite", {{"csrf", Browser::hidden(ask, "csrf")}, {"token", token}});
  REQUIRE(in.status == 303);
  CHECK(b.cookies.count("concierge_session") == 1);
  CHECK_THAT(b.get("/signin").body, Catch::Contains("signed in as <strong>ada</strong>"));
  auto audit = access::Audit(site.store).list("ada");
  REQUIRE(audit.size() >= 1);
  CHECK(audit[0]["detail"]["via"] == "invite");

  Browser again{site.port()};
  Reply second = again.get("/invite?token=" + token);
  CHECK(second.status == 401);
  CHECK_THAT(second.body, Catch::Contains("used already"));
  Reply form = again.get("/signin");
  Reply reuse = again.post("/invite", {{"csrf", Browser::hidden(form, "csrf")}, {"token", token}});
  CHECK(reuse.status == 401);
  CHECK(again.cookies.count("concierge_session") == 0);
}

TEST_CASE("pages: password checks beyond the concurrency cap are refused at once, not queued", "[pages][security]") {
  TempDir tmp;
  store::Store s(tmp.path, test::database_url(tmp.path));
  access::Identities(s).add_user("ada");
  access::Passwords(s).set("ada", kPassword);
  access::WebSessionOptions o;
  o.max_concurrent_checks = 0;  // every check is one too many
  access::StoreWebSessions busy(s, o);
  auto r = busy.sign_in("ada", kPassword, "127.0.0.1");
  REQUIRE(std::holds_alternative<access::SignInRefused>(r));
  CHECK(std::get<access::SignInRefused>(r).status == 503);
  o.max_concurrent_checks = 1;
  access::StoreWebSessions one(s, o);
  CHECK(std::holds_alternative<access::SignedIn>(one.sign_in("ada", kPassword, "127.0.0.1")));
  CHECK(std::holds_alternative<access::SignedIn>(one.sign_in("ada", kPassword, "127.0.0.1")));  // the slot was given back
}

namespace {

// The contract's AuthorizationServer methods (EndpointOf forwards to them).
struct ContractServer {
  FakeEndpoint fake;
  std::variant<access::AuthorizationRequest, HttpReply> check_authorization(const HttpRequest& r) { return fake.check(r); }
  HttpReply approve(const access::AuthorizationRequest& a, const access::Decision& d) { return fake.approve(a, d); }
  HttpReply deny(const access::AuthorizationRequest& a) { return fake.deny(a); }
};

}  // namespace

TEST_CASE("pages: a server with check_authorization, approve and deny is adapted as the endpoint", "[pages][unit]") {
  TempDir tmp;
  store::Store s(tmp.path, test::database_url(tmp.path));
  auto sessions = std::make_shared<access::StoreWebSessions>(s);
  auto server = std::make_shared<ContractServer>();
  auto routes = web::page_routes_for(server, sessions);
  REQUIRE(routes.size() == 7);
  HttpRequest r;
  r.method = "GET";
  r.path = "/authorize";
  r.query = {{"client_id", "stranger"}};
  CHECK(routes[0].path == "/authorize");
  HttpReply refused = routes[0].handler(r);  // the server's own reply, passed on
  CHECK(refused.status == 400);
  CHECK(refused.body == "<p>unknown client</p>");
  r.query = {{"client_id", "known"}};
  HttpReply to_sign_in = routes[0].handler(r);
  CHECK(to_sign_in.status == 302);
}
