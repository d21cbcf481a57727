// Tasks in both eras, driven with no sockets: the 2026-07-28 io.modelcontextprotocol/tasks
// extension (with the tool names and flows of the official conformance suite) and the
// 2025-11-25 experimental tasks utility, whose messages are validated against that revision's
// official schema.
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "support/harness.hpp"
#include "support/spec_validator.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

std::atomic<int64_t> g_next_id{1};
int64_t next_id() { return g_next_id++; }

int error_code(const Json& reply) { return reply.contains("error") ? reply["error"]["code"].get<int>() : 0; }

// What the fixture tools saw.
struct Probe {
  std::atomic<bool> started{false}, saw_cancel{false}, finished{false};
};

Json object_schema(Json properties = Json::object()) { return Json{{"type", "object"}, {"properties", std::move(properties)}}; }

Json form(const std::string& message, Json properties) {
  return Json{{"mode", "form"}, {"message", message}, {"requestedSchema", {{"type", "object"}, {"properties", std::move(properties)}}}};
}

// The conformance suite's task fixtures (SEP-2663 scenarios), plus a progress reporter.
void add_task_tools(Server& s, std::shared_ptr<Probe> probe) {
  ToolDefinition greet;
  greet.name = "greet";
  greet.input_schema = object_schema({{"name", {{"type", "string"}}}});
  greet.handler = [](const Json& a, RequestContext&) { return ToolResult::text("Hello, " + a.value("name", "") + "!"); };
  s.tools().add(std::move(greet));

  ToolDefinition slow;
  slow.name = "slow_compute";
  slow.input_schema = object_schema({{"seconds", {{"type", "number"}}}, {"label", {{"type", "string"}}}});
  slow.task_support = TaskSupport::Optional;
  slow.handler = [probe](const Json& a, RequestContext& ctx) {
    probe->started = true;
    if (ctx.cancel().wait_for(std::chrono::duration<double>(a.value("seconds", 0.0)))) {
      probe->saw_cancel = true;
      return ToolResult::text("stopped early");  // a cancelled task must stay cancelled anyway
    }
    probe->finished = true;
    return ToolResult::text("computed " + a.value("label", "result"));
  };
  s.tools().add(std::move(slow));

  ToolDefinition failing;
  failing.name = "failing_job";
  failing.input_schema = object_schema();
  failing.task_support = TaskSupport::Required;
  failing.handler = [](const Json&, RequestContext&) -> ToolResult { throw ToolError("the job failed: disk full"); };
  s.tools().add(std::move(failing));

  ToolDefinition protocol_error;
  protocol_error.name = "protocol_error_job";
  protocol_error.input_schema = object_schema();
  protocol_error.task_support = TaskSupport::Optional;
  protocol_error.handler = [](const Json&, RequestContext&) -> ToolResult {
    throw rpc::Error(rpc::kInvalidParams, "the job's parameters were refused downstream", Json{{"reason", "test"}});
  };
  s.tools().add(std::move(protocol_error));

  ToolDefinition confirm;
  confirm.name = "confirm_delete";
  confirm.input_schema = object_schema({{"filename", {{"type", "string"}}}});
  confirm.task_support = TaskSupport::Optional;
  confirm.handler = [](const Json& a, RequestContext& ctx) {
    auto file = a.value("filename", "file");
    auto answer = ctx.input("confirm", "elicitation/create", form("Delete " + file + "?", {{"confirm", {{"type", "boolean"}}}}));
    bool yes = answer.value("action", "") == "accept" && answer["content"].value("confirm", false);
    return ToolResult::text(yes ? "Deleted " + file : "Kept " + file);
  };
  s.tools().add(std::move(confirm));

  ToolDefinition multi;
  multi.name = "multi_input";
  multi.input_schema = object_schema();
  multi.task_support = TaskSupport::Optional;
  multi.handler = [](const Json&, RequestContext& ctx) {
    auto all = ctx.inputs({InputRequest{"first", "elicitation/create", form("First?", {{"name", {{"type", "string"}}}})},
                           InputRequest{"second", "elicitation/create", form("Second?", {{"name", {{"type", "string"}}}})}});
    return ToolResult::text(all["first"]["content"].value("name", "?") + "+" + all["second"]["content"].value("name", "?"));
  };
  s.tools().add(std::move(multi));

  // Multi-round-trip input first, synchronously; then the rest as a task.
  ToolDefinition mrtr;
  mrtr.name = "test_tool_with_task";
  mrtr.input_schema = object_schema();
  mrtr.task_support = TaskSupport::Optional;
  mrtr.defers_task = true;
  mrtr.handler = [probe](const Json&, RequestContext& ctx) {
    auto answer = ctx.input("user_name", "elicitation/create", form("What is your name?", {{"name", {{"type", "string"}}}}));
    std::string name = answer["content"].value("name", "nobody");
    return ToolResult::deferred([name, probe](RequestContext& task) {
      probe->started = true;
      task.cancel().wait_for(20ms);
      return ToolResult::text("Hello, " + name + ", from a task");
    });
  };
  s.tools().add(std::move(mrtr));

  ToolDefinition steps;
  steps.name = "steps";
  steps.input_schema = object_schema();
  steps.task_support = TaskSupport::Optional;
  steps.handler = [](const Json&, RequestContext& ctx) {
    ctx.progress(1, 2, "half");
    ctx.log(LogLevel::Info, "working on it");
    ctx.progress(2, 2, "done");
    return ToolResult::text("two steps");
  };
  s.tools().add(std::move(steps));
}

struct Fixture {
  std::shared_ptr<Probe> probe = std::make_shared<Probe>();
  std::unique_ptr<Server> server;
  explicit Fixture(ServerOptions o = {}) : server(builtin_server(std::move(o))) { add_task_tools(*server, probe); }
};

// ---- 2026-07-28 helpers ---------------------------------------------------------------------

Json with_extension(Json caps = Json::object()) {
  caps["extensions"]["io.modelcontextprotocol/tasks"] = Json::object();
  return caps;
}

Json modern_params(Json params, const Json& caps) {
  params["_meta"] = modern_meta(caps);
  return params;
}

Json call(Client& c, const std::string& tool, Json args, const Json& caps) {
  return c.request(next_id(), "tools/call", modern_params(Json{{"name", tool}, {"arguments", std::move(args)}}, caps));
}

Json task_request(Client& c, const std::string& method, const std::string& task_id, const Json& caps, Json extra = Json::object()) {
  extra["taskId"] = task_id;
  return c.request(next_id(), method, modern_params(std::move(extra), caps));
}

// Polls tasks/get until pred holds (bounded); the last reply.
template <class Pred>
Json poll(Client& c, const std::string& task_id, const Json& caps, Pred pred, std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  Json r;
  do {
    r = task_request(c, "tasks/get", task_id, caps);
    if (r.contains("result") && pred(r["result"])) return r;
    std::this_thread::sleep_for(10ms);
  } while (std::chrono::steady_clock::now() < deadline);
  return r;
}

bool is_terminal(const Json& task) {
  auto s = task.value("status", "");
  return s == "completed" || s == "failed" || s == "cancelled";
}

std::set<std::string> keys(const Json& obj) {
  std::set<std::string> out;
  for (auto& [k, _] : obj.items()) out.insert(k);
  return out;
}

const SpecSchema& modern_spec() { return SpecSchema::get("2026-07-28"); }
const SpecSchema& legacy_spec() { return SpecSchema::get("2025-11-25"); }

}  // namespace

// ================================ 2026-07-28: the tasks extension ============================

TEST_CASE("tasks extension: advertised in server/discover only, execution only for 2025-11-25", "[tasks][modern]") {
  Fixture f;
  Client c(*f.server);
  auto d = c.request(next_id(), "server/discover", Json{{"_meta", modern_meta()}});
  CHECK(d["result"]["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"] == Json::object());
  CHECK_FALSE(d["result"]["capabilities"].contains("tasks"));
  CHECK(modern_spec().validate(d["result"], "DiscoverResult") == "");
  auto tools = c.request(next_id(), "tools/list", Json{{"_meta", modern_meta()}});
  for (const auto& t : tools["result"]["tools"]) CHECK_FALSE(t.contains("execution"));

  SECTION("a server without task tools advertises nothing") {
    auto plain = builtin_server();
    Client p(*plain);
    auto r = p.request(next_id(), "server/discover", Json{{"_meta", modern_meta()}});
    CHECK_FALSE(r["result"]["capabilities"].contains("extensions"));
  }
}

TEST_CASE("tasks extension: lifecycle of a task that completes", "[tasks][modern]") {
  Fixture f;
  Client c(*f.server);
  const Json caps = with_extension(Json{{"elicitation", Json::object()}, {"sampling", Json::object()}});

  auto sync = call(c, "greet", {{"name", "World"}}, caps);
  CHECK(sync["result"]["resultType"] == "complete");
  CHECK(sync["result"]["content"][0]["text"] == "Hello, World!");
  CHECK_FALSE(sync["result"].contains("taskId"));

  auto created = call(c, "slow_compute", {{"seconds", 0.2}, {"label", "pi"}}, caps);
  const Json& ct = created["result"];
  INFO(dump(created));
  CHECK(ct["resultType"] == "task");
  CHECK(ct["status"] == "working");
  CHECK(keys(ct) == std::set<std::string>{"resultType", "taskId", "status", "createdAt", "lastUpdatedAt", "ttlMs", "pollIntervalMs", "_meta"});
  CHECK(ct["ttlMs"].is_number_integer());
  CHECK(ct["ttlMs"].get<int64_t>() > 0);
  CHECK(ct["pollIntervalMs"].get<int64_t>() > 0);
  CHECK(ct["createdAt"].get<std::string>().size() == 24);  // 2026-08-01T12:00:00.000Z
  CHECK(ct["createdAt"].get<std::string>().back() == 'Z');
  const std::string id = ct["taskId"];
  CHECK(id.size() >= 22);

  // Durable at once: an immediate tasks/get resolves.
  auto first = task_request(c, "tasks/get", id, caps);
  REQUIRE(first.contains("result"));
  CHECK(first["result"]["taskId"] == id);
  CHECK(first["result"]["resultType"] == "complete");

  auto done = poll(c, id, caps, [](const Json& t) { return is_terminal(t); });
  const Json& t = done["result"];
  INFO(dump(done));
  CHECK(t["status"] == "completed");
  CHECK(t["resultType"] == "complete");
  CHECK(t["result"]["content"][0]["text"] == "computed pi");
  CHECK(t["result"]["resultType"] == "complete");
  CHECK(modern_spec().validate(t["result"], "CallToolResult") == "");
  CHECK_FALSE(t.contains("requestState"));
  CHECK_FALSE(t.contains("ttl"));
  CHECK_FALSE(t.contains("pollInterval"));
  CHECK_FALSE(t.contains("inputRequests"));
  CHECK_FALSE(t.contains("error"));
  CHECK_FALSE(t["result"].contains("_meta"));  // no related-task metadata in 2026-07-28
  CHECK(modern_spec().validate(done, "JSONRPCResultResponse") == "");

  // Still there after it ended (the ttl runs long after).
  CHECK(task_request(c, "tasks/get", id, caps)["result"]["status"] == "completed");
  // Cancelling an ended task is an ack, and changes nothing.
  auto ack = task_request(c, "tasks/cancel", id, caps);
  CHECK(keys(ack["result"]) == std::set<std::string>{"resultType", "_meta"});
  CHECK(ack["result"]["resultType"] == "complete");
  CHECK(task_request(c, "tasks/get", id, caps)["result"]["status"] == "completed");
}

TEST_CASE("tasks extension: tool errors complete, protocol errors fail", "[tasks][modern]") {
  Fixture f;
  Client c(*f.server);
  const Json caps = with_extension();

  auto job = call(c, "failing_job", Json::object(), caps);
  REQUIRE(job["result"]["resultType"] == "task");
  auto done = poll(c, job["result"]["taskId"], caps, is_terminal);
  CHECK(done["result"]["status"] == "completed");
  CHECK(done["result"]["result"]["isError"] == true);
  CHECK(done["result"]["result"]["content"][0]["text"] == "the job failed: disk full");
  CHECK_FALSE(done["result"].contains("error"));

  auto bad = call(c, "protocol_error_job", Json::object(), caps);
  REQUIRE(bad["result"]["resultType"] == "task");
  auto failed = poll(c, bad["result"]["taskId"], caps, is_terminal);
  INFO(dump(failed));
  CHECK(failed["result"]["status"] == "failed");
  CHECK(failed["result"]["error"]["code"] == rpc::kInvalidParams);
  CHECK(failed["result"]["error"]["message"] == "the job's parameters were refused downstream");
  CHECK(failed["result"]["error"]["data"]["reason"] == "test");
  CHECK_FALSE(failed["result"].contains("result"));
}

TEST_CASE("tasks extension: without the extension in the request's capabilities", "[tasks][modern]") {
  Fixture f;
  Client c(*f.server);
  const Json none = Json::object();

  SECTION("an optional task tool runs synchronously") {
    auto r = call(c, "slow_compute", {{"seconds", 0}}, none);
    CHECK(r["result"]["resultType"] == "complete");
    CHECK(r["result"]["content"][0]["text"] == "computed result");
  }
  SECTION("a required task tool is -32021 naming the extension") {
    auto r = call(c, "failing_job", Json::object(), none);
    CHECK(error_code(r) == rpc::kMissingRequiredClientCapability);
    CHECK(r["error"]["data"] == Json{{"requiredCapabilities", {{"extensions", {{"io.modelcontextprotocol/tasks", Json::object()}}}}}});
    CHECK(modern_spec().validate(r, "MissingRequiredClientCapabilityError") == "");
  }
  SECTION("tasks/get, tasks/update and tasks/cancel are -32021 with the required capability") {
    for (const char* m : {"tasks/get", "tasks/update", "tasks/cancel"}) {
      INFO(m);
      Json extra = std::string(m) == "tasks/update" ? Json{{"inputResponses", Json::object()}} : Json::object();
      auto r = task_request(c, m, "gate-test", none, extra);
      CHECK(error_code(r) == rpc::kMissingRequiredClientCapability);
      CHECK(r["error"]["data"]["requiredCapabilities"]["extensions"].contains("io.modelcontextprotocol/tasks"));
      CHECK(modern_spec().validate(r, "MissingRequiredClientCapabilityError") == "");
    }
  }
  SECTION("opting in on one request makes that call a task") {
    CHECK(call(c, "slow_compute", {{"seconds", 0}}, with_extension())["result"]["resultType"] == "task");
    CHECK(call(c, "slow_compute", {{"seconds", 0}}, none)["result"]["resultType"] == "complete");
  }
  SECTION("a 2025-11-25 style task param is ignored") {
    Json p = modern_params(Json{{"name", "greet"}, {"arguments", {{"name", "x"}}}, {"task", {{"ttl", 60000}, {"pollInterval", 100}}}}, with_extension());
    auto r = c.request(next_id(), "tools/call", p);
    CHECK(r["result"]["resultType"] == "complete");
    CHECK(r["result"]["content"][0]["text"] == "Hello, x!");
    Json q = modern_params(Json{{"name", "slow_compute"}, {"arguments", {{"seconds", 0}}}, {"task", {{"ttl", 60000}}}}, none);
    CHECK(c.request(next_id(), "tools/call", q)["result"]["resultType"] == "complete");
  }
}

TEST_CASE("tasks extension: removed methods, unknown ids", "[tasks][modern]") {
  Fixture f;
  Client c(*f.server);
  const Json caps = with_extension();
  CHECK(error_code(task_request(c, "tasks/result", "anything", caps)) == rpc::kMethodNotFound);
  CHECK(error_code(c.request(next_id(), "tasks/list", modern_params(Json::object(), caps))) == rpc::kMethodNotFound);
  for (const char* m : {"tasks/get", "tasks/cancel", "tasks/update"}) {
    INFO(m);
    Json extra = std::string(m) == "tasks/update" ? Json{{"inputResponses", Json::object()}} : Json::object();
    auto r = task_request(c, m, "tasks-conformance-nonexistent-12345", caps, extra);
    CHECK(error_code(r) == rpc::kInvalidParams);
  }
  CHECK(error_code(c.request(next_id(), "tasks/get", modern_params(Json::object(), caps))) == rpc::kInvalidParams);
}

TEST_CASE("tasks extension: cancellation reaches cancelled promptly and the body sees it", "[tasks][modern]") {
  Fixture f;
  Client c(*f.server);
  const Json caps = with_extension();
  auto created = call(c, "slow_compute", {{"seconds", 60}}, caps);
  const std::string id = created["result"]["taskId"];
  auto started = std::chrono::steady_clock::now();
  auto ack = task_request(c, "tasks/cancel", id, caps);
  CHECK(keys(ack["result"]) == std::set<std::string>{"resultType", "_meta"});
  auto t = poll(c, id, caps, is_terminal, 10s);
  CHECK(t["result"]["status"] == "cancelled");
  CHECK_FALSE(t["result"].contains("result"));
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  // The body wakes and stops; its late result does not undo the cancellation.
  for (int i = 0; i < 500 && !f.probe->saw_cancel; ++i) std::this_thread::sleep_for(10ms);
  CHECK(f.probe->saw_cancel);
  CHECK_FALSE(f.probe->finished);
  REQUIRE(f.server->wait_idle(5s));
  CHECK(task_request(c, "tasks/get", id, caps)["result"]["status"] == "cancelled");
  // Idempotent.
  CHECK(task_request(c, "tasks/cancel", id, caps)["result"]["resultType"] == "complete");
}

TEST_CASE("tasks extension: input_required, tasks/update, partial fulfilment", "[tasks][modern]") {
  Fixture f;
  Client c(*f.server);
  const Json caps = with_extension(Json{{"elicitation", Json::object()}});

  SECTION("one request: answered, the task resumes and completes") {
    auto created = call(c, "confirm_delete", {{"filename", "notes.txt"}}, caps);
    REQUIRE(created["result"]["resultType"] == "task");
    const std::string id = created["result"]["taskId"];
    auto waiting = poll(c, id, caps, [](const Json& t) { return t["status"] == "input_required"; }, 5s);
    const Json& t = waiting["result"];
    INFO(dump(waiting));
    REQUIRE(t["status"] == "input_required");
    REQUIRE(t["inputRequests"].size() == 1);
    const std::string key = t["inputRequests"].begin().key();
    CHECK(t["inputRequests"][key]["method"] == "elicitation/create");
    CHECK(modern_spec().validate(t["inputRequests"], "InputRequests") == "");
    CHECK_FALSE(t.contains("requestState"));

    // An unknown key is acked and ignored.
    auto ignored = task_request(c, "tasks/update", id, caps, Json{{"inputResponses", {{"unknown-key", {{"ignored", true}}}}}});
    CHECK(keys(ignored["result"]) == std::set<std::string>{"resultType", "_meta"});
    CHECK(task_request(c, "tasks/get", id, caps)["result"]["status"] == "input_required");

    // An answer that is not an object is refused.
    CHECK(error_code(task_request(c, "tasks/update", id, caps, Json{{"inputResponses", {{key, 12345}}}})) == rpc::kInvalidParams);
    CHECK(error_code(task_request(c, "tasks/update", id, caps, Json{{"inputResponses", nullptr}})) == rpc::kInvalidParams);

    auto ack = task_request(c, "tasks/update", id, caps,
                            Json{{"inputResponses", {{key, {{"action", "accept"}, {"content", {{"confirm", true}}}}}}}});
    CHECK(keys(ack["result"]) == std::set<std::string>{"resultType", "_meta"});
    auto done = poll(c, id, caps, is_terminal);
    CHECK(done["result"]["status"] == "completed");
    CHECK(done["result"]["result"]["content"][0]["text"] == "Deleted notes.txt");
  }

  SECTION("two requests: the task waits until both are answered") {
    auto created = call(c, "multi_input", Json::object(), caps);
    const std::string id = created["result"]["taskId"];
    auto waiting = poll(c, id, caps, [](const Json& t) { return t["status"] == "input_required"; }, 5s);
    REQUIRE(waiting["result"]["inputRequests"].size() == 2);
    auto ks = keys(waiting["result"]["inputRequests"]);
    const std::string k1 = *ks.begin(), k2 = *ks.rbegin();
    task_request(c, "tasks/update", id, caps,
                 Json{{"inputResponses", {{k1, {{"action", "accept"}, {"content", {{"name", "partial-1"}, {"confirm", true}}}}}}}});
    auto still = task_request(c, "tasks/get", id, caps);
    CHECK(still["result"]["status"] == "input_required");
    CHECK_FALSE(still["result"]["inputRequests"].contains(k1));
    CHECK(still["result"]["inputRequests"].contains(k2));
    // Answering k1 again is ignored; answering k2 completes it.
    task_request(c, "tasks/update", id, caps,
                 Json{{"inputResponses", {{k1, {{"action", "accept"}, {"content", {{"name", "again"}}}}},
                                          {k2, {{"action", "accept"}, {"content", {{"name", "partial-2"}}}}}}}});
    auto done = poll(c, id, caps, is_terminal);
    CHECK(done["result"]["status"] == "completed");
    auto text = done["result"]["result"]["content"][0]["text"].get<std::string>();
    CHECK(text == (k1 == "first" ? "partial-1+partial-2" : "partial-2+partial-1"));
  }

  SECTION("cancelled while waiting for input") {
    auto created = call(c, "confirm_delete", {{"filename", "x"}}, caps);
    const std::string id = created["result"]["taskId"];
    poll(c, id, caps, [](const Json& t) { return t["status"] == "input_required"; }, 5s);
    task_request(c, "tasks/cancel", id, caps);
    auto t = task_request(c, "tasks/get", id, caps);
    CHECK(t["result"]["status"] == "cancelled");
    CHECK_FALSE(t["result"].contains("inputRequests"));
    CHECK(f.server->wait_idle(5s));
  }

  SECTION("without the client capability the body fails with -32021") {
    auto created = call(c, "confirm_delete", {{"filename", "x"}}, with_extension());
    auto t = poll(c, created["result"]["taskId"], with_extension(), is_terminal);
    CHECK(t["result"]["status"] == "failed");
    CHECK(t["result"]["error"]["code"] == rpc::kMissingRequiredClientCapability);
  }
}

TEST_CASE("tasks extension: multi-round-trip input first, then a task", "[tasks][modern][mrtr]") {
  Fixture f;
  Client c(*f.server);
  const Json caps = with_extension(Json{{"elicitation", Json::object()}});
  Json params = modern_params(Json{{"name", "test_tool_with_task"}, {"arguments", Json::object()}}, caps);

  auto r1 = c.request(next_id(), "tools/call", params);
  INFO(dump(r1));
  REQUIRE(r1["result"]["resultType"] == "input_required");
  CHECK(r1["result"]["inputRequests"]["user_name"]["method"] == "elicitation/create");
  CHECK_FALSE(r1["result"].contains("taskId"));
  CHECK_FALSE(f.probe->started);

  Json p2 = params;
  p2["inputResponses"] = {{"user_name", {{"action", "accept"}, {"content", {{"name", "Alice"}}}}}};
  if (r1["result"].contains("requestState")) p2["requestState"] = r1["result"]["requestState"];

  SECTION("with the extension: the continuation becomes a task") {
    auto r2 = c.request(next_id(), "tools/call", p2);
    INFO(dump(r2));
    REQUIRE(r2["result"]["resultType"] == "task");
    CHECK_FALSE(r2["result"].contains("requestState"));
    CHECK_FALSE(r2["result"].contains("inputRequests"));
    auto done = poll(c, r2["result"]["taskId"], caps, is_terminal);
    CHECK(done["result"]["status"] == "completed");
    CHECK(done["result"]["result"]["content"][0]["text"].get<std::string>().find("Alice") != std::string::npos);
  }
  SECTION("without it: the continuation runs in the request") {
    Json none{{"elicitation", Json::object()}};
    Json q1 = modern_params(Json{{"name", "test_tool_with_task"}, {"arguments", Json::object()}}, none);
    auto s1 = c.request(next_id(), "tools/call", q1);
    REQUIRE(s1["result"]["resultType"] == "input_required");
    Json q2 = q1;
    q2["inputResponses"] = p2["inputResponses"];
    if (s1["result"].contains("requestState")) q2["requestState"] = s1["result"]["requestState"];
    auto s2 = c.request(next_id(), "tools/call", q2);
    CHECK(s2["result"]["resultType"] == "complete");
    CHECK(s2["result"]["content"][0]["text"] == "Hello, Alice, from a task");
  }
}

TEST_CASE("tasks belong to their user", "[tasks][modern][legacy]") {
  Fixture f;
  Client a(*f.server), b(*f.server);
  a.conn.user = "a";
  b.conn.user = "b";
  const Json caps = with_extension(Json{{"elicitation", Json::object()}});
  auto created = call(a, "confirm_delete", {{"filename", "secret.txt"}}, caps);
  const std::string id = created["result"]["taskId"];
  poll(a, id, caps, [](const Json& t) { return t["status"] == "input_required"; }, 5s);

  auto seen = task_request(b, "tasks/get", id, caps);
  CHECK(error_code(seen) == rpc::kInvalidParams);
  CHECK(dump(seen).find("secret") == std::string::npos);
  CHECK(error_code(task_request(b, "tasks/update", id, caps, Json{{"inputResponses", Json::object()}})) == rpc::kInvalidParams);
  CHECK(error_code(task_request(b, "tasks/cancel", id, caps)) == rpc::kInvalidParams);
  CHECK(task_request(a, "tasks/get", id, caps)["result"]["status"] == "input_required");

  // Nor through the 2025-11-25 methods.
  Client legacy_b(*f.server);
  legacy_b.conn.user = "b";
  legacy_b.initialize("2025-11-25");
  CHECK(error_code(legacy_b.request(next_id(), "tasks/get", Json{{"taskId", id}})) == rpc::kInvalidParams);
  CHECK(error_code(legacy_b.request(next_id(), "tasks/result", Json{{"taskId", id}})) == rpc::kInvalidParams);
  CHECK(legacy_b.request(next_id(), "tasks/list")["result"]["tasks"].empty());

  task_request(a, "tasks/cancel", id, caps);
  CHECK(f.server->wait_idle(5s));
}

TEST_CASE("task ttl: kept for the ttl after they end, then gone, unfinished ones stopped", "[tasks][modern]") {
  ServerOptions o;
  o.task_ttl_ms = 300;
  Fixture f(o);
  Client c(*f.server);
  const Json caps = with_extension();

  SECTION("a finished task expires") {
    auto created = call(c, "slow_compute", {{"seconds", 0}}, caps);
    CHECK(created["result"]["ttlMs"] == 300);
    const std::string id = created["result"]["taskId"];
    auto done = poll(c, id, caps, is_terminal, 5s);
    REQUIRE(done["result"]["status"] == "completed");
    CHECK(task_request(c, "tasks/get", id, caps).contains("result"));  // not early
    Json gone;
    for (int i = 0; i < 500; ++i) {
      gone = task_request(c, "tasks/get", id, caps);
      if (gone.contains("error")) break;
      std::this_thread::sleep_for(10ms);
    }
    CHECK(error_code(gone) == rpc::kInvalidParams);
    CHECK(f.server->tasks().size() == 0);
  }
  SECTION("an unfinished task past its ttl is stopped and failed") {
    auto created = call(c, "slow_compute", {{"seconds", 60}}, caps);
    const std::string id = created["result"]["taskId"];
    auto t = poll(c, id, caps, is_terminal, 5s);
    CHECK(t["result"]["status"] == "failed");
    CHECK(t["result"]["error"]["code"] == rpc::kInternalError);
    CHECK(f.server->wait_idle(5s));
    CHECK(f.probe->saw_cancel);
  }
}

TEST_CASE("too many unfinished tasks: optional calls run in the request, required ones are refused", "[tasks][modern]") {
  ServerOptions o;
  o.max_live_tasks = 1;
  Fixture f(o);
  Client c(*f.server);
  const Json caps = with_extension();
  auto first = call(c, "slow_compute", {{"seconds", 60}}, caps);
  REQUIRE(first["result"]["resultType"] == "task");
  CHECK(call(c, "slow_compute", {{"seconds", 0}}, caps)["result"]["resultType"] == "complete");
  CHECK(error_code(call(c, "failing_job", Json::object(), caps)) == rpc::kInternalError);
  task_request(c, "tasks/cancel", first["result"]["taskId"], caps);
  CHECK(call(c, "failing_job", Json::object(), caps)["result"]["resultType"] == "task");
  CHECK(f.server->wait_idle(5s));
}

TEST_CASE("shutdown cancels unfinished tasks", "[tasks]") {
  Fixture f;
  Client c(*f.server);
  auto created = call(c, "slow_compute", {{"seconds", 60}}, with_extension());
  const std::string id = created["result"]["taskId"];
  f.server->cancel_all();
  REQUIRE(f.server->wait_idle(5s));
  CHECK(f.probe->saw_cancel);
  CHECK(task_request(c, "tasks/get", id, with_extension())["result"]["status"] == "cancelled");
}

// ================================ 2025-11-25: the tasks utility ==============================

namespace {

// Checks a 2025-11-25 message: valid as the named definition, and nothing undeclared.
void check_legacy(const Json& instance, const std::string& definition) {
  INFO(definition << ": " << dump(instance));
  CHECK(legacy_spec().validate(instance, definition) == "");
  CHECK(legacy_spec().undeclared(instance, definition).empty());
}

Json legacy_call(Client& c, const Json& id, const std::string& tool, Json args, Json task = nullptr) {
  Json p{{"name", tool}, {"arguments", std::move(args)}};
  if (!task.is_null()) p["task"] = std::move(task);
  return c.request(id, "tools/call", std::move(p));
}

template <class Pred>
Json legacy_poll(Client& c, const std::string& task_id, Pred pred, std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  Json r;
  do {
    r = c.request(next_id(), "tasks/get", Json{{"taskId", task_id}});
    if (r.contains("result") && pred(r["result"])) return r;
    std::this_thread::sleep_for(10ms);
  } while (std::chrono::steady_clock::now() < deadline);
  return r;
}

std::vector<Json> status_notes(CaptureSink& sink, const std::string& task_id) {
  std::vector<Json> out;
  for (const auto& m : sink.snapshot())
    if (m.is_object() && m.value("method", "") == "notifications/tasks/status" && m["params"]["taskId"] == task_id) out.push_back(m);
  return out;
}

}  // namespace

TEST_CASE("2025-11-25 tasks: capabilities and tool execution", "[tasks][legacy]") {
  Fixture f;
  Client c(*f.server);
  auto init = c.initialize("2025-11-25");
  auto caps = init["result"]["capabilities"];
  CHECK(caps["tasks"] == Json{{"list", Json::object()}, {"cancel", Json::object()}, {"requests", {{"tools", {{"call", Json::object()}}}}}});
  CHECK_FALSE(caps.contains("extensions"));
  check_legacy(init["result"], "InitializeResult");
  auto tools = c.request(next_id(), "tools/list");
  check_legacy(tools["result"], "ListToolsResult");
  std::map<std::string, Json> by_name;
  for (const auto& t : tools["result"]["tools"]) by_name[t["name"]] = t;
  CHECK_FALSE(by_name["greet"].contains("execution"));
  CHECK(by_name["slow_compute"]["execution"]["taskSupport"] == "optional");
  CHECK(by_name["failing_job"]["execution"]["taskSupport"] == "required");

  SECTION("older revisions: no tasks capability, no execution, task param ignored, no tasks methods") {
    Client old(*f.server);
    auto r = old.initialize("2025-06-18");
    CHECK_FALSE(r["result"]["capabilities"].contains("tasks"));
    const Json listed = old.request(next_id(), "tools/list");
    for (const auto& t : listed["result"]["tools"]) CHECK_FALSE(t.contains("execution"));
    auto sync = legacy_call(old, next_id(), "slow_compute", {{"seconds", 0}}, Json{{"ttl", 1000}});
    CHECK(sync["result"]["content"][0]["text"] == "computed result");
    CHECK(error_code(old.request(next_id(), "tasks/get", Json{{"taskId", "x"}})) == rpc::kMethodNotFound);
    CHECK(error_code(old.request(next_id(), "tasks/list")) == rpc::kMethodNotFound);
    CHECK(error_code(old.request(next_id(), "tasks/update", Json{{"taskId", "x"}, {"inputResponses", Json::object()}})) ==
          rpc::kMethodNotFound);
  }
}

TEST_CASE("2025-11-25 tasks: create, poll, result, status notifications", "[tasks][legacy]") {
  Fixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");

  auto created = legacy_call(c, next_id(), "slow_compute", {{"seconds", 0.1}, {"label", "e"}}, Json{{"ttl", 5000}});
  check_legacy(created["result"], "CreateTaskResult");
  const Json& task = created["result"]["task"];
  CHECK(task["status"] == "working");
  CHECK(task["ttl"] == 5000);
  CHECK(task["pollInterval"].is_number_integer());
  const std::string id = task["taskId"];

  auto got = c.request(next_id(), "tasks/get", Json{{"taskId", id}});
  check_legacy(got["result"], "GetTaskResult");
  CHECK(got["result"]["taskId"] == id);

  // tasks/result blocks until the task ends, then answers with the call's own result.
  auto result = c.request(next_id(), "tasks/result", Json{{"taskId", id}});
  check_legacy(result["result"], "CallToolResult");
  check_legacy(result, "JSONRPCResultResponse");
  CHECK(result["result"]["content"][0]["text"] == "computed e");
  CHECK(result["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == id);

  auto done = c.request(next_id(), "tasks/get", Json{{"taskId", id}});
  CHECK(done["result"]["status"] == "completed");
  CHECK_FALSE(done["result"].contains("_meta"));
  auto again = c.request(next_id(), "tasks/result", Json{{"taskId", id}});
  CHECK(again["result"]["content"] == result["result"]["content"]);

  auto notes = status_notes(*c.sink, id);
  REQUIRE_FALSE(notes.empty());
  CHECK(notes.back()["params"]["status"] == "completed");
  for (const auto& n : notes) check_legacy(n, "TaskStatusNotification");
  CHECK(notes.back()["params"].count("_meta") == 0);

  SECTION("a requested ttl above the limit is lowered; none gets the default") {
    ServerOptions o;
    o.task_max_ttl_ms = 2000;
    Fixture g(o);
    Client d(*g.server);
    d.initialize("2025-11-25");
    CHECK(legacy_call(d, next_id(), "slow_compute", {{"seconds", 0}}, Json{{"ttl", 999999}})["result"]["task"]["ttl"] == 2000);
    CHECK(legacy_call(d, next_id(), "slow_compute", {{"seconds", 0}}, Json::object())["result"]["task"]["ttl"] == o.task_ttl_ms);
    CHECK(error_code(legacy_call(d, next_id(), "slow_compute", {{"seconds", 0}}, Json("soon"))) == rpc::kInvalidParams);
    CHECK(g.server->wait_idle(5s));
  }
}

TEST_CASE("2025-11-25 tasks: task support is enforced", "[tasks][legacy]") {
  Fixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  auto required = legacy_call(c, next_id(), "failing_job", Json::object());
  CHECK(error_code(required) == rpc::kMethodNotFound);
  check_legacy(required, "JSONRPCErrorResponse");
  CHECK(error_code(legacy_call(c, next_id(), "greet", {{"name", "x"}}, Json::object())) == rpc::kMethodNotFound);
  // Optional without a task: an ordinary call.
  CHECK(legacy_call(c, next_id(), "slow_compute", {{"seconds", 0}})["result"]["content"][0]["text"] == "computed result");
}

TEST_CASE("2025-11-25 tasks: tool errors and protocol errors both fail, tasks/result replays them", "[tasks][legacy]") {
  Fixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");

  auto job = legacy_call(c, next_id(), "failing_job", Json::object(), Json::object());
  const std::string id = job["result"]["task"]["taskId"];
  auto result = c.request(next_id(), "tasks/result", Json{{"taskId", id}});
  CHECK(result["result"]["isError"] == true);
  check_legacy(result["result"], "CallToolResult");
  auto t = c.request(next_id(), "tasks/get", Json{{"taskId", id}});
  CHECK(t["result"]["status"] == "failed");
  CHECK(t["result"].contains("statusMessage"));
  check_legacy(t["result"], "GetTaskResult");

  auto bad = legacy_call(c, next_id(), "protocol_error_job", Json::object(), Json::object());
  const std::string bid = bad["result"]["task"]["taskId"];
  auto err = c.request(next_id(), "tasks/result", Json{{"taskId", bid}});
  CHECK(error_code(err) == rpc::kInvalidParams);
  CHECK(err["error"]["message"] == "the job's parameters were refused downstream");
  check_legacy(err, "JSONRPCErrorResponse");
  auto bt = c.request(next_id(), "tasks/get", Json{{"taskId", bid}});
  CHECK(bt["result"]["status"] == "failed");
  CHECK(bt["result"]["statusMessage"] == "the job's parameters were refused downstream");

  CHECK(error_code(c.request(next_id(), "tasks/get", Json{{"taskId", "nope"}})) == rpc::kInvalidParams);
  CHECK(error_code(c.request(next_id(), "tasks/result", Json{{"taskId", "nope"}})) == rpc::kInvalidParams);
  CHECK(error_code(c.request(next_id(), "tasks/cancel", Json{{"taskId", "nope"}})) == rpc::kInvalidParams);
}

TEST_CASE("2025-11-25 tasks: cancel returns the cancelled task, a terminal one is -32602", "[tasks][legacy]") {
  Fixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  auto created = legacy_call(c, next_id(), "slow_compute", {{"seconds", 60}}, Json::object());
  const std::string id = created["result"]["task"]["taskId"];
  // A tasks/result waiting on it is answered when it is cancelled.
  const Json waiting_id = next_id();
  c.send(rpc::make_request(waiting_id, "tasks/result", Json{{"taskId", id}}));
  auto cancelled = c.request(next_id(), "tasks/cancel", Json{{"taskId", id}});
  check_legacy(cancelled["result"], "CancelTaskResult");
  CHECK(cancelled["result"]["status"] == "cancelled");
  auto waited = c.reply(waiting_id);
  CHECK(error_code(waited) == rpc::kInternalError);
  auto twice = c.request(next_id(), "tasks/cancel", Json{{"taskId", id}});
  CHECK(error_code(twice) == rpc::kInvalidParams);
  CHECK(twice["error"]["message"].get<std::string>().find("cancelled") != std::string::npos);
  REQUIRE(f.server->wait_idle(5s));
  CHECK(f.probe->saw_cancel);
  CHECK(c.request(next_id(), "tasks/get", Json{{"taskId", id}})["result"]["status"] == "cancelled");
  auto notes = status_notes(*c.sink, id);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0]["params"]["status"] == "cancelled");
}

TEST_CASE("2025-11-25 tasks: tasks/list pages through the caller's tasks", "[tasks][legacy]") {
  ServerOptions o;
  o.page_size = 2;
  Fixture f(o);
  Client c(*f.server);
  c.initialize("2025-11-25");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(legacy_call(c, next_id(), "slow_compute", {{"seconds", 0}}, Json::object())["result"]["task"]["taskId"]);
  std::vector<std::string> listed;
  Json cursor;
  for (int page = 0; page < 10; ++page) {
    Json p = cursor.is_null() ? Json::object() : Json{{"cursor", cursor}};
    auto r = c.request(next_id(), "tasks/list", p);
    check_legacy(r["result"], "ListTasksResult");
    CHECK(r["result"]["tasks"].size() <= 2);
    for (const auto& t : r["result"]["tasks"]) listed.push_back(t["taskId"]);
    if (!r["result"].contains("nextCursor")) break;
    cursor = r["result"]["nextCursor"];
  }
  CHECK(listed == ids);  // creation order
  CHECK(error_code(c.request(next_id(), "tasks/list", Json{{"cursor", "garbage!"}})) == rpc::kInvalidParams);
  CHECK(f.server->wait_idle(5s));
}

TEST_CASE("2025-11-25 tasks: input goes to the client through tasks/result, tagged with the task", "[tasks][legacy]") {
  Fixture f;
  Client c(*f.server);
  c.initialize("2025-11-25", Json{{"elicitation", Json::object()}});
  auto created = legacy_call(c, next_id(), "confirm_delete", {{"filename", "a.txt"}}, Json::object());
  const std::string id = created["result"]["task"]["taskId"];
  auto waiting = legacy_poll(c, id, [](const Json& t) { return t["status"] == "input_required"; }, 5s);
  REQUIRE(waiting["result"]["status"] == "input_required");
  check_legacy(waiting["result"], "GetTaskResult");
  // Nothing is asked before the client opens tasks/result.
  auto elicit = [](const Json& m) { return m.value("method", "") == "elicitation/create"; };
  CHECK_FALSE(c.sink->wait_for(elicit, 50ms).has_value());

  const Json result_id = next_id();
  c.send(rpc::make_request(result_id, "tasks/result", Json{{"taskId", id}}));
  auto req = c.sink->wait_for(elicit);
  REQUIRE(req);
  check_legacy(*req, "ElicitRequest");
  CHECK((*req)["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == id);
  c.send(rpc::make_result((*req)["id"], Json{{"action", "accept"}, {"content", {{"confirm", true}}}}));
  auto result = c.reply(result_id);
  CHECK(result["result"]["content"][0]["text"] == "Deleted a.txt");
  CHECK(result["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == id);

  std::vector<std::string> statuses;
  for (const auto& n : status_notes(*c.sink, id)) statuses.push_back(n["params"]["status"]);
  CHECK(statuses == std::vector<std::string>{"input_required", "working", "completed"});
}

TEST_CASE("2025-11-25 tasks: progress and log messages go to the session, tagged with the task", "[tasks][legacy]") {
  Fixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  Json p{{"name", "steps"}, {"arguments", Json::object()}, {"task", Json::object()}, {"_meta", {{"progressToken", "tok"}}}};
  auto created = c.request(next_id(), "tools/call", p);
  const std::string id = created["result"]["task"]["taskId"];
  c.request(next_id(), "tasks/result", Json{{"taskId", id}});
  std::vector<Json> progress, logs;
  for (const auto& m : c.sink->snapshot()) {
    if (m.value("method", "") == "notifications/progress") progress.push_back(m);
    if (m.value("method", "") == "notifications/message") logs.push_back(m);
  }
  REQUIRE(progress.size() == 2);
  REQUIRE(logs.size() == 1);
  for (const auto& m : progress) {
    check_legacy(m, "ProgressNotification");
    CHECK(m["params"]["progressToken"] == "tok");
    CHECK(m["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == id);
  }
  check_legacy(logs[0], "LoggingMessageNotification");
  CHECK(logs[0]["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == id);
}

TEST_CASE("a 2025-11-25 task can be read with 2026-07-28 tasks/get, in that revision's shape", "[tasks][legacy][modern]") {
  Fixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  auto created = legacy_call(c, next_id(), "failing_job", Json::object(), Json::object());
  const std::string id = created["result"]["task"]["taskId"];
  c.request(next_id(), "tasks/result", Json{{"taskId", id}});
  auto modern = task_request(c, "tasks/get", id, with_extension());
  CHECK(modern["result"]["status"] == "completed");  // isError is a completed task in 2026-07-28
  CHECK(modern["result"]["result"]["isError"] == true);
  CHECK(modern["result"].contains("ttlMs"));
  CHECK_FALSE(modern["result"].contains("ttl"));
  CHECK(c.request(next_id(), "tasks/get", Json{{"taskId", id}})["result"]["status"] == "failed");
}
