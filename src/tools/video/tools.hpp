#pragma once
// The video tools and what they share.
#include "providers/providers.hpp"
#include "tools/call.hpp"
#include "tools/tool.hpp"

namespace concierge::tools::video {

namespace vd = providers::video;

Json video_json(const vd::Video& v, const date::time_zone* tz);

}  // namespace concierge::tools::video
