#pragma once
// The built-in authorization server's own signing key: ES256 (P-256), made on first use and kept
// in <data_dir>/signing-key.json sealed like the OAuth tokens (providers/auth/tokens.hpp: AES-256-GCM
// under token.key or $CONCIERGE_TOKEN_KEY, the kid as associated data). The kid is the public key's
// RFC 7638 thumbprint. It signs the access tokens; /jwks publishes its public half.
#include <filesystem>
#include <memory>
#include <string>

#include "access/jwt.hpp"
#include "common/json.hpp"

namespace concierge::access {

class SigningKey {
 public:
  // The key in dir/signing-key.json, created (0600, atomically) when missing; for an empty dir,
  // a key for this process only. Throws std::runtime_error naming the file when it does not open
  // (altered, or the token key changed) or is malformed.
  static SigningKey for_data_dir(const std::filesystem::path& dir);
  static SigningKey generate();  // a fresh key, kept nowhere

  const std::string& kid() const { return kid_; }
  Json jwk() const;   // the public key: kty EC, crv P-256, x, y, kid, alg ES256, use sig
  Json jwks() const;  // {"keys": [jwk()]}
  // A compact JWS over `claims` (header: alg ES256, kid, typ — "at+jwt" for RFC 9068 access tokens).
  std::string sign(const Json& claims, const std::string& typ = "at+jwt") const;
  PublicKey public_key() const;  // for verifying what it signed (jwt.hpp)

 private:
  SigningKey(std::shared_ptr<evp_pkey_st> pkey);
  std::shared_ptr<evp_pkey_st> pkey_;
  std::string x_, y_, kid_;  // x, y: the public point's coordinates, base64url
};

}  // namespace concierge::access
