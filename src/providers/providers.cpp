#include "providers/providers.hpp"

#include "providers/booking/local.hpp"
#include "providers/calendar/local.hpp"
#include "providers/mail/local.hpp"
#include "providers/music/local.hpp"
#include "providers/status.hpp"
#include "providers/video/local.hpp"

namespace concierge::providers {

void add_local(Providers& p, store::Store& store, StatusBoard* status) {
  p.local_calendar = std::make_shared<calendar::LocalCalendar>(store);
  p.calendar.add("local", p.local_calendar);
  // The local booking engine checks and fills the default calendar account.
  p.local_booking = std::make_shared<booking::LocalBooking>(store, *p.local_calendar);
  p.booking.add("local", p.local_booking);
  p.local_mail = std::make_shared<mail::LocalMail>(store);
  p.mail.add("local", p.local_mail);
  p.local_music = std::make_shared<music::LocalMusic>(store);
  p.music.add("local", p.local_music);
  p.local_video = std::make_shared<video::LocalVideo>(store);
  p.video.add("local", p.local_video);
  if (status)
    for (const auto& d : domains()) status->set_provider(d, "local");
}

Json seed_demo(Providers& p, int64_t user, const std::string& time_zone) {
  DemoContext ctx;
  ctx.user = user;
  ctx.tz = zone(time_zone);
  ctx.now = now_ms();
  ctx.today = date::floor<date::days>(to_local(ctx.now, ctx.tz));
  Json added = Json::object();
  if (p.local_calendar) added["calendar"] = p.local_calendar->seed_demo(ctx);
  if (p.local_mail) added["mail"] = p.local_mail->seed_demo(ctx);
  if (p.local_music) added["music"] = p.local_music->seed_demo(ctx);
  if (p.local_video) added["video"] = p.local_video->seed_demo(ctx);
  if (p.local_booking) added["booking"] = p.local_booking->seed_demo(ctx);
  return added;
}

}  // namespace concierge::providers
