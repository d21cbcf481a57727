#pragma once
// Calling tools as a client does, one tools/call each, with the reply's shape checked so a test
// reads as what it asserts: call() gives the whole reply, ok() the structured result of a call that
// must succeed, error() the text of one that must fail as a tool error (isError).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace concierge::test {

// The whole JSON-RPC reply. Upstream-backed tools (a Radicale or Dovecot behind the adapter) may
// take seconds: only a failing test waits out the timeout.
inline Json call(Client& c, const Json& id, const std::string& tool, Json args,
                 std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  c.send(rpc::make_request(id, "tools/call", Json{{"name", tool}, {"arguments", std::move(args)}}));
  return c.reply(id, timeout);
}

// Every text block of a reply's result, concatenated.
inline std::string text_of(const Json& reply) {
  std::string out;
  if (reply.contains("result"))
    for (const auto& block : reply["result"]["content"]) out += block.value("text", "");
  return out;
}

// The structured content of a reply that must be a result and not a tool error.
inline Json structured(const Json& reply) {
  INFO(reply.dump());
  REQUIRE(reply.contains("result"));
  REQUIRE_FALSE(reply["result"].value("isError", false));
  return reply["result"]["structuredContent"];
}

// The text of a reply that must be a tool error.
inline std::string error_text(const Json& reply) {
  INFO(reply.dump());
  REQUIRE(reply.contains("result"));
  REQUIRE(reply["result"].value("isError", false));
  return text_of(reply);
}

// The same on one client, numbering its own requests "tool-1", "tool-2"... so they never meet the
// integer ids a test sends on that client (a Client finds a reply by id among all it received).
// A fixture holds one, or derives from it, naming its Client.
class ToolCalls {
 public:
  explicit ToolCalls(Client& client) : client_(client) {}

  Json call(const std::string& tool, Json args) {
    Json r = test::call(client_, "tool-" + std::to_string(++calls_), tool, args);
    INFO(tool << " " << args.dump() << " -> " << r.dump());
    REQUIRE(r.contains("result"));
    return r;
  }
  Json ok(const std::string& tool, Json args = Json::object()) { return structured(call(tool, std::move(args))); }
  std::string error(const std::string& tool, Json args) {
    errors.push_back(error_text(call(tool, std::move(args))));
    return errors.back();
  }

  int calls() const { return calls_; }  // tools/call requests sent so far
  std::vector<std::string> errors;  // what error() returned, in order (tests check none leaks a secret)

 private:
  Client& client_;
  int calls_ = 0;
};

}  // namespace concierge::test
