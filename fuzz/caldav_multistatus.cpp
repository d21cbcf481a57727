// A CalDAV server's calendar-query REPORT answer (providers/calendar/caldav_read.hpp): WebDAV
// multistatus XML through libxml2, each calendar-data through libical, series expanded.
#include <cstddef>
#include <cstdint>
#include <string>

#include "calendar_common.hpp"

using namespace concierge;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const date::time_zone* tz = date::locate_zone("Europe/Berlin");
  std::string body(reinterpret_cast<const char*>(data), size);
  fuzz::read_events([&] { return providers::calendar::caldav::report_events(body, "http://127.0.0.1:5232", "/dav/alice/work/", "work", tz, fuzz::kFrom, fuzz::kTo); });
  return 0;
}
