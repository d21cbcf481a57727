#include <algorithm>
#include <stdexcept>

#include "tools/tool.hpp"

namespace concierge::tools {

const std::vector<std::string>& tool_domains() {
  static const std::vector<std::string> all{"calendar", "mail", "music", "video", "booking"};
  return all;
}

void register_builtin(ToolRegistry& registry, App* app, const ToolSelection& selection) {
  for (auto& d : selection.domains)
    if (std::find(tool_domains().begin(), tool_domains().end(), d) == tool_domains().end())
      throw std::invalid_argument("unknown tool domain '" + d + "' (known: calendar, mail, music, video, booking)");
  auto wanted = [&](const std::string& domain) {
    return selection.domains.empty() ||
           std::find(selection.domains.begin(), selection.domains.end(), domain) != selection.domains.end();
  };
  auto add = [&](ToolDefinition def) {
    if (selection.read_only && def.hints.read_only != true) return;
    registry.add(std::move(def));
  };

  add(echo());
  add(get_current_time(app));
  if (!app) return;
  add(preferences_update(*app));
  using Tools = std::vector<ToolDefinition> (*)(App&);
  const std::pair<const char*, Tools> domains[] = {
      {"calendar", calendar_tools}, {"mail", mail_tools}, {"music", music_tools}, {"video", video_tools}, {"booking", booking_tools}};
  for (auto& [domain, tools] : domains)
    if (wanted(domain)) {
      const bool outside = std::find(selection.open_world.begin(), selection.open_world.end(), domain) != selection.open_world.end();
      for (auto& def : tools(*app)) {
        if (outside) def.hints.open_world = true;
        def.quick = def.quick && !outside;  // an outside service: on the pool, cancellable on disconnect
        add(std::move(def));
      }
    }
}

}  // namespace concierge::tools
