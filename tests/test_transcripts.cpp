// Whole-session transcripts, one per MCP revision, driven through the in-memory transport. Every
// message the server writes is validated against that revision's OFFICIAL JSON schema
// (tests/spec/<rev>/schema.json): as a JSONRPCMessage, as the specific result / error / request
// / notification it is, and for results, in strict mode (no property the revision does not
// declare). Behaviour is asserted along the way.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

#include "support/harness.hpp"
#include "support/spec_validator.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kAllRevisions{"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// ---- Fixtures besides the built-in tools ---------------------------------------------------

Json readme_contents() {
  return Json::array({Json{{"uri", "memo://readme"}, {"mimeType", "text/plain"}, {"text", "Welcome to Concierge."}}});
}

const Json kIcons = Json::array({Json{{"src", "https://example.com/icon.png"}, {"mimeType", "image/png"}, {"sizes", {"48x48"}}}});

// A tool whose result uses every content block type and the optional block fields of the newest
// revision: what an older client gets must be downgraded to what its schema knows.
ToolDefinition rich_tool() {
  ToolDefinition d;
  d.name = "rich_content";
  d.title = "Rich content";
  d.description = "Returns one content block of every kind.";
  d.input_schema = Json{{"type", "object"}};
  d.icons = kIcons;
  d.handler = [](const Json&, RequestContext&) {
    ToolResult r;
    r.content = Json::array({
        Json{{"type", "text"},
             {"text", "plain text"},
             {"annotations", {{"audience", {"user"}}, {"priority", 0.5}, {"lastModified", "2025-01-12T15:00:58Z"}}},
             {"_meta", {{"example.com/origin", "rich"}}}},
        Json{{"type", "image"}, {"data", "iVBORw0KGgo="}, {"mimeType", "image/png"}},
        Json{{"type", "audio"}, {"data", "UklGRg=="}, {"mimeType", "audio/wav"}},
        Json{{"type", "resource_link"},
             {"uri", "memo://readme"},
             {"name", "readme"},
             {"title", "Read me"},
             {"description", "What this server is."},
             {"mimeType", "text/plain"},
             {"icons", kIcons}},
        Json{{"type", "resource"},
             {"resource", {{"uri", "memo://notes/1"}, {"mimeType", "text/markdown"}, {"text", "# Note 1"}, {"_meta", {{"example.com/rev", 3}}}}}},
    });
    return r;
  };
  return d;
}

ToolDefinition confirm_tool() {
  ToolDefinition d;
  d.name = "confirm_action";
  d.title = "Confirm action";
  d.description = "Asks the user to confirm an action before doing it.";
  d.input_schema = Json::parse(R"({"type": "object", "properties": {"action": {"type": "string"}},
                                   "required": ["action"], "additionalProperties": false})");
  d.hints.destructive = true;
  d.icons = kIcons;
  d.handler = [](const Json& args, RequestContext& ctx) {
    const std::string action = args["action"];
    ctx.log(LogLevel::Info, Json{{"asking", action}}, "confirm_action");
    ctx.progress(1, 2, "asking the user");
    Json answer = ctx.input(
        "confirm", "elicitation/create",
        Json{{"message", "Really " + action + "?"},
             {"requestedSchema",
              {{"type", "object"},
               {"properties", {{"confirm", {{"type", "boolean"}, {"title", "Confirm"}, {"description", "Go ahead?"}}}}},
               {"required", {"confirm"}}}}});
    if (answer.value("action", "") != "accept") return ToolResult::text("declined: " + action);
    bool yes = answer.value("content", Json::object()).value("confirm", false);
    return ToolResult::text((yes ? "confirmed: " : "not confirmed: ") + action);
  };
  return d;
}

std::unique_ptr<Server> transcript_server() {
  ServerOptions o;
  o.instructions = "Use the tools to manage the user's day.";
  o.website_url = "https://example.com/concierge";
  o.icons = kIcons;
  auto s = builtin_server(std::move(o));
  ResourceDefinition readme;
  readme.uri = "memo://readme";
  readme.name = "readme";
  readme.title = "Read me";
  readme.description = "What this server is.";
  readme.mime_type = "text/plain";
  readme.icons = kIcons;
  readme.read = [](RequestContext&) {
    Json c = readme_contents();
    c[0]["_meta"] = Json{{"example.com/revision", 1}};  // _meta on contents: 2025-06-18 on
    return c;
  };
  readme.ttl_ms = 30000;
  s->resources().add(std::move(readme));

  ResourceTemplateDefinition note;
  note.uri_template = "memo://notes/{id}";
  note.name = "note";
  note.title = "Note";
  note.description = "A numbered note.";
  note.mime_type = "text/markdown";
  note.icons = kIcons;
  note.read = [](const std::string& uri, const std::map<std::string, std::string>& vars, RequestContext&) -> Json {
    auto id = vars.at("id");
    if (id != "1" && id != "2") return nullptr;
    return Json::array({Json{{"uri", uri}, {"mimeType", "text/markdown"}, {"text", "# Note " + id}}});
  };
  note.complete["id"] = complete_from({"1", "2"});
  s->resources().add_template(std::move(note));

  PromptDefinition greet;
  greet.name = "greet";
  greet.title = "Greeting";
  greet.description = "Greets the user in a chosen style.";
  greet.icons = kIcons;
  PromptArgument style;
  style.name = "style";
  style.title = "Style";
  style.description = "formal, friendly or festive";
  style.required = true;
  style.complete = complete_from({"formal", "friendly", "festive"});
  greet.arguments.push_back(std::move(style));
  greet.render = [](const std::map<std::string, std::string>& args, RequestContext&) {
    return Json{{"description", "A greeting"},
                {"messages", Json::array({Json{{"role", "user"},
                                               {"content", {{"type", "text"}, {"text", "Greet me in a " + args.at("style") + " way."}}}}})}};
  };
  s->prompts().add(std::move(greet));
  s->tools().add(confirm_tool());
  s->tools().add(rich_tool());
  return s;
}

// ---- The transcript driver -----------------------------------------------------------------

// What the reply to one request must be.
struct Expect {
  std::string method;
  std::string result_def;  // definition the result must satisfy; empty when an error is expected
  bool strict = false;     // result checked for properties the revision does not declare
  int error_code = 0;      // expected error code
};

class Transcript {
 public:
  Transcript(std::string revision, Json caps)
      : rev(std::move(revision)),
        modern(rev == "2026-07-28"),
        spec(SpecSchema::get(rev)),
        server(transcript_server()),
        client(*server),
        caps_(std::move(caps)) {}

  // Params as the revision carries them: 2026-07-28 adds the per-request _meta.
  Json params(Json p = Json::object(), const Json& meta_extra = Json::object()) const {
    if (!modern) {
      if (!meta_extra.empty()) p["_meta"] = meta_extra;
      return p;
    }
    Json meta = modern_meta(caps_);
    for (auto& [k, v] : meta_extra.items()) meta[k] = v;
    p["_meta"] = meta;
    return p;
  }

  // Registers what the reply to a request sent by other means (a batch) must be.
  void expect(const Json& id, const std::string& method, const std::string& result_def, bool strict = true) {
    expected_[id.dump()] = Expect{method, result_def, strict, 0};
  }

  Json send_request(const std::string& method, const Json& p, Expect e, bool well_formed = true) {
    Json id = next_id_++;
    e.method = method;
    expected_[id.dump()] = e;
    Json msg = rpc::make_request(id, method, p);
    // The test's own traffic must be valid for the revision too (except deliberate mistakes).
    if (well_formed && spec.has("ClientRequest")) {
      INFO("MCP " << rev << " client request: " << msg.dump());
      CHECK(spec.validate(msg, "ClientRequest") == "");
    }
    client.send(msg);
    return id;
  }
  Json reply(const Json& id) {
    Json r = client.reply(id, 10s);
    INFO("MCP " << rev << ": no reply to request " << id.dump());
    REQUIRE(r.is_object());
    return r;
  }
  // A request expected to succeed with `result_def`; returns its result.
  Json ok(const std::string& method, Json p, const std::string& result_def, bool strict = true) {
    Json r = reply(send_request(method, p, Expect{"", result_def, strict, 0}));
    INFO("MCP " << rev << " " << method << " reply: " << r.dump());
    REQUIRE(r.contains("result"));
    return r["result"];
  }
  // A request expected to fail with `code`; returns the error object.
  Json fails(const std::string& method, Json p, int code, bool well_formed = false) {
    Json r = reply(send_request(method, p, Expect{"", "", false, code}, well_formed));
    INFO("MCP " << rev << " " << method << " reply: " << r.dump());
    REQUIRE(r.contains("error"));
    CHECK(r["error"]["code"] == code);
    return r["error"];
  }

  // Validates every message the server wrote.
  void check_all_messages() {
    auto messages = client.sink->snapshot();
    if (std::getenv("CONCIERGE_TRANSCRIPT_DUMP"))  // to read a transcript: set it and run one test
      for (const auto& m : messages) std::printf("%s <- %s\n", rev.c_str(), m.dump().c_str());
    CHECK(messages.size() >= expected_.size());
    std::map<std::string, int> replies;
    for (const auto& m : messages) {
      if (m.is_array()) {
        INFO("MCP " << rev << " server batch: " << m.dump());
        CHECK(rev == "2025-03-26");
        CHECK(spec.validate(m, spec.has("JSONRPCBatchResponse") ? "JSONRPCBatchResponse" : "JSONRPCMessage") == "");
        for (const auto& e : m) check_message(e, replies);
      } else {
        check_message(m, replies);
      }
    }
    // Every request answered exactly once, and nothing answered that was not asked.
    for (const auto& [id, e] : expected_) {
      INFO("MCP " << rev << " request " << id << " (" << e.method << ")");
      CHECK(replies[id] == 1);
    }
    for (const auto& [id, n] : replies) {
      INFO("MCP " << rev << " reply to id " << id);
      CHECK(expected_.count(id) == 1);
    }
  }

  size_t server_messages(const std::string& method) {
    size_t n = 0;
    for (const auto& m : client.sink->snapshot())
      if (m.is_object() && m.value("method", "") == method) ++n;
    return n;
  }

  std::string rev;
  bool modern;
  const SpecSchema& spec;
  std::unique_ptr<Server> server;
  Client client;

 private:
  std::string response_def() const { return spec.has("JSONRPCResultResponse") ? "JSONRPCResultResponse" : "JSONRPCResponse"; }
  std::string error_def() const { return spec.has("JSONRPCErrorResponse") ? "JSONRPCErrorResponse" : "JSONRPCError"; }

  // The definition of a request/notification by method, found by its `method` const.
  std::string def_for_method(const std::string& method, const std::string& union_name) const {
    if (!spec.has(union_name)) return "";
    for (const auto& b : spec.definition(union_name).value("anyOf", Json::array())) {
      std::string ref = b.value("$ref", "");
      std::string name = ref.substr(ref.rfind('/') + 1);
      if (!spec.has(name)) continue;
      const Json& d = spec.definition(name);
      if (d.contains("properties") && d["properties"].contains("method") &&
          d["properties"]["method"].value("const", "") == method)
        return name;
    }
    return "";
  }

  void check_strict(const Json& body, const std::string& def) {
    auto extra = spec.undeclared(body, def);
    INFO("properties MCP " << rev << " " << def << " does not declare: " << join(extra));
    CHECK(extra.empty());
  }

  void check_message(const Json& m, std::map<std::string, int>& replies) {
    INFO("MCP " << rev << " server message: " << m.dump());
    CHECK(spec.validate(m, "JSONRPCMessage") == "");
    if (!m.is_object()) return;
    if (m.contains("method")) {
      const std::string method = m["method"];
      // Envelope fields are not declared by every revision's request/notification definitions.
      Json body = m;
      body.erase("jsonrpc");
      body.erase("id");
      if (m.contains("id")) {  // a server->client request
        CHECK_FALSE(modern);   // 2026-07-28 has no server->client requests (MRTR instead)
        CHECK(spec.validate(m, "JSONRPCRequest") == "");
        CHECK(spec.validate(m, "ServerRequest") == "");
        std::string def = def_for_method(method, "ServerRequest");
        CHECK(def != "");
        if (!def.empty()) {
          CHECK(spec.validate(m, def) == "");
          check_strict(body, def);
        }
      } else {
        CHECK(spec.validate(m, "JSONRPCNotification") == "");
        CHECK(spec.validate(m, "ServerNotification") == "");
        std::string def = def_for_method(method, "ServerNotification");
        CHECK(def != "");
        if (!def.empty()) {
          CHECK(spec.validate(m, def) == "");
          check_strict(body, def);
        }
      }
      return;
    }
    const std::string id = m.value("id", Json()).dump();
    ++replies[id];
    auto it = expected_.find(id);
    if (it == expected_.end()) return;  // counted as unexpected above
    const Expect& e = it->second;
    INFO("reply to " << e.method);
    if (m.contains("result")) {
      CHECK(e.error_code == 0);
      CHECK(spec.validate(m, response_def()) == "");
      CHECK(spec.validate(m["result"], "ServerResult") == "");
      if (!e.result_def.empty()) {
        CHECK(spec.validate(m["result"], e.result_def) == "");
        if (spec.has(e.result_def + "Response")) CHECK(spec.validate(m, e.result_def + "Response") == "");
        if (e.strict) check_strict(m["result"], e.result_def);
      }
    } else {
      CHECK(m.contains("error"));
      CHECK(e.error_code != 0);
      CHECK(spec.validate(m, error_def()) == "");
      // 2025-11-25 on: JSONRPCResponse is the union of result and error responses.
      if (spec.has("JSONRPCErrorResponse")) CHECK(spec.validate(m, "JSONRPCResponse") == "");
      if (spec.has("Error")) CHECK(spec.validate(m["error"], "Error") == "");
      // 2026-07-28 names the standard errors.
      static const std::map<int, std::string> kNamed{{-32700, "ParseError"},     {-32600, "InvalidRequestError"},
                                                      {-32601, "MethodNotFoundError"}, {-32602, "InvalidParamsError"},
                                                      {-32603, "InternalError"}};
      if (auto n = kNamed.find(m["error"].value("code", 0)); n != kNamed.end() && spec.has(n->second))
        CHECK(spec.validate(m["error"], n->second) == "");
      if (m["error"].value("code", 0) == -32021 && spec.has("MissingRequiredClientCapabilityError"))
        CHECK(spec.validate(m, "MissingRequiredClientCapabilityError") == "");
    }
  }

  Json caps_;
  int64_t next_id_ = 1;
  std::map<std::string, Expect> expected_;
};

bool has_text(const Json& call_result, const std::string& needle) {
  for (const auto& c : call_result.value("content", Json::array()))
    if (c.value("type", "") == "text" && c.value("text", "").find(needle) != std::string::npos) return true;
  return false;
}

std::vector<std::string> block_types(const Json& call_result) {
  std::vector<std::string> out;
  for (const auto& c : call_result.value("content", Json::array())) out.push_back(c.value("type", "?"));
  return out;
}

// Asserts the rich_content result as a client of `rev` must see it.
void check_rich(const Json& r, const std::string& rev) {
  using V = std::vector<std::string>;
  if (rev < "2025-03-26") CHECK(block_types(r) == V{"text", "image", "text", "text", "resource"});
  else if (rev < "2025-06-18") CHECK(block_types(r) == V{"text", "image", "audio", "text", "resource"});
  else CHECK(block_types(r) == V{"text", "image", "audio", "resource_link", "resource"});
  const Json& c = r["content"];
  REQUIRE(c.size() == 5);
  CHECK(c[0]["text"] == "plain text");
  CHECK(c[0].contains("_meta") == (rev >= "2025-06-18"));
  CHECK(c[0]["annotations"]["audience"] == Json::array({"user"}));
  CHECK(c[0]["annotations"].contains("lastModified") == (rev >= "2025-06-18"));  // Annotations.lastModified: 2025-06-18 on
  if (rev < "2025-03-26") CHECK(c[2]["text"] == "[audio: audio/wav]");
  if (rev < "2025-06-18") CHECK(c[3]["text"] == "memo://readme");
  else {
    CHECK(c[3]["title"] == "Read me");
    CHECK(c[3].contains("icons") == (rev >= "2025-11-25"));
  }
  CHECK(c[4]["resource"]["text"] == "# Note 1");
  CHECK(c[4]["resource"].contains("_meta") == (rev >= "2025-06-18"));  // ResourceContents._meta: 2025-06-18 on
  CHECK_FALSE(r.contains("isError"));
}

const Json* find_named(const Json& list, const std::string& name) {
  for (const auto& t : list)
    if (t.value("name", "") == name) return &t;
  return nullptr;
}

// ---- Legacy era: initialize handshake ------------------------------------------------------

void legacy_transcript(const std::string& rev) {
  const bool has_elicitation = rev >= "2025-06-18";
  const bool has_annotations = rev >= "2025-03-26";
  const bool has_titles = rev >= "2025-06-18";  // title, outputSchema, structuredContent, _meta
  const bool has_icons = rev >= "2025-11-25";   // icons, websiteUrl
  Json caps = has_elicitation ? Json{{"elicitation", Json::object()}} : Json::object();
  Transcript t(rev, caps);
  INFO("MCP " << rev << " (initialize handshake)");

  // Handshake.
  Json init = t.ok("initialize",
                   Json{{"protocolVersion", rev}, {"capabilities", caps}, {"clientInfo", {{"name", "transcript"}, {"version", "1.0"}}}},
                   "InitializeResult");
  t.client.send(rpc::make_notification("notifications/initialized", nullptr));
  CHECK(init["protocolVersion"] == rev);
  CHECK(init["serverInfo"]["name"] == "concierge");
  CHECK(init["serverInfo"].contains("title") == has_titles);
  CHECK(init["serverInfo"].contains("icons") == has_icons);
  CHECK(init["serverInfo"].contains("websiteUrl") == has_icons);
  CHECK(init["instructions"] == "Use the tools to manage the user's day.");
  CHECK(init["capabilities"].contains("tools"));
  CHECK(init["capabilities"].contains("resources"));
  CHECK(init["capabilities"].contains("prompts"));
  CHECK(init["capabilities"].contains("completions") == (rev >= "2025-03-26"));
  CHECK_FALSE(init.contains("resultType"));

  CHECK(t.ok("ping", nullptr, "EmptyResult").empty());

  // Tools.
  Json list = t.ok("tools/list", Json::object(), "ListToolsResult");
  CHECK_FALSE(list.contains("ttlMs"));
  CHECK_FALSE(list.contains("cacheScope"));
  Json tools = list["tools"];
  CHECK(tools.size() == t.server->tools().list().size());  // all of them, whatever tools are registered
  for (const char* name : {"confirm_action", "echo", "get_current_time", "rich_content"}) {
    const Json* tool = find_named(tools, name);
    INFO("tool " << name);
    REQUIRE(tool);
    CHECK(tool->contains("inputSchema"));
    if (std::string(name) != "rich_content") CHECK(tool->contains("annotations") == has_annotations);
    CHECK(tool->contains("title") == has_titles);
    if (std::string(name) != "echo" && std::string(name) != "get_current_time") CHECK(tool->contains("icons") == has_icons);
    CHECK_FALSE(tool->contains("execution"));
    if (std::string(name) == "get_current_time") CHECK(tool->contains("outputSchema") == has_titles);
    else CHECK_FALSE(tool->contains("outputSchema"));
  }

  Json echo = t.ok("tools/call", Json{{"name", "echo"}, {"arguments", {{"text", "hello " + rev}}}}, "CallToolResult");
  CHECK(echo["content"] == Json::array({Json{{"type", "text"}, {"text", "hello " + rev}}}));
  CHECK_FALSE(echo.contains("isError"));
  CHECK_FALSE(echo.contains("structuredContent"));

  Json now = t.ok("tools/call", Json{{"name", "get_current_time"}, {"arguments", {{"time_zone", "UTC"}}}}, "CallToolResult");
  CHECK(has_text(now, "UTC"));
  CHECK(now.contains("structuredContent") == has_titles);
  if (has_titles) CHECK(now["structuredContent"]["time_zone"] == "UTC");

  Json bad_args = t.ok("tools/call", Json{{"name", "echo"}, {"arguments", {{"text", 42}}}}, "CallToolResult");
  CHECK(bad_args["isError"] == true);
  CHECK(has_text(bad_args, "text"));

  check_rich(t.ok("tools/call", Json{{"name", "rich_content"}, {"arguments", Json::object()}}, "CallToolResult"), rev);

  // Resources.
  Json resources = t.ok("resources/list", Json::object(), "ListResourcesResult")["resources"];
  REQUIRE(resources.size() == 1);
  CHECK(resources[0]["uri"] == "memo://readme");
  CHECK(resources[0].contains("title") == has_titles);
  CHECK(resources[0].contains("icons") == has_icons);
  Json read = t.ok("resources/read", Json{{"uri", "memo://readme"}}, "ReadResourceResult");
  REQUIRE(read["contents"].size() == 1);
  CHECK(read["contents"][0]["text"] == "Welcome to Concierge.");
  CHECK(read["contents"][0].contains("_meta") == has_titles);
  CHECK_FALSE(read.contains("ttlMs"));
  Json templated = t.ok("resources/read", Json{{"uri", "memo://notes/2"}}, "ReadResourceResult");
  CHECK(templated["contents"][0]["text"] == "# Note 2");
  Json missing = t.fails("resources/read", Json{{"uri", "memo://nope"}}, -32002, /*well_formed=*/true);
  CHECK(missing["data"]["uri"] == "memo://nope");
  t.fails("resources/read", Json{{"uri", "memo://notes/9"}}, -32002, true);
  Json templates = t.ok("resources/templates/list", Json::object(), "ListResourceTemplatesResult")["resourceTemplates"];
  REQUIRE(templates.size() == 1);
  CHECK(templates[0]["uriTemplate"] == "memo://notes/{id}");
  CHECK(templates[0].contains("title") == has_titles);
  CHECK(templates[0].contains("icons") == has_icons);

  // Subscriptions and unsolicited notifications.
  CHECK(t.ok("resources/subscribe", Json{{"uri", "memo://readme"}}, "EmptyResult").empty());
  t.fails("resources/subscribe", Json{{"uri", "memo://nope"}}, -32002, true);
  t.server->notify_resource_updated("memo://readme");
  for (const char* what : {"tools", "resources", "prompts"}) t.server->notify_list_changed(what);
  CHECK(t.ok("resources/unsubscribe", Json{{"uri", "memo://readme"}}, "EmptyResult").empty());
  t.server->notify_resource_updated("memo://readme");  // no longer subscribed
  CHECK(t.server_messages("notifications/resources/updated") == 1);
  CHECK(t.server_messages("notifications/tools/list_changed") == 1);
  CHECK(t.server_messages("notifications/resources/list_changed") == 1);
  CHECK(t.server_messages("notifications/prompts/list_changed") == 1);

  // Prompts and completion.
  Json prompts = t.ok("prompts/list", Json::object(), "ListPromptsResult")["prompts"];
  REQUIRE(prompts.size() == 1);
  CHECK(prompts[0]["name"] == "greet");
  CHECK(prompts[0].contains("title") == has_titles);
  CHECK(prompts[0].contains("icons") == has_icons);
  CHECK(prompts[0]["arguments"][0]["required"] == true);
  CHECK(prompts[0]["arguments"][0].contains("title") == has_titles);
  Json prompt = t.ok("prompts/get", Json{{"name", "greet"}, {"arguments", {{"style", "formal"}}}}, "GetPromptResult");
  CHECK(prompt["messages"][0]["content"]["text"] == "Greet me in a formal way.");
  t.fails("prompts/get", Json{{"name", "greet"}}, -32602, true);  // required argument missing
  Json completion = t.ok("completion/complete",
                         Json{{"ref", {{"type", "ref/prompt"}, {"name", "greet"}}}, {"argument", {{"name", "style"}, {"value", "f"}}}},
                         "CompleteResult")["completion"];
  CHECK(completion["values"] == Json::array({"formal", "friendly", "festive"}));
  CHECK(completion["total"] == 3);
  CHECK(completion["hasMore"] == false);
  Json id_completion = t.ok("completion/complete",
                            Json{{"ref", {{"type", "ref/resource"}, {"uri", "memo://notes/{id}"}}}, {"argument", {{"name", "id"}, {"value", ""}}}},
                            "CompleteResult")["completion"];
  CHECK(id_completion["values"] == Json::array({"1", "2"}));

  // Logging.
  CHECK(t.ok("logging/setLevel", Json{{"level", "info"}}, "EmptyResult").empty());
  t.fails("logging/setLevel", Json{{"level", "chatty"}}, -32602);

  // Protocol errors.
  Json unknown = t.fails("tools/frobnicate", Json::object(), -32601);
  CHECK(unknown["message"].get<std::string>().find("tools/frobnicate") != std::string::npos);
  Json no_name = t.fails("tools/call", Json{{"arguments", Json::object()}}, -32602);
  CHECK(no_name["data"]["field"] == "name");
  t.fails("tools/call", Json{{"name", "no_such_tool"}}, -32602, true);
  t.fails("resources/read", Json::object(), -32602);

  // Elicitation: a server->client request answered by the client over the same connection.
  if (has_elicitation) {
    Json call_id = t.send_request("tools/call",
                                  Json{{"name", "confirm_action"}, {"arguments", {{"action", "deploy"}}}, {"_meta", {{"progressToken", "p1"}}}},
                                  Expect{"", "CallToolResult", true, 0});
    auto ask = t.client.sink->wait_for([](const Json& m) {
      return m.is_object() && m.value("method", "") == "elicitation/create" && m.contains("id");
    }, 10s);
    REQUIRE(ask);
    CHECK((*ask)["params"]["message"] == "Really deploy?");
    CHECK((*ask)["params"]["requestedSchema"]["properties"].contains("confirm"));
    Json answer{{"jsonrpc", "2.0"}, {"id", (*ask)["id"]}, {"result", {{"action", "accept"}, {"content", {{"confirm", true}}}}}};
    {
      INFO("client's elicitation answer: " << answer.dump());
      CHECK(t.spec.validate(answer, t.spec.has("JSONRPCResultResponse") ? "JSONRPCResultResponse" : "JSONRPCResponse") == "");
      CHECK(t.spec.validate(answer["result"], "ElicitResult") == "");
    }
    t.client.send(answer);
    Json done = t.reply(call_id);
    INFO("confirm_action reply: " << done.dump());
    REQUIRE(done.contains("result"));
    CHECK(has_text(done["result"], "confirmed: deploy"));
    CHECK_FALSE(done["result"].contains("isError"));
    CHECK(t.server_messages("notifications/message") >= 1);
    CHECK(t.server_messages("notifications/progress") == 1);
  } else {
    // No elicitation in this revision: the client cannot declare it, so the tool reports it.
    Json refused = t.ok("tools/call",
                        Json{{"name", "confirm_action"}, {"arguments", {{"action", "deploy"}}}, {"_meta", {{"progressToken", 7}}}},
                        "CallToolResult");
    CHECK(refused["isError"] == true);
    CHECK(has_text(refused, "elicitation"));
    CHECK(t.server_messages("elicitation/create") == 0);
    CHECK(t.server_messages("notifications/progress") == 1);
  }

  // JSON-RPC batches exist only in 2025-03-26.
  if (rev == "2025-03-26") {
    Json a = 9001, b = 9002;
    Json batch = Json::array({rpc::make_request(a, "tools/list", Json::object()), rpc::make_request(b, "ping", nullptr)});
    {
      INFO("client batch: " << batch.dump());
      CHECK(t.spec.validate(batch, "JSONRPCBatchRequest") == "");
    }
    // Registered by hand: the batch bypasses send_request.
    t.expect(a, "tools/list", "ListToolsResult");
    t.expect(b, "ping", "EmptyResult");
    t.client.send(batch);
    auto replies = t.client.sink->wait_for([](const Json& m) { return m.is_array(); }, 10s);
    REQUIRE(replies);
    CHECK(replies->size() == 2);
  }

  t.check_all_messages();
}

// ---- 2026-07-28: server/discover + per-request _meta --------------------------------------

void check_modern_result(const Json& r) {
  CHECK(r["resultType"] == "complete");
  CHECK(r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "concierge");
  CHECK(r["_meta"]["io.modelcontextprotocol/serverInfo"].contains("version"));
}
void check_cacheable(const Json& r) {
  CHECK(r["ttlMs"].is_number_integer());
  CHECK(r["ttlMs"].get<int64_t>() >= 0);
  CHECK((r["cacheScope"] == "private" || r["cacheScope"] == "public"));
}

void modern_transcript() {
  const std::string rev = "2026-07-28";
  Transcript t(rev, Json{{"elicitation", Json::object()}});
  INFO("MCP " << rev << " (server/discover + per-request _meta)");

  Json discover = t.ok("server/discover", t.params(), "DiscoverResult");
  check_modern_result(discover);
  check_cacheable(discover);
  CHECK(discover["supportedVersions"] == Json::array({"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}));
  CHECK(discover["capabilities"].contains("tools"));
  CHECK(discover["capabilities"].contains("resources"));
  CHECK(discover["capabilities"].contains("prompts"));
  // Resource subscriptions exist in 2026-07-28 too, through subscriptions/listen.
  CHECK(discover["capabilities"]["resources"]["subscribe"] == true);
  CHECK(discover["instructions"] == "Use the tools to manage the user's day.");
  CHECK(discover["_meta"]["io.modelcontextprotocol/serverInfo"]["websiteUrl"] == "https://example.com/concierge");

  // Tools.
  Json list = t.ok("tools/list", t.params(), "ListToolsResult");
  check_modern_result(list);
  check_cacheable(list);
  Json tools = list["tools"];
  CHECK(tools.size() == t.server->tools().list().size());  // all of them, whatever tools are registered
  for (const char* name : {"confirm_action", "echo", "get_current_time", "rich_content"}) {
    const Json* tool = find_named(tools, name);
    INFO("tool " << name);
    REQUIRE(tool);
    if (std::string(name) != "rich_content") CHECK(tool->contains("annotations"));
    CHECK(tool->contains("title"));
    CHECK_FALSE(tool->contains("execution"));
    CHECK(tool->contains("outputSchema") == (std::string(name) == "get_current_time"));
  }

  Json echo = t.ok("tools/call", t.params(Json{{"name", "echo"}, {"arguments", {{"text", "hello " + rev}}}}), "CallToolResult");
  check_modern_result(echo);
  CHECK(echo["content"] == Json::array({Json{{"type", "text"}, {"text", "hello " + rev}}}));
  Json now = t.ok("tools/call", t.params(Json{{"name", "get_current_time"}, {"arguments", {{"time_zone", "UTC"}}}}), "CallToolResult");
  check_modern_result(now);
  CHECK(now["structuredContent"]["time_zone"] == "UTC");
  Json bad_args = t.ok("tools/call", t.params(Json{{"name", "echo"}, {"arguments", {{"text", 42}}}}), "CallToolResult");
  check_modern_result(bad_args);
  CHECK(bad_args["isError"] == true);
  CHECK(has_text(bad_args, "text"));
  Json rich = t.ok("tools/call", t.params(Json{{"name", "rich_content"}, {"arguments", Json::object()}}), "CallToolResult");
  check_modern_result(rich);
  check_rich(rich, rev);

  // Resources.
  Json resources = t.ok("resources/list", t.params(), "ListResourcesResult");
  check_modern_result(resources);
  check_cacheable(resources);
  REQUIRE(resources["resources"].size() == 1);
  CHECK(resources["resources"][0]["title"] == "Read me");
  Json read = t.ok("resources/read", t.params(Json{{"uri", "memo://readme"}}), "ReadResourceResult");
  check_modern_result(read);
  check_cacheable(read);
  CHECK(read["ttlMs"] == 30000);
  CHECK(read["contents"][0]["text"] == "Welcome to Concierge.");
  CHECK(read["contents"][0]["_meta"]["example.com/revision"] == 1);
  Json templated = t.ok("resources/read", t.params(Json{{"uri", "memo://notes/1"}}), "ReadResourceResult");
  check_modern_result(templated);
  check_cacheable(templated);
  CHECK(templated["contents"][0]["text"] == "# Note 1");
  Json missing = t.fails("resources/read", t.params(Json{{"uri", "memo://nope"}}), -32602, /*well_formed=*/true);
  CHECK(missing["data"]["uri"] == "memo://nope");
  Json templates = t.ok("resources/templates/list", t.params(), "ListResourceTemplatesResult");
  check_modern_result(templates);
  check_cacheable(templates);
  CHECK(templates["resourceTemplates"][0]["uriTemplate"] == "memo://notes/{id}");

  // Prompts and completion.
  Json prompts = t.ok("prompts/list", t.params(), "ListPromptsResult");
  check_modern_result(prompts);
  check_cacheable(prompts);
  CHECK(prompts["prompts"][0]["arguments"][0]["title"] == "Style");
  Json prompt = t.ok("prompts/get", t.params(Json{{"name", "greet"}, {"arguments", {{"style", "festive"}}}}), "GetPromptResult");
  check_modern_result(prompt);
  CHECK(prompt["messages"][0]["content"]["text"] == "Greet me in a festive way.");
  t.fails("prompts/get", t.params(Json{{"name", "greet"}}), -32602, true);
  Json completion = t.ok("completion/complete",
                         t.params(Json{{"ref", {{"type", "ref/prompt"}, {"name", "greet"}}}, {"argument", {{"name", "style"}, {"value", "FR"}}}}),
                         "CompleteResult");
  check_modern_result(completion);
  CHECK(completion["completion"]["values"] == Json::array({"friendly"}));

  // Legacy-only methods and protocol errors.
  t.fails("ping", t.params(), -32601);
  t.fails("resources/subscribe", t.params(Json{{"uri", "memo://readme"}}), -32601);
  // No notification the client has not opted in to (there is no session to send them to).
  for (const char* what : {"tools", "resources", "prompts"}) t.server->notify_list_changed(what);
  t.server->notify_resource_updated("memo://readme");
  CHECK(t.server_messages("notifications/tools/list_changed") == 0);
  CHECK(t.server_messages("notifications/resources/updated") == 0);
  t.fails("logging/setLevel", t.params(Json{{"level", "info"}}), -32601);
  t.fails("tools/frobnicate", t.params(), -32601);
  Json no_name = t.fails("tools/call", t.params(Json{{"arguments", Json::object()}}), -32602);
  CHECK(no_name["data"]["field"] == "name");
  t.fails("tools/call", t.params(Json{{"name", "no_such_tool"}}), -32602, true);

  // Elicitation, multi-round-trip: input_required, then a retry carrying the answer and the state.
  Json call = Json{{"name", "confirm_action"}, {"arguments", {{"action", "deploy"}}}};
  Json meta_extra{{"progressToken", "p1"}, {"io.modelcontextprotocol/logLevel", "info"}};
  Json first = t.ok("tools/call", t.params(call, meta_extra), "InputRequiredResult");
  CHECK(first["resultType"] == "input_required");
  CHECK(first["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "concierge");
  REQUIRE(first["inputRequests"].contains("confirm"));
  CHECK(first["inputRequests"]["confirm"]["method"] == "elicitation/create");
  CHECK(first["inputRequests"]["confirm"]["params"]["message"] == "Really deploy?");
  CHECK(t.spec.validate(first["inputRequests"]["confirm"], "ElicitRequest") == "");
  REQUIRE(first["requestState"].is_string());
  CHECK_FALSE(first.contains("content"));

  Json retry = call;
  retry["inputResponses"] = Json{{"confirm", {{"action", "accept"}, {"content", {{"confirm", true}}}}}};
  retry["requestState"] = first["requestState"];
  Json done = t.ok("tools/call", t.params(retry, meta_extra), "CallToolResult");
  check_modern_result(done);
  CHECK(has_text(done, "confirmed: deploy"));
  CHECK(t.server_messages("notifications/message") == 2);  // one per round
  CHECK(t.server_messages("notifications/progress") == 2);
  CHECK(t.server_messages("elicitation/create") == 0);     // never a server->client request

  // Without the capability the request fails (-32021) instead of asking.
  Transcript bare(rev, Json::object());
  Json refused = bare.fails("tools/call", bare.params(call), -32021, true);
  CHECK(refused["data"]["requiredCapabilities"].contains("elicitation"));
  bare.check_all_messages();

  t.check_all_messages();
}

}  // namespace

// ---- The validator itself: it must catch what the transcripts rely on it to catch ---------------

TEST_CASE("spec validator: official schemas load and reject what they should", "[transcript][spec]") {
  for (const auto& rev : kAllRevisions) {
    INFO("MCP " << rev);
    const auto& spec = SpecSchema::get(rev);
    CHECK(spec.defs_key() == (rev >= "2025-11-25" ? "$defs" : "definitions"));
    Json ok{{"jsonrpc", "2.0"}, {"id", 1}, {"result", Json::object()}};
    if (rev == "2026-07-28") ok["result"]["resultType"] = "complete";
    CHECK(spec.validate(ok, "JSONRPCMessage") == "");
    CHECK(spec.validate(Json{{"jsonrpc", "1.0"}, {"id", 1}, {"result", Json::object()}}, "JSONRPCMessage") != "");
    // A $ref'd definition deep inside: a Tool's name must be a string.
    Json tools{{"tools", Json::array({Json{{"name", 7}, {"inputSchema", {{"type", "object"}}}}})}};
    if (rev == "2026-07-28") tools.update(Json{{"resultType", "complete"}, {"ttlMs", 0}, {"cacheScope", "private"}});
    std::string err = spec.validate(tools, "ListToolsResult");
    CHECK(err.find("tools[0].name") != std::string::npos);
    tools["tools"][0]["name"] = "x";
    CHECK(spec.validate(tools, "ListToolsResult") == "");
    // Strict mode: what each revision lacks.
    tools["tools"][0]["title"] = "X";
    tools["tools"][0]["icons"] = Json::array();
    tools["tools"][0]["annotations"] = Json{{"readOnlyHint", true}};
    tools["tools"][0]["execution"] = Json{{"taskSupport", "forbidden"}};
    tools["tools"][0]["_meta"] = Json{{"anything", 1}};
    auto extra = spec.undeclared(tools, "ListToolsResult");
    auto flagged = [&](const std::string& p) { return std::find(extra.begin(), extra.end(), "ListToolsResult.tools[0]." + p) != extra.end(); };
    INFO("undeclared: " << join(extra));
    CHECK(flagged("annotations") == (rev < "2025-03-26"));
    CHECK(flagged("title") == (rev < "2025-06-18"));
    CHECK(flagged("icons") == (rev < "2025-11-25"));
    CHECK(flagged("execution") == (rev != "2025-11-25"));
    CHECK_FALSE(flagged("_meta.anything"));
    // Content blocks are picked by their type.
    Json call{{"content", Json::array({Json{{"type", "text"}, {"text", "t"}, {"bogus", 1}}})}};
    if (rev == "2026-07-28") call["resultType"] = "complete";
    CHECK(spec.undeclared(call, "CallToolResult") == std::vector<std::string>{"CallToolResult.content[0].bogus"});
    if (rev == "2026-07-28") {
      // _meta is open, but its declared keys are checked: serverInfo is an Implementation.
      call["content"][0].erase("bogus");
      call["_meta"] = Json{{"io.modelcontextprotocol/serverInfo", {{"name", "x"}, {"version", "1"}, {"bogus", 1}}}, {"other", 1}};
      CHECK(spec.validate(call, "CallToolResult") == "");
      CHECK(spec.undeclared(call, "CallToolResult") ==
            std::vector<std::string>{"CallToolResult._meta.io.modelcontextprotocol/serverInfo.bogus"});
      call["_meta"]["io.modelcontextprotocol/serverInfo"].erase("version");
      CHECK(spec.validate(call, "CallToolResult").find("version") != std::string::npos);
      // 2020-12 files are read as draft-07: $ref into $defs and const work.
      CHECK(spec.validate(Json{{"code", -32601}, {"message", "m"}}, "MethodNotFoundError") == "");
      CHECK(spec.validate(Json{{"code", -32602}, {"message", "m"}}, "MethodNotFoundError") != "");
    }
  }
}

// ClientCapabilities is open in every revision, so a client of a revision without elicitation
// may still list it; the server must not send it a request method its revision does not define.
TEST_CASE("transcript: revisions without elicitation are never sent elicitation/create", "[transcript]") {
  for (std::string rev : {"2024-11-05", "2025-03-26"}) {
    INFO("MCP " << rev << " client that lists an elicitation capability anyway");
    Json caps{{"elicitation", Json::object()}};
    Transcript t(rev, caps);
    Json init = t.ok("initialize",
                     Json{{"protocolVersion", rev}, {"capabilities", caps}, {"clientInfo", {{"name", "transcript"}, {"version", "1.0"}}}},
                     "InitializeResult");
    CHECK(init["protocolVersion"] == rev);
    t.client.send(rpc::make_notification("notifications/initialized", nullptr));
    Json id = t.send_request("tools/call", Json{{"name", "confirm_action"}, {"arguments", {{"action", "deploy"}}}},
                             Expect{"", "CallToolResult", true, 0});
    auto first = t.client.sink->wait_for([&](const Json& m) {
      return m.is_object() && m.contains("id") &&
             (m.value("method", "") == "elicitation/create" || (m["id"] == id && !m.contains("method")));
    }, 10s);
    REQUIRE(first);
    if (first->contains("method"))  // answer it, or the tool would wait for the client's reply
      t.client.send(Json{{"jsonrpc", "2.0"}, {"id", (*first)["id"]}, {"result", {{"action", "decline"}}}});
    Json r = t.reply(id);
    CHECK(t.server_messages("elicitation/create") == 0);
    REQUIRE(r.contains("result"));
    CHECK(r["result"]["isError"] == true);
    t.check_all_messages();
  }
}

TEST_CASE("transcript 2024-11-05: initialize, then every method, all messages schema-valid", "[transcript]") {
  legacy_transcript("2024-11-05");
}
TEST_CASE("transcript 2025-03-26: initialize, then every method, all messages schema-valid", "[transcript]") {
  legacy_transcript("2025-03-26");
}
TEST_CASE("transcript 2025-06-18: initialize, then every method, all messages schema-valid", "[transcript]") {
  legacy_transcript("2025-06-18");
}
TEST_CASE("transcript 2025-11-25: initialize, then every method, all messages schema-valid", "[transcript]") {
  legacy_transcript("2025-11-25");
}
TEST_CASE("transcript 2026-07-28: server/discover + _meta, then every method, all messages schema-valid", "[transcript]") {
  modern_transcript();
}
