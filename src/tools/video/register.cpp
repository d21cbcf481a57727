#include "tools/video/tools.hpp"

namespace concierge::tools {

// The video tools, one file each in this folder.
std::vector<ToolDefinition> video_tools(App& app) {
  std::vector<ToolDefinition> out;
  out.push_back(video::search(app));
  out.push_back(video::details(app));
  out.push_back(video::playlists(app));
  return out;
}

}  // namespace concierge::tools
