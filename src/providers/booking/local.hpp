#pragma once
// The embedded booking provider on the SQLite store.
#include "providers/demo.hpp"
#include "providers/booking/provider.hpp"
#include "store/store.hpp"

namespace concierge::providers::booking {

class LocalBooking : public BookingProvider {
 public:
  explicit LocalBooking(store::Store& store) : store_(store) {}
  bool seed_demo(const DemoContext&) { return false; }

 private:
  store::Store& store_;
};

}  // namespace concierge::providers::booking
