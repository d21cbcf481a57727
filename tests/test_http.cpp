// The HTTP transport (src/server/http.hpp) in-process: an HttpServer on 127.0.0.1, an ephemeral
// port, run() on its own thread, driven with cpp-httplib's client (single exchanges) and raw
// sockets (SSE streams, oversized bodies). Covers legacy Streamable HTTP (2025-03-26 ..
// 2025-11-25: sessions, GET stream, SSE framing), the stateless 2026-07-28 POSTs (header
// validation and error mapping), the 2024-11-05 HTTP+SSE endpoints, DNS-rebinding protection,
// limits, concurrency and shutdown.
//
// Every failing check prints the raw HTTP exchange it was made on.
#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "server/http.hpp"
#include "support/harness.hpp"
#include "support/http_client.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::test::http;
using namespace std::chrono_literals;

namespace {

constexpr const char* kLegacy = "2025-11-25";
constexpr const char* kModern = "2026-07-28";
constexpr const char* kAcceptBoth = "application/json, text/event-stream";

// Sends notifications/progress three times (when the request has a progressToken), then returns.
ToolDefinition progress_tool() {
  ToolDefinition d;
  d.name = "test_progress";
  d.description = "Reports progress three times, then returns.";
  d.input_schema = Json{{"type", "object"}};
  d.handler = [](const Json&, RequestContext& ctx) {
    ctx.progress(0, 100, "started");
    ctx.progress(50, 100, "halfway");
    ctx.progress(100, 100, "done");
    return ToolResult::text("progress done");
  };
  return d;
}

// What test tools report to the test (bounded condition-variable waits, no sleeps).
struct Gate {
  std::mutex m;
  std::condition_variable cv;
  bool started = false, post_closed = false, buffered = false, open = false, saw_cancel = false, finished = false;
  void set(bool Gate::*flag) {
    {
      std::lock_guard l(m);
      this->*flag = true;
    }
    cv.notify_all();
  }
  bool wait(bool Gate::*flag, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock l(m);
    return cv.wait_for(l, timeout, [&] { return this->*flag; });
  }
};

// Legacy resumability: reports progress, closes its POST stream (Sink::close_stream), reports
// more progress while no stream is open, then replies once the test says so.
ToolDefinition reconnect_tool(Gate& g) {
  ToolDefinition d;
  d.name = "test_reconnect";
  d.description = "Closes its response stream mid-call; the rest arrives on a resumed GET.";
  d.input_schema = Json{{"type", "object"}};
  d.handler = [&g](const Json&, RequestContext& ctx) {
    ctx.progress(1, 3, "before close");
    ctx.close_stream();
    g.set(&Gate::started);
    if (!g.wait(&Gate::post_closed)) return ToolResult::error("the test never saw the stream close");
    ctx.progress(2, 3, "while disconnected");
    g.set(&Gate::buffered);
    if (!g.wait(&Gate::open)) return ToolResult::error("the test never resumed");
    return ToolResult::text("after reconnect");
  };
  return d;
}

// Reports progress every 50 ms until cancelled (at most 10 s).
ToolDefinition until_cancelled_tool(Gate& g) {
  ToolDefinition d;
  d.name = "test_until_cancelled";
  d.description = "Streams progress until the request is cancelled.";
  d.input_schema = Json{{"type", "object"}};
  d.handler = [&g](const Json&, RequestContext& ctx) {
    g.set(&Gate::started);
    auto deadline = Clock::now() + 10s;
    bool cancelled = false;
    for (int i = 0; !cancelled && Clock::now() < deadline; ++i) {
      ctx.progress(i);
      cancelled = ctx.cancel().wait_for(50ms);
    }
    if (cancelled) g.set(&Gate::saw_cancel);
    g.set(&Gate::finished);
    return ToolResult::text(cancelled ? "cancelled" : "gave up");
  };
  return d;
}

// An HttpServer on 127.0.0.1:<any free port>, run() on a thread; stopped and joined on scope exit.
class TestHttpServer {
 public:
  explicit TestHttpServer(HttpOptions options = {}, const std::function<void(Server&)>& setup = {})
      : core_(builtin_server()) {
    core_->tools().add(progress_tool());
    if (setup) setup(*core_);
    options.host = "127.0.0.1";
    options.port = 0;
    http_ = std::make_unique<HttpServer>(*core_, options);
    port_ = http_->bind();
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] {
      try {
        http_->run();
      } catch (const std::exception& e) {
        std::lock_guard l(m_);
        run_error_ = e.what();
      }
      {
        std::lock_guard l(m_);
        done_ = true;
      }
      cv_.notify_all();
    });
  }
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  ~TestHttpServer() {
    http_->stop();
    if (!wait_done(10s)) {
      // Can't destroy the server under a running run(): report and leave rather than hang.
      std::fprintf(stderr, "FATAL: HttpServer::run() did not return within 10 s of stop()\n");
      std::fflush(stderr);
      std::_Exit(70);
    }
    thread_.join();
    http_.reset();
    core_.reset();
  }

  int port() const { return port_; }
  Server& core() { return *core_; }
  HttpServer& http() { return *http_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

  bool wait_done(std::chrono::milliseconds timeout) {
    std::unique_lock l(m_);
    return cv_.wait_for(l, timeout, [&] { return done_; });
  }
  std::string run_error() {
    std::lock_guard l(m_);
    return run_error_;
  }

 private:
  std::unique_ptr<Server> core_;
  std::unique_ptr<HttpServer> http_;
  int port_ = 0;
  std::thread thread_;
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::string run_error_;
};

// ---- Request builders -----------------------------------------------------------------------

Json init_request(const Json& id, const std::string& version = kLegacy) {
  return rpc::make_request(id, "initialize",
                           Json{{"protocolVersion", version},
                                {"capabilities", Json::object()},
                                {"clientInfo", {{"name", "http-test"}, {"version", "1.0"}}}});
}

// A legacy (session) POST to /mcp. An empty session or version leaves that header out.
Reply legacy_post(int port, const Json& msg, const std::string& session, const std::string& version = kLegacy,
                  httplib::Headers extra = {}, const std::string& accept = kAcceptBoth,
                  const std::string& content_type = "application/json") {
  Request r;
  r.body = msg.is_string() ? msg.get<std::string>() : msg.dump();
  r.headers.emplace("Content-Type", content_type);
  r.headers.emplace("Accept", accept);
  if (!session.empty()) r.headers.emplace("Mcp-Session-Id", session);
  if (!version.empty()) r.headers.emplace("MCP-Protocol-Version", version);
  for (auto& [k, v] : extra) r.headers.emplace(k, v);
  return request(port, r);
}

bool visible_ascii(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c <= 0x7E; });
}

// initialize + notifications/initialized; returns the session id.
std::string open_session(int port, const std::string& version = kLegacy) {
  static std::atomic<int> next{1};
  int id = next++;
  Reply init = legacy_post(port, init_request(id, version), "", "");
  INFO(init.describe());
  REQUIRE(init.status == 200);
  std::string sid = init.header("Mcp-Session-Id");
  REQUIRE(visible_ascii(sid));
  Json resp = init.response();
  REQUIRE(resp.is_object());
  REQUIRE(resp.contains("result"));
  Reply note = legacy_post(port, rpc::make_notification("notifications/initialized", nullptr), sid, version);
  INFO(note.describe());
  REQUIRE(note.status == 202);
  return sid;
}

Json modern_params(Json params = Json::object(), Json meta = modern_meta()) {
  params["_meta"] = std::move(meta);
  return params;
}

// A stateless 2026-07-28 POST. Headers are given in full (a test decides which to send).
Reply modern_post(int port, const Json& msg, httplib::Headers headers) {
  Request r;
  r.body = msg.dump();
  if (headers.find("Content-Type") == headers.end()) headers.emplace("Content-Type", "application/json");
  if (headers.find("Accept") == headers.end()) headers.emplace("Accept", kAcceptBoth);
  r.headers = std::move(headers);
  return request(port, r);
}

httplib::Headers modern_headers(const std::string& method, const std::string& name = {},
                                const std::string& version = kModern) {
  httplib::Headers h{{"MCP-Protocol-Version", version}, {"Mcp-Method", method}};
  if (!name.empty()) h.emplace("Mcp-Name", name);
  return h;
}

Json echo_call(const Json& id, const std::string& text = "hello http", Json meta = modern_meta()) {
  return rpc::make_request(id, "tools/call", modern_params(Json{{"name", "echo"}, {"arguments", {{"text", text}}}}, std::move(meta)));
}

// The response checks shared by every JSON-RPC error a stateless POST should produce.
void check_rpc_error(const Reply& r, int http_status, int code, const Json& id) {
  INFO(r.describe());
  CHECK(r.status == http_status);
  Json resp = r.response();
  CHECK(resp.is_object());
  if (!resp.is_object()) return;
  CHECK(resp.value("jsonrpc", "") == "2.0");
  CHECK(resp.contains("error"));
  if (!resp.contains("error")) return;
  CHECK(resp["error"].value("code", 0) == code);
  CHECK(resp["error"].contains("message"));
  CHECK(resp.contains("id"));
  CHECK(resp.value("id", Json()) == id);  // errors echo the request id
}

// A successful echo reply (JSON or SSE) carrying `text` back.
void check_echo_ok(const Reply& r, const Json& id, const std::string& text, bool modern) {
  INFO(r.describe());
  CHECK(r.status == 200);
  Json resp = r.response();
  CHECK(resp.is_object());
  if (!resp.is_object()) return;
  CHECK(resp.value("id", Json()) == id);
  CHECK(resp.contains("result"));
  if (!resp.contains("result")) return;
  Json res = resp["result"];  // a copy: indexing a missing key below must not be UB
  CHECK(res.value("isError", false) == false);
  CHECK(res["content"].is_array());
  if (res["content"].is_array() && !res["content"].empty()) CHECK(res["content"][0].value("text", "") == text);
  if (modern) CHECK(res.value("resultType", "") == "complete");
}

// The SSE stream opened by GET /mcp for a session.
RawHttp open_get_stream(int port, const std::string& session, const std::string& version = kLegacy) {
  RawHttp s;
  s.start(port, "GET", "/mcp",
          {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}, {"MCP-Protocol-Version", version}});
  return s;
}

RawHttp open_sse_endpoint(int port) {
  RawHttp s;
  s.start(port, "GET", "/sse", {{"Accept", "text/event-stream"}});
  return s;
}

bool priming_event(const SseEvent& e) {
  return e.id && !e.id->empty() && e.retry && e.blank_data();
}

}  // namespace

// =============================================================================================

TEST_CASE("http: GET /healthz answers 200 with a JSON body", "[http]") {
  TestHttpServer srv;
  Reply r = request(srv.port(), Request{.method = "GET", .path = "/healthz"});
  INFO(r.describe());
  CHECK(r.status == 200);
  CHECK(r.is_json());
  CHECK(r.json().is_object());
}

// ---- Legacy Streamable HTTP ------------------------------------------------------------------

TEST_CASE("http legacy: initialize mints a session, requests in it succeed, initialized is 202", "[http][legacy]") {
  TestHttpServer srv;
  int port = srv.port();

  Reply init = legacy_post(port, init_request(1), "", "");
  std::string sid;
  {
    INFO(init.describe());
    REQUIRE(init.status == 200);
    CHECK((init.is_json() || init.is_sse()));
    sid = init.header("Mcp-Session-Id");
    CHECK(visible_ascii(sid));  // 0x21..0x7E only
    Json resp = init.response();
    REQUIRE(resp.is_object());
    CHECK(resp.value("id", Json()) == 1);
    REQUIRE(resp.contains("result"));
    CHECK(resp["result"].value("protocolVersion", "") == kLegacy);
    CHECK(resp["result"]["serverInfo"].value("name", "") == "concierge");
  }
  REQUIRE(visible_ascii(sid));

  {
    Reply r = legacy_post(port, rpc::make_notification("notifications/initialized", nullptr), sid);
    INFO(r.describe());
    CHECK(r.status == 202);
    CHECK(r.body.empty());
  }
  {
    Reply r = legacy_post(port, rpc::make_request(2, "tools/list", Json::object()), sid);
    INFO(r.describe());
    CHECK(r.status == 200);
    Json resp = r.response();
    REQUIRE(resp.is_object());
    CHECK(resp.value("id", Json()) == 2);
    REQUIRE(resp.contains("result"));
    std::set<std::string> names;
    for (auto& t : resp["result"]["tools"]) names.insert(t.value("name", ""));
    CHECK(names.count("echo") == 1);
    CHECK(names.count("get_current_time") == 1);
  }
  {
    Reply r = legacy_post(port, rpc::make_request("three", "tools/call", Json{{"name", "echo"}, {"arguments", {{"text", "legacy hi"}}}}), sid);
    check_echo_ok(r, "three", "legacy hi", false);
  }
  {
    Reply r = legacy_post(port, rpc::make_request(4, "ping", nullptr), sid);
    INFO(r.describe());
    CHECK(r.status == 200);
    Json resp = r.response();
    CHECK(resp.is_object());
    if (resp.is_object()) CHECK(resp.value("result", Json()) == Json::object());
  }
}

TEST_CASE("http legacy: a missing session is 400, an unknown one 404, a deleted one 404", "[http][legacy]") {
  TestHttpServer srv;
  int port = srv.port();
  std::string sid = open_session(port);

  {
    Reply r = legacy_post(port, rpc::make_request(1, "tools/list", Json::object()), "");
    INFO(r.describe());
    CHECK(r.status == 400);
  }
  {
    Reply r = legacy_post(port, rpc::make_request(2, "tools/list", Json::object()), "no-such-session-0123456789");
    INFO(r.describe());
    CHECK(r.status == 404);
  }
  {
    // The session still works.
    Reply r = legacy_post(port, rpc::make_request(3, "tools/list", Json::object()), sid);
    INFO(r.describe());
    CHECK(r.status == 200);
  }
  {
    Reply r = request(port, Request{.method = "DELETE",
                                    .path = "/mcp",
                                    .headers = {{"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", kLegacy}}});
    INFO(r.describe());
    CHECK(r.status >= 200);
    CHECK(r.status < 300);
  }
  {
    Reply r = legacy_post(port, rpc::make_request(4, "tools/list", Json::object()), sid);
    INFO(r.describe());
    CHECK(r.status == 404);
  }
  {
    Reply r = request(port, Request{.method = "DELETE",
                                    .path = "/mcp",
                                    .headers = {{"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", kLegacy}}});
    INFO(r.describe());
    CHECK(r.status == 404);
  }
  {
    // A new initialize still works after all of that.
    std::string again = open_session(port);
    CHECK(again != sid);
  }
}

TEST_CASE("http legacy: MCP-Protocol-Version: an unsupported value is 400, an absent one is accepted", "[http][legacy]") {
  TestHttpServer srv;
  int port = srv.port();
  std::string sid = open_session(port);

  {
    Reply r = legacy_post(port, rpc::make_request(1, "tools/list", Json::object()), sid, "1999-01-01");
    INFO(r.describe());
    CHECK(r.status == 400);
  }
  {
    // No header: taken as 2025-03-26 (or the negotiated version); either way served.
    Reply r = legacy_post(port, rpc::make_request(2, "tools/list", Json::object()), sid, "");
    INFO(r.describe());
    CHECK(r.status == 200);
    Json resp = r.response();
    CHECK(resp.is_object());
    if (resp.is_object()) CHECK(resp.contains("result"));
  }
  {
    Reply r = legacy_post(port, rpc::make_request(3, "tools/list", Json::object()), sid, kLegacy);
    INFO(r.describe());
    CHECK(r.status == 200);
  }
  {
    // Without a header at all, initialize still works (a 2025-03-26 client).
    Reply r = legacy_post(port, init_request(4, "2025-03-26"), "", "");
    INFO(r.describe());
    CHECK(r.status == 200);
    CHECK(visible_ascii(r.header("Mcp-Session-Id")));
    Json resp = r.response();
    CHECK(resp.is_object());
    if (resp.is_object()) CHECK(resp["result"].value("protocolVersion", "") == "2025-03-26");
  }
}

TEST_CASE("http legacy: a wrong Accept is 406 and a wrong Content-Type 415", "[http][legacy]") {
  TestHttpServer srv;
  int port = srv.port();
  std::string sid = open_session(port);

  {
    Reply r = legacy_post(port, rpc::make_request(1, "tools/list", Json::object()), sid, kLegacy, {}, "text/plain");
    INFO(r.describe());
    CHECK(r.status == 406);
  }
  {
    Reply r = legacy_post(port, init_request(2), "", "", {}, "text/plain");
    INFO(r.describe());
    CHECK(r.status == 406);
  }
  {
    Reply r = legacy_post(port, rpc::make_request(3, "tools/list", Json::object()), sid, kLegacy, {}, kAcceptBoth, "text/plain");
    INFO(r.describe());
    CHECK(r.status == 415);
  }
  {
    // A Content-Type with parameters is still JSON.
    Reply r = legacy_post(port, rpc::make_request(4, "tools/list", Json::object()), sid, kLegacy, {}, kAcceptBoth,
                          "application/json; charset=utf-8");
    INFO(r.describe());
    CHECK(r.status == 200);
  }
  {
    Reply r = legacy_post(port, rpc::make_request(5, "tools/list", Json::object()), sid);
    INFO(r.describe());
    CHECK(r.status == 200);
  }
}

TEST_CASE("http legacy: GET /mcp opens the session's SSE stream: priming event, ids, one stream at a time", "[http][legacy][sse]") {
  TestHttpServer srv;
  int port = srv.port();
  std::string sid = open_session(port);

  RawHttp get = open_get_stream(port, sid);
  {
    INFO(get.describe());
    REQUIRE(get.wait_head(5s));
    CHECK(get.status() == 200);
    CHECK(lower(get.header("Content-Type")).rfind("text/event-stream", 0) == 0);
  }
  auto first = get.next_event(5s);
  {
    INFO(get.describe());
    REQUIRE(first);
    INFO("first event:\n" << first->raw);
    CHECK(priming_event(*first));  // id + retry + empty data
  }

  // A second GET stream on the same session while the first is open: 409 Conflict.
  {
    RawHttp second = open_get_stream(port, sid);
    INFO(second.describe());
    REQUIRE(second.wait_head(5s));
    CHECK(second.status() == 409);
  }

  // A server notification arrives on the open stream, with an event id.
  srv.core().notify_list_changed("tools");
  std::optional<SseEvent> note;
  for (int i = 0; i < 5 && !note; ++i) {
    auto e = get.next_event(5s);
    if (!e) break;
    if (auto j = e->json(); j && j->value("method", "") == "notifications/tools/list_changed") note = e;
  }
  {
    INFO(get.describe());
    REQUIRE(note);
    INFO("event:\n" << note->raw);
    CHECK(note->id.has_value());
    if (note->id) {
      CHECK_FALSE(note->id->empty());
      CHECK(*note->id != *first->id);
    }
  }
  CHECK(get.still_open());

  // A GET without a session is refused.
  {
    Reply r = request(port, Request{.method = "GET", .path = "/mcp", .headers = {{"Accept", "text/event-stream"}}}, 3);
    INFO(r.describe());
    CHECK((r.status == 400 || r.status == 405));
  }
}

TEST_CASE("http legacy: a tool that notifies before replying answers with SSE ending in its response", "[http][legacy][sse]") {
  TestHttpServer srv;
  int port = srv.port();
  std::string sid = open_session(port);

  Json call = rpc::make_request(7, "tools/call", Json{{"name", "test_progress"}, {"arguments", Json::object()}, {"_meta", {{"progressToken", "tok-1"}}}});
  Reply r = legacy_post(port, call, sid);
  INFO(r.describe());
  CHECK(r.status == 200);
  REQUIRE(r.is_sse());
  auto events = parse_sse(r.body);
  REQUIRE(events.size() >= 2);

  CHECK(priming_event(events.front()));

  std::vector<Json> msgs;
  std::set<std::string> ids;
  for (auto& e : events) {
    if (e.blank_data()) continue;
    auto j = e.json();
    INFO("event:\n" << e.raw);
    CHECK(j.has_value());  // every data line is one JSON-RPC message
    CHECK(e.id.has_value());  // every message event has an id ...
    if (e.id) CHECK(ids.insert(*e.id).second);  // ... unique on the stream
    if (j) msgs.push_back(*j);
  }
  REQUIRE(!msgs.empty());
  int progress = 0;
  for (size_t i = 0; i + 1 < msgs.size(); ++i) {
    CHECK(msgs[i].value("method", "") == "notifications/progress");
    if (msgs[i].value("method", "") == "notifications/progress") {
      ++progress;
      CHECK(msgs[i]["params"].value("progressToken", "") == "tok-1");
    }
  }
  CHECK(progress == 3);
  Json last = msgs.back();
  CHECK(last.value("id", Json()) == 7);
  REQUIRE(last.contains("result"));
  CHECK(last["result"]["content"][0].value("text", "") == "progress done");
}

TEST_CASE("http legacy: a closed POST stream resumes on GET with Last-Event-ID (replay, then live)", "[http][legacy][sse][resume]") {
  Gate g;
  TestHttpServer srv({}, [&](Server& s) { s.tools().add(reconnect_tool(g)); });
  int port = srv.port();
  std::string sid = open_session(port);

  Json call = rpc::make_request(5, "tools/call", Json{{"name", "test_reconnect"}, {"arguments", Json::object()}, {"_meta", {{"progressToken", "r-1"}}}});
  RawHttp post;
  REQUIRE(post.start(port, "POST", "/mcp",
                     {{"Content-Type", "application/json"}, {"Accept", kAcceptBoth}, {"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", kLegacy}},
                     call.dump()));
  {
    INFO(post.describe());
    REQUIRE(post.wait_head(5s));
    CHECK(post.status() == 200);
    REQUIRE(lower(post.header("Content-Type")).rfind("text/event-stream", 0) == 0);
  }
  // The server ends the POST stream without the response.
  std::vector<SseEvent> before;
  while (auto e = post.next_event(5s)) before.push_back(*e);
  {
    INFO(post.describe());
    CHECK(post.wait_end(0ms));
    REQUIRE(before.size() >= 2);
    CHECK(priming_event(before.front()));
    CHECK(before.front().retry.has_value());
    bool progress = false, response = false;
    for (auto& e : before)
      if (auto j = e.json()) {
        progress |= j->value("method", "") == "notifications/progress";
        response |= j->contains("id") && !j->contains("method");
      }
    CHECK(progress);
    CHECK_FALSE(response);
  }
  std::string last_id;
  for (auto& e : before)
    if (e.id && !e.id->empty()) last_id = *e.id;
  REQUIRE_FALSE(last_id.empty());
  g.set(&Gate::post_closed);
  REQUIRE(g.wait(&Gate::buffered));  // progress 2 was sent while no stream was open

  RawHttp get;
  REQUIRE(get.start(port, "GET", "/mcp",
                    {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", kLegacy}, {"Last-Event-ID", last_id}}));
  {
    INFO(get.describe());
    REQUIRE(get.wait_head(5s));
    CHECK(get.status() == 200);
    CHECK(lower(get.header("Content-Type")).rfind("text/event-stream", 0) == 0);
  }
  // Replayed: the progress sent while disconnected (and not the one already seen).
  std::optional<Json> replayed;
  while (!replayed) {
    auto e = get.next_event(5s);
    if (!e) break;
    if (auto j = e->json()) replayed = *j;
  }
  {
    INFO(get.describe());
    REQUIRE(replayed);
    CHECK(replayed->value("method", "") == "notifications/progress");
    CHECK((*replayed)["params"].value("progress", 0.0) == 2.0);
  }
  // Live: the response, produced after the GET arrived.
  g.set(&Gate::open);
  std::optional<Json> reply;
  std::optional<std::string> reply_event_id;
  while (!reply) {
    auto e = get.next_event(5s);
    if (!e) break;
    if (auto j = e->json(); j && j->value("id", Json()) == 5) {
      reply = *j;
      reply_event_id = e->id;
    }
  }
  INFO(get.describe());
  REQUIRE(reply);
  CHECK((*reply)["result"]["content"][0].value("text", "") == "after reconnect");
  CHECK(reply_event_id.has_value());
  CHECK(get.wait_end(5s));  // the resumed stream ends after the response
}

// ---- Modern (2026-07-28) stateless POSTs -----------------------------------------------------

TEST_CASE("http legacy: a GET stream keeps its last events for Last-Event-ID, a resume past them gets a fresh stream", "[http][legacy][sse][resume][limits]") {
  HttpOptions o;
  o.events_per_session = 2;  // replay keeps the last two events
  TestHttpServer srv(o);
  int port = srv.port();
  std::string sid = open_session(port);
  RawHttp get = open_get_stream(port, sid);
  REQUIRE(get.wait_head(10s));
  auto priming = get.next_event(10s);
  REQUIRE(priming);
  REQUIRE(priming_event(*priming));
  std::string stream_id = priming->id->substr(0, priming->id->rfind(':'));
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    srv.core().notify_list_changed("tools");  // one at a time: each is written before the next comes
    auto e = get.next_event(10s);
    REQUIRE(e);
    REQUIRE(e->id);
    ids.push_back(*e->id);
  }
  get.close();
  // The server notices the closed stream within its 1 s wake-up.
  auto health_streams = [&] {
    Request r;
    r.method = "GET";
    r.path = "/healthz";
    return request(port, r).json().value("streams", -1);
  };
  auto streams_end = [&] {  // each /healthz round trip is the poll interval
    for (auto deadline = Clock::now() + 10s; Clock::now() < deadline;)
      if (health_streams() == 0) return true;
    return false;
  };
  REQUIRE(streams_end());

  // From the third event: the fourth and fifth are still kept and replayed.
  {
    RawHttp resumed;
    resumed.start(port, "GET", "/mcp",
                  {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", kLegacy}, {"Last-Event-ID", ids[2]}});
    INFO(resumed.describe());
    REQUIRE(resumed.wait_head(10s));
    CHECK(resumed.status() == 200);
    auto e4 = resumed.next_event(10s), e5 = resumed.next_event(10s);
    REQUIRE(e4);
    REQUIRE(e5);
    CHECK(e4->id == ids[3]);
    CHECK(e5->id == ids[4]);
  }
  REQUIRE(streams_end());
  // From the first: the second and third were dropped, so a fresh stream (a new id) begins.
  RawHttp fresh;
  fresh.start(port, "GET", "/mcp",
              {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", kLegacy}, {"Last-Event-ID", ids[0]}});
  INFO(fresh.describe());
  REQUIRE(fresh.wait_head(10s));
  CHECK(fresh.status() == 200);
  auto first = fresh.next_event(10s);
  REQUIRE(first);
  CHECK(priming_event(*first));
  CHECK(first->id->substr(0, first->id->rfind(':')) != stream_id);
  srv.core().notify_list_changed("tools");
  auto live = fresh.next_event(10s);
  REQUIRE(live);
  CHECK(live->json().value_or(Json()).value("method", "") == "notifications/tools/list_changed");
}

TEST_CASE("http modern: a stateless tools/call with the standard headers succeeds", "[http][modern]") {
  TestHttpServer srv;
  int port = srv.port();
  Reply r = modern_post(port, echo_call(11, "hello modern"), modern_headers("tools/call", "echo"));
  check_echo_ok(r, 11, "hello modern", true);
  INFO(r.describe());
  CHECK_FALSE(r.has_header("Mcp-Session-Id"));  // no sessions in 2026-07-28

  Reply list = modern_post(port, rpc::make_request(12, "tools/list", modern_params()), modern_headers("tools/list"));
  {
    INFO(list.describe());
    CHECK(list.status == 200);
    Json resp = list.response();
    REQUIRE(resp.is_object());
    CHECK(resp["result"].value("resultType", "") == "complete");
    CHECK(resp["result"]["tools"].is_array());
  }

  Reply disc = modern_post(port, rpc::make_request(13, "server/discover", modern_params()), modern_headers("server/discover"));
  {
    INFO(disc.describe());
    CHECK(disc.status == 200);
    Json resp = disc.response();
    REQUIRE(resp.is_object());
    CHECK(resp["result"]["supportedVersions"].is_array());
  }
}

TEST_CASE("http modern: Mcp-Method / Mcp-Name validation (-32020), OWS and header-name case", "[http][modern]") {
  TestHttpServer srv;
  int port = srv.port();

  SECTION("Mcp-Method that does not match the body") {
    check_rpc_error(modern_post(port, echo_call(21), modern_headers("tools/list", "echo")), 400, rpc::kHeaderMismatch, 21);
    check_rpc_error(modern_post(port, rpc::make_request(22, "tools/list", modern_params()), modern_headers("prompts/list")), 400,
                    rpc::kHeaderMismatch, 22);
    // Values are case-sensitive.
    check_rpc_error(modern_post(port, rpc::make_request(23, "tools/list", modern_params()), modern_headers("TOOLS/LIST")), 400,
                    rpc::kHeaderMismatch, 23);
  }
  SECTION("Mcp-Method missing") {
    httplib::Headers h{{"MCP-Protocol-Version", kModern}, {"Mcp-Name", "echo"}};
    check_rpc_error(modern_post(port, echo_call(24), h), 400, rpc::kHeaderMismatch, 24);
    check_rpc_error(modern_post(port, rpc::make_request(25, "tools/list", modern_params()), {{"MCP-Protocol-Version", kModern}}), 400,
                    rpc::kHeaderMismatch, 25);
  }
  SECTION("Mcp-Name missing on tools/call") {
    check_rpc_error(modern_post(port, echo_call(26), modern_headers("tools/call")), 400, rpc::kHeaderMismatch, 26);
  }
  SECTION("Mcp-Name that does not match params.name") {
    check_rpc_error(modern_post(port, echo_call(27), modern_headers("tools/call", "wrong_tool_name")), 400, rpc::kHeaderMismatch, 27);
  }
  SECTION("Mcp-Name with surrounding whitespace is accepted") {
    check_echo_ok(modern_post(port, echo_call(28, "ows"), modern_headers("tools/call", "  echo  ")), 28, "ows", true);
  }
  SECTION("lowercase and uppercase header names are accepted") {
    httplib::Headers lowercase{{"mcp-protocol-version", kModern}, {"mcp-method", "tools/call"}, {"mcp-name", "echo"},
                               {"content-type", "application/json"}, {"accept", kAcceptBoth}};
    check_echo_ok(modern_post(port, echo_call(29, "lower"), lowercase), 29, "lower", true);
    httplib::Headers upper{{"MCP-PROTOCOL-VERSION", kModern}, {"MCP-METHOD", "tools/call"}, {"MCP-NAME", "echo"}};
    check_echo_ok(modern_post(port, echo_call(30, "upper"), upper), 30, "upper", true);
  }
  SECTION("the server keeps serving after rejections") {
    check_rpc_error(modern_post(port, echo_call(31), modern_headers("tools/call")), 400, rpc::kHeaderMismatch, 31);
    check_echo_ok(modern_post(port, echo_call(32, "after"), modern_headers("tools/call", "echo")), 32, "after", true);
  }
}

TEST_CASE("http modern: version and _meta errors map to 400 with -32020 / -32022 / -32602, unknown methods to 404", "[http][modern]") {
  TestHttpServer srv;
  int port = srv.port();

  SECTION("header version differs from _meta version: -32020") {
    // The header is a supported version; _meta names another: mismatch, checked before support.
    check_rpc_error(modern_post(port, echo_call(41, "x", modern_meta(Json::object(), "v999.0.0")), modern_headers("tools/call", "echo")),
                    400, rpc::kHeaderMismatch, 41);
    check_rpc_error(modern_post(port, echo_call(42), modern_headers("tools/call", "echo", kLegacy)), 400, rpc::kHeaderMismatch, 42);
  }
  SECTION("unsupported version: -32022 naming the supported ones") {
    Reply r = modern_post(port, echo_call(43, "x", modern_meta(Json::object(), "v999.0.0")), modern_headers("tools/call", "echo", "v999.0.0"));
    check_rpc_error(r, 400, rpc::kUnsupportedProtocolVersion, 43);
    INFO(r.describe());
    Json resp = r.response();
    if (resp.is_object() && resp.contains("error")) {
      Json data = resp["error"].value("data", Json());
      CHECK(data.is_object());
      if (data.is_object()) {
        CHECK(data.value("requested", "") == "v999.0.0");
        CHECK(data.value("supported", Json()).is_array());
        bool has_modern = false;
        if (data.value("supported", Json()).is_array())
          for (auto& v : data["supported"]) has_modern |= v == kModern;
        CHECK(has_modern);
      }
    }
  }
  SECTION("_meta without clientCapabilities: -32602") {
    Json meta = modern_meta();
    meta.erase("io.modelcontextprotocol/clientCapabilities");
    check_rpc_error(modern_post(port, echo_call(44, "x", meta), modern_headers("tools/call", "echo")), 400, rpc::kInvalidParams, 44);
  }
  SECTION("no _meta at all, header 2026-07-28: -32602") {
    check_rpc_error(modern_post(port, rpc::make_request(45, "server/discover", Json::object()), modern_headers("server/discover")), 400,
                    rpc::kInvalidParams, 45);
  }
  SECTION("_meta without clientInfo is fine") {
    Json meta = modern_meta();
    meta.erase("io.modelcontextprotocol/clientInfo");
    check_echo_ok(modern_post(port, echo_call(46, "no info", meta), modern_headers("tools/call", "echo")), 46, "no info", true);
  }
  SECTION("unknown or removed methods: 404 + -32601") {
    check_rpc_error(modern_post(port, rpc::make_request(47, "unknown/method", modern_params()), modern_headers("unknown/method")), 404,
                    rpc::kMethodNotFound, 47);
    check_rpc_error(modern_post(port, rpc::make_request(48, "ping", modern_params()), modern_headers("ping")), 404, rpc::kMethodNotFound, 48);
    check_rpc_error(modern_post(port, rpc::make_request("str-id", "initialize", modern_params()), modern_headers("initialize")), 404,
                    rpc::kMethodNotFound, "str-id");
  }
  SECTION("malformed JSON: 400 + -32700") {
    Request r;
    r.body = "{\"jsonrpc\":\"2.0\",\"id\":1,";
    r.headers = modern_headers("tools/list");
    r.headers.emplace("Content-Type", "application/json");
    r.headers.emplace("Accept", kAcceptBoth);
    Reply rep = request(port, r);
    INFO(rep.describe());
    CHECK(rep.status == 400);
    Json resp = rep.response();
    CHECK(resp.is_object());
    if (resp.is_object()) CHECK(resp["error"].value("code", 0) == rpc::kParseError);
  }
}

TEST_CASE("http modern: progress notifications go on the POST's SSE stream before the response", "[http][modern][sse]") {
  TestHttpServer srv;
  int port = srv.port();
  Json meta = modern_meta();
  meta["progressToken"] = "p-modern";
  Json call = rpc::make_request(51, "tools/call", modern_params(Json{{"name", "test_progress"}, {"arguments", Json::object()}}, meta));
  Reply r = modern_post(port, call, modern_headers("tools/call", "test_progress"));
  INFO(r.describe());
  CHECK(r.status == 200);
  REQUIRE(r.is_sse());
  auto msgs = r.messages();
  REQUIRE(msgs.size() == 4);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(msgs[i].value("method", "") == "notifications/progress");
    CHECK(msgs[i]["params"].value("progressToken", "") == "p-modern");
  }
  CHECK(msgs[3].value("id", Json()) == 51);
  CHECK(msgs[3]["result"].value("resultType", "") == "complete");
}

TEST_CASE("http modern: closing the SSE response stream cancels the request", "[http][modern][sse][cancel]") {
  Gate g;
  TestHttpServer srv({}, [&](Server& s) { s.tools().add(until_cancelled_tool(g)); });
  int port = srv.port();
  Json meta = modern_meta();
  meta["progressToken"] = "c-1";
  Json call = rpc::make_request(55, "tools/call", modern_params(Json{{"name", "test_until_cancelled"}, {"arguments", Json::object()}}, meta));
  RawHttp post;
  REQUIRE(post.start(port, "POST", "/mcp",
                     {{"Content-Type", "application/json"}, {"Accept", kAcceptBoth}, {"MCP-Protocol-Version", kModern},
                      {"Mcp-Method", "tools/call"}, {"Mcp-Name", "test_until_cancelled"}},
                     call.dump()));
  {
    INFO(post.describe());
    REQUIRE(post.wait_head(5s));
    CHECK(post.status() == 200);
    auto e = post.next_event(5s);
    REQUIRE(e);
    auto j = e->json();
    REQUIRE(j);
    CHECK(j->value("method", "") == "notifications/progress");
  }
  post.close();
  CHECK(g.wait(&Gate::saw_cancel, 3s));
  CHECK(g.wait(&Gate::finished, 3s));
}

TEST_CASE("http legacy: a dropped POST stream is not a cancellation, notifications/cancelled is", "[http][legacy][sse][cancel]") {
  Gate g;
  TestHttpServer srv({}, [&](Server& s) { s.tools().add(until_cancelled_tool(g)); });
  int port = srv.port();
  std::string sid = open_session(port);
  Json call = rpc::make_request(56, "tools/call", Json{{"name", "test_until_cancelled"}, {"arguments", Json::object()}, {"_meta", {{"progressToken", "c-2"}}}});
  RawHttp post;
  REQUIRE(post.start(port, "POST", "/mcp",
                     {{"Content-Type", "application/json"}, {"Accept", kAcceptBoth}, {"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", kLegacy}},
                     call.dump()));
  {
    INFO(post.describe());
    REQUIRE(post.wait_head(5s));
    CHECK(post.status() == 200);
    REQUIRE(post.next_event(5s));
  }
  post.close();
  // The 2025-11-25 transport: "Disconnection SHOULD NOT be interpreted as the client cancelling".
  CHECK_FALSE(g.wait(&Gate::saw_cancel, 500ms));
  Reply r = legacy_post(port, rpc::make_notification("notifications/cancelled", Json{{"requestId", 56}, {"reason", "test"}}), sid);
  {
    INFO(r.describe());
    CHECK(r.status == 202);
  }
  CHECK(g.wait(&Gate::saw_cancel, 3s));
  CHECK(g.wait(&Gate::finished, 3s));
}

// ---- Security and limits ----------------------------------------------------------------------

TEST_CASE("http security: foreign Origin 403, foreign Host 4xx, localhost Origin accepted, serving continues", "[http][security]") {
  TestHttpServer srv;
  int port = srv.port();
  auto valid = [&](int id) {
    check_echo_ok(modern_post(port, echo_call(id, "still here"), modern_headers("tools/call", "echo")), id, "still here", true);
  };

  {
    auto h = modern_headers("tools/call", "echo");
    h.emplace("Origin", "http://evil.example.com");
    Reply r = modern_post(port, echo_call(61), h);
    INFO(r.describe());
    CHECK(r.status == 403);
  }
  valid(62);
  {
    // The legacy path too: a rebinding page can't open a session.
    Reply r = legacy_post(port, init_request(63), "", "", {{"Origin", "http://evil.example.com"}});
    INFO(r.describe());
    CHECK(r.status == 403);
    CHECK_FALSE(r.has_header("Mcp-Session-Id"));
  }
  valid(64);
  {
    auto h = modern_headers("tools/call", "echo");
    h.emplace("Host", "evil.example.com");
    Reply r = modern_post(port, echo_call(65), h);
    INFO(r.describe());
    CHECK(r.status >= 400);
    CHECK(r.status < 500);
  }
  {
    auto h = modern_headers("tools/call", "echo");
    h.emplace("Host", "evil.example.com");
    h.emplace("Origin", "http://evil.example.com");
    Reply r = modern_post(port, echo_call(66), h);
    INFO(r.describe());
    CHECK(r.status >= 400);
    CHECK(r.status < 500);
  }
  valid(67);
  {
    auto h = modern_headers("tools/call", "echo");
    h.emplace("Origin", "http://localhost:" + std::to_string(port));
    check_echo_ok(modern_post(port, echo_call(68, "local origin"), h), 68, "local origin", true);
  }
  {
    auto h = modern_headers("tools/call", "echo");
    h.emplace("Origin", "http://127.0.0.1:" + std::to_string(port));
    check_echo_ok(modern_post(port, echo_call(69, "loopback origin"), h), 69, "loopback origin", true);
  }
  {
    auto h = modern_headers("tools/call", "echo");
    h.emplace("Host", "localhost:" + std::to_string(port));
    check_echo_ok(modern_post(port, echo_call(70, "localhost host"), h), 70, "localhost host", true);
  }
  {
    // Legacy initialize with a valid Host and Origin (the conformance dns-rebinding probe).
    Reply r = legacy_post(port, init_request(71), "", "",
                          {{"Origin", "http://127.0.0.1:" + std::to_string(port)}, {"Host", "127.0.0.1:" + std::to_string(port)}});
    INFO(r.describe());
    CHECK(r.status == 200);
  }
}

TEST_CASE("http limits: a body over 4 MiB is 413 and the server keeps serving", "[http][limits]") {
  TestHttpServer srv;
  int port = srv.port();

  std::string big = echo_call(81, std::string(4 * 1024 * 1024 + 1024, 'x')).dump();
  RawHttp raw;
  // Head first, then the body while reading: the server may answer before reading it all.
  REQUIRE(raw.start(port, "POST", "/mcp",
                    {{"Content-Type", "application/json"},
                     {"Accept", kAcceptBoth},
                     {"MCP-Protocol-Version", kModern},
                     {"Mcp-Method", "tools/call"},
                     {"Mcp-Name", "echo"},
                     {"Content-Length", std::to_string(big.size())}},
                    {}));
  raw.send_all(big, Clock::now() + 20s, /*stop_on_response=*/true);
  {
    INFO(raw.describe());
    REQUIRE(raw.wait_head(10s));
    CHECK(raw.status() == 413);
  }
  raw.close();

  // A little under the limit is fine.
  {
    Reply r = modern_post(port, echo_call(82, std::string(1024 * 1024, 'y')), modern_headers("tools/call", "echo"));
    INFO("(1 MiB echo)");
    CHECK(r.status == 200);
  }
  check_echo_ok(modern_post(port, echo_call(83, "small"), modern_headers("tools/call", "echo")), 83, "small", true);
}

TEST_CASE("http: a method other than GET/POST/DELETE on the endpoint is 405", "[http]") {
  TestHttpServer srv;
  int port = srv.port();
  Request put;
  put.method = "PUT";
  put.body = echo_call(91).dump();
  put.headers = modern_headers("tools/call", "echo");
  put.headers.emplace("Content-Type", "application/json");
  put.headers.emplace("Accept", kAcceptBoth);
  Reply r = request(port, put);
  INFO(r.describe());
  CHECK(r.status == 405);
  check_echo_ok(modern_post(port, echo_call(92, "ok"), modern_headers("tools/call", "echo")), 92, "ok", true);
}

// ---- Legacy HTTP+SSE (2024-11-05) -------------------------------------------------------------

TEST_CASE("http+sse (2024-11-05): endpoint event, POSTs answered 202, replies as message events", "[http][sse][legacy-sse]") {
  TestHttpServer srv;
  int port = srv.port();

  RawHttp sse = open_sse_endpoint(port);
  {
    INFO(sse.describe());
    REQUIRE(sse.wait_head(5s));
    CHECK(sse.status() == 200);
    CHECK(lower(sse.header("Content-Type")).rfind("text/event-stream", 0) == 0);
  }
  std::optional<SseEvent> endpoint;
  for (int i = 0; i < 3 && !endpoint; ++i) {  // tolerate a leading comment-only or priming block
    auto e = sse.next_event(5s);
    if (!e) break;
    if (e->event == "endpoint") endpoint = e;
  }
  std::string url;
  {
    INFO(sse.describe());
    REQUIRE(endpoint);
    REQUIRE(endpoint->data);
    url = *endpoint->data;
    CHECK(url.rfind("/messages?sessionId=", 0) == 0);
    CHECK(url.size() > std::string("/messages?sessionId=").size());
  }

  auto post = [&](const Json& msg) {
    Request r;
    r.path = url;
    r.body = msg.dump();
    r.headers = {{"Content-Type", "application/json"}, {"Accept", kAcceptBoth}};
    return request(port, r);
  };
  auto message_with_id = [&](const Json& id) -> std::optional<Json> {
    for (int i = 0; i < 10; ++i) {
      auto e = sse.next_event(5s);
      if (!e) return std::nullopt;
      auto j = e->json();
      if (j && j->value("id", Json()) == id && !j->contains("method")) {
        CHECK(e->event == "message");
        return j;
      }
    }
    return std::nullopt;
  };

  {
    Reply r = post(init_request(1, "2024-11-05"));
    INFO(r.describe());
    CHECK(r.status == 202);
  }
  {
    auto reply = message_with_id(1);
    INFO(sse.describe());
    REQUIRE(reply);
    CHECK((*reply)["result"].value("protocolVersion", "") == "2024-11-05");
  }
  {
    Reply r = post(rpc::make_notification("notifications/initialized", nullptr));
    INFO(r.describe());
    CHECK(r.status == 202);
  }
  {
    Reply r = post(rpc::make_request(2, "tools/call", Json{{"name", "echo"}, {"arguments", {{"text", "over sse"}}}}));
    INFO(r.describe());
    CHECK(r.status == 202);
  }
  {
    auto reply = message_with_id(2);
    INFO(sse.describe());
    REQUIRE(reply);
    CHECK((*reply)["result"]["content"][0].value("text", "") == "over sse");
  }
  {
    // An unknown sessionId on /messages is refused.
    Request r;
    r.path = "/messages?sessionId=no-such-session";
    r.body = rpc::make_request(3, "ping", nullptr).dump();
    r.headers = {{"Content-Type", "application/json"}};
    Reply rep = request(port, r);
    INFO(rep.describe());
    CHECK(rep.status >= 400);
    CHECK(rep.status < 500);
  }
}

// ---- Concurrency and shutdown -------------------------------------------------------------------

TEST_CASE("http concurrency: 300 open SSE streams while 1,000 POSTs from 8 clients all succeed", "[http][concurrency]") {
  TestHttpServer srv;
  int port = srv.port();
  auto t_start = Clock::now();

  constexpr int kGetStreams = 150, kSseStreams = 150, kThreads = 8, kPerThread = 125;
  auto ms_since = [](Clock::time_point t) { return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count(); };
  std::string phases;  // how long each phase took, for the report
  auto t_phase = Clock::now();
  std::vector<std::string> sessions;
  for (int i = 0; i < kGetStreams; ++i) sessions.push_back(open_session(port));
  phases += "sessions " + std::to_string(ms_since(t_phase)) + " ms; ";
  t_phase = Clock::now();

  // Streams are opened one after another, each established (200 and its first event: priming or
  // endpoint) before the next: a burst of simultaneous connects would measure the listen backlog.
  std::vector<RawHttp> streams(kGetStreams + kSseStreams);
  auto deadline = Clock::now() + 30s;
  int established = 0;
  for (int i = 0; i < kGetStreams + kSseStreams; ++i) {
    streams[i] = i < kGetStreams ? open_get_stream(port, sessions[i]) : open_sse_endpoint(port);
    auto left = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()), 100ms);
    bool ok = streams[i].fd() >= 0 && streams[i].wait_head(left) && streams[i].status() == 200 && streams[i].next_event(left).has_value();
    if (!ok) {
      INFO("stream " << i << "\n" << streams[i].describe());
      CHECK(ok);
      break;
    }
    ++established;
  }
  REQUIRE(established == kGetStreams + kSseStreams);
  phases += "streams " + std::to_string(ms_since(t_phase)) + " ms; ";
  t_phase = Clock::now();

  std::atomic<int> ok{0};
  std::mutex fail_m;
  std::vector<std::string> failures;
  std::atomic<int> failure_count{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);  // the client writes head and body separately: no Nagle delay
      cli.set_connection_timeout(5, 0);
      cli.set_read_timeout(15, 0);
      for (int i = 0; i < kPerThread; ++i) {
        int id = t * 1000 + i;
        bool modern = i % 2 == 0;
        httplib::Headers h{{"Accept", kAcceptBoth}};
        Json body;
        if (modern) {
          h.emplace("MCP-Protocol-Version", kModern);
          h.emplace("Mcp-Method", "tools/call");
          h.emplace("Mcp-Name", "echo");
          body = echo_call(id, "c" + std::to_string(id));
        } else {
          h.emplace("MCP-Protocol-Version", kLegacy);
          h.emplace("Mcp-Session-Id", sessions[(t * kPerThread + i) % kGetStreams]);
          body = rpc::make_request(id, "tools/call", Json{{"name", "echo"}, {"arguments", {{"text", "c" + std::to_string(id)}}}});
        }
        auto res = cli.Post("/mcp", h, body.dump(), "application/json");
        bool good = false;
        std::string why;
        if (!res) {
          why = "no response: " + httplib::to_string(res.error());
        } else if (res->status != 200) {
          why = "HTTP " + std::to_string(res->status) + ": " + clip(res->body, 300);
        } else {
          Reply rep;
          rep.status = res->status;
          rep.headers = res->headers;
          rep.body = res->body;
          Json resp = rep.response();
          good = resp.is_object() && resp.value("id", Json()) == id && resp.contains("result") &&
                 resp["result"]["content"][0].value("text", "") == "c" + std::to_string(id);
          if (!good) why = "bad body: " + clip(res->body, 300);
        }
        if (good) {
          ++ok;
        } else {
          ++failure_count;
          std::lock_guard l(fail_m);
          if (failures.size() < 5) failures.push_back((modern ? "modern " : "legacy ") + std::to_string(id) + ": " + why);
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  phases += "1000 POSTs " + std::to_string(ms_since(t_phase)) + " ms; ";
  t_phase = Clock::now();
  {
    std::string f;
    for (auto& s : failures) f += s + "\n";
    INFO("first failures:\n" << f);
    CHECK(failure_count.load() == 0);
    CHECK(ok.load() == kThreads * kPerThread);
  }

  // The streams are all still open, and the session streams still deliver.
  int open = 0;
  for (auto& s : streams) open += s.still_open();
  CHECK(open == kGetStreams + kSseStreams);
  srv.core().notify_list_changed("tools");
  int delivered = 0;
  deadline = Clock::now() + 20s;
  for (int i = 0; i < kGetStreams; ++i) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      auto e = streams[i].next_event(std::max(left, 50ms));
      if (!e) break;
      if (auto j = e->json(); j && j->value("method", "") == "notifications/tools/list_changed") {
        ++delivered;
        break;
      }
    }
  }
  CHECK(delivered == kGetStreams);
  phases += "notify " + std::to_string(ms_since(t_phase)) + " ms";
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t_start);
  INFO("took " << elapsed.count() << " ms: " << phases);
  CHECK(elapsed < 45s);
}

TEST_CASE("http concurrency: a burst of 32 simultaneous connections is accepted at once", "[http][concurrency][burst]") {
  // Clients that open several connections at the same moment (a browser, a pooled HTTP client,
  // many agents starting together) must not wait for SYN retransmissions (1 s, then 3 s, ...)
  // because the listen queue overflowed.
  TestHttpServer srv;
  int port = srv.port();
  constexpr int kBurst = 32;
  std::vector<RawHttp> streams(kBurst);
  auto t0 = Clock::now();
  for (auto& s : streams) s = open_sse_endpoint(port);  // back to back, no reads in between
  auto connected = Clock::now() - t0;
  int established = 0;
  for (auto& s : streams) established += s.wait_head(10s) && s.status() == 200 && s.next_event(10s).has_value();
  auto all = Clock::now() - t0;
  INFO(kBurst << " connects took " << std::chrono::duration_cast<std::chrono::milliseconds>(connected).count()
              << " ms; all streams established after " << std::chrono::duration_cast<std::chrono::milliseconds>(all).count() << " ms");
  CHECK(established == kBurst);
  CHECK(all < 2s);
}

TEST_CASE("http shutdown: with 50 SSE streams open, stop() returns and run() exits within 2 s", "[http][shutdown]") {
  TestHttpServer srv;
  int port = srv.port();
  std::vector<RawHttp> streams;
  for (int i = 0; i < 25; ++i) streams.push_back(open_get_stream(port, open_session(port)));
  for (int i = 0; i < 25; ++i) streams.push_back(open_sse_endpoint(port));
  for (auto& s : streams) {
    INFO(s.describe());
    REQUIRE(s.wait_head(10s));
    REQUIRE(s.status() == 200);
    REQUIRE(s.next_event(10s));
  }

  auto t0 = Clock::now();
  srv.http().stop();
  auto stop_took = Clock::now() - t0;
  bool exited = srv.wait_done(5s);
  auto run_took = Clock::now() - t0;
  INFO("stop() took " << std::chrono::duration_cast<std::chrono::milliseconds>(stop_took).count() << " ms; run() "
                      << (exited ? "returned after " : "had not returned after ")
                      << std::chrono::duration_cast<std::chrono::milliseconds>(run_took).count()
                      << " ms (the clients keep their connections open, as HTTP/1.1 clients do)");
  CHECK(stop_took < 2s);
  CHECK(exited);
  CHECK(run_took < 2s);
  CHECK(srv.run_error().empty());

  // Every stream was closed by the server.
  int closed = 0;
  for (auto& s : streams) closed += s.wait_end(2s);
  CHECK(closed == 50);
}
