// OAuth sign-in against a fake authorization server: PKCE verified, state checked, tokens sealed
// in the store, refresh ahead of expiry, rotated refresh tokens kept, one refresh for many
// concurrent callers, a revoked grant turned into "sign in again", two accounts side by side.
#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <httplib.h>
#include <thread>

#include "common/base64.hpp"
#include "providers/auth/oauth.hpp"
#include "store/store.hpp"
#include "support/temp_dir.hpp"
#include "support/test_database.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers;
using namespace concierge::providers::auth;
using namespace std::chrono_literals;

namespace {

// The authorization server: remembers each code's PKCE challenge, issues rotating refresh tokens.
struct FakeAuthServer {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex m;
  std::map<std::string, std::string> challenges;  // code -> challenge
  std::set<std::string> live_refresh;
  std::atomic<int> refreshes{0}, issued{0};
  std::atomic<bool> revoke{false};
  std::string last_verifier_check;

  FakeAuthServer() {
    server.Post("/token", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      auto grant = req.get_param_value("grant_type");
      auto fail = [&](const char* error) {
        res.status = 400;
        res.set_content(Json{{"error", error}}.dump(), "application/json");
      };
      if (req.get_param_value("client_id") != "cid") return fail("invalid_client");
      if (grant == "authorization_code") {
        auto code = req.get_param_value("code");
        auto it = challenges.find(code);
        if (it == challenges.end()) return fail("invalid_grant");
        if (base64url_encode(sha256(req.get_param_value("code_verifier"))) != it->second) {
          last_verifier_check = "mismatch";
          return fail("invalid_grant");
        }
        last_verifier_check = "ok";
        challenges.erase(it);
      } else if (grant == "refresh_token") {
        ++refreshes;
        auto rt = req.get_param_value("refresh_token");
        if (revoke || !live_refresh.count(rt)) return fail("invalid_grant");
        live_refresh.erase(rt);  // rotation: the old one is spent
      } else {
        return fail("unsupported_grant_type");
      }
      int n = ++issued;
      std::string refresh = "RT-" + std::to_string(n);
      live_refresh.insert(refresh);
      res.set_content(Json{{"access_token", "AT-" + std::to_string(n)}, {"refresh_token", refresh}, {"expires_in", 3600},
                           {"token_type", "Bearer"}, {"scope", "calendar.readonly mail.readonly"}}.dump(),
                      "application/json");
    });
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~FakeAuthServer() {
    server.stop();
    thread.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }
  // What the user's browser does: the authorization page "approves" and redirects with a code.
  std::string approve(const std::string& authorize_url) {
    httplib::Params q;
    httplib::detail::parse_query_text(authorize_url.substr(authorize_url.find('?') + 1), q);
    REQUIRE(q.find("response_type")->second == "code");
    REQUIRE(q.find("code_challenge_method")->second == "S256");
    REQUIRE(q.find("client_id")->second == "cid");
    std::string code = "code-" + std::to_string(challenges.size() + issued + 1);
    {
      std::lock_guard l(m);
      challenges[code] = q.find("code_challenge")->second;
    }
    return q.find("redirect_uri")->second + "?code=" + code + "&state=" + q.find("state")->second;
  }
};

struct Fixture {
  TempDir tmp;
  store::Store store{tmp.path, test::database_url(tmp.path)};
  TokenStore tokens{store, Sealer(std::string(32, 'K'))};
  FakeAuthServer auth;
  std::atomic<Millis> now{1'900'000'000'000};
  OAuthClient client{OAuthConfig{"google", auth.url("/authorize"), auth.url("/token"), "cid", "", {"calendar.readonly"}}, tokens,
                     http::Policy{.max_attempts = 1}, [this] { return now.load(); }};
  int64_t user = store.user_id("ada");

  // The whole sign-in, as `concierge auth login` runs it.
  void login(const std::string& account) {
    auto pkce = Pkce::make();
    auto state = random_state();
    LoopbackReceiver receiver(state);
    auto url = authorization_url(OAuthConfig{"google", auth.url("/authorize"), auth.url("/token"), "cid", "", {"calendar.readonly"}},
                                 receiver.redirect_uri(), state, pkce);
    auto redirect = auth.approve(url);
    httplib::Client browser("127.0.0.1", std::stoi(receiver.redirect_uri().substr(17)));
    auto path = redirect.substr(redirect.find("/callback"));
    REQUIRE(browser.Get(path.c_str())->status == 200);
    auto code = receiver.wait_for_code(5s);
    client.exchange(user, account, code, receiver.redirect_uri(), pkce);
  }
};

}  // namespace

TEST_CASE("oauth: PKCE values and the authorization URL", "[auth][oauth]") {
  auto p = Pkce::make();
  CHECK(p.verifier.size() >= 43);
  CHECK(p.verifier.size() <= 128);
  CHECK(p.challenge == base64url_encode(sha256(p.verifier)));
  CHECK(base64url_encode(sha256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");  // RFC 7636 B
  CHECK(Pkce::make().verifier != p.verifier);
  auto url = authorization_url({"google", "https://accounts.example/auth", "", "cid", "", {"a", "b c"}}, "http://127.0.0.1:5/callback", "st", p);
  CHECK_THAT(url, Catch::Contains("code_challenge_method=S256") && Catch::Contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2Fcallback") &&
                      Catch::Contains("state=st") && Catch::Contains("scope=a%20b%20c"));
  CHECK(code_from_url("http://127.0.0.1:5/callback?state=st&code=abc%2F1", "st") == "abc/1");
  CHECK_THROWS_WITH(code_from_url("http://127.0.0.1:5/callback?state=other&code=abc", "st"), Catch::Contains("state"));
  CHECK_THROWS_WITH(code_from_url("http://127.0.0.1:5/callback?error=access_denied&state=st", "st"), Catch::Contains("access_denied"));
}

TEST_CASE("oauth: sign in, tokens sealed, refresh ahead of expiry with rotation, one refresh for many callers", "[auth][oauth]") {
  Fixture f;
  f.login("work");
  CHECK(f.auth.last_verifier_check == "ok");
  CHECK(f.client.access_token(f.user, "work") == "AT-1");
  CHECK(f.auth.refreshes == 0);
  // Two minutes before expiry (outside the one-minute margin): still the same token.
  f.now += 3600'000 - 120'000;
  CHECK(f.client.access_token(f.user, "work") == "AT-1");
  // Thirty seconds before: refreshed ahead, by one call however many ask at once.
  f.now += 90'000;
  std::vector<std::thread> callers;
  std::vector<std::string> got(8);
  for (int i = 0; i < 8; ++i) callers.emplace_back([&, i] { got[i] = f.client.access_token(f.user, "work"); });
  for (auto& t : callers) t.join();
  CHECK(f.auth.refreshes == 1);
  for (auto& g : got) CHECK(g == "AT-2");
  auto stored = f.tokens.load(f.user, "google", "work");
  CHECK(stored->refresh_token == "RT-2");  // the rotated one was saved; RT-1 is spent
  f.now += 3600'000;
  CHECK(f.client.access_token(f.user, "work") == "AT-3");  // refreshing with RT-2 works

  // The database files hold no token in the clear.
  for (auto& e : std::filesystem::directory_iterator(f.tmp.path)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(bytes.find("AT-") == std::string::npos);
    CHECK(bytes.find("RT-") == std::string::npos);
  }
}

TEST_CASE("oauth: two processes on one data directory refresh an account once and keep the rotated refresh token", "[auth][oauth][instances]") {
  Fixture f;
  f.login("work");
  // A second instance on the same data directory: its own store connections, token store and
  // client (so its own in-process locks), the same database and key. On PostgreSQL, as on
  // another machine: a data directory of its own, only the database shared.
  TempDir elsewhere;
  const std::string url = test::database_url(f.tmp.path);
  store::Store store2{url.empty() ? f.tmp.path : elsewhere.path, url};
  TokenStore tokens2{store2, Sealer(std::string(32, 'K'))};
  OAuthClient client2{OAuthConfig{"google", f.auth.url("/authorize"), f.auth.url("/token"), "cid", "", {"calendar.readonly"}}, tokens2,
                      http::Policy{.max_attempts = 1}, [&f] { return f.now.load(); }};
  f.now += 3600'000 - 30'000;  // inside the refresh margin for both
  std::vector<std::thread> callers;
  std::vector<std::string> got(8);
  std::vector<std::string> errors(8);
  for (int i = 0; i < 8; ++i)
    callers.emplace_back([&, i] {
      try {
        got[i] = (i % 2 ? client2 : f.client).access_token(f.user, "work");
      } catch (const std::exception& e) {
        errors[i] = e.what();  // without the lock: the loser spends RT-1 again, invalid_grant
      }
    });
  for (auto& t : callers) t.join();
  for (auto& e : errors) CHECK(e.empty());
  CHECK(f.auth.refreshes == 1);
  for (auto& g : got) CHECK(g == "AT-2");
  CHECK(tokens2.load(f.user, "google", "work")->refresh_token == "RT-2");
  // A 401 seen by both processes for AT-2: one refresh again, the other process takes its result.
  CHECK(client2.refresh_after_rejection(f.user, "work", "AT-2") == "AT-3");
  CHECK(f.client.refresh_after_rejection(f.user, "work", "AT-2") == "AT-3");
  CHECK(f.auth.refreshes == 2);
}

TEST_CASE("oauth: two accounts side by side, a revoked grant asks to sign in again", "[auth][oauth]") {
  Fixture f;
  f.login("work");
  f.login("home");
  CHECK(f.client.access_token(f.user, "work") == "AT-1");
  CHECK(f.client.access_token(f.user, "home") == "AT-2");
  CHECK_THROWS_WITH(f.client.access_token(f.user, "school"), Catch::Contains("concierge auth login google --account school"));
  f.now += 3600'000;
  f.auth.revoke = true;
  try {
    f.client.access_token(f.user, "home");
    FAIL("no error");
  } catch (const NeedsReauth& e) {
    CHECK(e.account == "home");
    CHECK_THAT(e.what(), Catch::Contains("invalid_grant") && Catch::Contains("concierge auth login google --account home"));
    CHECK_THAT(e.what(), !Catch::Contains("RT-"));  // no token in the message
  }
  // A code presented with the wrong verifier is refused (PKCE checked by the server).
  auto pkce = Pkce::make();
  auto code_url = f.auth.approve(authorization_url({"google", f.auth.url("/authorize"), f.auth.url("/token"), "cid", "", {}},
                                                   "http://127.0.0.1:1/callback", "s", pkce));
  auto code = code_from_url(code_url, "s");
  CHECK_THROWS_AS(f.client.exchange(f.user, "other", code, "http://127.0.0.1:1/callback", Pkce::make()), NeedsReauth);
  CHECK(f.auth.last_verifier_check == "mismatch");
  CHECK_FALSE(f.tokens.load(f.user, "google", "other"));
}
