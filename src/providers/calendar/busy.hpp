#pragma once
// Busy time as every calendar provider reports it: sorted by start, overlapping or touching
// spans merged into one.
#include <vector>

#include "providers/calendar/provider.hpp"

namespace concierge::providers::calendar {

std::vector<Interval> merge_busy(std::vector<Interval> spans);

}  // namespace concierge::providers::calendar
