#pragma once
// What the booking tools share: the provider and zone a call uses, how bookings are shown.
#include "providers/booking/provider.hpp"
#include "providers/providers.hpp"
#include "tools/call.hpp"
#include "tools/tool.hpp"

namespace concierge::tools::booking {

namespace bk = providers::booking;

struct Call {
  bk::BookingProvider& provider;
  providers::Call call;
  const date::time_zone* tz;  // the call's time_zone, else the user's
};
Call call_of(App& app, const Json& args, RequestContext& ctx);

Json booking_json(const bk::Booking& b, const date::time_zone* tz);
std::string booking_line(const bk::Booking& b, const date::time_zone* tz);

}  // namespace concierge::tools::booking
