#include <cmath>

#include "providers/error.hpp"
#include "store/preferences.hpp"
#include "tools/calendar/common.hpp"

namespace concierge::tools::calendar {

namespace {
std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
  return s;
}
}  // namespace

ToolDefinition create_event(App& app) {
  return define(
      "calendar_create_event",
      {.title = "Create an event",
       .description =
           "Creates an event. start/end are RFC 3339 (with an offset, or wall clock in time_zone) or dates "
           "(YYYY-MM-DD, all-day; end exclusive). Without end: duration_minutes, else the user's default meeting length "
           "(all-day: one day). recurrence is an RFC 5545 RRULE (e.g. FREQ=WEEKLY;BYDAY=MO). Reports overlapping "
           "events as conflicts; refuses a near-duplicate (same title within 30 minutes) unless allow_duplicate.",
       .hints = {.read_only = false, .destructive = false, .idempotent = false, .open_world = false}},
      [&app](const Json& args, RequestContext& ctx) {
        auto c = call_of(app, args, ctx);
        Json prefs = app.preferences.get(ctx.user());
        cal::NewEvent e;
        e.summary = args.at("summary");
        if (lower(e.summary).empty()) throw providers::Error("summary", "must not be blank");
        e.description = args.value("description", "");
        e.location = args.value("location", "");
        e.time_zone = std::string(c.tz->name());
        auto start = when(args, "start", c.tz);
        e.all_day = start.is_date || args.value("all_day", false);
        e.start = e.all_day ? providers::to_utc(providers::LocalMs{date::floor<date::days>(providers::to_local(start.at, c.tz))}, c.tz)
                            : start.at;
        if (args.contains("end")) {
          auto end = when(args, "end", c.tz);
          if (e.all_day != end.is_date && start.is_date) throw providers::Error("end", "must be a date (YYYY-MM-DD) like start");
          e.end = end.at;
        } else if (e.all_day) {
          e.end = providers::to_utc(providers::to_local(e.start, c.tz) + date::days(1), c.tz);
        } else {
          e.end = e.start + args.value("duration_minutes", prefs.value("default_meeting_minutes", 30)) * providers::kMinute;
        }
        if (e.end <= e.start) throw providers::Error("end", "must be after start");
        e.calendar_id = args.value("calendar_id", "");
        if (e.calendar_id.empty()) {
          std::string preferred = prefs.value("default_calendar", "");
          for (auto& k : c.provider.calendars(c.call))
            if (k.id == preferred) e.calendar_id = preferred;
        }
        e.recurrence = args.value("recurrence", "");
        e.attendees = attendees(args);
        e.reminder_minutes = args.value("reminder_minutes", std::vector<int>{});
        if (args.contains("notify_attendees")) e.notify_attendees = args["notify_attendees"].get<bool>();

        // What is already there: near-duplicates refuse, overlaps warn.
        cal::EventQuery around{.from = e.start - 30 * providers::kMinute, .to = std::max(e.end, e.start + 30 * providers::kMinute) + 1,
                               .max_results = 250};
        Json conflicts = Json::array();
        for (auto& x : c.provider.events(c.call, around).events) {
          if (lower(x.summary) == lower(e.summary) && std::llabs(x.start - e.start) <= 30 * providers::kMinute &&
              !args.value("allow_duplicate", false))
            throw providers::Conflict("summary", "'" + x.summary + "' is already on the calendar at " +
                                                     providers::format_time(x.start, c.tz) + " (id " + x.id +
                                                     "); pass allow_duplicate: true to add it anyway");
          if (!x.all_day && !e.all_day && x.start < e.end && x.end > e.start)
            conflicts.push_back({{"id", x.id}, {"summary", x.summary}, {"start", providers::format_time(x.start, c.tz)},
                                 {"end", providers::format_time(x.end, c.tz)}});
        }
        auto created = c.provider.create(c.call, e);
        std::string text = "Created " + event_line(created, c.tz) + ".";
        if (!conflicts.empty()) text += " It overlaps " + conflicts[0]["summary"].get<std::string>() +
                                        (conflicts.size() > 1 ? " and " + std::to_string(conflicts.size() - 1) + " more." : ".");
        return ToolResult::text(text, Json{{"event", event_json(created, c.tz)}, {"conflicts", conflicts}});
      });
}

const ToolRegistrar registered{"calendar", create_event};

}  // namespace concierge::tools::calendar
