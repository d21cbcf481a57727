#pragma once
// JWT access tokens (RFC 9068) as compact JWS, without the network: decoding, the public keys of
// a JWKS (RFC 7517), RS256/ES256 signatures (OpenSSL 3) and the claims a resource server checks.
// The issuer verifier (issuer.hpp) fetches the keys; this part is what the fuzz harness reaches.
// Reasons are words for the audit and logs: never the token, nor what it says about itself
// beyond a short algorithm name.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/json.hpp"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of the header

namespace concierge::access {

// Longer than any access token an issuer sends; bounds the decoding work per request.
inline constexpr size_t kMaxTokenBytes = 16 * 1024;

// Three dot-separated parts: a JWS in compact form. Anything else is an opaque token.
bool looks_like_jwt(std::string_view token);

// A compact JWS decoded, not yet verified.
struct Jws {
  Json header, claims;
  std::string alg, kid;        // from the header ("" when absent)
  std::string signing_input;   // "<header>.<payload>" as sent: what the signature covers
  std::string signature;       // raw bytes
};
// The token decoded, or why not ("malformed token: ..."); only RS256 and ES256 pass, and `typ`
// when present must be at+jwt or JWT.
std::variant<Jws, std::string> parse_jws(std::string_view token);

// A verification key from a JWK: RSA (n, e; 2048 bits at least) for RS256, EC P-256 (x, y) for
// ES256.
struct PublicKey {
  std::string kid, alg;  // alg: "RS256" or "ES256"
  std::shared_ptr<evp_pkey_st> pkey;
};
std::variant<PublicKey, std::string> key_from_jwk(const Json& jwk);
// The usable keys of a JWKS document ({"keys": [...]}); keys for other uses ("enc"), other
// algorithms or malformed ones are skipped.
std::vector<PublicKey> keys_from_jwks(const Json& jwks);

// True when `signature` is `key`'s over `signing_input` for the token's alg (ES256's raw r||s
// is turned into DER for OpenSSL).
bool signature_verifies(const Jws& jws, const PublicKey& key);

struct ClaimRules {
  std::string issuer, audience;
  std::chrono::seconds leeway{60};
  int64_t now = 0;  // seconds since the epoch
};
// Why the claims are refused, or nullopt: `iss` equal to the issuer, `exp` present and not past,
// `nbf` and `iat` not in the future (each with the leeway), `aud` containing the audience,
// `sub` present.
std::optional<std::string> check_claims(const Json& claims, const ClaimRules& rules);
// `aud` as a string or an array of strings contains `audience` (RFC 7519 4.1.3, RFC 8707).
bool audience_contains(const Json& aud, std::string_view audience);
// A NumericDate (integer or fractional seconds), nullopt when absent or not a number.
std::optional<int64_t> numeric_date(const Json& claims, const char* name);

}  // namespace concierge::access
