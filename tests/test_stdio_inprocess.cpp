// The real stdio transport (serve_stdio) run in-process on pipes, with test tools that block until
// cancelled or ask the client for input: cancellation, shutdown with work in flight, and client
// input both ways (2026-07-28 multi-round-trip, and the legacy server->client request).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "server/stdio.hpp"
#include "support/harness.hpp"
#include "support/process.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

// What the test tools report to the test, waited on with bounded condition-variable waits.
struct Probe {
  std::mutex m;
  std::condition_variable cv;
  bool started = false, finished = false, saw_cancel = false;

  void set(bool Probe::*flag) {
    {
      std::lock_guard l(m);
      this->*flag = true;
    }
    cv.notify_all();
  }
  bool wait(bool Probe::*flag, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock l(m);
    return cv.wait_for(l, timeout, [&] { return this->*flag; });
  }
  bool get(bool Probe::*flag) {
    std::lock_guard l(m);
    return this->*flag;
  }
};

ToolDefinition sleep_until_cancelled(Probe& probe) {
  ToolDefinition d;
  d.name = "sleep_until_cancelled";
  d.description = "Blocks until the request is cancelled (at most ~10 s).";
  d.input_schema = Json{{"type", "object"}};
  d.handler = [&probe](const Json&, RequestContext& ctx) {
    probe.set(&Probe::started);
    auto deadline = std::chrono::steady_clock::now() + 10s;
    bool cancelled = false;
    while (!cancelled && std::chrono::steady_clock::now() < deadline) cancelled = ctx.cancel().wait_for(50ms);
    if (cancelled) probe.set(&Probe::saw_cancel);
    probe.set(&Probe::finished);
    return ToolResult::text(cancelled ? "cancelled" : "gave up waiting");
  };
  return d;
}

ToolDefinition confirm_action() {
  ToolDefinition d;
  d.name = "confirm_action";
  d.description = "Asks the user to confirm, then reports the answer.";
  d.input_schema = Json{{"type", "object"},
                        {"properties", {{"what", {{"type", "string"}}}}},
                        {"required", Json::array({"what"})}};
  d.handler = [](const Json& args, RequestContext& ctx) {
    Json answer = ctx.input("confirm", "elicitation/create",
                            Json{{"mode", "form"},
                                 {"message", "Proceed?"},
                                 {"requestedSchema",
                                  {{"type", "object"},
                                   {"properties", {{"ok", {{"type", "boolean"}}}}},
                                   {"required", Json::array({"ok"})}}}});
    bool ok = answer.value("action", "") == "accept" && answer.contains("content") &&
              answer["content"].is_object() && answer["content"].value("ok", false);
    return ToolResult::text(ok ? "confirmed: " + args["what"].get<std::string>() : "not confirmed");
  };
  return d;
}

// serve_stdio on a thread, talking through three pipes.
class StdioServer {
 public:
  explicit StdioServer(Probe& probe, StdioOptions options = {}) : server_(builtin_server()) {
    ignore_sigpipe();
    server_->tools().add(sleep_until_cancelled(probe));
    server_->tools().add(confirm_action());
    int in[2], out[2], stop[2];
    REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(stop, O_CLOEXEC) == 0);
    in_r_ = in[0], in_w_ = in[1], out_r_ = out[0], out_w_ = out[1], stop_r_ = stop[0], stop_w_ = stop[1];
    set_nonblocking(in_w_);
    set_nonblocking(out_r_);
    out_.reset(out_r_);
    thread_ = std::thread([this, options] {
      bool clean = serve_stdio(*server_, in_r_, out_w_, stop_r_, options);
      {
        std::lock_guard l(m_);
        clean_ = clean;
        done_ = true;
      }
      cv_.notify_all();
    });
  }

  ~StdioServer() {
    stop();
    close_input();
    if (thread_.joinable()) thread_.join();
    for (int fd : {in_r_, in_w_, out_r_, out_w_, stop_r_, stop_w_})
      if (fd >= 0) ::close(fd);
  }

  Server& server() { return *server_; }

  void send(const Json& m) { REQUIRE(write_all(in_w_, m.dump() + "\n", &out_)); }

  // Reads lines until one satisfies pred (every line is kept in the history).
  std::optional<Json> wait_for(const std::function<bool(const Json&)>& pred, std::chrono::milliseconds timeout = 5s) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return std::nullopt;
      auto line = out_.read_line(left);
      if (!line) return std::nullopt;
      Json j = Json::parse(*line, nullptr, false);
      if (!j.is_discarded() && pred(j)) return j;
    }
  }
  // The reply (result or error) to our request `id`.
  Json reply(const Json& id, std::chrono::milliseconds timeout = 5s) {
    auto r = wait_for([&](const Json& m) { return m.is_object() && m.contains("id") && m["id"] == id && !m.contains("method"); },
                      timeout);
    INFO("waiting for the reply to " << id.dump());
    REQUIRE(r);
    return *r;
  }
  Json request(const Json& id, const std::string& method, Json params = nullptr) {
    send(rpc::make_request(id, method, std::move(params)));
    return reply(id);
  }
  void initialize(const std::string& version, Json caps = Json::object()) {
    Json r = request("init", "initialize",
                     Json{{"protocolVersion", version}, {"capabilities", std::move(caps)},
                          {"clientInfo", {{"name", "stdio-test"}, {"version", "1.0"}}}});
    REQUIRE(r.contains("result"));
    REQUIRE(r["result"]["protocolVersion"] == version);
    send(rpc::make_notification("notifications/initialized", nullptr));
  }

  // What SIGTERM does in the binary: a byte on the stop pipe.
  void stop() {
    if (stop_w_ < 0) return;
    char b = 1;
    [[maybe_unused]] auto n = ::write(stop_w_, &b, 1);
  }
  void close_input() {
    if (in_w_ >= 0) ::close(in_w_);
    in_w_ = -1;
  }
  // serve_stdio's return value once it returned within timeout.
  std::optional<bool> wait_done(std::chrono::milliseconds timeout) {
    std::unique_lock l(m_);
    if (!cv_.wait_for(l, timeout, [&] { return done_; })) return std::nullopt;
    return clean_;
  }
  // After serve_stdio returned: everything it wrote, up to EOF.
  void read_rest() {
    REQUIRE(wait_done(0ms));
    REQUIRE(server_->wait_idle(5s));
    if (out_w_ >= 0) ::close(out_w_);
    out_w_ = -1;
    CHECK(out_.read_to_eof(5s));
  }

  // Every message written so far (parsed), including those wait_for skipped.
  std::vector<Json> history() {
    out_.drain();
    std::vector<Json> all;
    for (const auto& l : out_.history()) all.push_back(Json::parse(l, nullptr, false));
    return all;
  }
  size_t count_with_id(const Json& id) {
    size_t n = 0;
    for (const auto& m : history())
      if (m.is_object() && m.contains("id") && m["id"] == id) ++n;
    return n;
  }

 private:
  std::unique_ptr<Server> server_;
  int in_r_ = -1, in_w_ = -1, out_r_ = -1, out_w_ = -1, stop_r_ = -1, stop_w_ = -1;
  LineReader out_;
  std::thread thread_;
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false, clean_ = false;
};

Json tool_call(const std::string& name, Json args, Json extra = Json::object()) {
  Json p{{"name", name}, {"arguments", std::move(args)}};
  p.update(extra);
  return p;
}

int code_of(const Json& reply) { return reply.contains("error") ? reply["error"].value("code", 0) : 0; }
std::string message_of(const Json& reply) {
  return reply.contains("error") ? reply["error"].value("message", std::string()) : std::string();
}

}  // namespace

TEST_CASE("stdio in-process: notifications/cancelled stops a running tool and suppresses its reply", "[stdio]") {
  Probe probe;
  StdioServer s(probe);
  s.initialize("2025-11-25");

  s.send(rpc::make_request(7, "tools/call", tool_call("sleep_until_cancelled", Json::object())));
  REQUIRE(probe.wait(&Probe::started));

  // The transport keeps serving while the tool runs.
  Json pong = s.request(8, "ping");
  CHECK(pong["result"] == Json::object());
  CHECK_FALSE(probe.get(&Probe::finished));

  s.send(rpc::make_notification("notifications/cancelled", Json{{"requestId", 7}, {"reason", "user gave up"}}));
  REQUIRE(probe.wait(&Probe::finished));
  CHECK(probe.get(&Probe::saw_cancel));

  // Once the handler's job is done (its reply, if any, written), a later request still gets its
  // reply, and nothing was ever written for id 7.
  REQUIRE(s.server().wait_idle(5s));
  pong = s.request(9, "ping");
  CHECK(pong["result"] == Json::object());
  CHECK(s.count_with_id(7) == 0);

  // EOF with nothing in flight: serve_stdio returns cleanly.
  s.close_input();
  auto clean = s.wait_done(5s);
  REQUIRE(clean);
  CHECK(*clean);
}

TEST_CASE("stdio in-process: the stop pipe (SIGTERM) cancels work in flight and returns within 2 s", "[stdio]") {
  Probe probe;
  StdioServer s(probe);
  s.initialize("2025-11-25");
  s.send(rpc::make_request(1, "tools/call", tool_call("sleep_until_cancelled", Json::object())));
  REQUIRE(probe.wait(&Probe::started));

  auto t0 = Clock::now();
  s.stop();
  auto clean = s.wait_done(5s);
  auto elapsed = Clock::now() - t0;
  REQUIRE(clean);
  CHECK(*clean);  // the handler honoured cancellation within the grace period
  CHECK(elapsed < 2s);
  CHECK(probe.get(&Probe::saw_cancel));

  s.read_rest();
  CHECK(s.count_with_id(1) == 0);
}

TEST_CASE("stdio in-process: EOF with a request still running cancels it within the grace period", "[stdio]") {
  Probe probe;
  StdioOptions options;
  options.shutdown_grace = 1000ms;
  StdioServer s(probe, options);
  s.initialize("2025-11-25");
  s.send(rpc::make_request(1, "tools/call", tool_call("sleep_until_cancelled", Json::object())));
  REQUIRE(probe.wait(&Probe::started));
  auto t0 = Clock::now();
  s.close_input();
  auto clean = s.wait_done(5s);
  auto elapsed = Clock::now() - t0;
  REQUIRE(clean);
  CHECK(*clean);
  CHECK(elapsed < 2s);
  CHECK(probe.get(&Probe::saw_cancel));
  s.read_rest();
  CHECK(s.count_with_id(1) == 0);
}

TEST_CASE("stdio in-process: 2026-07-28 multi-round-trip elicitation", "[stdio]") {
  Probe probe;
  StdioServer s(probe);
  const Json caps{{"elicitation", {{"form", Json::object()}}}};
  const Json meta = modern_meta(caps);
  const Json args{{"what", "delete the draft"}};

  Json first = s.request(1, "tools/call", tool_call("confirm_action", args, {{"_meta", meta}}));
  INFO("first reply: " << first.dump());
  REQUIRE(first.contains("result"));
  const Json& ir = first["result"];
  CHECK(ir["resultType"] == "input_required");
  REQUIRE(ir["inputRequests"].contains("confirm"));
  CHECK(ir["inputRequests"]["confirm"]["method"] == "elicitation/create");
  CHECK(ir["inputRequests"]["confirm"]["params"]["message"] == "Proceed?");
  REQUIRE(ir["requestState"].is_string());
  const std::string state = ir["requestState"];
  const Json responses{{"confirm", {{"action", "accept"}, {"content", {{"ok", true}}}}}};

  SECTION("the retry with the responses and the echoed state completes") {
    Json done = s.request(2, "tools/call",
                          tool_call("confirm_action", args,
                                    {{"_meta", meta}, {"inputResponses", responses}, {"requestState", state}}));
    INFO("retry reply: " << done.dump());
    REQUIRE(done.contains("result"));
    CHECK(done["result"]["resultType"] == "complete");
    CHECK(done["result"]["content"][0]["text"] == "confirmed: delete the draft");
    CHECK(done["result"]["_meta"].contains("io.modelcontextprotocol/serverInfo"));
    CHECK_FALSE(done["result"].value("isError", false));
  }

  SECTION("a declined answer completes with the other text") {
    Json declined{{"confirm", {{"action", "decline"}}}};
    Json done = s.request(2, "tools/call",
                          tool_call("confirm_action", args,
                                    {{"_meta", meta}, {"inputResponses", declined}, {"requestState", state}}));
    REQUIRE(done.contains("result"));
    CHECK(done["result"]["resultType"] == "complete");
    CHECK(done["result"]["content"][0]["text"] == "not confirmed");
  }

  SECTION("a tampered requestState is refused with -32602") {
    std::string bad = state;
    size_t i = bad.size() / 2;
    if (bad[i] == '.') --i;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    REQUIRE(bad != state);
    Json r = s.request(3, "tools/call",
                       tool_call("confirm_action", args, {{"_meta", meta}, {"inputResponses", responses}, {"requestState", bad}}));
    INFO("reply: " << r.dump());
    CHECK(code_of(r) == -32602);
    CHECK_THAT(message_of(r), Catch::Contains("requestState"));
  }

  SECTION("a requestState replayed on a different tool call is refused with -32602") {
    Json other{{"what", "delete everything"}};
    Json r = s.request(4, "tools/call",
                       tool_call("confirm_action", other, {{"_meta", meta}, {"inputResponses", responses}, {"requestState", state}}));
    INFO("reply: " << r.dump());
    CHECK(code_of(r) == -32602);
    CHECK_THAT(message_of(r), Catch::Contains("requestState"));
  }

  // Nothing was ever asked of the client as a request in this era.
  for (const auto& m : s.history()) CHECK_FALSE((m.is_object() && m.value("method", "") == "elicitation/create"));
}

TEST_CASE("stdio in-process: 2026-07-28 input without the client capability is -32021", "[stdio]") {
  Probe probe;
  StdioServer s(probe);
  Json r = s.request(1, "tools/call",
                     tool_call("confirm_action", Json{{"what", "x"}}, {{"_meta", modern_meta(Json::object())}}));
  INFO("reply: " << r.dump());
  CHECK(code_of(r) == -32021);
  REQUIRE(r["error"].contains("data"));
  CHECK(r["error"]["data"]["requiredCapabilities"].contains("elicitation"));
}

TEST_CASE("stdio in-process: legacy elicitation is a server->client request answered over stdin", "[stdio]") {
  Probe probe;
  StdioServer s(probe);
  s.initialize("2025-11-25", Json{{"elicitation", Json::object()}});

  s.send(rpc::make_request(30, "tools/call", tool_call("confirm_action", Json{{"what", "send the mail"}})));
  auto ask = s.wait_for([](const Json& m) { return m.is_object() && m.value("method", "") == "elicitation/create"; });
  REQUIRE(ask);
  INFO("server request: " << ask->dump());
  REQUIRE(ask->contains("id"));
  CHECK(rpc::valid_id((*ask)["id"]));
  CHECK((*ask)["params"]["message"] == "Proceed?");
  CHECK((*ask)["params"]["requestedSchema"]["properties"].contains("ok"));

  s.send(rpc::make_result((*ask)["id"], Json{{"action", "accept"}, {"content", {{"ok", true}}}}));
  Json r = s.reply(30);
  INFO("reply: " << r.dump());
  REQUIRE(r.contains("result"));
  CHECK(r["result"]["content"][0]["text"] == "confirmed: send the mail");
  CHECK_FALSE(r["result"].value("isError", false));
  CHECK_FALSE(r["result"].contains("resultType"));  // a legacy result
}

TEST_CASE("stdio in-process: legacy elicitation without the capability is a tool error", "[stdio]") {
  Probe probe;
  StdioServer s(probe);
  s.initialize("2025-11-25");
  Json r = s.request(31, "tools/call", tool_call("confirm_action", Json{{"what", "send the mail"}}));
  INFO("reply: " << r.dump());
  REQUIRE(r.contains("result"));
  CHECK(r["result"].value("isError", false));
  CHECK_THAT(r["result"]["content"][0].value("text", std::string()), Catch::Contains("elicitation"));
  // The server did not ask anyway.
  for (const auto& m : s.history()) CHECK_FALSE((m.is_object() && m.value("method", "") == "elicitation/create"));
}
