#include <algorithm>

#include "providers/error.hpp"
#include "store/preferences.hpp"
#include "tools/calendar/common.hpp"

namespace concierge::tools::calendar {

namespace {
using providers::Millis;

// The windows to search: the user's working hours each day (in their own zone), or all of it.
std::vector<cal::Interval> candidate_windows(const Json& week, const date::time_zone* home, Millis from, Millis to, bool working) {
  if (!working) return {{from, to}};
  static const char* names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  std::vector<cal::Interval> out;
  auto first = date::floor<date::days>(providers::to_local(from, home));
  auto last = date::floor<date::days>(providers::to_local(to, home));
  for (auto day = first; day <= last; day += date::days(1)) {
    const Json& hours = week.value(names[date::weekday{day}.c_encoding()], Json());
    if (!hours.is_object()) continue;
    auto hm = [&](const std::string& s) { return std::chrono::hours(std::stoi(s.substr(0, 2))) + std::chrono::minutes(std::stoi(s.substr(3, 2))); };
    Millis s = providers::to_utc(providers::LocalMs{day} + hm(hours["start"]), home);
    Millis e = providers::to_utc(providers::LocalMs{day} + hm(hours["end"]), home);
    s = std::max(s, from);
    e = std::min(e, to);
    if (s < e) out.push_back({s, e});
  }
  return out;
}
}  // namespace

ToolDefinition find_free_time(App& app) {
  return define(
      "calendar_find_free_time",
      {.title = "Find free time",
       .description = "Free slots of at least duration_minutes (default: the user's meeting length) between start and end "
                      "(default: now to 7 days on), within the user's working hours unless within_working_hours is false. "
                      "Busy time is every timed event on the given calendars (default: all); all-day events count as free.",
       .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
      [&app](const Json& args, RequestContext& ctx) {
        auto c = call_of(app, args, ctx);
        Json prefs = app.preferences.get(ctx.user());
        Millis from = args.contains("start") ? when(args, "start", c.tz).at : providers::now_ms();
        Millis to = args.contains("end") ? when(args, "end", c.tz).at : from + 7 * providers::kDay;
        if (to <= from) throw providers::Error("end", "must be after start");
        if (to - from > 62 * providers::kDay) throw providers::Error("end", "the window can span at most 62 days");
        int minutes = args.value("duration_minutes", prefs.value("default_meeting_minutes", 30));
        size_t max = args.value("max_results", 20);
        auto busy = c.provider.busy(c.call, args.value("calendars", std::vector<std::string>{}), from, to);
        auto windows = candidate_windows(prefs["working_hours"], providers::zone(prefs.value("time_zone", "UTC")), from, to,
                                         args.value("within_working_hours", true));
        Json slots = Json::array();
        const Millis step = 5 * providers::kMinute;  // free time starts on a round minute
        for (auto& w : windows) {
          Millis at = (w.start + step - 1) / step * step;
          for (auto& b : busy) {
            if (b.end <= at || b.start >= w.end) continue;
            if (b.start - at >= minutes * providers::kMinute) slots.push_back({at, b.start});
            at = std::max(at, (b.end + step - 1) / step * step);
          }
          if (w.end - at >= minutes * providers::kMinute) slots.push_back({at, w.end});
        }
        Json out = Json::array();
        std::string text;
        for (auto& s : slots) {
          if (out.size() >= max) break;
          Millis a = s[0], b = s[1];
          out.push_back({{"start", providers::format_time(a, c.tz)}, {"end", providers::format_time(b, c.tz)}, {"minutes", (b - a) / providers::kMinute}});
          if (out.size() <= 3) text += (text.empty() ? "" : "; ") + providers::spoken_time(a, c.tz);
        }
        std::string said = out.empty() ? "No free time of " + std::to_string(minutes) + " minutes in that window."
                                       : std::to_string(out.size()) + " free slots of at least " + std::to_string(minutes) +
                                             " minutes; the first: " + text + ".";
        return ToolResult::text(said, Json{{"free", out}, {"duration_minutes", minutes}, {"time_zone", std::string(c.tz->name())},
                                           {"window", {{"start", providers::format_time(from, c.tz)}, {"end", providers::format_time(to, c.tz)}}}});
      });
}

const ToolRegistrar registered{"calendar", find_free_time};

}  // namespace concierge::tools::calendar
