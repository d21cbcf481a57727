// conformance-server: Concierge's core and HTTP transport serving exactly the tools, resources,
// prompts and completions the official MCP conformance suite
// (@modelcontextprotocol/conformance, see package.json) expects of a server under test.
//
//   conformance-server [--port N]
//
// Binds 127.0.0.1 (port 0 picks a free one), prints one line `PORT <n>` on stdout once
// listening, logs to stderr, and exits 0 on SIGTERM or SIGINT. run.sh drives it.
//
// The fixture names, texts and schemas follow the suite's scenario code and its "everything
// server" specification; the behaviour behind them is ours.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <string>
#include <thread>
#include <unistd.h>

#include "server/core.hpp"
#include "server/http.hpp"
#include "server/registry.hpp"
#include "server/serve.hpp"

using namespace concierge;
using namespace std::chrono_literals;

namespace {

// A 2x2 RGB PNG and a 16-sample 8 kHz 8-bit mono PCM WAV, generated for this fixture.
constexpr const char* kPngBase64 =
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAE0lEQVR42mNgaGj438PAAMINDQAkpgUXP48eKQAAAABJRU5ErkJggg==";
constexpr const char* kWavBase64 = "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YRAAAADAwMDAQEBAQMDAwMBAQEBA";

// ---- Building blocks ------------------------------------------------------------------------

Json no_args() { return Json{{"type", "object"}, {"properties", Json::object()}}; }

Json string_args(std::initializer_list<std::pair<const char*, const char*>> props, std::vector<std::string> required = {}) {
  Json s = no_args();
  for (const auto& [name, description] : props) s["properties"][name] = Json{{"type", "string"}, {"description", description}};
  if (!required.empty()) s["required"] = required;
  return s;
}

Json text(const std::string& t) { return Json{{"type", "text"}, {"text", t}}; }
Json image() { return Json{{"type", "image"}, {"data", kPngBase64}, {"mimeType", "image/png"}}; }

ToolResult content(Json items) {
  ToolResult r;
  r.content = std::move(items);
  return r;
}

ToolDefinition tool(std::string name, std::string description, Json schema, ToolHandler handler,
                    TaskSupport tasks = TaskSupport::Forbidden) {
  ToolDefinition d;
  d.name = std::move(name);
  d.description = std::move(description);
  d.input_schema = std::move(schema);
  d.handler = std::move(handler);
  d.task_support = tasks;
  return d;
}

// Sleeps in steps so a cancelled request (or task) ends promptly.
void pause(RequestContext& ctx, std::chrono::milliseconds d) {
  if (ctx.cancel().wait_for(d)) throw rpc::Error(rpc::kRequestCancelled, "cancelled");
}

// ---- Client input: requests and checked responses -------------------------------------------

Json elicitation(std::string message, Json properties, std::vector<std::string> required) {
  Json schema{{"type", "object"}, {"properties", std::move(properties)}};
  schema["required"] = required;
  return Json{{"message", std::move(message)}, {"requestedSchema", std::move(schema)}};
}

Json one_string_elicitation(std::string message, const char* field) {
  return elicitation(std::move(message), Json{{field, Json{{"type", "string"}}}}, {field});
}

Json sampling(const std::string& prompt, int max_tokens) {
  return Json{{"messages", Json::array({Json{{"role", "user"}, {"content", text(prompt)}}})}, {"maxTokens", max_tokens}};
}

rpc::Error bad_response(const std::string& key, const char* want) {
  return rpc::invalid_params("Invalid inputResponses." + key + ": expected " + want,
                             Json{{"field", "inputResponses." + key}});
}

// An ElicitResult: {action: accept|decline|cancel, content?}. Returns the content of an accepted
// one, or null for a declined or cancelled one.
Json elicited(const std::string& key, const Json& r) {
  if (!r.is_object() || !r.contains("action") || !r["action"].is_string()) throw bad_response(key, "an ElicitResult");
  const auto action = r["action"].get<std::string>();
  if (action != "accept" && action != "decline" && action != "cancel") throw bad_response(key, "an ElicitResult");
  if (action != "accept") return nullptr;
  Json c = r.value("content", Json::object());
  if (!c.is_object()) throw bad_response(key, "an ElicitResult");
  return c;
}

std::string elicited_string(const std::string& key, const Json& r, const char* field, std::string fallback) {
  Json c = elicited(key, r);
  if (c.is_object() && c.contains(field) && c[field].is_string()) return c[field].get<std::string>();
  return fallback;
}

// A CreateMessageResult; returns its text (or a note when the content is not text).
std::string sampled(const std::string& key, const Json& r) {
  if (!r.is_object() || !r.contains("content") || !(r["content"].is_object() || r["content"].is_array()))
    throw bad_response(key, "a CreateMessageResult");
  Json c = r["content"].is_array() ? (r["content"].empty() ? Json::object() : r["content"][0]) : r["content"];
  return c.value("type", "") == "text" && c.contains("text") && c["text"].is_string() ? c["text"].get<std::string>()
                                                                                      : "(non-text content)";
}

// A ListRootsResult; returns the number of roots.
size_t rooted(const std::string& key, const Json& r) {
  if (!r.is_object() || !r.contains("roots") || !r["roots"].is_array()) throw bad_response(key, "a ListRootsResult");
  return r["roots"].size();
}

// ---- Tools ----------------------------------------------------------------------------------

void add_content_tools(ToolRegistry& tools) {
  tools.add(tool("test_simple_text", "Returns one text content item.", no_args(), [](const Json&, RequestContext&) {
    return ToolResult::text("This is a simple text response for testing.");
  }));
  tools.add(tool("test_image_content", "Returns one image content item (a PNG).", no_args(),
                 [](const Json&, RequestContext&) { return content(Json::array({image()})); }));
  tools.add(tool("test_audio_content", "Returns one audio content item (a WAV).", no_args(), [](const Json&, RequestContext&) {
    return content(Json::array({Json{{"type", "audio"}, {"data", kWavBase64}, {"mimeType", "audio/wav"}}}));
  }));
  tools.add(tool("test_embedded_resource", "Returns an embedded text resource.", no_args(), [](const Json&, RequestContext&) {
    return content(Json::array({Json{
        {"type", "resource"},
        {"resource", Json{{"uri", "test://embedded-resource"}, {"mimeType", "text/plain"}, {"text", "This is an embedded resource content."}}}}}));
  }));
  tools.add(tool("test_multiple_content_types", "Returns text, image and embedded resource content together.", no_args(),
                 [](const Json&, RequestContext&) {
                   return content(Json::array(
                       {text("Multiple content types test:"), image(),
                        Json{{"type", "resource"},
                             {"resource", Json{{"uri", "test://mixed-content-resource"},
                                               {"mimeType", "application/json"},
                                               {"text", dump(Json{{"test", "data"}, {"value", 123}})}}}}}));
                 }));
  tools.add(tool("test_error_handling", "Always fails with a tool error (isError).", no_args(), [](const Json&, RequestContext&) {
    return ToolResult::error("This tool intentionally returns an error for testing");
  }));
}

void add_notification_tools(ToolRegistry& tools) {
  tools.add(tool("test_tool_with_logging", "Sends three log messages while it runs.", no_args(), [](const Json&, RequestContext& ctx) {
    ctx.log(LogLevel::Info, "Tool execution started");
    pause(ctx, 50ms);
    ctx.log(LogLevel::Info, "Tool processing data");
    pause(ctx, 50ms);
    ctx.log(LogLevel::Info, "Tool execution completed");
    return ToolResult::text("Tool with logging executed successfully");
  }));
  tools.add(tool("test_tool_with_progress", "Reports progress 0, 50 and 100 of 100 while it runs.", no_args(),
                 [](const Json&, RequestContext& ctx) {
                   for (int step : {0, 50, 100}) {
                     if (step) pause(ctx, 50ms);
                     ctx.progress(step, 100, "Completed step " + std::to_string(step) + " of 100");
                   }
                   return ToolResult::text("Progress reported at 0, 50 and 100 of 100");
                 }));
  // 2026-07-28: with no io.modelcontextprotocol/logLevel in _meta the core sends no log messages.
  tools.add(tool("test_logging_tool", "Logs at every level; a client that set no log level sees none of it.", no_args(),
                 [](const Json&, RequestContext& ctx) {
                   for (auto level : {LogLevel::Debug, LogLevel::Info, LogLevel::Warning, LogLevel::Error})
                     ctx.log(level, "test_logging_tool at " + std::string(to_string(level)));
                   return ToolResult::text("Logging tool finished");
                 }));
  // Legacy Streamable HTTP: ends the POST's SSE stream mid-call; the client resumes with
  // Last-Event-ID and gets the result on the new stream.
  tools.add(tool("test_reconnection", "Closes its response stream mid-call, then answers about 100 ms later.", no_args(),
                 [](const Json&, RequestContext& ctx) {
                   ctx.close_stream();
                   pause(ctx, 100ms);
                   return ToolResult::text(
                       "Reconnection test completed successfully. If you received this, the client properly reconnected after "
                       "stream closure.");
                 }));
  tools.add(tool("test_trigger_tool_change", "Announces that the tool list changed.", no_args(), [](const Json&, RequestContext& ctx) {
    ctx.server().notify_list_changed("tools");
    return ToolResult::text("Sent notifications/tools/list_changed");
  }));
  tools.add(tool("test_trigger_prompt_change", "Announces that the prompt list changed.", no_args(), [](const Json&, RequestContext& ctx) {
    ctx.server().notify_list_changed("prompts");
    return ToolResult::text("Sent notifications/prompts/list_changed");
  }));
}

// Server-to-client requests: handshake-era clients get them as requests; 2026-07-28 clients as
// InputRequiredResults (the core decides).
void add_client_request_tools(ToolRegistry& tools) {
  tools.add(tool("test_sampling", "Asks the client's LLM to complete a prompt.",
                 string_args({{"prompt", "The prompt to send to the LLM"}}, {"prompt"}), [](const Json& args, RequestContext& ctx) {
                   Json r = ctx.input("sampling", "sampling/createMessage", sampling(args["prompt"].get<std::string>(), 100));
                   return ToolResult::text("LLM response: " + sampled("sampling", r));
                 }));
  tools.add(tool("test_elicitation", "Asks the user for a username and an email address.",
                 string_args({{"message", "The message to show the user"}}, {"message"}), [](const Json& args, RequestContext& ctx) {
                   Json props{{"username", Json{{"type", "string"}, {"description", "User's response"}}},
                              {"email", Json{{"type", "string"}, {"description", "User's email address"}}}};
                   Json r = ctx.input("user_info", "elicitation/create",
                                      elicitation(args["message"].get<std::string>(), props, {"username", "email"}));
                   Json c = elicited("user_info", r);
                   return ToolResult::text("User response: action=" + r["action"].get<std::string>() +
                                           ", content=" + dump(c.is_null() ? Json::object() : c));
                 }));
  tools.add(tool("test_elicitation_sep1034_defaults", "Elicits a form whose every primitive field has a default (SEP-1034).",
                 no_args(), [](const Json&, RequestContext& ctx) {
                   Json props{
                       {"name", Json{{"type", "string"}, {"description", "User name"}, {"default", "John Doe"}}},
                       {"age", Json{{"type", "integer"}, {"description", "User age"}, {"default", 30}}},
                       {"score", Json{{"type", "number"}, {"description", "User score"}, {"default", 95.5}}},
                       {"status", Json{{"type", "string"},
                                       {"description", "User status"},
                                       {"enum", {"active", "inactive", "pending"}},
                                       {"default", "active"}}},
                       {"verified", Json{{"type", "boolean"}, {"description", "Verification status"}, {"default", true}}}};
                   Json r = ctx.input("defaults", "elicitation/create",
                                      elicitation("Please review and update the form fields with defaults", props, {}));
                   Json c = elicited("defaults", r);
                   return ToolResult::text("Elicitation completed: action=" + r["action"].get<std::string>() +
                                           ", content=" + dump(c.is_null() ? Json::object() : c));
                 }));
  tools.add(tool("test_elicitation_sep1330_enums", "Elicits a form with every enum variant of SEP-1330.", no_args(),
                 [](const Json&, RequestContext& ctx) {
                   auto titled = [](const char* prefix, std::initializer_list<const char*> titles) {
                     Json out = Json::array();
                     int i = 1;
                     for (const char* t : titles) out.push_back(Json{{"const", prefix + std::to_string(i++)}, {"title", t}});
                     return out;
                   };
                   Json props{
                       {"untitledSingle", Json{{"type", "string"},
                                               {"description", "Select one option"},
                                               {"enum", {"option1", "option2", "option3"}}}},
                       {"titledSingle", Json{{"type", "string"},
                                             {"description", "Select one option with titles"},
                                             {"oneOf", titled("value", {"First Option", "Second Option", "Third Option"})}}},
                       {"legacyEnum", Json{{"type", "string"},
                                           {"description", "Select one option (legacy)"},
                                           {"enum", {"opt1", "opt2", "opt3"}},
                                           {"enumNames", {"Option One", "Option Two", "Option Three"}}}},
                       {"untitledMulti", Json{{"type", "array"},
                                              {"description", "Select multiple options"},
                                              {"minItems", 1},
                                              {"maxItems", 3},
                                              {"items", Json{{"type", "string"}, {"enum", {"option1", "option2", "option3"}}}}}},
                       {"titledMulti", Json{{"type", "array"},
                                            {"description", "Select multiple options with titles"},
                                            {"minItems", 1},
                                            {"maxItems", 3},
                                            {"items", Json{{"anyOf", titled("value", {"First Choice", "Second Choice", "Third Choice"})}}}}}};
                   Json r = ctx.input("enums", "elicitation/create", elicitation("Please select options from the enum fields", props, {}));
                   Json c = elicited("enums", r);
                   return ToolResult::text("Elicitation completed: action=" + r["action"].get<std::string>() +
                                           ", content=" + dump(c.is_null() ? Json::object() : c));
                 }));
  // Needs sampling: a client that did not declare it gets -32021 (2026-07-28; on older
  // revisions the core turns that into a tool error).
  tools.add(tool("test_missing_capability", "Needs the client's sampling capability.", no_args(), [](const Json&, RequestContext& ctx) {
    Json r = ctx.input("sampling", "sampling/createMessage", sampling("Say hello", 20));
    return ToolResult::text("Sampled: " + sampled("sampling", r));
  }));
  // 2026-07-28: the request for input comes back as an InputRequiredResult on the call's own
  // stream, never as a server-to-client request.
  tools.add(tool("test_streaming_elicitation", "Asks for the user's name over its response stream.", no_args(),
                 [](const Json&, RequestContext& ctx) {
                   ctx.progress(0, 1, "asking for a name");
                   Json r = ctx.input("user_name", "elicitation/create", one_string_elicitation("What is your name?", "name"));
                   return ToolResult::text("Hello, " + elicited_string("user_name", r, "name", "stranger") + "!");
                 }));
}

// SEP-2322 multi-round-trip requests (2026-07-28): each missing response becomes an
// InputRequiredResult with a sealed requestState; the core checks the state on retry.
void add_input_required_tools(ToolRegistry& tools) {
  tools.add(tool("test_input_required_result_elicitation", "MRTR: asks for the user's name (elicitation).", no_args(),
                 [](const Json&, RequestContext& ctx) {
                   Json r = ctx.input("user_name", "elicitation/create", one_string_elicitation("What is your name?", "name"));
                   return ToolResult::text("Hello, " + elicited_string("user_name", r, "name", "unknown") + "!");
                 }));
  tools.add(tool("test_input_required_result_sampling", "MRTR: asks the client's LLM a question (sampling).", no_args(),
                 [](const Json&, RequestContext& ctx) {
                   Json r = ctx.input("capital_question", "sampling/createMessage", sampling("What is the capital of France?", 100));
                   return ToolResult::text("Sampling result: " + sampled("capital_question", r));
                 }));
  tools.add(tool("test_input_required_result_list_roots", "MRTR: asks for the client's roots.", no_args(),
                 [](const Json&, RequestContext& ctx) {
                   Json r = ctx.input("client_roots", "roots/list", Json::object());
                   return ToolResult::text("Found " + std::to_string(rooted("client_roots", r)) + " root(s)");
                 }));
  tools.add(tool("test_input_required_result_request_state", "MRTR: asks for a confirmation, carrying requestState.", no_args(),
                 [](const Json&, RequestContext& ctx) {
                   Json r = ctx.input("confirm", "elicitation/create",
                                      elicitation("Please confirm", Json{{"ok", Json{{"type", "boolean"}}}}, {"ok"}));
                   Json c = elicited("confirm", r);
                   bool ok = c.is_object() && c.value("ok", false) == true;
                   return ToolResult::text(ok ? "state-ok: requestState validated" : "state-ok: not confirmed");
                 }));
  tools.add(tool("test_input_required_result_multiple_inputs", "MRTR: asks for elicitation, sampling and roots at once.", no_args(),
                 [](const Json&, RequestContext& ctx) {
                   auto r = ctx.inputs({{"user_name", "elicitation/create", one_string_elicitation("What is your name?", "name")},
                                        {"greeting", "sampling/createMessage", sampling("Generate a greeting", 50)},
                                        {"client_roots", "roots/list", Json::object()}});
                   return ToolResult::text("Name: " + elicited_string("user_name", r["user_name"], "name", "unknown") +
                                           "; Greeting: " + sampled("greeting", r["greeting"]) +
                                           "; Roots: " + std::to_string(rooted("client_roots", r["client_roots"])));
                 }));
  tools.add(tool("test_input_required_result_multi_round", "MRTR: two rounds, a name and then a favourite colour.", no_args(),
                 [](const Json&, RequestContext& ctx) {
                   Json first = ctx.input("step1", "elicitation/create", one_string_elicitation("Step 1: What is your name?", "name"));
                   std::string name = elicited_string("step1", first, "name", "friend");
                   Json second =
                       ctx.input("step2", "elicitation/create", one_string_elicitation("Step 2: What is your favorite color?", "color"));
                   return ToolResult::text("Multi-round complete for " + name + " who likes " +
                                           elicited_string("step2", second, "color", "no colour"));
                 }));
  tools.add(tool("test_input_required_result_tampered_state", "MRTR: a confirmation whose requestState is integrity-checked.",
                 no_args(), [](const Json&, RequestContext& ctx) {
                   Json r = ctx.input("confirm", "elicitation/create",
                                      elicitation("Please confirm", Json{{"ok", Json{{"type", "boolean"}}}}, {"ok"}));
                   elicited("confirm", r);
                   return ToolResult::text("integrity-ok: state verified");
                 }));
  // Asks only for what the client declared it can do.
  tools.add(tool("test_input_required_result_capabilities", "MRTR: asks only for input the client declared it can give.", no_args(),
                 [](const Json&, RequestContext& ctx) {
                   const Json& caps = ctx.client_capabilities();
                   std::vector<InputRequest> wanted;
                   if (caps.contains("elicitation"))
                     wanted.push_back({"elicit_input", "elicitation/create", one_string_elicitation("Elicitation input", "value")});
                   if (caps.contains("sampling")) wanted.push_back({"sample_input", "sampling/createMessage", sampling("Sample request", 50)});
                   if (caps.contains("roots")) wanted.push_back({"roots_input", "roots/list", Json::object()});
                   if (wanted.empty()) return ToolResult::text("No supported capabilities declared");
                   auto got = ctx.inputs(std::move(wanted));
                   std::string keys;
                   for (const auto& [k, _] : got) keys += (keys.empty() ? "" : ",") + k;
                   return ToolResult::text("capabilities-ok: received " + keys);
                 }));
}

void add_schema_tools(ToolRegistry& tools) {
  // SEP-1613 / SEP-2106: a 2020-12 inputSchema must reach the client keyword for keyword.
  Json schema = Json::parse(R"({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {"address": {"$anchor": "addressDef", "type": "object",
                          "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"},
                   "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                   "phone": {"type": "string"}, "email": {"type": "string"}},
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": false
  })");
  tools.add(tool("json_schema_2020_12_tool", "Takes a contact described with JSON Schema 2020-12 features (SEP-1613, SEP-2106).",
                 std::move(schema), [](const Json& args, RequestContext&) {
                   return ToolResult::text("JSON Schema 2020-12 tool called with: " + dump(args));
                 }));
  // SEP-2243: a parameter mirrored into the Mcp-Param-Region header, which the transport checks.
  Json header_schema{{"type", "object"},
                     {"properties", Json{{"region", Json{{"type", "string"},
                                                         {"description", "A region name, also sent as the Mcp-Param-Region header"},
                                                         {"x-mcp-header", "Region"}}}}},
                     {"required", {"region"}}};
  tools.add(tool("test_x_mcp_header", "Echoes its region parameter, which clients also send as an HTTP header (SEP-2243).",
                 std::move(header_schema), [](const Json& args, RequestContext&) {
                   return ToolResult::text("Region: " + args["region"].get<std::string>());
                 }));
}

// The tasks extension (io.modelcontextprotocol/tasks, SEP-2663). A task-supporting tool runs as a
// task only when the request's client capabilities declare the extension; the core decides.
void add_task_tools(ToolRegistry& tools) {
  tools.add(tool("greet", "Greets someone by name (never a task).", string_args({{"name", "Who to greet"}}, {"name"}),
                 [](const Json& args, RequestContext&) { return ToolResult::text("Hello, " + args["name"].get<std::string>() + "!"); }));
  Json compute_schema{{"type", "object"},
                      {"properties", Json{{"seconds", Json{{"type", "number"}, {"minimum", 0}, {"description", "How long to work"}}},
                                          {"label", Json{{"type", "string"}, {"description", "A name for this job"}}}}}};
  tools.add(tool(
      "slow_compute", "Works for the given number of seconds; may run as a task.", std::move(compute_schema),
      [](const Json& args, RequestContext& ctx) {
        double seconds = args.value("seconds", 1.0);
        pause(ctx, std::chrono::milliseconds(static_cast<long long>(seconds * 1000)));
        std::string label = args.value("label", std::string("job"));
        return ToolResult::text("Computed " + label + " in " + dump(args.value("seconds", Json(1))) + " s");
      },
      TaskSupport::Optional));
  tools.add(tool(
      "failing_job", "Runs only as a task, which ends in a tool error after about a second.", no_args(),
      [](const Json&, RequestContext& ctx) {
        pause(ctx, 1s);
        return ToolResult::error("failing_job failed, as it always does");
      },
      TaskSupport::Required));
  tools.add(tool(
      "protocol_error_job", "Fails with a protocol (JSON-RPC) error; as a task it ends failed.", no_args(),
      [](const Json&, RequestContext& ctx) -> ToolResult {
        pause(ctx, 200ms);
        throw rpc::Error(rpc::kInternalError, "protocol_error_job failed with a protocol error");
      },
      TaskSupport::Optional));
  tools.add(tool(
      "confirm_delete", "Asks the user to confirm before deleting a file; may run as a task.",
      string_args({{"filename", "The file to delete"}}),
      [](const Json& args, RequestContext& ctx) {
        std::string file = args.value("filename", std::string("example.txt"));
        Json r = ctx.input("confirm", "elicitation/create",
                           elicitation("Delete " + file + "?", Json{{"confirm", Json{{"type", "boolean"}}}}, {"confirm"}));
        Json c = elicited("confirm", r);
        bool yes = c.is_object() && c.value("confirm", false) == true;
        return ToolResult::text(yes ? "Deleted " + file : "Kept " + file);
      },
      TaskSupport::Optional));
  tools.add(tool(
      "multi_input", "Asks two questions at once; may run as a task.", no_args(),
      [](const Json&, RequestContext& ctx) {
        auto r = ctx.inputs({{"first", "elicitation/create", one_string_elicitation("First question: your name?", "name")},
                             {"second", "elicitation/create", one_string_elicitation("Second question: your city?", "city")}});
        return ToolResult::text("Answers: " + elicited_string("first", r["first"], "name", "-") + ", " +
                                elicited_string("second", r["second"], "city", "-"));
      },
      TaskSupport::Optional));
  // MRTR first, then a task (tasks-mrtr-composition): the name is gathered in the request itself,
  // and only the rest, returned as a deferred continuation, becomes the task.
  auto with_task = tool(
      "test_tool_with_task", "Asks for the user's name, then finishes the work as a task.", no_args(),
      [](const Json&, RequestContext& ctx) {
        Json r = ctx.input("user_name", "elicitation/create", one_string_elicitation("What is your name?", "name"));
        std::string name = elicited_string("user_name", r, "name", "stranger");
        return ToolResult::deferred([name](RequestContext& task_ctx) {
          pause(task_ctx, 200ms);
          return ToolResult::text("Task finished for " + name);
        });
      },
      TaskSupport::Required);
  with_task.defers_task = true;
  tools.add(std::move(with_task));
}

// ---- Resources ------------------------------------------------------------------------------

void add_resources(ResourceRegistry& resources) {
  auto text_resource = [](std::string uri, std::string mime, std::string body) {
    return [uri, mime, body](RequestContext&) {
      return Json::array({Json{{"uri", uri}, {"mimeType", mime}, {"text", body}}});
    };
  };
  resources.add(ResourceDefinition{.uri = "test://static-text",
                                   .name = "static-text",
                                   .title = "Static Text Resource",
                                   .description = "A static text resource for testing",
                                   .mime_type = "text/plain",
                                   .read = text_resource("test://static-text", "text/plain",
                                                         "This is the content of the static text resource."),
                                   .ttl_ms = 60000});
  resources.add(ResourceDefinition{.uri = "test://static-binary",
                                   .name = "static-binary",
                                   .title = "Static Binary Resource",
                                   .description = "A static binary resource (a PNG image) for testing",
                                   .mime_type = "image/png",
                                   .read = [](RequestContext&) {
                                     return Json::array({Json{{"uri", "test://static-binary"}, {"mimeType", "image/png"}, {"blob", kPngBase64}}});
                                   },
                                   .ttl_ms = 60000});
  resources.add(ResourceDefinition{.uri = "test://watched-resource",
                                   .name = "watched-resource",
                                   .title = "Watched Resource",
                                   .description = "A resource clients may subscribe to",
                                   .mime_type = "text/plain",
                                   .read = text_resource("test://watched-resource", "text/plain", "Watched resource content")});
  resources.add_template(ResourceTemplateDefinition{
      .uri_template = "test://template/{id}/data",
      .name = "template",
      .title = "Resource Template",
      .description = "A resource template with parameter substitution",
      .mime_type = "application/json",
      .read = [](const std::string& uri, const std::map<std::string, std::string>& vars, RequestContext&) {
        const std::string& id = vars.at("id");
        Json body{{"id", id}, {"templateTest", true}, {"data", "Data for ID: " + id}};
        return Json::array({Json{{"uri", uri}, {"mimeType", "application/json"}, {"text", dump(body)}}});
      },
      .complete = {{"id", complete_from({"1", "123", "42"})}}});
}

// ---- Prompts --------------------------------------------------------------------------------

Json user_message(Json content) { return Json{{"role", "user"}, {"content", std::move(content)}}; }

void add_prompts(PromptRegistry& prompts) {
  prompts.add(PromptDefinition{.name = "test_simple_prompt",
                               .title = "Simple Test Prompt",
                               .description = "A simple prompt without arguments",
                               .render = [](const auto&, RequestContext&) {
                                 return Json{{"messages", Json::array({user_message(text("This is a simple prompt for testing."))})}};
                               }});
  prompts.add(PromptDefinition{
      .name = "test_prompt_with_arguments",
      .title = "Prompt With Arguments",
      .description = "A prompt with two required arguments",
      .arguments = {PromptArgument{.name = "arg1", .description = "First test argument", .required = true,
                                   .complete = complete_from({"test", "testValue1", "test-value-one", "paris"})},
                    PromptArgument{.name = "arg2", .description = "Second test argument", .required = true,
                                   .complete = complete_from({"test", "testValue2", "test-value-two", "london"})}},
      .render = [](const std::map<std::string, std::string>& args, RequestContext&) {
        return Json{{"messages", Json::array({user_message(text("Prompt with arguments: arg1='" + args.at("arg1") + "', arg2='" +
                                                                args.at("arg2") + "'"))})}};
      }});
  prompts.add(PromptDefinition{
      .name = "test_prompt_with_embedded_resource",
      .title = "Prompt With Embedded Resource",
      .description = "A prompt that embeds a resource",
      .arguments = {PromptArgument{.name = "resourceUri", .description = "URI of the resource to embed", .required = true}},
      .render = [](const std::map<std::string, std::string>& args, RequestContext&) {
        Json resource{{"type", "resource"},
                      {"resource", Json{{"uri", args.at("resourceUri")}, {"mimeType", "text/plain"}, {"text", "Embedded resource content for testing."}}}};
        return Json{{"messages", Json::array({user_message(resource), user_message(text("Please process the embedded resource above."))})}};
      }});
  prompts.add(PromptDefinition{.name = "test_prompt_with_image",
                               .title = "Prompt With Image",
                               .description = "A prompt that includes an image",
                               .render = [](const auto&, RequestContext&) {
                                 return Json{{"messages", Json::array({user_message(image()), user_message(text("Please analyze the image above."))})}};
                               }});
  // SEP-2322: prompts/get may need client input too.
  prompts.add(PromptDefinition{
      .name = "test_input_required_result_prompt",
      .title = "Prompt Needing Input",
      .description = "MRTR: asks the user for context before rendering",
      .render = [](const auto&, RequestContext& ctx) {
        Json r = ctx.input("user_context", "elicitation/create",
                           one_string_elicitation("What context should the prompt use?", "context"));
        return Json{{"messages", Json::array({user_message(text("Prompt with context: " +
                                                                elicited_string("user_context", r, "context", "none")))})}};
      }});
}

void register_fixtures(Server& server) {
  add_content_tools(server.tools());
  add_notification_tools(server.tools());
  add_client_request_tools(server.tools());
  add_input_required_tools(server.tools());
  add_schema_tools(server.tools());
  add_task_tools(server.tools());
  add_resources(server.resources());
  add_prompts(server.prompts());
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "conformance-server: %s\nusage: conformance-server [--port N]\n", why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port" && i + 1 < argc) {
      char* end = nullptr;
      long p = std::strtol(argv[++i], &end, 10);
      if (*end || p < 0 || p > 65535) usage("--port takes a number from 0 to 65535");
      port = static_cast<int>(p);
    } else {
      usage(("unknown argument: " + a).c_str());
    }
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("conformance"));
  spdlog::set_level(spdlog::level::info);

  StopSignals stop;  // before any thread starts

  ServerOptions options;
  options.name = "concierge-conformance";
  options.title = "Concierge conformance fixture";
  options.description = "The fixtures of the MCP conformance suite, served by Concierge's core.";
  // Several fixtures behind one load balancer (tests/scale): each names its sessions, and they
  // share the requestState key, as `concierge serve --instance/--state-key-file` do.
  if (const char* name = std::getenv("CONFORMANCE_INSTANCE"); name && *name) options.instance_prefix = std::string(name) + ".";
  if (const char* key = std::getenv("CONFORMANCE_STATE_KEY"); key && *key) options.state_key = key;
  Server server(options);
  try {
    register_fixtures(server);
  } catch (const std::exception& e) {
    spdlog::error("registering the fixtures failed: {}", e.what());
    return 1;
  }

  HttpOptions http_options;
  http_options.port = port;
  return serve_http_until_stopped(server, http_options, stop, [](int bound) {
    std::printf("PORT %d\n", bound);
    std::fflush(stdout);
    spdlog::info("conformance fixture listening on http://127.0.0.1:{}/mcp", bound);
  });
}
