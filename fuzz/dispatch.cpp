// JSON-RPC framing and dispatch through Server::handle_text, as a transport hands messages over,
// with the real tools, resources, prompts and history on a store in a temporary data directory.
// The first byte picks the revision: 2024-11-05 .. 2025-11-25 get an initialize handshake (with
// roots, sampling and elicitation capabilities) first; 2026-07-28 is stateless, so the messages
// carry _meta themselves (see the seeds). The rest is up to 8 messages, one per line, as stdio
// frames them; the harness waits for the handlers, then cancels what is still open (a
// subscription, a task waiting for input).
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "server/revision.hpp"
#include "support/app_fixture.hpp"

using namespace concierge;
using namespace std::chrono_literals;

namespace {

class NullSink : public Sink {
 public:
  void send(const Json& message) override { (void)dump(message); }  // serialized as a transport would
};

ServerOptions options() {
  ServerOptions o;
  o.client_request_timeout = 100ms;  // nobody answers our requests to the client
  o.min_workers = 2;
  o.max_workers = 16;
  o.task_poll_interval_ms = 10;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Lives for the process (its workers too); only its data directory is removed at exit.
  static test::AppFixture* app = [] {
    spdlog::set_level(spdlog::level::off);
    auto* a = new test::AppFixture(true, options());
    static std::filesystem::path dir = a->dir.path;
    std::atexit([] { std::error_code ec; std::filesystem::remove_all(dir, ec); });
    return a;
  }();
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto& revisions = supported_revisions();  // newest first: 2026-07-28
  const std::string& revision = revisions[data[0] % revisions.size()];
  Server& server = *app->server;
  auto sink = std::make_shared<NullSink>();
  bool modern = is_modern(*parse_revision(revision));
  Connection conn{server.new_session(modern ? nullptr : sink), sink, modern ? "http" : "stdio", "local"};
  if (!modern) {
    Json caps{{"roots", {{"listChanged", true}}}, {"sampling", Json::object()}, {"elicitation", Json::object()}};
    server.handle(rpc::make_request("init", "initialize",
                                    Json{{"protocolVersion", revision},
                                         {"capabilities", caps},
                                         {"clientInfo", {{"name", "fuzz"}, {"version", "1"}}}}),
                  conn);
    server.handle(rpc::make_notification("notifications/initialized", nullptr), conn);
  }
  int messages = 0;
  for (size_t at = 0; at <= input.size() && messages < 8; ++messages) {
    size_t nl = input.find('\n', at);
    std::string_view line = input.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    if (modern) conn.session = server.new_session(nullptr);  // every stateless request on its own
    server.handle_text(line, conn);
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  if (!server.wait_idle(2s)) {
    server.cancel_all();
    if (!server.wait_idle(20s)) __builtin_trap();  // a handler that ignores cancellation
  }
  server.cancel_all();  // open subscriptions and tasks
  return 0;
}
