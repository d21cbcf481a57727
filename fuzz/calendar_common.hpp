#pragma once
// Shared by the calendar harnesses: what the adapter reads, over a two-month window in late 2026.
#include "providers/calendar/caldav_read.hpp"
#include "server/registry.hpp"

namespace concierge::fuzz {

constexpr providers::Millis kFrom = 1'795'000'000'000, kTo = kFrom + 61LL * 86'400'000;

// Runs `read` (the events of some server answer in [kFrom, kTo)): what can't be read must be a
// ToolError (http::Unavailable, or the recurrence error naming the rule); anything else, a
// crash, or an event without an id or ending before it starts is a bug.
template <class F>
void read_events(F read) {
  try {
    for (auto& l : read())
      if (l.event.id.empty() || l.event.end < l.event.start) __builtin_trap();
  } catch (const ToolError&) {
  }
}

}  // namespace concierge::fuzz
