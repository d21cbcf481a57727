#include "providers/error.hpp"
#include "tools/calendar/common.hpp"

namespace concierge::tools::calendar {

ToolDefinition update_event(App& app) {
  return define(
      "calendar_update_event",
      {.title = "Update an event",
       .description = "Changes the given fields of an event; others keep their value. For an occurrence of a recurring "
                      "event, scope says what changes: this occurrence (default), this and following, or all. Moving "
                      "start moves the end with it unless end is given.",
       .hints = {.read_only = false, .destructive = false, .idempotent = true, .open_world = false}},
      [&app](const Json& args, RequestContext& ctx) {
        auto c = call_of(app, args, ctx);
        std::string id = args.at("event_id");
        auto current = c.provider.event(c.call, id);
        // Wall-clock times without an offset are in the event's own zone unless time_zone is given.
        auto tz = args.contains("time_zone") ? c.tz : providers::zone(current.time_zone);
        cal::EventPatch p;
        if (args.contains("summary")) p.summary = args["summary"].get<std::string>();
        if (args.contains("description")) p.description = args["description"].get<std::string>();
        if (args.contains("location")) p.location = args["location"].get<std::string>();
        if (args.contains("time_zone")) p.time_zone = std::string(tz->name());
        if (args.contains("recurrence")) p.recurrence = args["recurrence"].get<std::string>();
        if (args.contains("start")) p.start = when(args, "start", tz).at;
        if (args.contains("end")) p.end = when(args, "end", tz).at;
        if (p.start && !p.end) p.end = *p.start + (current.end - current.start);
        if (args.contains("attendees")) p.attendees = attendees(args);
        if (args.contains("reminder_minutes")) p.reminder_minutes = args["reminder_minutes"].get<std::vector<int>>();
        if (args.contains("notify_attendees")) p.notify_attendees = args["notify_attendees"].get<bool>();
        if (p.end && *p.end <= p.start.value_or(current.start)) throw providers::Error("end", "must be after start");
        auto updated = c.provider.update(c.call, id, p, scope(args, id));
        return ToolResult::text("Updated: " + event_line(updated, c.tz) + ".", Json{{"event", event_json(updated, c.tz)}});
      });
}

const ToolRegistrar registered{"calendar", update_event};

}  // namespace concierge::tools::calendar
