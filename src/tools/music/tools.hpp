#pragma once
// The music tools and what they share.
#include "providers/providers.hpp"
#include "tools/call.hpp"
#include "tools/tool.hpp"

namespace concierge::tools::music {

namespace mu = providers::music;

Json track_json(const mu::Track& t);
Json player_json(const mu::PlayerState& s);
std::string player_line(const mu::PlayerState& s);  // "Playing Low Tide by The Lanterns."

}  // namespace concierge::tools::music
