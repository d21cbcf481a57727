#include "access/rate_limit.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace concierge::access {

RateLimiter::Verdict RateLimiter::hit(const std::string& key, Clock::time_point now) {
  std::lock_guard l(m_);
  auto expire = [&](std::deque<Clock::time_point>& q) {
    while (!q.empty() && now - q.front() >= window_) q.pop_front();
  };
  auto it = events_.find(key);
  if (it == events_.end()) {
    if (events_.size() >= max_keys_)
      for (auto k = events_.begin(); k != events_.end();) {
        expire(k->second);
        k = k->second.empty() ? events_.erase(k) : std::next(k);
      }
    if (events_.size() >= max_keys_) return Verdict{false, window_};
    it = events_.emplace(key, std::deque<Clock::time_point>{}).first;
  }
  auto& q = it->second;
  expire(q);
  if (q.size() >= limit_) {
    auto left = std::chrono::ceil<std::chrono::seconds>(q.front() + window_ - now);
    return Verdict{false, std::max(left, std::chrono::seconds(1))};
  }
  q.push_back(now);
  return Verdict{};
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
