// CalDAV serves the calendar domain: CONCIERGE_CALENDAR_PROVIDER=caldav, with
// CONCIERGE_CALDAV_BASE_URL (the calendar home or server), _USERNAME and _PASSWORD.
#include <stdexcept>

#include "providers/calendar/caldav.hpp"
#include "providers/registry.hpp"

namespace concierge::providers::calendar {
namespace {
const bool registered = register_adapter<CalendarProvider>(
    {.domain = "calendar", .provider = "caldav", .services = {{.name = "caldav"}}}, [](AdapterContext& ctx) {
      auto& sc = ctx.service("caldav");
      if (sc.base_url.empty()) throw std::runtime_error("calendar is set to caldav: set CONCIERGE_CALDAV_BASE_URL (the calendar home or server URL)");
      CaldavOptions o;
      o.url = sc.base_url;
      o.username = sc.username;
      o.password = sc.password;
      // Not ctx.http_client: its base URL would be the configured one, path and all, while the
      // adapter asks for the absolute paths the server hands out (discovery starts at the
      // configured path).
      auto& client = ctx.connections.http["caldav"];
      if (!client) client = std::make_shared<http::Client>(caldav_policy(o));
      return Connected<CalendarProvider>{std::make_shared<CaldavCalendar>(o, client), client};
    });
}  // namespace
}  // namespace concierge::providers::calendar
