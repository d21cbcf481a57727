#include "tools/booking/common.hpp"

namespace concierge::tools::booking {

ToolDefinition list_event_types(App& app) {
  return define("booking_list_event_types",
                {.title = "List bookable event types",
                 .description = "What people can book with the user: id, title, length, buffers, minimum notice and weekly availability.",
                 .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  static const char* days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
                  auto hhmm = [](int m) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "%02d:%02d", m / 60 % 100, m % 60);
                    return std::string(buf);
                  };
                  Json types = Json::array();
                  std::string names;
                  for (auto& t : c.provider.event_types(c.call)) {
                    Json week = Json::object();
                    for (int d = 0; d < 7; ++d) {
                      Json ranges = Json::array();
                      for (auto [a, b] : t.availability.days[d]) ranges.push_back({{"start", hhmm(a)}, {"end", hhmm(b)}});
                      week[days[d]] = ranges;
                    }
                    types.push_back({{"id", t.id}, {"title", t.title}, {"description", t.description}, {"location", t.location},
                                     {"length_minutes", t.length_minutes}, {"buffer_before_minutes", t.buffer_before_minutes},
                                     {"buffer_after_minutes", t.buffer_after_minutes}, {"minimum_notice_minutes", t.minimum_notice_minutes},
                                     {"time_zone", t.time_zone}, {"availability", week}});
                    names += (names.empty() ? "" : ", ") + t.title + " (" + std::to_string(t.length_minutes) + " min)";
                  }
                  return ToolResult::text(types.empty() ? "No bookable event types." : "Bookable: " + names + ".", Json{{"event_types", types}});
                });
}

const ToolRegistrar registered{"booking", list_event_types};

}  // namespace concierge::tools::booking
