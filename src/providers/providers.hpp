#pragma once
// Every domain's connected accounts. The embedded default puts each domain's local SQLite
// provider in as account "local"; the OAuth adapters add theirs beside it.
#include <memory>

#include "providers/accounts.hpp"
#include "providers/booking/provider.hpp"
#include "providers/calendar/provider.hpp"
#include "providers/mail/provider.hpp"
#include "providers/music/provider.hpp"
#include "providers/video/provider.hpp"
#include "common/json.hpp"

namespace concierge::store {
class Store;
}

namespace concierge::providers {

namespace calendar { class LocalCalendar; }
namespace mail { class LocalMail; }
namespace music { class LocalMusic; }
namespace video { class LocalVideo; }
namespace booking { class LocalBooking; }

struct Providers {
  Accounts<calendar::CalendarProvider> calendar;
  Accounts<mail::MailProvider> mail;
  Accounts<music::MusicProvider> music;
  Accounts<video::VideoProvider> video;
  Accounts<booking::BookingProvider> booking;

  // The local providers themselves (for demo data and tests).
  std::shared_ptr<calendar::LocalCalendar> local_calendar;
  std::shared_ptr<mail::LocalMail> local_mail;
  std::shared_ptr<music::LocalMusic> local_music;
  std::shared_ptr<video::LocalVideo> local_video;
  std::shared_ptr<booking::LocalBooking> local_booking;
};

class StatusBoard;

// Adds every domain's local provider (creating or migrating its tables) as account "local", and
// says so on the status board (concierge://services).
void add_local(Providers& providers, store::Store& store, StatusBoard* status = nullptr);

// Fills each of the user's empty domains with the demo dataset, in the user's time zone.
// Returns {domain: true/false (added / already had data)}.
Json seed_demo(Providers& providers, int64_t user, const std::string& time_zone);

}  // namespace concierge::providers
