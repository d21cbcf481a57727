#include "tools/tool.hpp"

namespace concierge::tools {

void register_builtin(ToolRegistry& registry, App* app) {
  registry.add(echo());
  registry.add(get_current_time(app));
  if (!app) return;
  registry.add(preferences_update(*app));
}

}  // namespace concierge::tools
