#include <charconv>

#include "prompts/prompt.hpp"
#include "store/preferences.hpp"

namespace concierge::prompts {

// Finds a time with someone and books it, asking before it sends the invitation.
PromptDefinition schedule_meeting(App& app) {
  static const std::vector<std::string> kDurations{"15", "30", "45", "60", "90"};
  static const std::vector<std::string> kWindows{"today", "tomorrow", "this week", "next week"};
  return PromptDefinition{
      .name = "schedule_meeting",
      .title = "Schedule a meeting",
      .description = "Find a free slot with someone within working hours and put it in the calendar.",
      .arguments = {PromptArgument{.name = "attendee", .title = "Attendee", .description = "Who to meet (name or email address)",
                                   .required = true, .complete = nullptr},
                    PromptArgument{.name = "duration", .title = "Duration", .description = "Minutes (default: the user's preference)",
                                   .required = false, .complete = complete_from(kDurations)},
                    PromptArgument{.name = "window", .title = "When", .description = "today, tomorrow, this week, next week, or dates",
                                   .required = false, .complete = complete_from(kWindows)}},
      .icons = nullptr,
      .render = [&app](const std::map<std::string, std::string>& args, RequestContext& ctx) {
        Json prefs = app.preferences.get(ctx.user());
        const std::string attendee = args.at("attendee");
        if (attendee.find_first_not_of(" \t") == std::string::npos) bad_argument("schedule_meeting", "attendee", "must not be empty");
        int minutes = prefs.value("default_meeting_minutes", 30);
        if (auto d = args.find("duration"); d != args.end()) {
          const std::string& s = d->second;
          auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), minutes);
          if (ec != std::errc() || end != s.data() + s.size() || minutes < 5 || minutes > 480)
            bad_argument("schedule_meeting", "duration", "expected whole minutes between 5 and 480, got '" + s + "'");
        }
        std::string window = args.count("window") ? args.at("window") : "this week";
        std::string text =
            "Schedule a " + std::to_string(minutes) + "-minute meeting with " + attendee + " " + window + ".\n\n"
            "1. Use calendar_find_free_time over the " + prefs.value("default_calendar", "primary") +
            " calendar for that window, within the working hours in my preferences, in " + prefs.value("time_zone", "UTC") + ".\n"
            "2. Offer me the best two or three slots, times in my zone.\n"
            "3. When I pick one, confirm the title, time and attendee with me, then create it with calendar_create_event "
            "(attendee invited). Don't create it before I confirm.";
        return Json{{"description", "Meeting with " + attendee},
                    {"messages", Json::array({user_text(std::move(text)), embedded_json("concierge://preferences", prefs)})}};
      },
      // It embeds the preferences.
      .scopes = {"preferences:read"}};
}

}  // namespace concierge::prompts
