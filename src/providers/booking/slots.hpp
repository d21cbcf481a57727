#pragma once
// Open slots of an event type, as a pure function of its rules, a window, "now" and what is
// already busy: the weekly availability (in the type's zone), minus minimum notice, minus
// anything overlapping the slot padded by the type's buffers.
#include <vector>

#include "providers/booking/provider.hpp"

namespace concierge::providers::booking {

struct Busy {
  Millis start = 0, end = 0;
};

std::vector<Slot> compute_slots(const EventType& type, Millis from, Millis to, Millis now, const std::vector<Busy>& busy,
                                size_t limit = 1000);

}  // namespace concierge::providers::booking
