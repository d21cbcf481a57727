// Access tokens as an issuer-mode request carries them (access/jwt.hpp): the compact JWS decoded,
// its claims checked, its signature checked against keys the fuzzer can't hold (so it must never
// verify), and JWKS documents turned into keys. No network.
// The first byte chooses: even, the rest is the token as sent; odd, the rest is
// header JSON \0 claims JSON \0 signature bytes, encoded and joined here, so mutations reach the
// JSON rather than its base64.
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "access/jwt.hpp"
#include "access/scopes.hpp"
#include "common/base64.hpp"
#include "common/json_parse.hpp"

using namespace concierge;
using namespace concierge::access;

namespace {

// A fresh P-256 key per run, through the JWK path the verifier uses.
PublicKey random_ec_key() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  unsigned char point[65];
  size_t len = 0;
  if (!k || EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &len) != 1 || len != 65) __builtin_trap();
  EVP_PKEY_free(k);
  auto part = [&](int at) { return base64url_encode(std::string(reinterpret_cast<char*>(point) + at, 32)); };
  auto key = key_from_jwk(Json{{"kty", "EC"}, {"crv", "P-256"}, {"kid", "k"}, {"x", part(1)}, {"y", part(33)}});
  if (!std::holds_alternative<PublicKey>(key)) __builtin_trap();
  return std::get<PublicKey>(key);
}

std::string token_from_parts(const std::string& in) {
  size_t a = in.find('\0');
  size_t b = a == std::string::npos ? a : in.find('\0', a + 1);
  std::string header = in.substr(0, a);
  std::string claims = a == std::string::npos ? "" : in.substr(a + 1, b == std::string::npos ? b : b - a - 1);
  std::string sig = b == std::string::npos ? "" : in.substr(b + 1);
  return base64url_encode(header) + "." + base64url_encode(claims) + "." + base64url_encode(sig);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const PublicKey ec = random_ec_key();
  if (size == 0) return 0;
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string token = (data[0] & 1) ? token_from_parts(rest) : rest;

  auto parsed = parse_jws(token);
  if (auto* jws = std::get_if<Jws>(&parsed)) {
    if (jws->alg != "RS256" && jws->alg != "ES256") __builtin_trap();  // nothing else gets through
    if (!jws->header.is_object() || !jws->claims.is_object()) __builtin_trap();
    if (signature_verifies(*jws, ec)) __builtin_trap();  // a forgery
    ClaimRules rules{"https://issuer.example.com", "https://mcp.example.com/mcp", std::chrono::seconds(60), 1'700'000'000};
    auto why = check_claims(jws->claims, rules);
    if (!why) {
      // Accepted claims are what the rules say.
      if (json_string(jws->claims, "iss") != rules.issuer || json_string(jws->claims, "sub").empty()) __builtin_trap();
      if (!audience_contains(jws->claims["aud"], rules.audience)) __builtin_trap();
      auto exp = numeric_date(jws->claims, "exp");
      if (!exp || *exp + 60 < rules.now) __builtin_trap();
    }
    scopes_from_claims(jws->claims);
  } else if (std::get<std::string>(parsed).empty()) {
    __builtin_trap();  // a refusal always says why
  }

  // The same bytes as a JWKS document: every key kept is usable.
  for (auto& k : keys_from_jwks(parse_json(rest)))
    if (!k.pkey || (k.alg != "RS256" && k.alg != "ES256")) __builtin_trap();
  return 0;
}
