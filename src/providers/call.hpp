#pragma once
// What a provider call carries besides its arguments: whose it is, which account, the client's
// cancellation, a deadline, and where progress goes. Adapters hand it down to the HTTP client
// (and IMAP, MPD) so a cancelled call stops the upstream work instead of running to its timeout.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/cancellation.hpp"

namespace concierge::providers {

struct Call {
  using Progress = std::function<void(double done, std::optional<double> total, std::string_view message)>;

  int64_t user = 0;     // the store's user id
  std::string account;  // the `account` argument (empty: the domain's default)
  CancelToken cancel;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  Progress progress;  // empty: nobody asked

  // Implicit: local code and tests that only have a user id still call providers with it.
  Call(int64_t u = 0) : user(u) {}

  bool cancelled() const { return cancel.cancelled(); }
  void throw_if_cancelled() const {
    if (cancelled()) throw Cancelled();
  }
  // A no-op unless the client asked for progress.
  void report(double done, std::optional<double> total = {}, std::string_view message = {}) const {
    if (progress) progress(done, total, message);
  }
};

}  // namespace concierge::providers
