// Cancellation reaches the upstream, through the real binary: a tool on an outside service
// (Spotify) whose upstream takes the request and never answers; the client cancels
// (notifications/cancelled on stdio) or hangs up (a 2026-07-28 POST). The upstream sees its
// connection closed within about a second, the process keeps serving, and the history records
// the call as cancelled.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <regex>
#include <sstream>

#include "common/json.hpp"
#include "providers/auth/tokens.hpp"
#include "store/store.hpp"
#include "support/fake_upstream.hpp"
#include "support/process.hpp"
#include "support/stall_server.hpp"
#include "support/stdio_rpc.hpp"
#include "support/temp_dir.hpp"
#include "support/test_database.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

// The binary configured for Spotify (signed in, its API at the stalling server), its data
// directory kept after it stops so the history can be exported.
struct Concierge {
  TempDir tmp;
  std::filesystem::path data = tmp.path / "data";
  FakeUpstream oauth;  // issues the signed-in token; the API itself is `stall`
  StallServer stall;
  std::vector<std::string> env;

  Concierge() {
    store::Store store(data, test::database_url(data));
    providers::auth::TokenStore tokens(store, providers::auth::Sealer(std::string(32, char(0xaa))));
    oauth.sign_in(tokens, store.user_id("local"), "spotify", "default");
    env = {"CONCIERGE_MUSIC_PROVIDER=spotify", "CONCIERGE_SPOTIFY_BASE_URL=" + stall.url("/v1"), "CONCIERGE_SPOTIFY_CLIENT_ID=test-client",
           "CONCIERGE_SPOTIFY_TOKEN_URL=" + oauth.url("/oauth/token")};
  }
  std::vector<std::string> command(const std::vector<std::string>& args) {
    std::vector<std::string> c{"/usr/bin/env", "CONCIERGE_CONFIG=" + (tmp.path / "none.json").string(),
                               "CONCIERGE_TOKEN_KEY=" + std::string(64, 'a')};
    c.insert(c.end(), env.begin(), env.end());
    c.insert(c.end(), {CONCIERGE_BINARY, "--log-level", "debug", "--data-dir", data.string()});
    c.insert(c.end(), args.begin(), args.end());
    return c;
  }
  // The outcomes history recorded for `tool`, in order.
  std::vector<std::string> outcomes(const std::string& tool) {
    ChildProcess exp(command({"history", "export"}));
    std::vector<std::string> out;
    while (auto line = exp.read_line(10s)) {
      Json j = Json::parse(*line, nullptr, false);
      if (j.is_object() && j.value("tool", "") == tool) out.push_back(j.value("outcome", ""));
    }
    auto st = exp.wait_exit(10s);
    INFO(exp.stderr_text());
    REQUIRE(st);
    CHECK((st->exited && st->code == 0));
    return out;
  }
};

void stop(ChildProcess& p, bool by_signal) {
  if (by_signal) p.signal(SIGTERM);
  else p.close_stdin();
  auto st = p.wait_exit(15s);
  INFO("stderr:\n" << p.stderr_text());
  REQUIRE(st);
  CHECK((st->exited && st->code == 0));
}

double seconds_since(SteadyClock::time_point t) { return std::chrono::duration<double>(SteadyClock::now() - t).count(); }

// A raw TCP connection, so the test can hang up mid-request.
int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(port));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

Json modern_call(int id, const std::string& tool, Json args) {
  return Json{{"jsonrpc", "2.0"},
              {"id", id},
              {"method", "tools/call"},
              {"params",
               {{"name", tool},
                {"arguments", std::move(args)},
                {"_meta",
                 {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                  {"io.modelcontextprotocol/clientCapabilities", Json::object()},
                  {"io.modelcontextprotocol/clientInfo", {{"name", "t"}, {"version", "1"}}}}}}}};
}

std::string modern_post(const Json& msg, const std::string& tool) {
  std::string body = msg.dump();
  return "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
         "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: " +
         tool + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The whole answer to one request on a fresh connection (the server closes it: Connection: close).
std::string round_trip(int port, const std::string& request) {
  int fd = connect_to(port);
  std::string req = request;
  req.insert(req.find("\r\n") + 2, "Connection: close\r\n");
  REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == ssize_t(req.size()));
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, size_t(n));
  ::close(fd);
  return got;
}

}  // namespace

TEST_CASE("cancel: notifications/cancelled on stdio closes the upstream connection and history says cancelled", "[cancel][process]") {
  Concierge c;
  ChildProcess p(c.command({"serve"}));
  Json init = rpc_request(p, 0, "initialize",
                          Json{{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()}, {"clientInfo", {{"name", "t"}, {"version", "1"}}}});
  REQUIRE(init.contains("result"));
  REQUIRE(p.write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));

  REQUIRE(p.write_line(Json{{"jsonrpc", "2.0"}, {"id", 7}, {"method", "tools/call"},
                            {"params", {{"name", "music_search"}, {"arguments", {{"query", "stalls"}, {"types", {"track"}}}}}}}
                           .dump()));
  REQUIRE(c.stall.wait_requests(1, 10s));
  auto cancelled_at = SteadyClock::now();
  REQUIRE(p.write_line(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"changed my mind"}})"));
  bool closed = c.stall.wait_closed(1, 5s);
  double took = seconds_since(cancelled_at);
  INFO("upstream closed after " << took << " s; stderr:\n" << p.stderr_text());
  REQUIRE(closed);
  CHECK(took < 1.0);

  // Still serving; the cancelled call got no reply (the echo's is the next one with an id).
  Json echo = rpc_request(p, 8, "tools/call", Json{{"name", "echo"}, {"arguments", {{"text", "still here"}}}});
  CHECK(echo["result"]["content"][0]["text"].get<std::string>().find("still here") != std::string::npos);
  stop(p, false);
  CHECK(c.outcomes("music_search") == std::vector<std::string>{"cancelled"});
}

TEST_CASE("cancel: a 2026-07-28 client hanging up closes the upstream connection and history says cancelled", "[cancel][process][http]") {
  Concierge c;
  ChildProcess p(c.command({"serve", "--http", "127.0.0.1:0"}));
  // The port the server bound, from its log line.
  int port = 0;
  static const std::regex listening(R"(listening on http://127\.0\.0\.1:(\d+)/mcp)");
  for (auto until = SteadyClock::now() + 10s; !port && SteadyClock::now() < until;) {
    std::smatch mt;
    std::string err = p.stderr_text();
    if (std::regex_search(err, mt, listening)) port = std::stoi(mt[1]);
    else std::this_thread::sleep_for(20ms);  // polling the log for a condition, not a timing guess
  }
  INFO(p.stderr_text());
  REQUIRE(port > 0);

  int fd = connect_to(port);
  std::string req = modern_post(modern_call(1, "music_search", {{"query", "stalls"}, {"types", {"track"}}}), "music_search");
  REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == ssize_t(req.size()));
  REQUIRE(c.stall.wait_requests(1, 10s));
  auto hung_up = SteadyClock::now();
  ::close(fd);
  bool closed = c.stall.wait_closed(1, 5s);
  double took = seconds_since(hung_up);
  INFO("upstream closed after " << took << " s; stderr:\n" << p.stderr_text());
  REQUIRE(closed);
  CHECK(took < 1.0);

  std::string echo = round_trip(port, modern_post(modern_call(2, "echo", {{"text", "still here"}}), "echo"));
  INFO(echo);
  CHECK(echo.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(echo.find("still here") != std::string::npos);
  stop(p, true);
  CHECK(c.outcomes("music_search") == std::vector<std::string>{"cancelled"});
}
