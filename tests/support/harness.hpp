#pragma once
// In-memory transport for driving the core without sockets: a Sink that records every message
// the server writes, and a small client that sends messages and waits for replies.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/core.hpp"
#include "tools/tool.hpp"

namespace concierge::test {

class CaptureSink : public Sink {
 public:
  void send(const Json& m) override {
    {
      std::lock_guard l(mu);
      messages.push_back(m);
    }
    cv.notify_all();
  }
  // Waits for a message matching pred (already captured or arriving within timeout).
  template <class Pred>
  std::optional<Json> wait_for(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock l(mu);
    std::optional<Json> found;
    cv.wait_for(l, timeout, [&] {
      for (const auto& m : messages)
        if (pred(m)) { found = m; return true; }
      return false;
    });
    return found;
  }
  std::vector<Json> snapshot() {
    std::lock_guard l(mu);
    return messages;
  }
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Json> messages;
};

// One client connection to an in-process server.
struct Client {
  Server& server;
  std::shared_ptr<CaptureSink> sink = std::make_shared<CaptureSink>();
  Connection conn;
  explicit Client(Server& s) : server(s) { conn = Connection{s.new_session(sink), sink, "test", "local"}; }

  void send(const Json& m) { server.handle(m, conn); }
  void send_text(std::string_view t) { server.handle_text(t, conn); }

  // Sends a request and waits for the reply with its id.
  Json request(const Json& id, const std::string& method, Json params = nullptr) {
    send(rpc::make_request(id, method, std::move(params)));
    return reply(id);
  }
  Json reply(const Json& id, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto r = sink->wait_for([&](const Json& m) { return m.is_object() && m.contains("id") && m["id"] == id && !m.contains("method"); }, timeout);
    return r ? *r : Json();
  }
  Json initialize(const std::string& version, Json caps = Json::object()) {
    Json r = request("init", "initialize",
                     Json{{"protocolVersion", version}, {"capabilities", caps}, {"clientInfo", {{"name", "test-client"}, {"version", "1.0"}}}});
    send(rpc::make_notification("notifications/initialized", nullptr));
    return r;
  }
};

// The _meta every 2026-07-28 request carries.
inline Json modern_meta(Json caps = Json::object(), std::string version = "2026-07-28") {
  return Json{{"io.modelcontextprotocol/protocolVersion", version},
              {"io.modelcontextprotocol/clientCapabilities", caps},
              {"io.modelcontextprotocol/clientInfo", {{"name", "test-client"}, {"version", "1.0"}}}};
}

// A server with the built-in tools, as the binary has them.
inline std::unique_ptr<Server> builtin_server(ServerOptions o = {}) {
  auto s = std::make_unique<Server>(std::move(o));
  tools::register_builtin(s->tools());
  return s;
}

}  // namespace concierge::test
