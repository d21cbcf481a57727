#include "tools/calendar/common.hpp"

namespace concierge::tools::calendar {

ToolDefinition list_events(App& app) {
  return define(
      "calendar_list_events",
      {.title = "List events",
       .description = "Events overlapping a window (default: from now for 7 days), recurring events expanded into their "
                      "occurrences, sorted by start. Filter by text (summary, description, location) and calendars. "
                      "Times are shown in time_zone (default: the user's).",
       .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
      [&app](const Json& args, RequestContext& ctx) {
        auto c = call_of(app, args, ctx);
        cal::EventQuery q;
        q.from = args.contains("start") ? when(args, "start", c.tz).at : providers::now_ms();
        q.to = args.contains("end") ? when(args, "end", c.tz).at : q.from + 7 * providers::kDay;
        q.text = args.value("query", "");
        q.calendars = args.value("calendars", std::vector<std::string>{});
        q.max_results = args.value("max_results", 50);
        q.page_token = args.value("page_token", "");
        auto page = c.provider.events(c.call, q);
        Json events = Json::array();
        std::string text;
        for (auto& e : page.events) {
          events.push_back(event_json(e, c.tz));
          if (events.size() <= 5) text += (text.empty() ? "" : "; ") + event_line(e, c.tz);
        }
        Json out{{"events", events}, {"time_zone", std::string(c.tz->name())}};
        if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
        std::string said = events.empty() ? "No events in that window."
                                          : std::to_string(events.size()) + (page.next_page_token.empty() ? "" : "+") +
                                                " events: " + text + (events.size() > 5 ? "; …" : ".");
        return ToolResult::text(said, std::move(out));
      });
}

const ToolRegistrar registered{"calendar", list_events};

}  // namespace concierge::tools::calendar
