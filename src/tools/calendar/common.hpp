#pragma once
// What the calendar tools share: the provider and zone a call uses, how times are read and shown.
#include "providers/calendar/provider.hpp"
#include "providers/providers.hpp"
#include "tools/call.hpp"
#include "tools/tool.hpp"

namespace concierge::tools::calendar {

namespace cal = providers::calendar;

struct Call {
  cal::CalendarProvider& provider;
  providers::Call call;
  const date::time_zone* tz;  // the call's time_zone, else the user's
};
Call call_of(App& app, const Json& args, RequestContext& ctx);

// A time argument: RFC 3339 (an offset, or wall clock in tz) or a date (local midnight in tz).
struct When {
  providers::Millis at = 0;
  bool is_date = false;
};
When when(const Json& args, const std::string& field, const date::time_zone* tz);

Json event_json(const cal::Event& e, const date::time_zone* tz);
std::string event_line(const cal::Event& e, const date::time_zone* tz);  // "Dentist, Tuesday 24 November, 16:00"
std::vector<cal::Attendee> attendees(const Json& args, const std::string& field = "attendees");
cal::Scope scope(const Json& args, const std::string& id);

}  // namespace concierge::tools::calendar
