#pragma once
// The embedded video provider on the SQLite store.
#include "providers/demo.hpp"
#include "providers/video/provider.hpp"
#include "store/store.hpp"

namespace concierge::providers::video {

class LocalVideo : public VideoProvider {
 public:
  explicit LocalVideo(store::Store& store) : store_(store) {}
  // Adds the demo dataset when the user has no video data yet; returns whether it did.
  bool seed_demo(const DemoContext&) { return false; }

 private:
  store::Store& store_;
};

}  // namespace concierge::providers::video
