#include "access/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <cmath>

#include "common/base64.hpp"
#include "common/json_parse.hpp"

namespace concierge::access {

namespace {

// A JOSE header or a claims set nests a level or two; anything deeper is not a token.
constexpr size_t kMaxTokenJsonDepth = 16;

// The alg a reason may name: short and plain, so an attacker's header can't write into the audit.
std::string printable_alg(const std::string& alg) {
  bool plain = !alg.empty() && alg.size() <= 16 &&
               std::all_of(alg.begin(), alg.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '+'; });
  return plain ? alg : "(unrecognised)";
}

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Bn = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EcSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

std::shared_ptr<EVP_PKEY> from_params(const char* type, OSSL_PARAM_BLD* bld) {
  Params params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return nullptr;
  return std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free);
}

std::optional<std::string> member_bytes(const Json& jwk, const char* name) {
  auto text = json_string(jwk, name);
  if (text.empty()) return std::nullopt;
  return base64url_decode(text);
}

std::variant<PublicKey, std::string> rsa_key(const Json& jwk) {
  auto n = member_bytes(jwk, "n"), e = member_bytes(jwk, "e");
  if (!n || !e || n->empty() || e->empty() || e->size() > 8) return std::string("RSA key without a valid n and e");
  Bn bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), int(n->size()), nullptr));
  Bn bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), int(e->size()), nullptr));
  if (!bn_n || !bn_e) return std::string("RSA key could not be read");
  // Shorter moduli are forgeable in practice; very long ones cost a request seconds to verify.
  int bits = BN_num_bits(bn_n.get());
  if (bits < 2048 || bits > 8192) return std::string("RSA key of " + std::to_string(bits) + " bits (2048 to 8192 accepted)");
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
    return std::string("RSA key could not be read");
  auto pkey = from_params("RSA", bld.get());
  if (!pkey) return std::string("RSA key could not be read");
  return PublicKey{json_string(jwk, "kid"), "RS256", pkey};
}

std::variant<PublicKey, std::string> ec_key(const Json& jwk) {
  if (json_string(jwk, "crv") != "P-256") return std::string("EC key not on P-256");
  auto x = member_bytes(jwk, "x"), y = member_bytes(jwk, "y");
  if (!x || !y || x->size() != 32 || y->size() != 32) return std::string("EC key without 32-byte x and y");
  std::string point = "\x04" + *x + *y;  // uncompressed SEC 1 point
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
    return std::string("EC key could not be read");
  auto pkey = from_params("EC", bld.get());  // decoding the point checks that it is on the curve
  if (!pkey) return std::string("EC key is not a point on P-256");
  return PublicKey{json_string(jwk, "kid"), "ES256", pkey};
}

// JWS ES256 signatures are r||s, 32 bytes each (RFC 7518 3.4); OpenSSL verifies DER.
std::optional<std::string> es256_to_der(const std::string& raw) {
  if (raw.size() != 64) return std::nullopt;
  auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  EcSig sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes, 32, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(size_t(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return std::nullopt;
  return der;
}

}  // namespace

bool looks_like_jwt(std::string_view token) { return std::count(token.begin(), token.end(), '.') == 2; }

std::variant<Jws, std::string> parse_jws(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return "token is longer than " + std::to_string(kMaxTokenBytes) + " bytes";
  if (!looks_like_jwt(token)) return std::string("malformed token: not three dot-separated parts");
  size_t d1 = token.find('.'), d2 = token.find('.', d1 + 1);
  auto header_text = base64url_decode(token.substr(0, d1));
  auto payload_text = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  auto signature = base64url_decode(token.substr(d2 + 1));
  if (!header_text || !payload_text || !signature) return std::string("malformed token: a part is not base64url");
  Jws jws;
  jws.header = parse_json(*header_text, kMaxTokenJsonDepth);
  if (!jws.header.is_object()) return std::string("malformed token: the header is not a JSON object");
  auto alg = jws.header.find("alg");
  if (alg == jws.header.end() || !alg->is_string()) return std::string("malformed token: the header names no alg");
  jws.alg = alg->get<std::string>();
  // Only asymmetric signatures from the issuer: "none" and HMAC (whose key would be public,
  // the JWKS) are the classic forgeries.
  if (jws.alg != "RS256" && jws.alg != "ES256") return "alg " + printable_alg(jws.alg) + " is not accepted (RS256 or ES256)";
  if (auto typ = jws.header.find("typ"); typ != jws.header.end()) {
    std::string t = typ->is_string() ? typ->get<std::string>() : "";
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (t != "at+jwt" && t != "application/at+jwt" && t != "jwt") return std::string("token type is not at+jwt or JWT");
  }
  // Extensions marked critical must be understood (RFC 7515 4.1.11); we understand none.
  if (jws.header.contains("crit")) return std::string("token header has critical extensions");
  jws.kid = json_string(jws.header, "kid");
  jws.claims = parse_json(*payload_text, kMaxTokenJsonDepth);
  if (!jws.claims.is_object()) return std::string("malformed token: the claims are not a JSON object");
  jws.signing_input = std::string(token.substr(0, d2));
  jws.signature = std::move(*signature);
  return jws;
}

std::variant<PublicKey, std::string> key_from_jwk(const Json& jwk) {
  if (!jwk.is_object()) return std::string("key is not a JSON object");
  auto use = json_string(jwk, "use");
  if (!use.empty() && use != "sig") return std::string("key is not for signatures");
  auto kty = json_string(jwk, "kty");
  auto alg = json_string(jwk, "alg");
  std::variant<PublicKey, std::string> key = kty == "RSA" ? rsa_key(jwk) : kty == "EC" ? ec_key(jwk) : std::string("key type is not RSA or EC");
  // A key that names its algorithm is used only for it (RFC 7517 4.4).
  if (auto* k = std::get_if<PublicKey>(&key); k && !alg.empty() && alg != k->alg) return std::string("key is for another algorithm");
  return key;
}

std::vector<PublicKey> keys_from_jwks(const Json& jwks) {
  std::vector<PublicKey> out;
  if (!jwks.is_object() || !jwks.contains("keys") || !jwks["keys"].is_array()) return out;
  for (auto& jwk : jwks["keys"]) {
    auto key = key_from_jwk(jwk);
    if (auto* k = std::get_if<PublicKey>(&key)) out.push_back(std::move(*k));
  }
  return out;
}

bool signature_verifies(const Jws& jws, const PublicKey& key) {
  if (!key.pkey || key.alg != jws.alg) return false;
  std::string sig = jws.signature;
  if (jws.alg == "ES256") {
    auto der = es256_to_der(jws.signature);
    if (!der) return false;
    sig = std::move(*der);
  }
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(jws.signing_input.data()), jws.signing_input.size()) == 1;
}

std::optional<int64_t> numeric_date(const Json& claims, const char* name) {
  if (!claims.is_object()) return std::nullopt;
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return std::nullopt;
  // Clamped so a huge or negative value compares sanely instead of overflowing.
  constexpr double kMax = 1e15;
  double v = it->get<double>();
  return int64_t(std::clamp(std::floor(v), -kMax, kMax));
}

bool audience_contains(const Json& aud, std::string_view audience) {
  if (aud.is_string()) return aud.get_ref<const std::string&>() == audience;
  if (aud.is_array())
    return std::any_of(aud.begin(), aud.end(), [&](const Json& a) { return a.is_string() && a.get_ref<const std::string&>() == audience; });
  return false;
}

std::optional<std::string> check_claims(const Json& claims, const ClaimRules& rules) {
  if (!claims.is_object()) return std::string("malformed token: the claims are not a JSON object");
  if (json_string(claims, "iss") != rules.issuer) return "issuer is not " + rules.issuer;
  const int64_t leeway = rules.leeway.count();
  auto exp = numeric_date(claims, "exp");
  if (!exp) return std::string("token has no expiry (exp)");
  if (rules.now > *exp + leeway) return std::string("expired");
  if (auto nbf = numeric_date(claims, "nbf"); nbf && *nbf > rules.now + leeway) return std::string("not valid yet (nbf is in the future)");
  if (auto iat = numeric_date(claims, "iat"); iat && *iat > rules.now + leeway) return std::string("issued in the future (iat)");
  if (!audience_contains(claims.contains("aud") ? claims["aud"] : Json(), rules.audience)) return "audience does not include " + rules.audience;
  if (json_string(claims, "sub").empty()) return std::string("token has no subject (sub)");
  return std::nullopt;
}

}  // namespace concierge::access
