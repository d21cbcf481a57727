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

  std::vector<EventType> event_types(const Call& call) override;
  EventType event_type(const Call& call, const std::string& id) override;
  std::vector<Slot> slots(const Call& call, const std::string& event_type, Millis from, Millis to) override;
  Booking create(const Call& call, const NewBooking& booking) override;
  std::vector<Booking> list(const Call& call, const BookingQuery& query) override;
  Booking get(const Call& call, const std::string& id) override;
  Booking reschedule(const Call& call, const std::string& id, Millis start, const std::string& reason) override;
  Booking cancel(const Call& call, const std::string& id, const std::string& reason) override;

  void add_event_type(const Call& call, const EventType& type);
  bool seed_demo(const DemoContext& ctx);

 private:
  std::vector<Slot> open_slots(const Call& call, const EventType& type, Millis from, Millis to, const std::string& ignore_booking);
  store::Store& store_;
  calendar::CalendarProvider& calendar_;
};

}  // namespace concierge::providers::booking
