#pragma once
// The embedded mail provider on the SQLite store.
#include "providers/demo.hpp"
#include "providers/mail/provider.hpp"
#include "store/store.hpp"

namespace concierge::providers::mail {

class LocalMail : public MailProvider {
 public:
  explicit LocalMail(store::Store& store) : store_(store) {}
  // Adds the demo dataset when the user has no mail data yet; returns whether it did.
  bool seed_demo(const DemoContext&) { return false; }

 private:
  store::Store& store_;
};

}  // namespace concierge::providers::mail
