#pragma once
// One JSON-RPC request to a `concierge serve` child over stdio, and its reply (notifications and
// other replies on the way are skipped).
#include <catch2/catch.hpp>
#include <chrono>

#include "common/json.hpp"
#include "support/process.hpp"

namespace concierge::test {

inline Json rpc_request(ChildProcess& proc, const Json& id, const std::string& method, Json params) {
  REQUIRE(proc.write_line(Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}.dump()));
  for (;;) {
    auto line = proc.read_line(std::chrono::seconds(15));
    if (!line) FAIL("no reply to " << method << "; stderr:\n" << proc.stderr_text());
    Json j = Json::parse(*line, nullptr, false);
    if (j.is_object() && j.contains("id") && j["id"] == id) return j;
  }
}

}  // namespace concierge::test
