#pragma once
// The Authenticator the HTTP transport asks (server/access.hpp), as `serve --auth` configures
// it: API keys always; in issuer mode also JWTs (or introspected opaque tokens) from one external
// authorization server, whose (iss, sub) map to Concierge users. A verified issuer token is kept
// by its SHA-256 until it expires (at most token_cache), so a client sending the same token on
// every request costs one hash, not a signature check (bench/: a JWT on every request). Keys
// have their own short-lived cache (KeyStore), so a revocation takes effect within a second.
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "access/audit.hpp"
#include "access/grants.hpp"
#include "access/identities.hpp"
#include "access/issuer.hpp"
#include "access/jwt.hpp"
#include "access/keys.hpp"
#include "server/access.hpp"
#include "store/store.hpp"

namespace concierge::access {

struct AuthenticatorOptions {
  std::optional<IssuerOptions> issuer;  // issuer mode; its audience is given by set_audience()
  // Builtin mode (--auth builtin): the server's own tokens, verified with its signing key (no
  // JWKS fetch, no clock leeway); the issuer is the audience's origin, both known from
  // set_audience(). A token's grant must still be live (asked again at most grant_check apart).
  std::optional<PublicKey> builtin_key;
  std::chrono::milliseconds grant_check{1000};  // how stale "the grant is live" may be (tests: 0)
  bool require_provisioned = false;     // an unknown (iss, sub) is refused, not made a user
  std::chrono::seconds token_cache{300};
  size_t cache_entries = 10'000;
};

class StoreAuthenticator : public Authenticator {
 public:
  StoreAuthenticator(store::Store& store, AuthenticatorOptions options);
  // The audience tokens must carry (the public URL), known once the listener is bound when it
  // is derived from the bound port. Issuer mode refuses every token until it is set.
  void set_audience(const std::string& audience);
  Result authenticate(std::string_view token) override;
  void refused(const std::string& user, int status, const std::string& reason) override;
  KeyStore& keys() { return keys_; }
  IssuerVerifier* issuer() { return issuer_.get(); }

 private:
  Result verify(std::string_view token, int64_t& expires_at, std::string& grant_id);
  Result verify_builtin(std::string_view token, int64_t& expires_at, std::string& grant_id);
  bool grant_live(const std::string& grant_id);
  struct Cached {
    Principal principal;
    std::string grant_id;  // builtin tokens: re-checked on every use (grant_live)
    std::chrono::steady_clock::time_point until;
    std::list<std::string>::iterator lru;
  };
  AuthenticatorOptions options_;
  KeyStore keys_;
  Identities identities_;
  Audit audit_;
  std::unique_ptr<IssuerVerifier> issuer_;
  std::mutex m_;
  std::unordered_map<std::string, Cached> cache_;  // by the token's SHA-256
  std::list<std::string> lru_;                     // most recent first
  std::string builtin_issuer_, builtin_audience_;
  GrantStore grants_;
  std::mutex grants_m_;
  std::unordered_map<std::string, std::pair<std::chrono::steady_clock::time_point, bool>> grant_checks_;  // when, live
};

}  // namespace concierge::access
