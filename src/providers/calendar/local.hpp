#pragma once
// The embedded calendar provider on the SQLite store.
#include "providers/demo.hpp"
#include "providers/calendar/provider.hpp"
#include "store/store.hpp"

namespace concierge::providers::calendar {

class LocalCalendar : public CalendarProvider {
 public:
  explicit LocalCalendar(store::Store& store) : store_(store) {}
  bool seed_demo(const DemoContext&) { return false; }

 private:
  store::Store& store_;
};

}  // namespace concierge::providers::calendar
