#include "tools/calendar/common.hpp"

#include <regex>

#include "providers/error.hpp"
#include "store/preferences.hpp"
#include "store/store.hpp"

namespace concierge::tools::calendar {

using providers::Error;

Call call_of(App& app, const Json& args, RequestContext& ctx) {
  auto& provider = app.providers.calendar.get(args.value("account", ""));
  std::string tz = args.contains("time_zone") ? args["time_zone"].get<std::string>() : app.preferences.time_zone(ctx.user());
  return {provider, provider_call(app, args, ctx), providers::zone(tz)};
}

When when(const Json& args, const std::string& field, const date::time_zone* tz) {
  std::string text = args.at(field);
  if (providers::looks_like_date(text)) return {providers::to_utc(providers::LocalMs{providers::parse_date(text, field)}, tz), true};
  return {providers::parse_time(text, tz, field), false};
}

Json event_json(const cal::Event& e, const date::time_zone* tz) {
  // All-day events are dates in their own zone; timed ones are shown in the caller's zone.
  auto own = providers::zone(e.time_zone);
  auto show = [&](providers::Millis t) {
    return e.all_day ? providers::format_date(date::floor<date::days>(providers::to_local(t, own))) : providers::format_time(t, tz);
  };
  Json attendees = Json::array();
  for (auto& a : e.attendees) {
    Json j{{"email", a.email}, {"response", a.response}};
    if (!a.name.empty()) j["name"] = a.name;
    attendees.push_back(std::move(j));
  }
  Json j{{"id", e.id},           {"calendar_id", e.calendar_id}, {"summary", e.summary}, {"start", show(e.start)},
         {"end", show(e.end)},   {"all_day", e.all_day},         {"time_zone", e.time_zone}, {"attendees", attendees},
         {"reminder_minutes", e.reminder_minutes}};
  if (!e.series_id.empty()) j["series_id"] = e.series_id;
  if (!e.recurrence.empty()) j["recurrence"] = e.recurrence;
  if (!e.description.empty()) j["description"] = e.description;
  if (!e.location.empty()) j["location"] = e.location;
  return j;
}

std::string event_line(const cal::Event& e, const date::time_zone* tz) {
  if (e.all_day) return e.summary + ", all day " + providers::spoken_day(date::floor<date::days>(providers::to_local(e.start, providers::zone(e.time_zone))));
  return e.summary + ", " + providers::spoken_time(e.start, tz);
}

std::vector<cal::Attendee> attendees(const Json& args, const std::string& field) {
  static const std::regex email(R"([^@\s<>(),;:"]+@[^@\s<>(),;:"]+\.[^@\s<>(),;:"]+)");
  std::vector<cal::Attendee> out;
  if (!args.contains(field)) return out;
  size_t i = 0;
  for (auto& a : args[field]) {
    std::string where = field + "[" + std::to_string(i++) + "]";
    cal::Attendee at;
    if (a.is_string()) at.email = a.get<std::string>();
    else {
      at.email = a.value("email", "");
      at.name = a.value("name", "");
      where += ".email";
    }
    if (!std::regex_match(at.email, email)) throw Error(where, "'" + at.email + "' is not an email address");
    out.push_back(std::move(at));
  }
  return out;
}

cal::Scope scope(const Json& args, const std::string&) {
  std::string s = args.value("scope", "this");
  return s == "all" ? cal::Scope::All : s == "following" ? cal::Scope::Following : cal::Scope::This;
}

}  // namespace concierge::tools::calendar
