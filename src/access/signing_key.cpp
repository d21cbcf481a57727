#include "access/signing_key.hpp"
#include "common/private_file.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <stdexcept>

#include "common/base64.hpp"
#include "providers/auth/tokens.hpp"

namespace concierge::access {

namespace {

constexpr const char* kFile = "signing-key.json";

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* p) { return std::shared_ptr<EVP_PKEY>(p, EVP_PKEY_free); }

// A coordinate of the public point, 32 bytes big-endian, base64url (RFC 7518 6.2.1.2).
std::string coordinate(EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) throw std::runtime_error("signing key: no public point");
  unsigned char out[32];
  int n = BN_bn2binpad(bn, out, sizeof out);
  BN_free(bn);
  if (n != 32) throw std::runtime_error("signing key: not a P-256 point");
  return base64url_encode(std::string(reinterpret_cast<char*>(out), sizeof out));
}

// The sealed key's associated data: a file whose kid was edited does not open.
std::string context(const std::string& kid) { return "concierge signing key\n" + kid; }

std::string private_der(EVP_PKEY* pkey) {
  unsigned char* buf = nullptr;
  int n = i2d_PrivateKey(pkey, &buf);
  if (n <= 0) throw std::runtime_error("signing key: cannot encode the private key");
  std::string der(reinterpret_cast<char*>(buf), size_t(n));
  OPENSSL_clear_free(buf, size_t(n));
  return der;
}

}  // namespace

SigningKey::SigningKey(std::shared_ptr<evp_pkey_st> pkey) : pkey_(std::move(pkey)) {
  char group[32] = {};
  size_t len = 0;
  if (!EVP_PKEY_is_a(pkey_.get(), "EC") ||
      EVP_PKEY_get_utf8_string_param(pkey_.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1 ||
      std::string(group) != "prime256v1")
    throw std::runtime_error("signing key: not an EC P-256 key");
  x_ = coordinate(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_X);
  y_ = coordinate(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_Y);
  // RFC 7638: SHA-256 over the required members, sorted, no whitespace.
  std::string canonical = R"({"crv":"P-256","kty":"EC","x":")" + x_ + R"(","y":")" + y_ + R"("})";
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), md);
  kid_ = base64url_encode(std::string(reinterpret_cast<char*>(md), sizeof md));
}

SigningKey SigningKey::generate() {
  EVP_PKEY* p = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!p) throw std::runtime_error("signing key: P-256 key generation failed");
  return SigningKey(own(p));
}

SigningKey SigningKey::for_data_dir(const std::filesystem::path& dir) {
  if (dir.empty()) return generate();  // an in-memory store: nothing it signs outlives the process
  const auto path = dir / kFile;
  const auto sealer = providers::auth::Sealer::for_data_dir(dir);
  // A fresh key is offered every time; the file keeps the first one ever written (as token.key).
  SigningKey fresh = generate();
  std::string ours = dump(Json{{"kid", fresh.kid_}, {"alg", "ES256"},
                               {"sealed", base64url_encode(sealer.seal(private_der(fresh.pkey_.get()), context(fresh.kid_)))}});
  std::string text = create_private_file(path, ours, "the signing key");
  if (text == ours) return fresh;

  const std::string where = path.string() + ": ";
  Json file;
  try {
    file = Json::parse(text);
  } catch (const std::exception&) {
    throw std::runtime_error(where + "not a signing key (not JSON); move it aside to make a new key");
  }
  if (!file.is_object() || !file.contains("kid") || !file["kid"].is_string() || !file.contains("sealed") || !file["sealed"].is_string())
    throw std::runtime_error(where + "not a signing key (no kid or sealed member); move it aside to make a new key");
  auto sealed = base64url_decode(file["sealed"].get<std::string>());
  if (!sealed) throw std::runtime_error(where + "the sealed key is not base64url");
  std::string der;
  try {
    der = sealer.open(*sealed, context(file["kid"].get<std::string>()));
  } catch (const std::exception&) {
    throw std::runtime_error(where + "the sealed signing key does not open: it was altered, or token.key / $CONCIERGE_TOKEN_KEY "
                             "is not the one it was sealed with. Restore them, or move the file aside to make a new key "
                             "(tokens signed with the old one stop verifying)");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EVP_PKEY* pkey = d2i_AutoPrivateKey(nullptr, &p, long(der.size()));
  OPENSSL_cleanse(der.data(), der.size());
  if (!pkey) throw std::runtime_error(where + "the sealed data is not a private key");
  SigningKey key(own(pkey));
  if (key.kid_ != file["kid"].get<std::string>()) throw std::runtime_error(where + "the kid is not the key's thumbprint");
  return key;
}

Json SigningKey::jwk() const {
  return Json{{"kty", "EC"}, {"crv", "P-256"}, {"x", x_}, {"y", y_}, {"kid", kid_}, {"alg", "ES256"}, {"use", "sig"}};
}

Json SigningKey::jwks() const { return Json{{"keys", Json::array({jwk()})}}; }

std::string SigningKey::sign(const Json& claims, const std::string& typ) const {
  std::string input = base64url_encode(dump(Json{{"alg", "ES256"}, {"kid", kid_}, {"typ", typ}})) + "." + base64url_encode(dump(claims));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  auto* data = reinterpret_cast<const unsigned char*>(input.data());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1)
    throw std::runtime_error("signing key: cannot sign");
  std::string der(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len, data, input.size()) != 1)
    throw std::runtime_error("signing key: cannot sign");
  // OpenSSL signs DER; JWS carries r||s, 32 bytes each (RFC 7518 3.4).
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, long(len)), ECDSA_SIG_free);
  if (!sig) throw std::runtime_error("signing key: malformed signature");
  std::string raw(64, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, 32) != 32 || BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + 32, 32) != 32)
    throw std::runtime_error("signing key: malformed signature");
  return input + "." + base64url_encode(raw);
}

PublicKey SigningKey::public_key() const {
  // From the published JWK: what a verifier elsewhere would build.
  auto k = key_from_jwk(jwk());
  if (auto* why = std::get_if<std::string>(&k)) throw std::runtime_error("signing key: its JWK does not load: " + *why);
  return std::get<PublicKey>(k);
}

}  // namespace concierge::access
