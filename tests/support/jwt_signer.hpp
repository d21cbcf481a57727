#pragma once
// Signing keys and JWTs made in the test (OpenSSL 3): an RSA 2048 or EC P-256 key, its public
// JWK, and compact JWS signed with it, so the verifier is checked against real signatures.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/base64.hpp"
#include "common/json.hpp"

namespace concierge::test {

struct SigningKey {
  std::shared_ptr<EVP_PKEY> pkey;
  std::string alg, kid;

  static SigningKey rsa(const std::string& kid) { return {generate("RSA", nullptr, 2048), "RS256", kid}; }
  static SigningKey ec(const std::string& kid) { return {generate("EC", "P-256", 0), "ES256", kid}; }

  // The public half as a JWKS entry.
  Json jwk() const {
    if (alg == "RS256")
      return Json{{"kty", "RSA"}, {"kid", kid}, {"use", "sig"}, {"alg", alg}, {"n", bn_param(OSSL_PKEY_PARAM_RSA_N)}, {"e", bn_param(OSSL_PKEY_PARAM_RSA_E)}};
    unsigned char point[65];
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(pkey.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &len) != 1 || len != 65)
      throw std::runtime_error("test key: no uncompressed point");
    auto bytes = [&](int at) { return base64url_encode(std::string(reinterpret_cast<char*>(point) + at, 32)); };
    return Json{{"kty", "EC"}, {"kid", kid}, {"crv", "P-256"}, {"x", bytes(1)}, {"y", bytes(33)}};
  }

  // header.payload signed: `header` gets alg and kid unless it has them already.
  std::string sign(const Json& claims, Json header = Json::object()) const {
    if (!header.contains("alg")) header["alg"] = alg;
    if (!header.contains("kid")) header["kid"] = kid;
    std::string input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
    return input + "." + base64url_encode(signature(input));
  }

  std::string signature(const std::string& input) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    size_t len = 0;
    auto* data = reinterpret_cast<const unsigned char*>(input.data());
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1)
      throw std::runtime_error("test key: cannot sign");
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data, input.size()) != 1)
      throw std::runtime_error("test key: cannot sign");
    sig.resize(len);
    if (alg == "RS256") return sig;
    // DER -> r||s, as JWS carries ES256 (RFC 7518 3.4).
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> es(d2i_ECDSA_SIG(nullptr, &p, long(sig.size())), ECDSA_SIG_free);
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    return raw;
  }

 private:
  static std::shared_ptr<EVP_PKEY> generate(const char* type, const char* curve, size_t bits) {
    EVP_PKEY* k = curve ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve) : EVP_PKEY_Q_keygen(nullptr, nullptr, type, bits);
    if (!k) throw std::runtime_error("test key: keygen failed");
    return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free);
  }
  std::string bn_param(const char* name) const {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(pkey.get(), name, &bn) != 1) throw std::runtime_error("test key: no parameter");
    std::string out(size_t(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return base64url_encode(out);
  }
};

inline int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace concierge::test
