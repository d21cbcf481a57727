#pragma once
// URLs as RFC 3986 reads them, for what a service hands back to us: a WebDAV href resolved
// against the request it answers, then kept only when it stays on the configured origin (so our
// Authorization header never follows an href to another host); and whether a host is this
// machine (where plaintext mail is allowed for a test server). Also Retry-After (RFC 9110).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace concierge::providers::http {

struct Url {
  std::string scheme;  // lower-cased; empty in a relative reference
  bool has_authority = false;
  std::string userinfo, host, port;  // host lower-cased, brackets of an IPv6 literal kept
  std::string path;
  std::optional<std::string> query, fragment;  // without '?' / '#'
  std::string text() const;                    // recomposed (RFC 3986 section 5.3)
  std::string path_and_query() const;          // what goes on the request line ("/" at least)
};

// Any URI reference (absolute or relative); nullopt for what is not one: whitespace or control
// characters, a bad port, an unclosed IPv6 bracket.
std::optional<Url> parse_url(std::string_view text);

// `reference` resolved against the absolute `base` (RFC 3986 section 5.2, dot segments removed).
std::optional<Url> resolve(const Url& base, std::string_view reference);

// Scheme, host and port (the scheme's default when none is given) all equal.
bool same_origin(const Url& a, const Url& b);

// localhost, 127.0.0.0/8, ::1: the traffic never leaves this machine.
bool is_loopback_host(std::string_view host);

// Retry-After (RFC 9110 section 10.2.3): delta-seconds or an HTTP-date (IMF-fixdate, and the
// obsolete RFC 850 and asctime forms), relative to `now`. Clamped to [0, kMaxRetryAfter]: a date
// in the past is 0, a huge number is the cap. nullopt for anything else (never throws).
inline constexpr std::chrono::seconds kMaxRetryAfter{86400};
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

}  // namespace concierge::providers::http
