#pragma once
// The embedded calendar provider on the SQLite store. Single events are rows indexed by start;
// a recurring event is one row holding its RRULE, expanded on read; changing one occurrence
// writes an override row (id "<series>_<stamp>") and removes that occurrence from the series.
#include "providers/calendar/provider.hpp"
#include "providers/demo.hpp"
#include "store/store.hpp"

namespace concierge::providers::calendar {

class LocalCalendar : public CalendarProvider {
 public:
  explicit LocalCalendar(store::Store& store);

  std::vector<Calendar> calendars(const Call& call) override;
  EventPage events(const Call& call, const EventQuery& query) override;
  Event event(const Call& call, const std::string& id, const std::string& field = "event_id") override;
  Event create(const Call& call, const NewEvent& event) override;
  Event update(const Call& call, const std::string& id, const EventPatch& patch, Scope scope) override;
  void remove(const Call& call, const std::string& id, Scope scope) override;
  std::vector<Interval> busy(const Call& call, const std::vector<std::string>& calendars, Millis from, Millis to) override;

  // Adds the demo week when the user has no events yet; returns whether it did.
  bool seed_demo(const DemoContext& ctx);
  // Creates the user's calendar with this key when missing (the primary one first).
  void ensure_calendar(const Call& call, const std::string& key, const std::string& name, const std::string& time_zone,
                       const std::string& color, bool primary);

 private:
  store::Store& store_;
};

}  // namespace concierge::providers::calendar
