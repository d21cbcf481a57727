#include "providers/calendar/busy.hpp"

#include <algorithm>

namespace concierge::providers::calendar {

std::vector<Interval> merge_busy(std::vector<Interval> spans) {
  std::sort(spans.begin(), spans.end(), [](auto& a, auto& b) { return a.start < b.start; });
  std::vector<Interval> merged;
  for (auto& s : spans) {
    if (!merged.empty() && s.start <= merged.back().end) merged.back().end = std::max(merged.back().end, s.end);
    else merged.push_back(s);
  }
  return merged;
}

}  // namespace concierge::providers::calendar
