#include "tools/tool.hpp"

namespace concierge::tools {

// The booking tools, one file each in this folder.
std::vector<ToolDefinition> booking_tools(App&) { return {}; }

}  // namespace concierge::tools
