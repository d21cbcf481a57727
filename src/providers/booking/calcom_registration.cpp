// Cal.com serves the booking domain: CONCIERGE_BOOKING_PROVIDER=calcom, with an API key
// (CONCIERGE_CALCOM_API_KEY) or signed-in OAuth accounts.
#include "providers/booking/calcom.hpp"
#include "providers/registry.hpp"

namespace concierge::providers::booking {
namespace {
const bool registered = register_adapter<BookingProvider>(
    {.domain = "booking",
     .provider = "calcom",
     .sign_in = "calcom",
     // Cal.com picks each endpoint family's controller by the cal-api-version header.
     .services = {{.name = "calcom", .api_version_families = {"bookings", "slots", "event_types"}}},
     // The token endpoint is part of API v2: a configured (self-hosted) base URL has its own.
     .oauth = [](bool read_only, const ServiceConfig& s) {
       return s.base_url.empty() ? calcom_oauth(read_only) : calcom_oauth(read_only, trim_slash(s.base_url));
     },
     .api_key_help = "Cal.com settings, Developer, API keys"},
    [](AdapterContext& ctx) {
      auto client = ctx.http_client("calcom", calcom_policy(), "calcom");
      auto versions = calcom_versions(ctx.service("calcom").api_versions);
      return Connected<BookingProvider>{std::make_shared<CalcomBooking>(client, ctx.credentials, versions), client};
    });
}  // namespace
}  // namespace concierge::providers::booking
