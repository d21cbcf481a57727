#include "tools/tool.hpp"

namespace concierge::tools {

void register_builtin(ToolRegistry& registry) {
  registry.add(echo());
  registry.add(get_current_time());
}

}  // namespace concierge::tools
