#include "providers/booking/slots.hpp"

#include <algorithm>

namespace concierge::providers::booking {

using namespace std::chrono;

std::vector<Slot> compute_slots(const EventType& type, Millis from, Millis to, Millis now, const std::vector<Busy>& busy_in,
                                size_t limit) {
  std::vector<Slot> out;
  const auto* tz = zone(type.time_zone, "event_type");
  std::vector<Busy> busy = busy_in;
  std::sort(busy.begin(), busy.end(), [](auto& a, auto& b) { return a.start < b.start; });
  const Millis length = type.length_minutes * kMinute;
  const Millis step = (type.slot_interval_minutes > 0 ? type.slot_interval_minutes : type.length_minutes) * kMinute;
  const Millis earliest = std::max(from, now + type.minimum_notice_minutes * kMinute);
  const Millis before = type.buffer_before_minutes * kMinute, after = type.buffer_after_minutes * kMinute;
  auto first = date::floor<date::days>(to_local(from, tz)) - date::days(1);
  auto last = date::floor<date::days>(to_local(to, tz)) + date::days(1);
  for (auto day = first; day <= last && out.size() < limit; day += date::days(1)) {
    int wd = (date::weekday{day}.c_encoding() + 6) % 7;  // Monday = 0
    for (auto [open, close] : type.availability.days[wd]) {
      // Slot starts on the wall clock, so 09:00 stays 09:00 across DST changes.
      for (Millis m = open * kMinute; m + length <= close * kMinute && out.size() < limit; m += step) {
        Millis start = to_utc(LocalMs{day} + milliseconds(m), tz), end = start + length;
        if (start < earliest || start >= to) continue;
        bool clash = false;
        for (auto& b : busy) {
          if (b.start >= end + after) break;
          if (b.end > start - before) {
            clash = true;
            break;
          }
        }
        if (!clash) out.push_back({start, end});
      }
    }
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.start < b.start; });
  out.erase(std::unique(out.begin(), out.end(), [](auto& a, auto& b) { return a.start == b.start; }), out.end());
  return out;
}

}  // namespace concierge::providers::booking
