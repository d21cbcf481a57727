#include "tools/tool.hpp"

namespace concierge::tools {

// The calendar tools, one file each in this folder.
std::vector<ToolDefinition> calendar_tools(App&) { return {}; }

}  // namespace concierge::tools
