#include "tools/calendar/common.hpp"

namespace concierge::tools::calendar {

ToolDefinition list_calendars(App& app) {
  return define("calendar_list_calendars",
                {.title = "List calendars",
                 .description = "The user's calendars: id (what other calendar tools take), name, time zone, which is primary.",
                 .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  Json list = Json::array();
                  std::string names;
                  for (auto& k : c.provider.calendars(c.call)) {
                    list.push_back({{"id", k.id}, {"name", k.name}, {"time_zone", k.time_zone}, {"color", k.color}, {"primary", k.primary}});
                    names += (names.empty() ? "" : ", ") + k.name;
                  }
                  return ToolResult::text(std::to_string(list.size()) + " calendars: " + names + ".", Json{{"calendars", list}});
                });
}

const ToolRegistrar registered{"calendar", list_calendars};

}  // namespace concierge::tools::calendar
