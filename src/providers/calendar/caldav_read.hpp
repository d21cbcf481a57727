#pragma once
// What the CalDAV adapter (caldav.cpp) reads of a server's answers, declared apart for the fuzz
// harness: a calendar-query REPORT answer (a WebDAV multistatus of calendar-data) and a single
// calendar resource, each as the events that overlap [from, to), series expanded.
#include <string>
#include <vector>

#include "providers/calendar/provider.hpp"

namespace concierge::providers::calendar::caldav {

struct Listed {
  Event event;
  bool transparent = false;  // TRANSP:TRANSPARENT or cancelled: not busy
};

// The answer to a REPORT on origin + path (the base its hrefs resolve against; an href on another
// origin is refused). http::Unavailable for a body that is not a multistatus, calendar data that
// is not iCalendar, or an event without a start.
std::vector<Listed> report_events(const std::string& body, const std::string& origin, const std::string& path,
                                  const std::string& calendar_id, const date::time_zone* calendar_tz, Millis from, Millis to);
// One resource (a series with its overrides) at `href` of the calendar.
std::vector<Listed> resource_events(const std::string& ics, const std::string& href, const std::string& calendar_id,
                                    const date::time_zone* calendar_tz, Millis from, Millis to);

}  // namespace concierge::providers::calendar::caldav
