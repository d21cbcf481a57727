#pragma once
// At most `limit` events per key within a sliding `window` (registrations per address now; sign-in
// attempts per user and per address next). Time is passed in, so tests need no sleeps.
#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace concierge::access {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  // At most max_keys keys are tracked: past that, keys with nothing in the window are dropped, and
  // if every key is still active a new key is refused (fail closed: the map can't grow unbounded).
  RateLimiter(size_t limit, std::chrono::seconds window, size_t max_keys = 10'000)
      : limit_(limit), window_(window), max_keys_(max_keys) {}
  // Counts an event for `key` at `now` and says whether it is within the limit; a refused event is
  // not counted. retry_after: when the oldest counted event leaves the window (refusals only).
  struct Verdict {
    bool allowed = true;
    std::chrono::seconds retry_after{0};
  };
  Verdict hit(const std::string& key, Clock::time_point now = Clock::now());
  // What hit would say, without counting anything (limits that count failures only: ask first,
  // hit on failure).
  Verdict peek(const std::string& key, Clock::time_point now = Clock::now());
  std::chrono::seconds window() const { return window_; }
  size_t limit() const { return limit_; }

 private:
  size_t limit_;
  std::chrono::seconds window_;
  size_t max_keys_;
  std::mutex m_;
  std::unordered_map<std::string, std::deque<Clock::time_point>> events_;
};

// The key a limit per client counts: an IPv4 address as it is, an IPv6 address's /64 (one
// subscriber usually holds a whole /64), anything else as given.
std::string client_key(const std::string& address);

}  // namespace concierge::access
