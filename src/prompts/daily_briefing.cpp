#include <chrono>
#include <date/tz.h>
#include <sstream>

#include "prompts/prompt.hpp"
#include "resources/resource.hpp"
#include "store/history.hpp"
#include "store/preferences.hpp"
#include "store/store.hpp"

namespace concierge::prompts {


// The day at a glance: the agenda, unread mail, the preferences and what Concierge did that day,
// embedded so the model needs no tool call to start speaking.
PromptDefinition daily_briefing(App& app) {
  return PromptDefinition{
      .name = "daily_briefing",
      .title = "Daily briefing",
      .description = "A spoken summary of the user's day: agenda, unread mail, and what was done for them.",
      .arguments = {PromptArgument{
          .name = "date",
          .title = "Date",
          .description = "YYYY-MM-DD in the user's time zone (default: today)",
          .required = false,
          .complete = [&app](const std::string& value, const Json&, RequestContext& ctx) {
            auto tz = app.preferences.time_zone(ctx.user());
            auto days = app.history.days(ctx.user(), tz);
            std::string today = today_in(tz);
            if (std::find(days.begin(), days.end(), today) == days.end()) days.insert(days.begin(), today);
            return prefix_matches(days, value);
          }}},
      .icons = nullptr,
      .render = [&app](const std::map<std::string, std::string>& args, RequestContext& ctx) {
        Json prefs = app.preferences.get(ctx.user());
        const std::string tz_name = prefs.value("time_zone", "UTC");
        std::string day = today_in(tz_name);
        if (auto d = args.find("date"); d != args.end()) {
          std::istringstream in(d->second);
          date::local_days parsed;
          in >> date::parse("%F", parsed);
          if (in.fail() || d->second.size() != 10) bad_argument("daily_briefing", "date", "expected YYYY-MM-DD, got '" + d->second + "'");
          day = d->second;
        }
        // The day's bounds in the user's zone, as UTC milliseconds for the history query.
        std::istringstream in(day);
        date::local_days local;
        in >> date::parse("%F", local);
        const date::time_zone* zone = date::locate_zone(tz_name);
        auto from = zone->to_sys(date::local_seconds(local), date::choose::earliest);
        auto to = zone->to_sys(date::local_seconds(local + date::days(1)), date::choose::earliest);
        store::History::Query q;
        q.user = ctx.user();
        q.from_ms = std::chrono::duration_cast<std::chrono::milliseconds>(from.time_since_epoch()).count();
        q.to_ms = std::chrono::duration_cast<std::chrono::milliseconds>(to.time_since_epoch()).count();
        q.limit = 50;
        auto page = app.history.query(q);
        std::string text =
            "Give me my briefing for " + day + ", spoken, at my verbosity (" + prefs.value("verbosity", "normal") +
            "): first the day's appointments in time order with times in " + tz_name +
            ", then unread mail worth my attention (who and what about, not every message), then anything you did for me "
            "that day that I may want to follow up. The attached resources hold the day's agenda, my unread mail, my "
            "preferences and the day's command history (" +
            std::to_string(page.rows.size()) + (page.next_before_id ? "+" : "") + " calls). End with the first thing on "
            "my schedule.";
        Json history{{"date", day}, {"timeZone", tz_name}, {"calls", page.rows}, {"truncated", page.next_before_id.has_value()}};
        Json day_agenda = resources::agenda_document(app, ctx, day);
        return Json{{"description", "Briefing for " + day},
                    {"messages", Json::array({user_text(std::move(text)), embedded_json("concierge://calendar/agenda/" + day, day_agenda),
                                              embedded_json(resources::kUnreadMailUri, resources::unread_mail_document(app, ctx)),
                                              embedded_json("concierge://preferences", prefs),
                                              embedded_json("concierge://history/" + day, history)})}};
      },
      // It embeds the agenda, unread mail, preferences and history (its date completion reads history too).
      .scopes = {"calendar:read", "mail:read", "preferences:read", "history:read"}};
}

}  // namespace concierge::prompts
