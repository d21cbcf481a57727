#pragma once
// What the built-in authorization server issued (store migration 7): a grant per approval, its
// single-use authorization code, and the refresh-token family the code starts. Codes and refresh
// tokens are random and kept only as SHA-256 digests (a copy of the database opens nothing).
// Access tokens are JWTs carrying the grant's id (`gid`): revoking the grant — a reused code, a
// reused refresh token, /revoke, `clients revoke` — kills every token it issued.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace concierge::access {

struct Grant {
  std::string grant_id, client_id, user;
  std::vector<std::string> scopes;
  std::string resource, redirect_uri, code_challenge;
};

// How presenting a code or a refresh token ended.
enum class Redemption {
  Ok,
  Unknown,   // never issued (or its grant is gone)
  Expired,
  Reused,    // used before: the grant is revoked now, with every token it issued
  Revoked,   // the grant was revoked earlier
  Refused,   // the caller's check (client, redirect_uri, verifier) failed: nothing changes
};

struct Redeemed {
  Redemption outcome = Redemption::Unknown;
  Grant grant;                // when the grant was found
  std::string refresh_token;  // Ok: the new refresh token, in clear this once
  std::string refused;        // Refused: the check's reason
};

// Per client, for `concierge clients list`.
struct ClientUse {
  std::string client_id;
  std::vector<std::string> users;  // who authorized it (live grants)
  std::optional<int64_t> last_used_ms;
  size_t live_grants = 0;
};

class GrantStore {
 public:
  explicit GrantStore(store::Store& store) : store_(store) {}
  // A new grant; returns its authorization code (in clear this once), valid for code_ttl.
  std::string create(const Grant& grant, std::chrono::seconds code_ttl);
  // Exchanges a code, in one transaction. `check` sees the grant and says why the exchange is
  // refused (wrong client, redirect_uri or verifier), leaving the code unused; a code presented
  // after its exchange revokes the grant. Ok issues the family's first refresh token.
  using Check = std::function<std::optional<std::string>(const Grant&)>;
  Redeemed redeem_code(const std::string& code, const Check& check, std::chrono::seconds refresh_ttl);
  // Rotates a refresh token: the presented one is retired and a new one issued. A retired one
  // presented again revokes the grant (RFC 9700 §4.14.2: the family).
  Redeemed rotate_refresh(const std::string& token, const Check& check, std::chrono::seconds refresh_ttl);
  // The grant a refresh token belongs to (any state), for revocation.
  std::optional<Grant> grant_of_refresh(const std::string& token);
  // Marks it revoked (again is harmless). False when there is no such grant.
  bool revoke(const std::string& grant_id, const std::string& why);
  // Revokes every live grant of the client; returns how many.
  size_t revoke_client(const std::string& client_id, const std::string& why);
  // Whether access tokens of this grant are still good: it exists and is not revoked.
  bool live(const std::string& grant_id);
  std::vector<ClientUse> uses();

 private:
  store::Store& store_;
};

}  // namespace concierge::access
