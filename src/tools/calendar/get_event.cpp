#include "tools/calendar/common.hpp"

namespace concierge::tools::calendar {

ToolDefinition get_event(App& app) {
  return define("calendar_get_event",
                {.title = "Get an event",
                 .description = "One event by id: a single event, a recurring series, or one occurrence (ids like <series>_20261123T090000Z).",
                 .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  auto e = c.provider.event(c.call, args.at("event_id"));
                  return ToolResult::text(event_line(e, c.tz) + ".", Json{{"event", event_json(e, c.tz)}});
                });
}

const ToolRegistrar registered{"calendar", get_event};

}  // namespace concierge::tools::calendar
