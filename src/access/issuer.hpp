#pragma once
// Access tokens from an external OAuth authorization server (issue 16, issuer mode): the
// issuer's metadata discovered (RFC 8414, then OpenID Connect), JWTs verified against its JWKS
// (cached; an unknown `kid` refetches, rate-limited, so key rotation works and a flood of random
// kids does not flood the issuer), and opaque tokens asked about by introspection (RFC 7662),
// briefly cached. The token goes nowhere but the introspection endpoint, and is never in a
// reason, a log line or an exception.
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <variant>

#include "common/json.hpp"

namespace concierge::access {

struct IssuerOptions {
  // e.g. https://auth.example.com, or http://127.0.0.1:PORT (plain http only on loopback).
  std::string issuer;
  // The public resource URL; a token's `aud` (string or array) must contain it (RFC 8707).
  std::string audience;
  std::chrono::seconds leeway{60};            // exp/nbf/iat tolerance
  std::chrono::seconds jwks_min_refetch{30};  // unknown kid -> refetch JWKS at most this often;
                                              // failed discovery is retried no more often either
  std::string introspection_url;              // RFC 7662; empty: opaque tokens are refused
  // For introspection, HTTP Basic (from CONCIERGE_INTROSPECTION_CLIENT_ID / _SECRET, read by
  // the caller).
  std::string client_id, client_secret;
  // Positive introspection results are kept at most this long (and never past their exp), keyed
  // by the token's SHA-256, at most kIntrospectionCacheEntries of them.
  std::chrono::seconds introspection_cache{60};
};

inline constexpr size_t kIntrospectionCacheEntries = 10000;
inline constexpr size_t kMaxIssuerDocumentBytes = size_t(1) << 20;  // metadata, JWKS, introspection
inline constexpr std::chrono::seconds kIssuerTimeout{5};
// A JWKS is refetched after this long even when every kid is known, so a key the issuer
// withdrew stops verifying.
inline constexpr std::chrono::seconds kJwksMaxAge{3600};

struct VerifiedToken {
  std::string issuer, subject;
  std::set<std::string> scopes;
  int64_t expires_at = 0;  // seconds since the epoch; 0 when introspection gave no exp
  std::string via;         // "jwt" or "introspection"
};

class IssuerVerifier {
 public:
  // Throws std::invalid_argument naming --auth-issuer (or --auth-introspection-url) for a URL
  // that is not https (plain http only on loopback), and naming --public-url for an empty
  // audience. No network here.
  explicit IssuerVerifier(IssuerOptions o);
  ~IssuerVerifier();
  IssuerVerifier(const IssuerVerifier&) = delete;
  IssuerVerifier& operator=(const IssuerVerifier&) = delete;

  // The verified token or why it is refused, in words ("expired", "signature does not verify",
  // "audience does not include <aud>", ...). Never includes the token. Thread-safe.
  std::variant<VerifiedToken, std::string> verify(std::string_view token);
  // The issuer's metadata (discovered lazily on first verify, or by this call), for the resource
  // metadata's authorization_servers. Throws std::runtime_error when discovery fails.
  const Json& metadata();
  const IssuerOptions& options() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace concierge::access
