// Client-supplied text in the log: control characters escaped (one record is one line, no
// terminal escapes), long text cut, in-process through the core and through the binary's stderr.
#include <catch2/catch.hpp>

#include "common/log_text.hpp"
#include "common/json.hpp"
#include "support/app_fixture.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

// A name that, logged verbatim, would end the record and forge one of its own, then recolour the
// terminal.
const std::string kForging = "evil\r\n[2026-01-01 00:00:00.000] [concierge] [error] FORGED\x1b[31m\x7f";

// No record may hold a line break, ESC or DEL once its own trailing end-of-line is set aside.
void check_one_line_each(const std::vector<std::string>& records) {
  for (auto r : records) {
    while (!r.empty() && r.back() == '\n') r.pop_back();
    INFO(r);
    CHECK(r.find_first_of("\r\n\x1b\x7f") == std::string::npos);
  }
}

}  // namespace

TEST_CASE("log_safe: control characters become visible escapes, long text is cut", "[log]") {
  CHECK(log_safe("plain name 1.0") == "plain name 1.0");
  CHECK(log_safe("a\nb\rc\td") == "a\\nb\\rc\\td");
  CHECK(log_safe(std::string("nul\0x", 5)) == "nul\\x00x");
  CHECK(log_safe("\x1b[31mred\x7f") == "\\x1b[31mred\\x7f");
  CHECK(log_safe("back\\slash") == "back\\\\slash");  // so "\n" typed literally stays distinct
  CHECK(log_safe("caf\xc3\xa9 \xe2\x9c\x93") == "caf\xc3\xa9 \xe2\x9c\x93");  // UTF-8 kept
  CHECK(log_safe("csi\xc2\x9b" "2J") == "csi\\u009b2J");                    // C1 CSI
  CHECK(log_safe("ls\xe2\x80\xa8ps\xe2\x80\xa9") == "ls\\u2028ps\\u2029");  // line separators
  CHECK(log_safe("bad\xff\xc3") == "bad\\xff\\xc3");                        // not UTF-8
  CHECK(log_safe("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");                     // overlong
  std::string big(10000, 'a');
  CHECK(log_safe(big, 100) == std::string(100, 'a') + "... (10000 bytes)");
  CHECK(log_safe(big).size() < 600);
}

TEST_CASE("log_safe: a client's name and version cannot forge a log line (in-process)", "[log]") {
  AppFixture f;
  Client c(*f.server);
  Json r = c.request("init", "initialize",
                     Json{{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()},
                          {"clientInfo", {{"name", kForging}, {"version", "1.0\n\x1b]0;title\x07"}}}});
  REQUIRE(r.contains("result"));
  c.send(rpc::make_notification("notifications/initialized\nFORGED", nullptr));
  c.send(rpc::make_notification("notifications/cancelled", Json{{"requestId", 99}, {"reason", "bye\nFORGED"}}));
  // A name that is not a string is logged as JSON, not a crash.
  Client odd(*f.server);
  REQUIRE(odd.request("init", "initialize",
                      Json{{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()}, {"clientInfo", {{"name", 5}, {"version", {1}}}}})
              .contains("result"));
  REQUIRE(odd.request(2, "ping").contains("result"));  // handled after the notifications above

  auto logs = captured_logs();
  std::string all;
  for (auto& l : logs) all += l;
  CHECK_THAT(all, Catch::Contains("initialized: client evil\\r\\n[2026-01-01 00:00:00.000] [concierge] [error] FORGED\\x1b[31m\\x7f "
                                  "1.0\\n\\x1b]0;title\\x07, protocol"));
  CHECK_THAT(all, Catch::Contains("notification notifications/initialized\\nFORGED ignored"));
  CHECK_THAT(all, Catch::Contains("cancelled: bye\\nFORGED"));
  CHECK_THAT(all, Catch::Contains("initialized: client 5 [1], protocol"));
  check_one_line_each(logs);
}

TEST_CASE("log_safe: the binary's stderr keeps one line per record whatever the client sends", "[log][process]") {
  TempDir data;
  ChildProcess p({CONCIERGE_BINARY, "--log-level", "debug", "--data-dir", data.path.string(), "serve"});
  Json init{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
            {"params", {{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()}, {"clientInfo", {{"name", kForging}, {"version", "1"}}}}}};
  REQUIRE(p.write_line(init.dump()));
  auto reply = p.read_line(10s);
  REQUIRE(reply);
  CHECK(Json::parse(*reply).contains("result"));
  REQUIRE(p.write_line(R"({"jsonrpc":"2.0","id":2,"method":"ping"})"));
  REQUIRE(p.read_line(10s));
  p.close_stdin();
  auto st = p.wait_exit(10s);
  REQUIRE(st);
  CHECK(st->exited);
  CHECK(st->code == 0);
  std::string err = p.stderr_text();
  INFO(err);
  CHECK_THAT(err, Catch::Contains("initialized: client evil\\r\\n[2026-01-01"));
  size_t lines = 0;
  for (size_t at = 0, nl; (nl = err.find('\n', at)) != std::string::npos; at = nl + 1, ++lines) {
    std::string line = err.substr(at, nl - at);
    bool forged = line.find("FORGED") != std::string::npos && line.find("initialized: client evil") == std::string::npos;
    CHECK_FALSE(forged);
    CHECK(line.find('\r') == std::string::npos);
  }
  CHECK(lines >= 2);
}
