#include "tools/tool.hpp"

namespace concierge::tools {

// The mail tools, one file each in this folder.
std::vector<ToolDefinition> mail_tools(App&) { return {}; }

}  // namespace concierge::tools
