#pragma once
// The booking domain on Cal.com's API v2 (https://api.cal.com/v2). API keys are the common way
// in: the integrator passes StaticCredentials("Bearer cal_live_..."); OAuth accounts work the
// same through OAuthCredentials.
//
// Event type ids: our id is the event type's slug ("intro-call"), as in the local provider; a
// Cal.com numeric id ("1234567") is accepted wherever an id is taken. Bookings are Cal.com's
// uids. Rescheduling in Cal.com makes a NEW booking (a new uid) and cancels the old one, so
// reschedule() returns the new booking; the old one is left out of listings (it was moved, not
// cancelled). Cal.com does not expose the host's calendar event, so calendar_event_id is empty;
// availability lives in Cal.com schedules, so EventType::availability is empty (the slots come
// from Cal.com, which applies it).
//
// Documentation followed (calcom/cal.com, docs/api-reference/v2/, published at
// https://cal.com/docs/api-reference/v2/):
//  - OAuth: https://cal.com/docs/api-reference/v2/oauth (oauth.mdx). Authorize at
//    app.cal.com/auth/oauth2/authorize; BOTH the code exchange and the refresh are
//    POST https://api.cal.com/v2/auth/oauth2/token (JSON, or form-urlencoded, which it "also
//    accepts"); the reply is {access_token, refresh_token, token_type, expires_in: 1800, scope};
//    a dead refresh token is 400 invalid_grant. The redirect_uri "must exactly match the
//    registered redirect URI", so sign-in listens on a fixed loopback port (kCalcomLoopbackPort).
//    The old app.cal.com/api/auth/oauth/token exchanges codes only: refreshes there are refused.
//  - cal-api-version per endpoint, from the OpenAPI (docs/api-reference/v2/openapi.json):
//    bookings 2026-02-25 (https://cal.com/docs/api-reference/v2/bookings/get-all-bookings), slots
//    2024-09-04 (https://cal.com/docs/api-reference/v2/slots/get-available-slots), event types
//    2024-06-14 (https://cal.com/docs/api-reference/v2/event-types/get-all-event-types).
#include <map>
#include <memory>
#include <string>

#include "providers/auth/credentials.hpp"
#include "providers/auth/oauth.hpp"
#include "providers/booking/provider.hpp"
#include "providers/http/client.hpp"
#include "providers/http/service.hpp"

namespace concierge::providers::booking {

// The `cal-api-version` header each endpoint family is called with. Cal.com selects the
// controller by this header, and a missing or unknown value silently falls back to an OLDER
// version with other parameters and response shapes, so every call sends its family's value.
// Defaults: the versions Cal.com's current OpenAPI documents for each family. Bookings
// 2026-02-25 answers in the same shapes as 2024-08-13 (its controller returns the 2024_08_13
// outputs; only a cancelled seated booking now lists its attendees). Each is configurable
// (`<family>_version` under services.calcom, or CONCIERGE_CALCOM_<FAMILY>_VERSION).
struct CalcomVersions {
  std::string bookings = "2026-02-25";     // /bookings, /bookings/{uid}, .../reschedule, .../cancel
  std::string slots = "2024-09-04";        // /slots (data keyed by date)
  std::string event_types = "2024-06-14";  // /event-types, /event-types/{id}
};
// The defaults with `overrides` (family -> version: bookings, slots, event_types) applied;
// std::invalid_argument for another family.
CalcomVersions calcom_versions(const std::map<std::string, std::string>& overrides);

// Cal.com matches the redirect URI exactly, so sign-in listens on this loopback port
// (http://127.0.0.1:53218/callback) unless --port says otherwise; the user registers that URI.
constexpr int kCalcomLoopbackPort = 53218;
constexpr const char* kCalcomApi = "https://api.cal.com/v2";

// https://api.cal.com/v2. Rate: Cal.com documents 120 requests per 60 seconds per API key (500 for
// OAuth access tokens) over a fixed window; 1.8/s with a burst of 10 keeps any 60 s under 120.
http::Policy calcom_policy();
// Cal.com OAuth: authorize at app.cal.com/auth/oauth2/authorize, tokens (code and refresh) at
// <api_base>/auth/oauth2/token, so a self-hosted API v2 gets its own. Scopes: EVENT_TYPE_READ and
// BOOKING_READ; BOOKING_WRITE too unless read_only. Slots are public.
auth::OAuthConfig calcom_oauth(bool read_only, const std::string& api_base = kCalcomApi);

class CalcomBooking : public BookingProvider {
 public:
  CalcomBooking(std::shared_ptr<http::Client> client, std::shared_ptr<auth::Credentials> credentials, CalcomVersions versions = {});

  std::vector<EventType> event_types(const Call& call) override;
  EventType event_type(const Call& call, const std::string& id) override;
  std::vector<Slot> slots(const Call& call, const std::string& event_type, Millis from, Millis to) override;
  Booking create(const Call& call, const NewBooking& booking) override;
  std::vector<Booking> list(const Call& call, const BookingQuery& query) override;
  Booking get(const Call& call, const std::string& id) override;
  Booking reschedule(const Call& call, const std::string& id, Millis start, const std::string& reason) override;
  Booking cancel(const Call& call, const std::string& id, const std::string& reason) override;

  const CalcomVersions& versions() const { return versions_; }

 private:
  struct Type {
    int64_t id = 0;
    EventType type;
  };
  Type find_type(const Call& call, const std::string& id);
  // The call's `data` after checking Cal.com's {"status": "success", "data": ...} envelope.
  Json data(const Call& call, http::Request request, const std::string& version);
  http::ServiceApi api_;
  CalcomVersions versions_;
};

}  // namespace concierge::providers::booking
