#pragma once
// The music domain: what any music provider can do. Tools in src/tools/music/ use only this.
#include <cstdint>

namespace concierge::providers::music {

class MusicProvider {
 public:
  virtual ~MusicProvider() = default;
};

}  // namespace concierge::providers::music
