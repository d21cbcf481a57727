// One iCalendar resource as a CalDAV server hands it over (providers/calendar/caldav_read.hpp):
// parsed by libical, VEVENTs read (times, zones, RRULE, EXDATE, overrides, attendees, alarms),
// series expanded.
#include <cstddef>
#include <cstdint>
#include <string>

#include "calendar_common.hpp"

using namespace concierge;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const date::time_zone* tz = date::locate_zone("America/New_York");
  std::string ics(reinterpret_cast<const char*>(data), size);
  fuzz::read_events([&] { return providers::calendar::caldav::resource_events(ics, "/dav/alice/work/e1.ics", "work", tz, fuzz::kFrom, fuzz::kTo); });
  return 0;
}
