#pragma once
// The video domain: what any video provider can do. Tools in src/tools/video/ use only this.
#include <cstdint>

namespace concierge::providers::video {

class VideoProvider {
 public:
  virtual ~VideoProvider() = default;
};

}  // namespace concierge::providers::video
