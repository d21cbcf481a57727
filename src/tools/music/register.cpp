#include "tools/tool.hpp"

namespace concierge::tools {

// The music tools, one file each in this folder.
std::vector<ToolDefinition> music_tools(App&) { return {}; }

}  // namespace concierge::tools
