#include "resources/resource.hpp"
#include "store/preferences.hpp"

namespace concierge::resources {

void register_builtin(Server& server, App& app) {
  auto& r = server.resources();
  r.add(preferences(app));
  r.add(history(app));
  r.add(services(app));
  r.add(unread_mail(app));
  // The tool template first: a {date} never spans a '/', but the order makes the intent plain.
  r.add_template(history_by_tool(app, server.tools()));
  r.add_template(history_by_date(app));
  r.add_template(agenda(app));
  // Subscribers (resources/subscribe, or subscriptions/listen in 2026-07-28) learn of changes,
  // only the user whose preferences they are.
  app.preferences.on_change([&server](const std::string& user) { server.notify_resource_updated(kPreferencesUri, user); });
}

Json json_contents(const std::string& uri, const Json& value) {
  return Json::array({Json{{"uri", uri}, {"mimeType", "application/json"}, {"text", value.dump(2)}}});
}

}  // namespace concierge::resources
