// The core's dispatch rules, driven with no sockets.
#include <catch2/catch.hpp>
#include <cmath>
#include <future>
#include <thread>

#include "server/params.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {
struct EchoParams {
  std::string text;
  int64_t times = 1;
};
EchoParams parse_params(const Json& p, std::type_identity<EchoParams>) {
  Fields f(p);
  return {f.req<std::string>("text"), f.get<int64_t>("times", 1)};
}

int error_code(const Json& reply) { return reply.contains("error") ? reply["error"]["code"].get<int>() : 0; }
std::string error_message(const Json& reply) { return reply.contains("error") ? reply["error"]["message"].get<std::string>() : ""; }

// A tool that waits until it is cancelled (bounded, so a broken test can't hang).
ToolDefinition waiting_tool(std::atomic<bool>& started, std::atomic<bool>& saw_cancel) {
  ToolDefinition d;
  d.name = "wait";
  d.input_schema = Json{{"type", "object"}};
  d.handler = [&](const Json&, RequestContext& ctx) {
    started = true;
    if (ctx.cancel().wait_for(10s)) saw_cancel = true;
    return ToolResult::text("finished");
  };
  return d;
}

size_t count_id(CaptureSink& sink, const Json& id) {
  size_t n = 0;
  for (const auto& m : sink.snapshot())
    if (m.is_object() && m.contains("id") && m["id"] == id && !m.contains("method")) ++n;
  return n;
}
}  // namespace

TEST_CASE("typed binding: bad params are -32602 naming the field, before the handler runs", "[core]") {
  Server server;
  std::atomic<int> calls{0};
  server.bind<EchoParams>("test/echo", Server::kBoth, [&](const EchoParams& p, RequestContext&) {
    ++calls;
    return Json{{"text", p.text}, {"times", p.times}};
  });
  Client c(server);
  c.initialize("2025-06-18");
  auto ok = c.request(1, "test/echo", Json{{"text", "hi"}, {"times", 2}});
  CHECK(ok["result"]["text"] == "hi");
  CHECK(ok["result"]["times"] == 2);
  auto missing = c.request(2, "test/echo", Json::object());
  CHECK(error_code(missing) == rpc::kInvalidParams);
  CHECK(missing["error"]["data"]["field"] == "text");
  auto wrong = c.request(3, "test/echo", Json{{"text", "x"}, {"times", "two"}});
  CHECK(error_code(wrong) == rpc::kInvalidParams);
  CHECK(error_message(wrong).find("times") != std::string::npos);
  CHECK(calls == 1);
}

TEST_CASE("exactly one reply per request", "[core]") {
  Server server;
  Client c(server);
  c.initialize("2025-11-25");

  SECTION("a handler that throws gets -32603 without its message leaking") {
    server.bind_async("test/throw", Server::kBoth, [](const Json&, std::shared_ptr<Responder>) {
      throw std::runtime_error("secret-token-123 exploded");
    });
    auto r = c.request(1, "test/throw");
    CHECK(error_code(r) == rpc::kInternalError);
    CHECK(dump(r).find("secret-token-123") == std::string::npos);
    auto logs = captured_logs();
    CHECK(std::any_of(logs.begin(), logs.end(), [](const std::string& l) { return l.find("test/throw failed") != std::string::npos; }));
  }
  SECTION("a dropped reply is an error reply") {
    server.bind_async("test/drop", Server::kBoth, [](const Json&, std::shared_ptr<Responder>) {});
    auto r = c.request(2, "test/drop");
    CHECK(error_code(r) == rpc::kInternalError);
    auto logs = captured_logs();
    CHECK(std::any_of(logs.begin(), logs.end(), [](const std::string& l) { return l.find("dropped request 2") != std::string::npos; }));
  }
  SECTION("a second reply is refused") {
    std::promise<bool> second;
    auto second_result = second.get_future();
    server.bind_async("test/twice", Server::kBoth, [&](const Json&, std::shared_ptr<Responder> r) {
      r->reply(Json{{"n", 1}});
      second.set_value(r->reply(Json{{"n", 2}}));
    });
    auto r = c.request(3, "test/twice");
    CHECK(r["result"]["n"] == 1);
    // The handler runs on the pool: wait for it to finish rather than for some later reply.
    REQUIRE(second_result.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK_FALSE(second_result.get());
    CHECK(count_id(*c.sink, 3) == 1);
  }
  SECTION("a reply may come later from another thread") {
    server.bind_async("test/later", Server::kBoth, [](const Json&, std::shared_ptr<Responder> r) {
      std::thread([r] { r->reply(Json{{"late", true}}); }).detach();
    });
    CHECK(c.request(5, "test/later")["result"]["late"] == true);
  }
}

TEST_CASE("legacy lifecycle: initialize, refusals before and after", "[core][legacy]") {
  auto server = builtin_server();
  Client c(*server);
  SECTION("ping is allowed before initialize; other requests are refused") {
    CHECK(c.request(1, "ping")["result"] == Json::object());
    auto r = c.request(2, "tools/list");
    CHECK(error_code(r) == rpc::kInvalidParams);
    CHECK(error_message(r).find("initialize") != std::string::npos);
  }
  SECTION("a second initialize is refused") {
    c.initialize("2025-06-18");
    auto r = c.request(3, "initialize", Json{{"protocolVersion", "2025-06-18"}, {"capabilities", Json::object()}, {"clientInfo", {{"name", "x"}, {"version", "1"}}}});
    CHECK(error_code(r) == rpc::kInvalidRequest);
    CHECK(error_message(r).find("already initialized") != std::string::npos);
  }
  SECTION("an unknown version is answered with our latest handshake version") {
    CHECK(c.initialize("2099-01-01")["result"]["protocolVersion"] == "2025-11-25");
  }
  SECTION("a modern version in initialize is answered with our latest handshake version") {
    CHECK(c.initialize("2026-07-28")["result"]["protocolVersion"] == "2025-11-25");
  }
  SECTION("initialize with missing clientInfo is -32602") {
    auto r = c.request(4, "initialize", Json{{"protocolVersion", "2025-06-18"}, {"capabilities", Json::object()}});
    CHECK(error_code(r) == rpc::kInvalidParams);
    CHECK(error_message(r).find("clientInfo") != std::string::npos);
  }
  SECTION("server/discover without _meta is refused as invalid params") {
    c.initialize("2025-06-18");
    CHECK(error_code(c.request(5, "server/discover")) == rpc::kInvalidParams);
  }
}

TEST_CASE("notifications are never answered", "[core]") {
  auto server = builtin_server();
  Client c(*server);
  c.initialize("2025-06-18");
  size_t before = c.sink->snapshot().size();
  c.send(rpc::make_notification("notifications/unknown", Json{{"x", 1}}));
  c.send(rpc::make_notification("notifications/cancelled", Json{{"requestId", 999}}));
  c.send(rpc::make_notification("notifications/roots/list_changed", nullptr));
  c.request(1, "ping");
  CHECK(c.sink->snapshot().size() == before + 1);
}

TEST_CASE("batches only with 2025-03-26", "[core][batch]") {
  auto server = builtin_server();
  Client c(*server);
  Json batch = Json::array({rpc::make_request(1, "ping", nullptr),
                            rpc::make_request(2, "tools/call", Json{{"name", "echo"}, {"arguments", {{"text", "b"}}}}),
                            rpc::make_notification("notifications/initialized", nullptr)});
  SECTION("2025-03-26: one array reply with both responses") {
    c.initialize("2025-03-26");
    c.send(batch);
    auto r = c.sink->wait_for([](const Json& m) { return m.is_array(); });
    REQUIRE(r);
    REQUIRE(r->size() == 2);
    std::set<int> ids{(*r)[0]["id"].get<int>(), (*r)[1]["id"].get<int>()};
    CHECK(ids == std::set<int>{1, 2});
  }
  SECTION("2025-06-18: refused with id null") {
    c.initialize("2025-06-18");
    c.send(batch);
    auto r = c.reply(nullptr);
    CHECK(error_code(r) == rpc::kInvalidRequest);
    CHECK(error_message(r).find("2025-03-26") != std::string::npos);
  }
  SECTION("before initialize: refused") {
    c.send(batch);
    CHECK(error_code(c.reply(nullptr)) == rpc::kInvalidRequest);
  }
  SECTION("invalid members get their own errors inside the array; notifications alone get nothing") {
    c.initialize("2025-03-26");
    c.send(Json::array({Json("x"), rpc::make_request(7, "ping", nullptr)}));
    auto r = c.sink->wait_for([](const Json& m) { return m.is_array(); });
    REQUIRE(r);
    CHECK(r->size() == 2);
    size_t before = c.sink->snapshot().size();
    c.send(Json::array({rpc::make_notification("notifications/initialized", nullptr)}));
    c.request(8, "ping");
    CHECK(c.sink->snapshot().size() == before + 1);
  }
}

TEST_CASE("cancellation stops the handler and suppresses its reply, ping is answered meanwhile", "[core][cancel]") {
  auto server = builtin_server();
  std::atomic<bool> started{false}, saw_cancel{false};
  server->tools().add(waiting_tool(started, saw_cancel));
  Client c(*server);
  c.initialize("2025-11-25");
  c.send(rpc::make_request(7, "tools/call", Json{{"name", "wait"}}));
  for (int i = 0; i < 500 && !started; ++i) std::this_thread::sleep_for(10ms);  // bounded wait for the worker
  REQUIRE(started);
  CHECK(c.request(8, "ping")["result"] == Json::object());
  c.send(rpc::make_notification("notifications/cancelled", Json{{"requestId", 7}, {"reason", "user"}}));
  REQUIRE(server->wait_idle(5s));
  CHECK(saw_cancel);
  c.request(9, "ping");
  CHECK(count_id(*c.sink, 7) == 0);
}

TEST_CASE("a request id already in flight is refused", "[core]") {
  auto server = builtin_server();
  std::atomic<bool> started{false}, saw_cancel{false};
  server->tools().add(waiting_tool(started, saw_cancel));
  Client c(*server);
  c.initialize("2025-11-25");
  c.send(rpc::make_request(5, "tools/call", Json{{"name", "wait"}}));
  auto dup = c.request(5, "ping");
  CHECK(error_code(dup) == rpc::kInvalidRequest);
  server->cancel_all();
  REQUIRE(server->wait_idle(5s));
}

TEST_CASE("modern era: per-request _meta, era gating, errors", "[core][modern]") {
  auto server = builtin_server();
  Client c(*server);
  SECTION("a tools/call needs no handshake and carries resultType and serverInfo") {
    auto r = c.request(1, "tools/call", Json{{"name", "echo"}, {"arguments", {{"text", "hi"}}}, {"_meta", modern_meta()}});
    CHECK(r["result"]["resultType"] == "complete");
    CHECK(r["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "concierge");
    CHECK(r["result"]["content"][0]["text"] == "hi");
  }
  SECTION("missing clientCapabilities is -32602 naming it") {
    Json meta = modern_meta();
    meta.erase("io.modelcontextprotocol/clientCapabilities");
    auto r = c.request(2, "tools/list", Json{{"_meta", meta}});
    CHECK(error_code(r) == rpc::kInvalidParams);
    CHECK(error_message(r).find("clientCapabilities") != std::string::npos);
  }
  SECTION("unsupported version is -32022 with supported and requested") {
    auto r = c.request(3, "tools/list", Json{{"_meta", modern_meta(Json::object(), "1900-01-01")}});
    CHECK(error_code(r) == rpc::kUnsupportedProtocolVersion);
    CHECK(r["error"]["data"]["requested"] == "1900-01-01");
    CHECK(r["error"]["data"]["supported"][0] == "2026-07-28");
  }
  SECTION("a handshake-era version in _meta is -32022 too") {
    CHECK(error_code(c.request(4, "tools/list", Json{{"_meta", modern_meta(Json::object(), "2025-06-18")}})) ==
          rpc::kUnsupportedProtocolVersion);
  }
  SECTION("methods removed in 2026-07-28 are not found") {
    CHECK(error_code(c.request(5, "ping", Json{{"_meta", modern_meta()}})) == rpc::kMethodNotFound);
    CHECK(error_code(c.request(6, "logging/setLevel", Json{{"level", "info"}, {"_meta", modern_meta()}})) == rpc::kMethodNotFound);
    CHECK(error_code(c.request(7, "resources/subscribe", Json{{"uri", "x"}, {"_meta", modern_meta()}})) == rpc::kMethodNotFound);
  }
  SECTION("lists carry caching hints and tools come sorted") {
    auto r = c.request(8, "tools/list", Json{{"_meta", modern_meta()}});
    CHECK(r["result"]["ttlMs"].is_number_integer());
    CHECK(r["result"]["cacheScope"] == "private");
    auto listed = r["result"]["tools"];
    REQUIRE(listed.size() == server->tools().list().size());
    for (size_t i = 1; i < listed.size(); ++i) CHECK(listed[i - 1]["name"].get<std::string>() < listed[i]["name"].get<std::string>());
  }
  SECTION("an invalid logLevel is -32602") {
    Json meta = modern_meta();
    meta["io.modelcontextprotocol/logLevel"] = "loud";
    CHECK(error_code(c.request(9, "tools/list", Json{{"_meta", meta}})) == rpc::kInvalidParams);
  }
}

TEST_CASE("log messages follow the level: per request (modern), per session (legacy)", "[core][logging]") {
  auto server = builtin_server();
  ToolDefinition d;
  d.name = "chatty";
  d.input_schema = Json{{"type", "object"}};
  d.handler = [](const Json&, RequestContext& ctx) {
    ctx.log(LogLevel::Info, "info line");
    ctx.log(LogLevel::Error, "error line");
    return ToolResult::text("done");
  };
  server->tools().add(std::move(d));
  Client c(*server);
  auto logs = [&] {
    size_t n = 0;
    for (const auto& m : c.sink->snapshot())
      if (m.is_object() && m.value("method", "") == "notifications/message") ++n;
    return n;
  };
  SECTION("modern: none without logLevel, filtered with it") {
    c.request(1, "tools/call", Json{{"name", "chatty"}, {"_meta", modern_meta()}});
    CHECK(logs() == 0);
    Json meta = modern_meta();
    meta["io.modelcontextprotocol/logLevel"] = "warning";
    c.request(2, "tools/call", Json{{"name", "chatty"}, {"_meta", meta}});
    CHECK(logs() == 1);
    meta["io.modelcontextprotocol/logLevel"] = "debug";
    c.request(3, "tools/call", Json{{"name", "chatty"}, {"_meta", meta}});
    CHECK(logs() == 3);
  }
  SECTION("legacy: logging/setLevel filters") {
    c.initialize("2025-06-18");
    c.request(1, "tools/call", Json{{"name", "chatty"}});
    CHECK(logs() == 2);
    CHECK(c.request(2, "logging/setLevel", Json{{"level", "error"}})["result"] == Json::object());
    c.request(3, "tools/call", Json{{"name", "chatty"}});
    CHECK(logs() == 3);
    CHECK(error_code(c.request(4, "logging/setLevel", Json{{"level", "loud"}})) == rpc::kInvalidParams);
  }
}

TEST_CASE("progress notifications only for a progressToken", "[core][progress]") {
  auto server = builtin_server();
  ToolDefinition d;
  d.name = "steps";
  d.input_schema = Json{{"type", "object"}};
  d.handler = [](const Json&, RequestContext& ctx) {
    for (int i = 1; i <= 3; ++i) ctx.progress(i, 3, "step");
    return ToolResult::text("done");
  };
  server->tools().add(std::move(d));
  Client c(*server);
  c.initialize("2025-03-26");
  c.request(1, "tools/call", Json{{"name", "steps"}});
  c.request(2, "tools/call", Json{{"name", "steps"}, {"_meta", {{"progressToken", "tok"}}}});
  std::vector<Json> progress;
  for (const auto& m : c.sink->snapshot())
    if (m.is_object() && m.value("method", "") == "notifications/progress") progress.push_back(m["params"]);
  REQUIRE(progress.size() == 3);
  CHECK(progress[0]["progressToken"] == "tok");
  CHECK(progress[2]["progress"] == 3);
  CHECK(progress[2]["total"] == 3);
  CHECK(progress[2]["message"] == "step");
}

TEST_CASE("multi-round-trip: responses accumulate across rounds in the sealed state", "[core][mrtr]") {
  auto server = builtin_server();
  ToolDefinition d;
  d.name = "two_questions";
  d.input_schema = Json{{"type", "object"}};
  d.handler = [](const Json&, RequestContext& ctx) {
    auto form = [](const char* msg) {
      return Json{{"mode", "form"}, {"message", msg}, {"requestedSchema", {{"type", "object"}, {"properties", {{"v", {{"type", "string"}}}}}}}};
    };
    auto a = ctx.input("first", "elicitation/create", form("First?"));
    auto b = ctx.input("second", "elicitation/create", form("Second?"));
    return ToolResult::text(a["content"]["v"].get<std::string>() + "+" + b["content"]["v"].get<std::string>());
  };
  server->tools().add(std::move(d));
  Client c(*server);
  Json caps{{"elicitation", {{"form", Json::object()}}}};
  Json params{{"name", "two_questions"}, {"arguments", Json::object()}, {"_meta", modern_meta(caps)}};

  auto r1 = c.request(1, "tools/call", params);
  REQUIRE(r1["result"]["resultType"] == "input_required");
  CHECK(r1["result"]["inputRequests"]["first"]["method"] == "elicitation/create");
  Json p2 = params;
  p2["inputResponses"] = {{"first", {{"action", "accept"}, {"content", {{"v", "A"}}}}}};
  p2["requestState"] = r1["result"]["requestState"];
  auto r2 = c.request(2, "tools/call", p2);
  REQUIRE(r2["result"]["resultType"] == "input_required");
  CHECK(r2["result"]["inputRequests"].contains("second"));
  CHECK_FALSE(r2["result"]["inputRequests"].contains("first"));
  Json p3 = params;
  p3["inputResponses"] = {{"second", {{"action", "accept"}, {"content", {{"v", "B"}}}}}};
  p3["requestState"] = r2["result"]["requestState"];
  auto r3 = c.request(3, "tools/call", p3);
  CHECK(r3["result"]["resultType"] == "complete");
  CHECK(r3["result"]["content"][0]["text"] == "A+B");

  SECTION("state from one call is refused on another") {
    Json other = p3;
    other["arguments"] = {{"different", true}};
    auto r = c.request(4, "tools/call", other);
    CHECK(error_code(r) == rpc::kInvalidParams);
    CHECK(error_message(r).find("requestState") != std::string::npos);
  }
  SECTION("without the capability: -32021 naming it") {
    auto r = c.request(5, "tools/call", Json{{"name", "two_questions"}, {"_meta", modern_meta()}});
    CHECK(error_code(r) == rpc::kMissingRequiredClientCapability);
    CHECK(r["error"]["data"]["requiredCapabilities"].contains("elicitation"));
  }
}

TEST_CASE("legacy server->client requests: routed back to the caller, with a timeout", "[core][legacy]") {
  ServerOptions o;
  o.client_request_timeout = 300ms;
  auto server = builtin_server(o);
  ToolDefinition d;
  d.name = "ask_roots";
  d.input_schema = Json{{"type", "object"}};
  d.handler = [](const Json&, RequestContext& ctx) {
    auto r = ctx.input("roots", "roots/list", Json::object());
    return ToolResult::text(std::to_string(r["roots"].size()) + " roots");
  };
  server->tools().add(std::move(d));
  Client c(*server);
  c.initialize("2025-06-18", Json{{"roots", Json::object()}});
  SECTION("answered") {
    c.send(rpc::make_request(1, "tools/call", Json{{"name", "ask_roots"}}));
    auto req = c.sink->wait_for([](const Json& m) { return m.value("method", "") == "roots/list"; });
    REQUIRE(req);
    c.send(rpc::make_result((*req)["id"], Json{{"roots", Json::array({{{"uri", "file:///a"}}})}}));
    CHECK(c.reply(1)["result"]["content"][0]["text"] == "1 roots");
  }
  SECTION("unanswered: an error after the timeout, and the client is told to stop") {
    auto r = c.request(2, "tools/call", Json{{"name", "ask_roots"}});
    CHECK(error_code(r) == rpc::kInternalError);
    CHECK(error_message(r).find("did not answer") != std::string::npos);
    CHECK(c.sink->wait_for([](const Json& m) { return m.value("method", "") == "notifications/cancelled"; }).has_value());
  }
}

TEST_CASE("tools/call errors: unknown tool, invalid output", "[core][tools]") {
  auto server = builtin_server();
  ToolDefinition d;
  d.name = "bad_output";
  d.input_schema = Json{{"type", "object"}};
  d.output_schema = Json{{"type", "object"}, {"properties", {{"n", {{"type", "integer"}}}}}, {"required", {"n"}}};
  d.handler = [](const Json&, RequestContext&) { return ToolResult::text("x", Json{{"n", "not a number"}}); };
  server->tools().add(std::move(d));
  Client c(*server);
  c.initialize("2025-06-18");
  auto unknown = c.request(1, "tools/call", Json{{"name", "nope"}});
  CHECK(error_code(unknown) == rpc::kInvalidParams);
  CHECK(error_message(unknown).find("nope") != std::string::npos);
  auto bad = c.request(2, "tools/call", Json{{"name", "bad_output"}});
  CHECK(error_code(bad) == rpc::kInternalError);
  auto args = c.request(3, "tools/call", Json{{"name", "echo"}, {"arguments", "text"}});
  CHECK(error_code(args) == rpc::kInvalidParams);
}

TEST_CASE("tools/call: a non-finite number in the output is refused, not sent as null", "[core][tools]") {
  auto server = builtin_server();
  for (double x : {std::nan(""), HUGE_VAL, -HUGE_VAL}) {
    ToolDefinition d;
    d.name = "ratio_" + std::to_string(server->tools().list().size());
    d.input_schema = Json{{"type", "object"}};
    d.output_schema = Json{{"type", "object"}, {"properties", {{"scores", {{"type", "array"}, {"items", {{"type", "number"}}}}}}}};
    d.handler = [x](const Json&, RequestContext&) { return ToolResult::text("x", Json{{"scores", {1.5, x}}}); };
    server->tools().add(std::move(d));
  }
  Client c(*server);
  c.initialize("2025-06-18");
  int id = 0;
  for (auto* t : server->tools().list()) {
    if (t->def.name.rfind("ratio_", 0) != 0) continue;
    INFO(t->def.name);
    auto r = c.request(++id, "tools/call", Json{{"name", t->def.name}});
    CHECK(error_code(r) == rpc::kInternalError);
    CHECK_THAT(error_message(r), Catch::Contains("scores[1]: must be a finite number"));
  }
  CHECK(id == 3);
  // The schema alone says the same, naming where.
  CompiledSchema schema(Json{{"type", "object"}});
  CHECK(schema.validate(Json{{"a", {{"b", std::nan("")}}}}) == std::optional<std::string>("a.b: must be a finite number, not nan"));
  CHECK_FALSE(schema.validate(Json{{"a", 1e308}}));
}

TEST_CASE("pagination with cursors", "[core][pagination]") {
  ServerOptions o;
  o.page_size = 1;
  auto server = builtin_server(o);
  Client c(*server);
  c.initialize("2025-06-18");
  // One tool a page, every registered tool once, in the registry's order, then no cursor.
  const auto& registered = server->tools().list();
  REQUIRE(registered.size() >= 2);
  Json cursor;
  int id = 0;
  for (auto* tool : registered) {
    auto page = c.request(++id, "tools/list", cursor.is_null() ? Json::object() : Json{{"cursor", cursor}});
    REQUIRE(page["result"]["tools"].size() == 1);
    CHECK(page["result"]["tools"][0]["name"] == tool->def.name);
    cursor = page["result"].value("nextCursor", Json());
    CHECK(cursor.is_null() == (tool == registered.back()));
  }
  CHECK(error_code(c.request(++id, "tools/list", Json{{"cursor", "garbage!"}})) == rpc::kInvalidParams);
}

TEST_CASE("resources, templates, subscriptions, prompts and completion", "[core][resources][prompts]") {
  auto server = builtin_server();
  server->resources().add(ResourceDefinition{
      .uri = "test://note", .name = "note", .title = "Note", .description = "", .mime_type = "text/plain", .icons = nullptr,
      .read = [](RequestContext&) { return Json::array({{{"uri", "test://note"}, {"mimeType", "text/plain"}, {"text", "hello"}}}); }});
  ResourceTemplateDefinition t;
  t.uri_template = "test://items/{id}/data";
  t.name = "item";
  t.read = [](const std::string& uri, const std::map<std::string, std::string>& vars, RequestContext&) -> Json {
    if (vars.at("id") == "missing") return nullptr;
    return Json::array({{{"uri", uri}, {"text", "item " + vars.at("id")}}});
  };
  t.complete["id"] = complete_from({"alpha", "beta", "alpine"});
  server->resources().add_template(std::move(t));
  PromptDefinition p;
  p.name = "greet";
  p.arguments = {PromptArgument{.name = "who", .title = "", .description = "", .required = true, .complete = complete_from({"Ada", "Alan"})},
                 PromptArgument{.name = "tone", .title = "", .description = "", .required = false, .complete = nullptr}};
  p.render = [](const std::map<std::string, std::string>& a, RequestContext&) {
    return Json{{"messages", Json::array({{{"role", "user"}, {"content", {{"type", "text"}, {"text", "Hello " + a.at("who")}}}}})}};
  };
  server->prompts().add(std::move(p));

  Client c(*server);
  auto init = c.initialize("2025-06-18");
  CHECK(init["result"]["capabilities"]["resources"]["subscribe"] == true);
  CHECK(init["result"]["capabilities"].contains("prompts"));

  CHECK(c.request(1, "resources/read", Json{{"uri", "test://note"}})["result"]["contents"][0]["text"] == "hello");
  CHECK(c.request(2, "resources/read", Json{{"uri", "test://items/42/data"}})["result"]["contents"][0]["text"] == "item 42");
  auto missing = c.request(3, "resources/read", Json{{"uri", "test://items/missing/data"}});
  CHECK(error_code(missing) == rpc::kResourceNotFoundLegacy);
  CHECK(error_code(c.request(4, "resources/read", Json{{"uri", "test://nothing"}})) == rpc::kResourceNotFoundLegacy);
  auto modern_missing = c.request(5, "resources/read", Json{{"uri", "test://nothing"}, {"_meta", modern_meta()}});
  CHECK(error_code(modern_missing) == rpc::kInvalidParams);

  // Subscriptions: only the subscribed session hears of an update.
  Client other(*server);
  other.initialize("2025-06-18");
  CHECK(c.request(6, "resources/subscribe", Json{{"uri", "test://note"}})["result"] == Json::object());
  server->notify_resource_updated("test://note");
  CHECK(c.sink->wait_for([](const Json& m) { return m.value("method", "") == "notifications/resources/updated"; }).has_value());
  other.request(1, "ping");
  for (const auto& m : other.sink->snapshot()) CHECK(m.value("method", "") != "notifications/resources/updated");
  CHECK(error_code(c.request(7, "resources/subscribe", Json{{"uri", "test://nothing"}})) == rpc::kResourceNotFoundLegacy);

  auto got = c.request(8, "prompts/get", Json{{"name", "greet"}, {"arguments", {{"who", "Ada"}}}});
  CHECK(got["result"]["messages"][0]["content"]["text"] == "Hello Ada");
  auto no_arg = c.request(9, "prompts/get", Json{{"name", "greet"}});
  CHECK(error_code(no_arg) == rpc::kInvalidParams);
  CHECK(no_arg["error"]["data"]["field"] == "arguments.who");
  CHECK(error_code(c.request(10, "prompts/get", Json{{"name", "greet"}, {"arguments", {{"who", "A"}, {"mood", "x"}}}})) == rpc::kInvalidParams);
  CHECK(error_code(c.request(11, "prompts/get", Json{{"name", "greet"}, {"arguments", {{"who", 5}}}})) == rpc::kInvalidParams);

  auto comp = c.request(12, "completion/complete", Json{{"ref", {{"type", "ref/prompt"}, {"name", "greet"}}}, {"argument", {{"name", "who"}, {"value", "a"}}}});
  CHECK(comp["result"]["completion"]["values"] == Json::array({"Ada", "Alan"}));
  auto comp2 = c.request(13, "completion/complete", Json{{"ref", {{"type", "ref/resource"}, {"uri", "test://items/{id}/data"}}}, {"argument", {{"name", "id"}, {"value", "al"}}}});
  CHECK(comp2["result"]["completion"]["values"] == Json::array({"alpha", "alpine"}));
  CHECK(comp2["result"]["completion"]["total"] == 2);
  CHECK(error_code(c.request(14, "completion/complete", Json{{"ref", {{"type", "ref/prompt"}, {"name", "nope"}}}, {"argument", {{"name", "who"}, {"value", ""}}}})) == rpc::kInvalidParams);

  server->notify_list_changed("tools");
  CHECK(other.sink->wait_for([](const Json& m) { return m.value("method", "") == "notifications/tools/list_changed"; }).has_value());
}

TEST_CASE("subscriptions/listen: acknowledged first, filtered, tagged, ended by cancellation", "[core][modern][listen]") {
  auto server = builtin_server();
  server->resources().add(ResourceDefinition{.uri = "test://watched", .name = "w", .title = "", .description = "", .mime_type = "",
                                             .icons = nullptr, .read = [](RequestContext&) { return Json::array(); }});
  Client c(*server);
  c.send(rpc::make_request(11, "subscriptions/listen",
                           Json{{"notifications", {{"toolsListChanged", true}, {"resourceSubscriptions", {"test://watched"}}}},
                                {"_meta", modern_meta()}}));
  auto ack = c.sink->wait_for([](const Json& m) { return m.value("method", "") == "notifications/subscriptions/acknowledged"; });
  REQUIRE(ack);
  CHECK((*ack)["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 11);
  CHECK((*ack)["params"]["notifications"]["toolsListChanged"] == true);
  CHECK(c.sink->snapshot().front() == *ack);  // the first frame

  server->notify_list_changed("prompts");  // not asked for
  server->notify_list_changed("tools");
  server->notify_resource_updated("test://watched");
  server->notify_resource_updated("test://other");
  std::vector<Json> got;
  for (const auto& m : c.sink->snapshot())
    if (m.value("method", "") != "notifications/subscriptions/acknowledged") got.push_back(m);
  REQUIRE(got.size() == 2);
  CHECK(got[0]["method"] == "notifications/tools/list_changed");
  CHECK(got[0]["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 11);
  CHECK(got[1]["method"] == "notifications/resources/updated");
  CHECK(got[1]["params"]["uri"] == "test://watched");

  c.send(rpc::make_notification("notifications/cancelled", Json{{"requestId", 11}}));
  server->notify_list_changed("tools");
  size_t after = c.sink->snapshot().size();
  server->notify_list_changed("tools");
  CHECK(c.sink->snapshot().size() == after);  // no more frames once cancelled
  CHECK(count_id(*c.sink, 11) == 0);           // and never a reply

  auto bad = c.request(12, "subscriptions/listen", Json{{"notifications", {{"toolsListChanged", "yes"}}}, {"_meta", modern_meta()}});
  CHECK(error_code(bad) == rpc::kInvalidParams);
}
