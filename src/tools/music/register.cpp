#include "tools/music/tools.hpp"

namespace concierge::tools {

// The music tools, one file each in this folder.
std::vector<ToolDefinition> music_tools(App& app) {
  std::vector<ToolDefinition> out;
  out.push_back(music::search(app));
  out.push_back(music::playback(app));
  out.push_back(music::now_playing(app));
  out.push_back(music::queue(app));
  out.push_back(music::playlists(app));
  return out;
}

}  // namespace concierge::tools
