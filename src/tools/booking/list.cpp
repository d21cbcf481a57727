#include "tools/booking/common.hpp"

namespace concierge::tools::booking {

ToolDefinition list(App& app) {
  return define("booking_list",
                {.title = "List bookings",
                 .description = "Bookings by start time: upcoming (default), past, cancelled or all.",
                 .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  std::string status = args.value("status", "upcoming");
                  auto all = c.provider.list(c.call, {.status = status == "all" ? "" : status, .now = providers::now_ms(),
                                                      .max_results = args.value("max_results", 50)});
                  Json out = Json::array();
                  std::string text;
                  for (auto& b : all) {
                    out.push_back(booking_json(b, c.tz));
                    if (out.size() <= 3) text += (text.empty() ? "" : "; ") + booking_line(b, c.tz);
                  }
                  return ToolResult::text(out.empty() ? "No " + status + " bookings." : std::to_string(out.size()) + " " + status + " bookings: " + text + ".",
                                          Json{{"bookings", out}});
                });
}

const ToolRegistrar registered{"booking", list};

}  // namespace concierge::tools::booking
