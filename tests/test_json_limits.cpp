// The JSON nesting limit (server/json.hpp): counted before the parser builds anything, strings
// skipped; rpc::parse answers -32700 naming it. Over HTTP through the real binary too.
#include <catch2/catch.hpp>
#include <csignal>
#include <regex>

#include "common/json.hpp"
#include "common/json_parse.hpp"
#include "server/jsonrpc.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {
std::string nested_arrays(size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); }
}  // namespace

TEST_CASE("json depth: the limit is exact and brackets in strings don't count", "[jsonrpc][limits][unit]") {
  CHECK_FALSE(json_too_deep(nested_arrays(64), 64));
  CHECK(json_too_deep(nested_arrays(65), 64));
  CHECK_FALSE(json_too_deep(R"({"a":"[[[[[[[[[[","b":"\"{{{{{{{{"})", 2));
  CHECK(json_too_deep(R"({"a":{"b":[1]}})", 2));
  CHECK_FALSE(parse_json(nested_arrays(256)).is_discarded());
  CHECK(parse_json(nested_arrays(257)).is_discarded());
  CHECK(parse_json("{nope").is_discarded());

  Json out, err;
  CHECK(rpc::parse(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":)" + nested_arrays(62) + "}}", out, err));
  CHECK_FALSE(rpc::parse(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":)" + nested_arrays(63) + "}}", out, err));
  CHECK(err["error"]["code"] == rpc::kParseError);
  CHECK(err["id"].is_null());
  CHECK_FALSE(rpc::parse(nested_arrays(1'000'000), out, err));  // no stack is touched
  CHECK_THAT(err["error"]["message"].get<std::string>(), Catch::Contains("nested deeper than 64 levels"));
}

TEST_CASE("json depth over HTTP: the binary answers 400 -32700 and serves the next call", "[http][limits][process]") {
  TempDir data;
  ChildProcess proc({CONCIERGE_BINARY, "--data-dir", data.path.string(), "serve", "--http", "127.0.0.1:0"});
  // The bound port is logged on stderr once listening.
  int port = 0;
  std::regex listening(R"(listening on http://[^:]+:(\d+)/mcp)");
  for (auto deadline = Clock::now() + 20s; !port && Clock::now() < deadline;) {
    std::smatch m;
    std::string text = proc.stderr_text();
    if (std::regex_search(text, m, listening)) port = std::stoi(m[1]);
    else REQUIRE_FALSE(proc.wait_exit(50ms));  // waits for output, not a fixed time: fails at once if it died
  }
  REQUIRE(port > 0);

  auto call = [&](const std::string& extra) {
    http::Request r;
    r.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"},
                 {"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/call"}, {"Mcp-Name", "echo"}};
    r.body = R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi")" + extra +
             R"(},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}})";
    return http::request(port, r);
  };
  {
    auto deep = call(",\"x\":" + nested_arrays(20000));
    INFO(deep.describe());
    CHECK(deep.status == 400);
    Json body = Json::parse(deep.body, nullptr, false);
    CHECK(body["error"]["code"] == -32700);
    CHECK_THAT(body["error"]["message"].get<std::string>(), Catch::Contains("nested deeper than 64 levels"));
  }
  {
    auto fine = call("");
    INFO(fine.describe());
    CHECK(fine.status == 200);
    CHECK(fine.body.find("hi") != std::string::npos);
  }

  REQUIRE(proc.signal(SIGTERM));
  auto status = proc.wait_exit(10s);
  REQUIRE(status);
  CHECK(status->exited);
  CHECK(status->code == 0);
}
