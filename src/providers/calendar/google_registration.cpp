// Google Calendar serves the calendar domain: CONCIERGE_CALENDAR_PROVIDER=google.
#include "providers/calendar/google.hpp"
#include "providers/google_oauth.hpp"
#include "providers/registry.hpp"

namespace concierge::providers::calendar {
namespace {
const bool registered = register_adapter<CalendarProvider>(
    {.domain = "calendar",
     .provider = "google",
     .sign_in = "google",
     .oauth = [](bool read_only, const ServiceConfig&) { return google_oauth(google_calendar_scopes(read_only)); }},
    [](AdapterContext& ctx) {
      auto client = ctx.http_client("google_calendar", google_calendar_policy(), "google");
      return Connected<CalendarProvider>{std::make_shared<GoogleCalendar>(client, ctx.credentials), client};
    });
}  // namespace
}  // namespace concierge::providers::calendar
