#pragma once
// What a local provider needs to invent its demo data: whose, and "now" in their zone, so the
// dataset is the user's current week rather than a fixed date.
#include <cstdint>

#include "providers/time.hpp"

namespace concierge::providers {

struct DemoContext {
  int64_t user = 0;
  const date::time_zone* tz = nullptr;
  Millis now = 0;
  date::local_days today;  // in tz
};

}  // namespace concierge::providers
