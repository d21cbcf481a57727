#include "access/rate_limit.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace concierge::access {

namespace {

using Clock = RateLimiter::Clock;

void expire(std::deque<Clock::time_point>& q, Clock::time_point now, std::chrono::seconds window) {
  while (!q.empty() && now - q.front() >= window) q.pop_front();
}

// Refused when `q` (expired already) holds `limit` events: until its oldest leaves the window.
std::optional<RateLimiter::Verdict> full(const std::deque<Clock::time_point>& q, size_t limit, Clock::time_point now, std::chrono::seconds window) {
  if (q.size() < limit) return std::nullopt;
  auto left = std::chrono::ceil<std::chrono::seconds>(q.front() + window - now);
  return RateLimiter::Verdict{false, std::max(left, std::chrono::seconds(1))};
}

}  // namespace

RateLimiter::Verdict RateLimiter::hit(const std::string& key, Clock::time_point now) {
  std::lock_guard l(m_);
  auto it = events_.find(key);
  if (it == events_.end()) {
    if (events_.size() >= max_keys_)
      for (auto k = events_.begin(); k != events_.end();) {
        expire(k->second, now, window_);
        k = k->second.empty() ? events_.erase(k) : std::next(k);
      }
    if (events_.size() >= max_keys_) return Verdict{false, window_};
    it = events_.emplace(key, std::deque<Clock::time_point>{}).first;
  }
  auto& q = it->second;
  expire(q, now, window_);
  if (auto refused = full(q, limit_, now, window_)) return *refused;
  q.push_back(now);
  return Verdict{};
}

RateLimiter::Verdict RateLimiter::peek(const std::string& key, Clock::time_point now) {
  std::lock_guard l(m_);
  auto it = events_.find(key);
  if (it == events_.end()) return Verdict{};
  expire(it->second, now, window_);
  return full(it->second, limit_, now, window_).value_or(Verdict{});
}

std::string client_key(const std::string& address) {
  in6_addr a{};
  if (address.find(':') == std::string::npos || ::inet_pton(AF_INET6, address.c_str(), &a) != 1) return address;
  std::memset(a.s6_addr + 8, 0, 8);
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET6, &a, text, sizeof text);
  return std::string(text) + "/64";
}

}  // namespace concierge::access
