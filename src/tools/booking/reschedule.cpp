#include "tools/booking/common.hpp"
#include "tools/calendar/common.hpp"

namespace concierge::tools::booking {

ToolDefinition reschedule(App& app) {
  return define("booking_reschedule",
                {.title = "Reschedule a booking",
                 .description = "Moves a booking to another open slot of its event type (and its calendar event with it).",
                 .hints = {.read_only = false, .destructive = false, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  auto b = c.provider.reschedule(c.call, args.at("booking_id"), calendar::when(args, "start", c.tz).at, args.value("reason", ""));
                  return ToolResult::text("Moved to " + providers::spoken_time(b.start, c.tz) + ": " + b.title + ".",
                                          Json{{"booking", booking_json(b, c.tz)}});
                });
}

const ToolRegistrar registered{"booking", reschedule};

}  // namespace concierge::tools::booking
