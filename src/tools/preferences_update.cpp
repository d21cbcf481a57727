#include "providers/error.hpp"
#include "store/preferences.hpp"
#include "tools/tool.hpp"

namespace concierge::tools {

// Partial update of the user's preferences. The schema catches shapes; Preferences checks values
// (a real IANA zone, start before end) and writes all or nothing.
ToolDefinition preferences_update(App& app) {
  return define("preferences_update",
                {.title = "Update preferences",
                 .description = "Change some of the user's preferences (time zone, locale, working hours, default calendar, "
                                "default meeting length, music device, verbosity, units). Keys left out keep their value. "
                                "Returns every preference after the change.",
                 .hints = {.read_only = false, .destructive = false, .idempotent = true, .open_world = false},
                 .scope = "preferences:write"},
                [&app](const Json& args, RequestContext& ctx) {
                  if (args.empty()) throw providers::Error("arguments", "give at least 1 preference to change");
                  Json updated;
                  try {
                    updated = app.preferences.update(ctx.user(), args);
                  } catch (const store::PreferenceError& e) {
                    throw ToolError(e.what());  // already "working_hours.mon: ...", the key at fault first
                  }
                  std::string keys;
                  for (auto& [k, _] : args.items()) keys += (keys.empty() ? "" : ", ") + k;
                  return ToolResult::text("Updated " + keys + ".", std::move(updated));
                });
}

const ToolRegistrar registered{"", preferences_update};

}  // namespace concierge::tools
