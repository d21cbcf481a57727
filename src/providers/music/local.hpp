#pragma once
// The embedded music provider on the SQLite store.
#include "providers/demo.hpp"
#include "providers/music/provider.hpp"
#include "store/store.hpp"

namespace concierge::providers::music {

class LocalMusic : public MusicProvider {
 public:
  explicit LocalMusic(store::Store& store) : store_(store) {}
  // Adds the demo dataset when the user has no music data yet; returns whether it did.
  bool seed_demo(const DemoContext&) { return false; }

 private:
  store::Store& store_;
};

}  // namespace concierge::providers::music
