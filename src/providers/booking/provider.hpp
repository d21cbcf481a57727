#pragma once
// The booking domain (a Cal.com-like engine): event types people can book with the user, open
// slots, bookings. Tools in src/tools/booking/ use only this.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "providers/call.hpp"
#include "providers/time.hpp"

namespace concierge::providers::booking {

// Bookable hours per weekday (0 = Monday) as [start, end) minutes after local midnight.
struct Weekly {
  std::array<std::vector<std::pair<int, int>>, 7> days;
};

struct EventType {
  std::string id;  // the slug, e.g. "intro-call"
  std::string title, description, location;
  int length_minutes = 30;
  int buffer_before_minutes = 0, buffer_after_minutes = 0;
  int minimum_notice_minutes = 0;
  int slot_interval_minutes = 0;  // 0: the length
  std::string time_zone;          // the zone `availability` is in
  Weekly availability;
};

struct Slot {
  Millis start = 0, end = 0;
};

struct Attendee {
  std::string name, email, time_zone;
};

struct Booking {
  std::string id;
  std::string event_type_id;
  std::string title;
  Millis start = 0, end = 0;
  Attendee attendee;
  std::string notes;
  std::string status;  // accepted, cancelled
  std::string cancel_reason;
  std::string calendar_event_id;  // the event it put on the user's calendar
  Millis created = 0, updated = 0;
};

struct NewBooking {
  std::string event_type_id;
  Millis start = 0;
  Attendee attendee;
  std::string notes;
};

struct BookingQuery {
  std::string status;  // empty: any; "upcoming", "past", "cancelled"
  Millis now = 0;
  int max_results = 50;
};

class BookingProvider {
 public:
  virtual ~BookingProvider() = default;
  virtual std::vector<EventType> event_types(const Call& call) = 0;
  virtual EventType event_type(const Call& call, const std::string& id) = 0;  // NotFound naming event_type
  // Open slots starting in [from, to).
  virtual std::vector<Slot> slots(const Call& call, const std::string& event_type, Millis from, Millis to) = 0;
  // Conflict when the slot is no longer open (exactly one of two racing bookings succeeds).
  virtual Booking create(const Call& call, const NewBooking& booking) = 0;
  virtual std::vector<Booking> list(const Call& call, const BookingQuery& query) = 0;
  virtual Booking get(const Call& call, const std::string& id) = 0;
  virtual Booking reschedule(const Call& call, const std::string& id, Millis start, const std::string& reason) = 0;
  virtual Booking cancel(const Call& call, const std::string& id, const std::string& reason) = 0;
};

}  // namespace concierge::providers::booking
