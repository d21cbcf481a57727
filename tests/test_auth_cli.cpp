// `concierge auth login|status|logout` on the real binary against a fake authorization server:
// the loopback redirect on a free 127.0.0.1 port, the pasted redirect for remote hosts, PKCE
// and state checked, tokens sealed in the data directory (no plaintext on disk, key file 0600).
#include <catch2/catch.hpp>
#include <fstream>
#include <httplib.h>
#include <mutex>
#include <sys/stat.h>
#include <thread>

#include "common/base64.hpp"
#include "providers/auth/oauth.hpp"
#include "common/json.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

// Remembers each code's PKCE challenge and redirect; the token endpoint checks both.
struct FakeAuthorizationServer {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex m;
  std::map<std::string, std::pair<std::string, std::string>> codes;  // code -> challenge, redirect_uri
  std::vector<std::string> issued;
  int n = 0;
  std::string last_scope;

  FakeAuthorizationServer() {
    server.Get("/authorize", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      if (req.get_param_value("client_id") != "cid" || req.get_param_value("code_challenge_method") != "S256") {
        res.status = 400;
        return;
      }
      last_scope = req.get_param_value("scope");
      std::string code = "code" + std::to_string(++n);
      codes[code] = {req.get_param_value("code_challenge"), req.get_param_value("redirect_uri")};
      res.status = 302;
      res.set_header("Location", req.get_param_value("redirect_uri") + "?code=" + code + "&state=" + req.get_param_value("state"));
    });
    server.Post("/token", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      auto it = codes.find(req.get_param_value("code"));
      bool ok = it != codes.end() &&
                base64url_encode(providers::auth::sha256(req.get_param_value("code_verifier"))) == it->second.first &&
                req.get_param_value("redirect_uri") == it->second.second;
      if (!ok) {
        res.status = 400;
        res.set_content(R"({"error":"invalid_grant"})", "application/json");
        return;
      }
      codes.erase(it);
      std::string access = "secret-access-" + std::to_string(++n) + "-q", refresh = "secret-refresh-" + std::to_string(n) + "-q";
      issued.push_back(access);
      issued.push_back(refresh);
      res.set_content(Json{{"access_token", access}, {"refresh_token", refresh}, {"expires_in", 3600}, {"scope", "user-read-playback-state"}}.dump(),
                      "application/json");
    });
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~FakeAuthorizationServer() {
    server.stop();
    thread.join();
  }
  std::string url(const std::string& p) const { return "http://127.0.0.1:" + std::to_string(port) + p; }
  // Copies under the lock: the server thread writes them, and the test learns of it only
  // through the child process, which orders nothing between the two threads.
  std::vector<std::string> issued_tokens() {
    std::lock_guard l(m);
    return issued;
  }
  std::string scope() {
    std::lock_guard l(m);
    return last_scope;
  }
  // The browser: open the authorization URL, return where it is redirected.
  std::string approve(const std::string& authorize_url) {
    httplib::Client browser("127.0.0.1", port);
    auto r = browser.Get(authorize_url.substr(authorize_url.find("/authorize")).c_str());
    REQUIRE(r);
    REQUIRE(r->status == 302);
    return r->get_header_value("Location");
  }
};

struct Cli {
  TempDir tmp;
  FakeAuthorizationServer auth;
  std::string data = (tmp.path / "data").string();
  std::vector<std::string> env(std::vector<std::string> extra = {}) {
    std::vector<std::string> e{"/usr/bin/env", "-u", "CONCIERGE_TOKEN_KEY", "CONCIERGE_CONFIG=" + (tmp.path / "none.json").string(),
                               "CONCIERGE_SPOTIFY_CLIENT_ID=cid", "CONCIERGE_SPOTIFY_AUTHORIZE_URL=" + auth.url("/authorize"),
                               "CONCIERGE_SPOTIFY_TOKEN_URL=" + auth.url("/token")};
    e.insert(e.end(), extra.begin(), extra.end());
    e.push_back(CONCIERGE_BINARY);
    e.push_back("--data-dir");
    e.push_back(data);
    return e;
  }
  std::unique_ptr<ChildProcess> start(std::vector<std::string> args, std::vector<std::string> extra = {}) {
    auto cmd = env(std::move(extra));
    cmd.insert(cmd.end(), args.begin(), args.end());
    return std::make_unique<ChildProcess>(cmd);
  }
  // Reads stdout until the authorization URL, returns it.
  std::string url_from(ChildProcess& p) {
    while (auto line = p.read_line(20s)) {
      auto at = line->find("http://127.0.0.1:" + std::to_string(auth.port) + "/authorize");
      if (at != std::string::npos) return line->substr(at);
    }
    FAIL("no authorization URL; stderr: " << p.stderr_text());
    return "";
  }
  std::pair<int, std::string> run(std::vector<std::string> args) {
    auto p = start(std::move(args));
    p->close_stdin();
    std::string out;
    while (auto line = p->read_line(20s)) out += *line + "\n";
    auto st = p->wait_exit(20s);
    REQUIRE(st);
    return {st->code, out + p->stderr_text()};
  }
  std::string all_files() {
    std::string bytes;
    for (auto& e : std::filesystem::recursive_directory_iterator(data))
      if (e.is_regular_file()) {
        std::ifstream in(e.path(), std::ios::binary);
        bytes.append((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      }
    return bytes;
  }
};

}  // namespace

TEST_CASE("auth cli: loopback sign-in, status, logout, tokens sealed on disk", "[auth][process]") {
  Cli c;
  auto p = c.start({"auth", "login", "spotify", "--account", "work", "--read-only"});
  std::string url = c.url_from(*p);
  CHECK_THAT(url, Catch::Contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A") && Catch::Contains("code_challenge_method=S256") &&
                      Catch::Contains("state="));
  std::string location = c.auth.approve(url);
  REQUIRE(location.rfind("http://127.0.0.1:", 0) == 0);
  CHECK(location.find("http://127.0.0.1:" + std::to_string(c.auth.port)) == std::string::npos);  // a port of its own
  // The browser follows the redirect to the CLI's listener.
  auto rest = location.substr(17);
  int port = std::stoi(rest);
  httplib::Client browser("127.0.0.1", port);
  auto r = browser.Get(rest.substr(rest.find('/')).c_str());
  REQUIRE(r);
  CHECK(r->status == 200);
  auto st = p->wait_exit(20s);
  REQUIRE(st);
  INFO(p->stderr_text());
  CHECK(st->code == 0);
  // Read-only sign-in asks for no scope that changes anything.
  CHECK_THAT(c.auth.scope(), Catch::Contains("user-read-playback-state") && !Catch::Contains("modify"));

  auto [code, status] = c.run({"auth", "status"});
  CHECK(code == 0);
  CHECK_THAT(status, Catch::Contains("spotify\twork\tsigned in") && Catch::Contains("user-read-playback-state"));
  std::string disk = c.all_files();
  const auto issued = c.auth.issued_tokens();
  REQUIRE(issued.size() == 2);
  for (auto& t : issued) {
    CHECK(disk.find(t) == std::string::npos);
    CHECK(status.find(t) == std::string::npos);
  }
  struct stat sb {};
  REQUIRE(::stat((std::filesystem::path(c.data) / "token.key").c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0600);

  auto [code2, out2] = c.run({"auth", "logout", "spotify", "--account", "work"});
  CHECK(code2 == 0);
  auto [code3, out3] = c.run({"auth", "status"});
  CHECK_THAT(out3, Catch::Contains("No account is signed in"));
  auto [code4, out4] = c.run({"auth", "logout", "spotify", "--account", "work"});
  CHECK(code4 == 1);
}

TEST_CASE("auth cli: a redirect with the wrong state is ignored, the listener waits for the right one", "[auth][process]") {
  Cli c;
  auto p = c.start({"auth", "login", "spotify", "--account", "work"});
  std::string location = c.auth.approve(c.url_from(*p));
  auto rest = location.substr(17);
  httplib::Client local("127.0.0.1", std::stoi(rest));
  std::string path = rest.substr(rest.find('/'));
  auto at = path.find("state=");
  REQUIRE(at != std::string::npos);
  // Any program on this machine can call the listener: a forged state, a missing one, an error.
  for (std::string forged : {path.substr(0, at) + "state=forged", std::string("/callback?code=stolen"),
                             std::string("/callback?error=access_denied&state=nope")}) {
    INFO(forged);
    auto r = local.Get(forged.c_str());
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK_THAT(r->body, Catch::Contains("does not belong to the sign-in in progress") && Catch::Contains("still waiting"));
  }
  auto r = local.Get(path.c_str());
  REQUIRE(r);
  CHECK(r->status == 200);
  auto st = p->wait_exit(20s);
  REQUIRE(st);
  INFO(p->stderr_text());
  CHECK(st->code == 0);
  auto [code, status] = c.run({"auth", "status"});
  CHECK_THAT(status, Catch::Contains("spotify\twork\tsigned in"));
}

TEST_CASE("auth cli: a remote host pastes the redirected URL, a wrong state is refused", "[auth][process]") {
  Cli c;
  std::vector<std::string> remote{"CONCIERGE_SPOTIFY_REDIRECT_BASE=https://remote.example/concierge/"};
  {
    auto p = c.start({"auth", "login", "spotify"}, remote);
    std::string url = c.url_from(*p);
    CHECK_THAT(url, Catch::Contains("redirect_uri=https%3A%2F%2Fremote.example%2Fconcierge%2Fcallback"));
    std::string location = c.auth.approve(url);
    REQUIRE(location.rfind("https://remote.example/concierge/callback?code=", 0) == 0);
    REQUIRE(p->write_line(location));
    auto st = p->wait_exit(20s);
    REQUIRE(st);
    INFO(p->stderr_text());
    CHECK(st->code == 0);
  }
  {
    auto p = c.start({"auth", "login", "spotify", "--account", "second"}, remote);
    std::string url = c.url_from(*p);
    std::string location = c.auth.approve(url);
    auto at = location.find("state=");
    REQUIRE(p->write_line(location.substr(0, at) + "state=forged"));
    auto st = p->wait_exit(20s);
    REQUIRE(st);
    CHECK(st->code == 1);
    CHECK_THAT(p->stderr_text(), Catch::Contains("state"));
  }
  auto [code, status] = c.run({"auth", "status"});
  CHECK_THAT(status, Catch::Contains("spotify\tdefault\tsigned in") && !Catch::Contains("second"));
  // Without a client id, the message names the variable to set.
  auto p = c.start({"auth", "login", "google"}, {"CONCIERGE_GOOGLE_CLIENT_ID="});
  p->close_stdin();
  auto st = p->wait_exit(20s);
  REQUIRE(st);
  CHECK(st->code == 1);
  CHECK_THAT(p->stderr_text(), Catch::Contains("CONCIERGE_GOOGLE_CLIENT_ID"));
}
