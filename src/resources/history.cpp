#include <chrono>
#include <date/tz.h>
#include <set>
#include <sstream>

#include "resources/resource.hpp"
#include "server/jsonrpc.hpp"
#include "store/history.hpp"
#include "store/preferences.hpp"

namespace concierge::resources {

namespace {
// A page of calls as a document: capped, with a marker that says so and where the rest is.
Json document(const store::History::Page& page, Json about) {
  about["calls"] = page.rows;
  about["count"] = page.rows.size();
  about["truncated"] = page.next_before_id.has_value();
  if (page.next_before_id)
    about["more"] = "Only the " + std::to_string(kHistoryReadCap) +
                    " most recent calls are shown. Older ones: concierge://history/{date} for one day, "
                    "concierge://history/tool/{tool} for one tool, or `concierge history export` for everything.";
  return about;
}

[[noreturn]] void bad_variable(const std::string& name, const std::string& why) {
  throw rpc::invalid_params("Invalid " + name + ": " + why, Json{{"field", "uri"}, {"variable", name}});
}
}  // namespace

// Every tools/call, most recent first, arguments with secrets redacted.
ResourceDefinition history(App& app) {
  return ResourceDefinition{
      .uri = kHistoryUri,
      .name = "history",
      .title = "Command history",
      .description = "Every tool call made through Concierge, most recent first: time, client, tool, arguments (secrets "
                     "redacted), outcome, duration and a short result summary.",
      .mime_type = "application/json",
      .icons = nullptr,
      .read = [&app](RequestContext& ctx) {
        store::History::Query q;
        q.user = ctx.user();
        q.limit = kHistoryReadCap;
        return json_contents(kHistoryUri, document(app.history.query(q), Json::object()));
      },
      .ttl_ms = 0,
      .scope = "history:read"};
}

// One day in the user's time zone.
ResourceTemplateDefinition history_by_date(App& app) {
  return ResourceTemplateDefinition{
      .uri_template = "concierge://history/{date}",
      .name = "history-by-date",
      .title = "Command history of one day",
      .description = "The tool calls of one day (YYYY-MM-DD, in the user's time zone), most recent first.",
      .mime_type = "application/json",
      .icons = nullptr,
      .read = [&app](const std::string& uri, const std::map<std::string, std::string>& vars, RequestContext& ctx) -> Json {
        const std::string& day = vars.at("date");
        std::istringstream in(day);
        date::local_days local;
        in >> date::parse("%F", local);
        if (in.fail() || day.size() != 10 || in.peek() != std::char_traits<char>::eof())
          bad_variable("date", "expected YYYY-MM-DD, got '" + day + "'");
        const std::string tz = app.preferences.time_zone(ctx.user());
        const date::time_zone* zone = date::locate_zone(tz);
        auto ms = [](auto t) { return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count(); };
        store::History::Query q;
        q.user = ctx.user();
        q.from_ms = ms(zone->to_sys(date::local_seconds(local), date::choose::earliest));
        q.to_ms = ms(zone->to_sys(date::local_seconds(local + date::days(1)), date::choose::earliest));
        q.limit = kHistoryReadCap;
        return json_contents(uri, document(app.history.query(q), Json{{"date", day}, {"timeZone", tz}}));
      },
      .complete = {{"date",
                    [&app](const std::string& value, const Json&, RequestContext& ctx) {
                      return prefix_matches(app.history.days(ctx.user(), app.preferences.time_zone(ctx.user())), value);
                    }}},
      .ttl_ms = 0,
      .scope = "history:read"};
}

// One tool's calls.
ResourceTemplateDefinition history_by_tool(App& app, const ToolRegistry& tools) {
  // Tools registered now plus tools seen in the history (a tool may have been removed since).
  auto known = [&app, &tools](const std::string& user) {
    std::set<std::string> names;
    for (const auto* t : tools.list()) names.insert(t->def.name);
    for (auto& n : app.history.tools(user)) names.insert(std::move(n));
    return std::vector<std::string>(names.begin(), names.end());
  };
  return ResourceTemplateDefinition{
      .uri_template = "concierge://history/tool/{tool}",
      .name = "history-by-tool",
      .title = "Command history of one tool",
      .description = "The calls of one tool, most recent first.",
      .mime_type = "application/json",
      .icons = nullptr,
      .read = [&app, known](const std::string& uri, const std::map<std::string, std::string>& vars, RequestContext& ctx) -> Json {
        const std::string& tool = vars.at("tool");
        auto names = known(ctx.user());
        if (std::find(names.begin(), names.end(), tool) == names.end())
          bad_variable("tool", "no tool named '" + tool + "' (complete the variable to list them)");
        store::History::Query q;
        q.user = ctx.user();
        q.tool = tool;
        q.limit = kHistoryReadCap;
        return json_contents(uri, document(app.history.query(q), Json{{"tool", tool}}));
      },
      .complete = {{"tool",
                    [known](const std::string& value, const Json&, RequestContext& ctx) {
                      return prefix_matches(known(ctx.user()), value);
                    }}},
      .ttl_ms = 0,
      .scope = "history:read"};
}

namespace {
const Json& schema_of(const RegisteredTool* t) {
  static const Json kNone = Json::object();
  return t ? t->def.input_schema : kNone;
}

// What the call produced, in a line: the text content of a result, the message of an error.
std::string summary_of(const ToolCallEvent& ev) {
  if (ev.outcome == ToolCallEvent::Outcome::Cancelled) return "cancelled by the client";
  if (auto e = ev.reply.find("error"); e != ev.reply.end()) return e->value("message", "");
  const Json& result = ev.reply.value("result", Json::object());
  if (result.contains("task")) return "running as task " + result["task"].value("taskId", "");
  std::string text;
  for (const auto& c : result.value("content", Json::array())) {
    if (c.value("type", "") == "text") text += (text.empty() ? "" : " ") + c.value("text", "");
    else text += (text.empty() ? "[" : " [") + c.value("type", "content") + "]";
    if (text.size() > 600) break;
  }
  return text;
}
}  // namespace

void record_calls(Server& server, App& app) {
  server.set_tool_call_observer([&app](const ToolCallEvent& ev) {
    const Json& schema = schema_of(ev.definition);
    store::CallRecord r;
    auto now = std::chrono::system_clock::now();
    r.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch() - ev.duration).count();
    r.user = ev.ctx.user();
    r.client_name = ev.ctx.client_info().value("name", "");
    r.client_version = ev.ctx.client_info().value("version", "");
    r.protocol_version = std::string(to_string(ev.ctx.revision()));
    r.transport = ev.ctx.transport();
    r.tool = ev.tool;
    r.arguments = ev.arguments.is_null() ? Json() : store::redact(ev.arguments, schema);  // a copy either way
    r.outcome = ev.outcome;
    r.duration_us = ev.duration.count();
    // A result may quote what it was given: the same secrets come out of the summary.
    r.summary = ev.arguments.is_null() ? summary_of(ev) : store::redact_text(summary_of(ev), ev.arguments, schema);
    app.history.record(std::move(r));  // returns once committed
  });
  server.set_log_redactor([&server](const RequestContext& ctx, std::string text) {
    const Json& params = ctx.call_params();
    if (!params.is_object() || !params.contains("arguments")) return text;
    auto name = params.value("name", "");
    const RegisteredTool* t = name.empty() ? nullptr : server.tools().find(name);
    return store::redact_text(std::move(text), params["arguments"], schema_of(t));
  });
}

}  // namespace concierge::resources
