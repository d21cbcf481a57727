#pragma once
// Times as the tools speak them: RFC 3339 with an offset (or a wall-clock time in a named IANA
// zone), all-day dates as YYYY-MM-DD. Inside, an instant is milliseconds since the epoch (UTC).
// Zone arithmetic is howardhinnant date's tz (the system's tzdata).
#include <chrono>
#include <cstdint>
#include <date/date.h>
#include <date/tz.h>
#include <optional>
#include <string>

namespace concierge::providers {

using Millis = int64_t;
using LocalMs = date::local_time<std::chrono::milliseconds>;
constexpr Millis kMinute = 60'000, kHour = 60 * kMinute, kDay = 24 * kHour;

Millis now_ms();

// The IANA zone by name; Error naming `field` when there is none.
const date::time_zone* zone(const std::string& name, const std::string& field = "time_zone");

// "2026-11-23T10:00:00+01:00", "...Z", fractional seconds allowed. Without an offset the text is
// a wall-clock time in `tz` (null: an offset is required). Error naming `field` otherwise.
Millis parse_time(const std::string& text, const date::time_zone* tz, const std::string& field);
// "2026-11-23", Error naming `field` when malformed or not a calendar date.
date::local_days parse_date(const std::string& text, const std::string& field);
bool looks_like_date(const std::string& text);  // YYYY-MM-DD exactly

// The instant a wall-clock time happens in `tz`. A time skipped by a DST jump moves forward by
// the jump (02:30 on the spring-forward night is 03:30); a repeated one takes the first.
Millis to_utc(LocalMs local, const date::time_zone* tz);
LocalMs to_local(Millis t, const date::time_zone* tz);

std::string format_time(Millis t, const date::time_zone* tz);  // RFC 3339 with the zone's offset
std::string format_date(date::local_days d);                   // YYYY-MM-DD
// "Monday 23 November, 10:00" style for voice: short, no zone.
std::string spoken_time(Millis t, const date::time_zone* tz);
std::string spoken_day(date::local_days d);

}  // namespace concierge::providers
