#pragma once
// The real `concierge serve` binary (stdio) configured the way a user configures it: environment
// variables (and no configuration file unless one is given), a temporary data directory. The
// MCP handshake is done; call() runs a tool and returns its result.
#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "support/process.hpp"
#include "support/stdio_rpc.hpp"
#include "support/temp_dir.hpp"

namespace concierge::test {

struct ServedBinary {
  TempDir tmp;
  std::filesystem::path data = tmp.path / "data";
  std::unique_ptr<ChildProcess> proc;
  int next_id = 1;

  // env: "NAME=value" entries added to ours. prepare: fills the data directory before the start
  // (e.g. the sign-ins `concierge auth login` leaves behind).
  explicit ServedBinary(const std::vector<std::string>& env, const std::function<void(const std::filesystem::path&)>& prepare = {}) {
    if (prepare) prepare(data);
    std::vector<std::string> argv{"/usr/bin/env", "CONCIERGE_CONFIG=" + (tmp.path / "none.json").string(),
                                  "CONCIERGE_TOKEN_KEY=" + std::string(64, 'a')};
    argv.insert(argv.end(), env.begin(), env.end());
    for (std::string a : {std::string(CONCIERGE_BINARY), std::string("--log-level"), std::string("debug"), std::string("--data-dir"),
                          data.string(), std::string("serve")})
      argv.push_back(a);
    proc = std::make_unique<ChildProcess>(argv);
    Json init = request(0, "initialize",
                        Json{{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()}, {"clientInfo", {{"name", "t"}, {"version", "1"}}}});
    INFO(init.dump());
    REQUIRE(init.contains("result"));
    REQUIRE(proc->write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  }
  // The server must exit cleanly once its stdin closes (a sanitizer report at exit fails it);
  // not checked while a failed REQUIRE is unwinding.
  ~ServedBinary() {
    if (!proc) return;
    proc->close_stdin();
    auto st = proc->wait_exit(std::chrono::seconds(15));
    if (std::uncaught_exceptions() > 0) return;
    INFO("stderr:\n" << proc->stderr_text());
    CHECK(st);
    if (st) CHECK((st->exited && st->code == 0));
  }

  Json request(int id, const std::string& method, Json params) { return rpc_request(*proc, id, method, std::move(params)); }
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
