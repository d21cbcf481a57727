#include "resources/resource.hpp"
#include "store/preferences.hpp"

namespace concierge::resources {

// The user's preferences, every key with its default filled in; preferences_update changes them.
ResourceDefinition preferences(App& app) {
  return ResourceDefinition{
      .uri = kPreferencesUri,
      .name = "preferences",
      .title = "Preferences",
      .description = "How the user likes things: time zone, locale, working hours, default calendar, meeting length, "
                     "music device, verbosity, units. Change them with the preferences_update tool.",
      .mime_type = "application/json",
      .icons = nullptr,
      .read = [&app](RequestContext& ctx) { return json_contents(kPreferencesUri, app.preferences.get(ctx.user())); },
      .ttl_ms = 0,
      .scope = "preferences:read"};
}

}  // namespace concierge::resources
