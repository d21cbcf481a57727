#include "tools/booking/common.hpp"
#include "tools/calendar/common.hpp"

namespace concierge::tools::booking {

ToolDefinition find_slots(App& app) {
  return define("booking_find_slots",
                {.title = "Find bookable slots",
                 .description = "Open start times of an event type between start and end (default: now to 7 days on): its weekly "
                                "availability minus existing bookings (with buffers), minimum notice and busy time on the "
                                "user's calendar. Times shown in time_zone (default: the user's).",
                 .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  providers::Millis from = args.contains("start") ? calendar::when(args, "start", c.tz).at : providers::now_ms();
                  providers::Millis to = args.contains("end") ? calendar::when(args, "end", c.tz).at : from + 7 * providers::kDay;
                  std::string type = args.at("event_type");
                  auto slots = c.provider.slots(c.call, type, from, to);
                  size_t max = args.value("max_results", 50);
                  Json out = Json::array();
                  std::string first;
                  for (auto& s : slots) {
                    if (out.size() >= max) break;
                    out.push_back({{"start", providers::format_time(s.start, c.tz)}, {"end", providers::format_time(s.end, c.tz)}});
                    if (out.size() <= 3) first += (first.empty() ? "" : "; ") + providers::spoken_time(s.start, c.tz);
                  }
                  std::string said = out.empty() ? "No open slots in that window."
                                                 : std::to_string(slots.size()) + " open slots; the first: " + first + ".";
                  return ToolResult::text(said, Json{{"event_type", type}, {"slots", out}, {"total", slots.size()},
                                                     {"time_zone", std::string(c.tz->name())}});
                });
}

const ToolRegistrar registered{"booking", find_slots};

}  // namespace concierge::tools::booking
