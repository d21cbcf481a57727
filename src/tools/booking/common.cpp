#include "tools/booking/common.hpp"

#include "store/preferences.hpp"
#include "store/store.hpp"

namespace concierge::tools::booking {

Call call_of(App& app, const Json& args, RequestContext& ctx) {
  auto& provider = app.providers.booking.get(args.value("account", ""));
  std::string tz = args.contains("time_zone") ? args["time_zone"].get<std::string>() : app.preferences.time_zone(ctx.user());
  return {provider, provider_call(app, args, ctx), providers::zone(tz)};
}

Json booking_json(const bk::Booking& b, const date::time_zone* tz) {
  Json attendee{{"name", b.attendee.name}, {"email", b.attendee.email}};
  if (!b.attendee.time_zone.empty()) attendee["time_zone"] = b.attendee.time_zone;
  Json j{{"id", b.id},
         {"event_type", b.event_type_id},
         {"title", b.title},
         {"start", providers::format_time(b.start, tz)},
         {"end", providers::format_time(b.end, tz)},
         {"attendee", attendee},
         {"status", b.status}};
  if (!b.notes.empty()) j["notes"] = b.notes;
  if (!b.cancel_reason.empty()) j["cancel_reason"] = b.cancel_reason;
  if (!b.calendar_event_id.empty()) j["calendar_event_id"] = b.calendar_event_id;
  return j;
}

std::string booking_line(const bk::Booking& b, const date::time_zone* tz) { return b.title + ", " + providers::spoken_time(b.start, tz); }

}  // namespace concierge::tools::booking
