#include "tools/booking/common.hpp"

namespace concierge::tools::booking {

ToolDefinition cancel(App& app) {
  return define("booking_cancel",
                {.title = "Cancel a booking",
                 .description = "Cancels a booking, with an optional reason; its calendar event goes and the slot opens again.",
                 .hints = {.read_only = false, .destructive = true, .idempotent = false, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  auto b = c.provider.cancel(c.call, args.at("booking_id"), args.value("reason", ""));
                  return ToolResult::text("Cancelled " + booking_line(b, c.tz) + ".", Json{{"booking", booking_json(b, c.tz)}});
                });
}

const ToolRegistrar registered{"booking", cancel};

}  // namespace concierge::tools::booking
