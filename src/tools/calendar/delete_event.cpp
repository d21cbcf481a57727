#include "tools/calendar/common.hpp"

namespace concierge::tools::calendar {

ToolDefinition delete_event(App& app) {
  return define("calendar_delete_event",
                {.title = "Delete an event",
                 .description = "Deletes an event. For an occurrence of a recurring event, scope says what goes: this occurrence "
                                "(default), this and following, or all.",
                 .hints = {.read_only = false, .destructive = true, .idempotent = false, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  std::string id = args.at("event_id");
                  auto e = c.provider.event(c.call, id);
                  std::optional<bool> notify;
                  if (args.contains("notify_attendees")) notify = args["notify_attendees"].get<bool>();
                  c.provider.remove(c.call, id, scope(args, id), notify);
                  std::string s = args.value("scope", "this");
                  std::string what = e.series_id.empty() && e.recurrence.empty() ? "" : (s == "all" ? " (the whole series)" : s == "following" ? " (this and following)" : " (this occurrence)");
                  return ToolResult::text("Deleted " + event_line(e, c.tz) + what + ".",
                                          Json{{"deleted", id}, {"scope", s}, {"summary", e.summary}});
                });
}

const ToolRegistrar registered{"calendar", delete_event};

}  // namespace concierge::tools::calendar
