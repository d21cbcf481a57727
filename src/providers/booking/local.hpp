#pragma once
// The embedded booking engine on the SQLite store. Busy time comes from the user's calendar
// (through the calendar provider) and their bookings; a booking puts an event on that calendar.
// Checking a slot and taking it happen in one write transaction on the store's single writer,
// so of two racing bookings of one slot exactly one succeeds.
#include "providers/booking/provider.hpp"
#include "providers/calendar/provider.hpp"
#include "providers/demo.hpp"
#include "store/store.hpp"

namespace concierge::providers::booking {

class LocalBooking : public BookingProvider {
 public:
  LocalBooking(store::Store& store, calendar::CalendarProvider& calendar);

  std::vector<EventType> event_types(int64_t user) override;
  EventType event_type(int64_t user, const std::string& id) override;
  std::vector<Slot> slots(int64_t user, const std::string& event_type, Millis from, Millis to) override;
  Booking create(int64_t user, const NewBooking& booking) override;
  std::vector<Booking> list(int64_t user, const BookingQuery& query) override;
  Booking get(int64_t user, const std::string& id) override;
  Booking reschedule(int64_t user, const std::string& id, Millis start, const std::string& reason) override;
  Booking cancel(int64_t user, const std::string& id, const std::string& reason) override;

  void add_event_type(int64_t user, const EventType& type);
  bool seed_demo(const DemoContext& ctx);

 private:
  std::vector<Slot> open_slots(int64_t user, const EventType& type, Millis from, Millis to, const std::string& ignore_booking);
  store::Store& store_;
  calendar::CalendarProvider& calendar_;
};

}  // namespace concierge::providers::booking
