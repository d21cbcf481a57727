#pragma once
// The real `concierge serve` binary (stdio) configured the way a user configures it: environment
// variables (and no configuration file unless one is given), a temporary data directory. The
// MCP handshake is done; call() runs a tool and returns its result.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "server/json.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace concierge::test {

struct ServedBinary {
  TempDir tmp;
  std::unique_ptr<ChildProcess> proc;
  int next_id = 1;

  // env: "NAME=value" entries added to ours.
  explicit ServedBinary(const std::vector<std::string>& env) {
    std::vector<std::string> argv{"/usr/bin/env", "CONCIERGE_CONFIG=" + (tmp.path / "none.json").string(),
                                  "CONCIERGE_TOKEN_KEY=" + std::string(64, 'a')};
    argv.insert(argv.end(), env.begin(), env.end());
    for (std::string a : {std::string(CONCIERGE_BINARY), std::string("--log-level"), std::string("debug"), std::string("--data-dir"),
                          (tmp.path / "data").string(), std::string("serve")})
      argv.push_back(a);
    proc = std::make_unique<ChildProcess>(argv);
    Json init = request(0, "initialize",
                        Json{{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()}, {"clientInfo", {{"name", "t"}, {"version", "1"}}}});
    INFO(init.dump());
    REQUIRE(init.contains("result"));
    REQUIRE(proc->write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  }
  ~ServedBinary() {
    if (!proc) return;
    proc->close_stdin();
    proc->wait_exit(std::chrono::seconds(10));
  }

  Json request(int id, const std::string& method, Json params) {
    REQUIRE(proc->write_line(Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}.dump()));
    for (;;) {
      auto line = proc->read_line(std::chrono::seconds(20));
      if (!line) FAIL("no reply to " << method << "; stderr:\n" << proc->stderr_text());
      Json j = Json::parse(*line, nullptr, false);
      if (j.is_object() && j.contains("id") && j["id"] == id) return j;
    }
  }
  // The tool's result (isError included); fails the test on a protocol error.
  Json call(const std::string& tool, Json args = Json::object()) {
    Json r = request(next_id++, "tools/call", Json{{"name", tool}, {"arguments", std::move(args)}});
    INFO(tool << " -> " << r.dump() << "\nstderr:\n" << proc->stderr_text());
    REQUIRE(r.contains("result"));
    return r["result"];
  }
  // The structured result of a call that must succeed.
  Json ok(const std::string& tool, Json args = Json::object()) {
    Json r = call(tool, std::move(args));
    INFO(tool << " -> " << r.dump());
    REQUIRE_FALSE(r.value("isError", false));
    return r["structuredContent"];
  }
};

}  // namespace concierge::test
