#pragma once
// Recurring events: RFC 5545 RRULEs expanded by libical on the wall clock of the event's zone,
// each occurrence then placed in time by the zone's rules (date tz). A weekly 09:00 meeting in
// Europe/Berlin stays at 09:00 across the DST change; its UTC instant moves.
#include <optional>
#include <string>
#include <vector>

#include "providers/time.hpp"

namespace concierge::providers::calendar {

struct Series {
  LocalMs start;  // first occurrence, wall clock in tz
  Millis duration = 0;
  std::string rrule;  // without "RRULE:"
  const date::time_zone* tz = nullptr;
  std::vector<Millis> exdates;  // UTC starts of removed occurrences
};

// "RRULE:FREQ=..." or "FREQ=..." → the rule without the prefix, upper-cased. Error naming
// `field` when libical can't read it, it repeats more often than hourly or its COUNT is over
// 10,000.
std::string normalize_rrule(const std::string& text, const std::string& field = "recurrence");

// UTC starts of the occurrences that overlap [from, to), in order, at most `limit`; the walk
// visits at most 100,000 occurrences from the start (or from just before `from` without COUNT).
std::vector<Millis> expand(const Series& s, Millis from, Millis to, size_t limit = 5000);

// The UTC end of the series' last occurrence, or nullopt when it never ends (or has more
// occurrences than one walk visits: 100,000; such a series is treated as open-ended).
std::optional<Millis> series_end(const Series& s);

// The rule ending before the occurrence starting at `before` (UTC): COUNT/UNTIL replaced by an
// UNTIL one second earlier. For splitting a series ("this and following").
std::string rule_until(const std::string& rrule, Millis before);
// The rule for the part of a series from its occurrence number `skipped` on (COUNT reduced).
std::string rule_after(const std::string& rrule, int skipped);

// "20261123T090000Z": the stamp occurrence ids carry.
std::string stamp(Millis utc);
std::optional<Millis> parse_stamp(const std::string& text);

}  // namespace concierge::providers::calendar
