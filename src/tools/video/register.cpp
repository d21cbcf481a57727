#include "tools/tool.hpp"

namespace concierge::tools {

// The video tools, one file each in this folder.
std::vector<ToolDefinition> video_tools(App&) { return {}; }

}  // namespace concierge::tools
