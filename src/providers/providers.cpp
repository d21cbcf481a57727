#include "providers/providers.hpp"

#include "providers/booking/local.hpp"
#include "providers/calendar/local.hpp"
#include "providers/mail/local.hpp"
#include "providers/music/local.hpp"
#include "providers/registry.hpp"
#include "providers/status.hpp"
#include "providers/video/local.hpp"

namespace concierge::providers {

namespace {

// One domain's declaration: its accounts field, where its local provider is kept, and how that
// is made; the rest (adding accounts, the demo) follows from those.
template <class Interface, class Local>
Domain domain(std::string name, Accounts<Interface> Providers::*accounts, std::shared_ptr<Local> Providers::*local,
              std::function<std::shared_ptr<Local>(Providers&, store::Store&)> make_local) {
  return Domain{
      .name = std::move(name),
      .interface = typeid(Interface),
      .add_local =
          [=](Providers& p, store::Store& store) {
            p.*local = make_local(p, store);
            (p.*accounts).add("local", p.*local);
          },
      .seed_demo = [=](Providers& p, const DemoContext& ctx) {
        return p.*local ? std::optional<bool>((p.*local)->seed_demo(ctx)) : std::nullopt;
      },
      .add = [=](Providers& p, const std::string& account,
                 const std::any& adapter) { (p.*accounts).add(account, std::any_cast<std::shared_ptr<Interface>>(adapter)); },
      .set_default = [=](Providers& p, const std::string& account) { (p.*accounts).set_default(account); }};
}

}  // namespace

const std::vector<Domain>& registered_domains() {
  static const std::vector<Domain> all{
      domain<calendar::CalendarProvider, calendar::LocalCalendar>(
          "calendar", &Providers::calendar, &Providers::local_calendar,
          [](Providers&, store::Store& s) { return std::make_shared<calendar::LocalCalendar>(s); }),
      domain<mail::MailProvider, mail::LocalMail>("mail", &Providers::mail, &Providers::local_mail,
                                                  [](Providers&, store::Store& s) { return std::make_shared<mail::LocalMail>(s); }),
      domain<music::MusicProvider, music::LocalMusic>("music", &Providers::music, &Providers::local_music,
                                                      [](Providers&, store::Store& s) { return std::make_shared<music::LocalMusic>(s); }),
      domain<video::VideoProvider, video::LocalVideo>("video", &Providers::video, &Providers::local_video,
                                                      [](Providers&, store::Store& s) { return std::make_shared<video::LocalVideo>(s); }),
      // The local booking engine checks and fills the local calendar.
      domain<booking::BookingProvider, booking::LocalBooking>(
          "booking", &Providers::booking, &Providers::local_booking,
          [](Providers& p, store::Store& s) { return std::make_shared<booking::LocalBooking>(s, *p.local_calendar); }),
  };
  return all;
}

// status.hpp's list of names: the table's.
const std::vector<std::string>& domains() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> names;
    for (auto& d : registered_domains()) names.push_back(d.name);
    return names;
  }();
  return all;
}

void add_local(Providers& p, store::Store& store, StatusBoard* status) {
  for (auto& d : registered_domains()) {
    d.add_local(p, store);
    if (status) status->set_provider(d.name, "local");
  }
}

Json seed_demo(Providers& p, int64_t user, const std::string& time_zone) {
  DemoContext ctx;
  ctx.user = user;
  ctx.tz = zone(time_zone);
  ctx.now = now_ms();
  ctx.today = date::floor<date::days>(to_local(ctx.now, ctx.tz));
  Json added = Json::object();
  for (auto& d : registered_domains())
    if (auto did = d.seed_demo(p, ctx)) added[d.name] = *did;
  return added;
}

}  // namespace concierge::providers
