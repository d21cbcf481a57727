// What the outbound HTTP client reads of an upstream's answer and configuration: the first line
// is a Retry-After value (seconds or an HTTP date), the second a base URL and the rest an href
// the server sent, resolved against it as the CalDAV adapter does; the whole rest is also a
// configured service URL as the CalDAV adapter splits it into origin and path.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "providers/calendar/caldav.hpp"
#include "providers/http/url.hpp"

using namespace concierge::providers;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto nl = input.find('\n');
  auto now = std::chrono::system_clock::now();
  if (auto wait = http::parse_retry_after(input.substr(0, nl), now))
    if (*wait < std::chrono::milliseconds(0) || *wait > http::kMaxRetryAfter) __builtin_trap();  // clamped
  if (nl == std::string::npos) return 0;
  std::string rest = input.substr(nl + 1);
  auto nl2 = rest.find('\n');
  if (auto base = http::parse_url(rest.substr(0, nl2)); base && nl2 != std::string::npos) {
    if (auto target = http::resolve(*base, rest.substr(nl2 + 1))) (void)http::same_origin(*base, *target);
  }
  calendar::CaldavOptions o;
  o.url = rest;
  (void)calendar::caldav_policy(o);
  return 0;
}
