#include "prompts/prompt.hpp"
#include "store/preferences.hpp"

namespace concierge::prompts {

// How to behave as a voice assistant: short spoken answers at the user's verbosity, times read
// in their zone, and a spoken confirmation before anything that can't be undone.
PromptDefinition voice_assistant(App& app) {
  static const std::vector<std::string> kVerbosity{"brief", "normal", "detailed"};
  return PromptDefinition{
      .name = "voice_assistant",
      .title = "Voice assistant",
      .description = "Act as the user's spoken assistant over their calendar, mail, music, video and bookings.",
      .arguments = {PromptArgument{.name = "user_name", .title = "Name", .description = "What to call the user", .required = false,
                                   .complete = nullptr},
                    PromptArgument{.name = "verbosity",
                                   .title = "Verbosity",
                                   .description = "brief, normal or detailed (default: the user's preference)",
                                   .required = false,
                                   .complete = complete_from(kVerbosity)}},
      .icons = nullptr,
      .render = [&app](const std::map<std::string, std::string>& args, RequestContext& ctx) {
        Json prefs = app.preferences.get(ctx.user());
        std::string verbosity = prefs.value("verbosity", "normal");
        if (auto v = args.find("verbosity"); v != args.end()) {
          if (std::find(kVerbosity.begin(), kVerbosity.end(), v->second) == kVerbosity.end())
            bad_argument("voice_assistant", "verbosity", "expected brief, normal or detailed, got '" + v->second + "'");
          verbosity = v->second;
        }
        std::string name = args.count("user_name") ? args.at("user_name") : "the user";
        std::string length = verbosity == "brief"    ? "Answer in one short sentence."
                             : verbosity == "detailed" ? "Give complete answers, still in plain spoken sentences."
                                                       : "Answer in one to three short sentences.";
        std::string text =
            "You are " + name + "'s voice assistant, working through Concierge's tools for calendar, mail, music, video and "
            "bookings. Everything you say is spoken aloud.\n\n"
            "- " + length + " No lists, tables, markdown, links or ids: say what matters in words.\n"
            "- Read times in " + prefs.value("time_zone", "UTC") + " (the user's zone), the way people say them: "
            "\"at half past three this afternoon\", \"tomorrow at nine\". Use " + prefs.value("units", "metric") +
            " units and the " + prefs.value("locale", "en-US") + " locale.\n"
            "- Before anything destructive or visible to others (deleting or moving an event, sending or trashing mail, "
            "cancelling or rescheduling a booking, changing a playlist someone shares), say exactly what will happen and "
            "wait for a spoken yes. Reading and searching need no confirmation.\n"
            "- When a request is ambiguous (which calendar, which Alex), ask one short question rather than guess.\n"
            "- When a tool fails, say what went wrong and what the user can do, in one sentence.\n"
            "- The user's preferences are in the resource concierge://preferences; what you have already done for them is "
            "in concierge://history.";
        return Json{{"description", "Spoken assistant for " + name + " (" + verbosity + ")"},
                    {"messages", Json::array({user_text(std::move(text))})}};
      },
      // It reads the preferences (verbosity, zone, units, locale).
      .scopes = {"preferences:read"}};
}

}  // namespace concierge::prompts
