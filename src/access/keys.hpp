#pragma once
// API keys for scripts and simple clients (`Authorization: Bearer <key>`). A key reads
// ck_<id>_<secret>: the id (16 hex digits) finds its row, the secret is 32 random bytes in
// base64url (43 characters). Only the SHA-256 of the whole key is stored; the key itself is
// shown once, by `concierge keys create`.
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "access/audit.hpp"
#include "server/access.hpp"
#include "store/store.hpp"

namespace concierge::access {

struct KeyInfo {
  std::string id, user;
  std::set<std::string> scopes;  // every_scope: all_scopes()
  int64_t created_ms = 0;
  std::optional<int64_t> expires_ms, revoked_ms, last_used_ms;
  bool every_scope = false;  // made without --scopes: every scope, also ones added later
};

class KeyStore {
 public:
  // recheck_ms: how long a verified key's row is trusted before it is read again (a revocation
  // by another process, `concierge keys revoke`, takes effect within it; this one's at once).
  explicit KeyStore(store::Store& store, int64_t recheck_ms = 1000);
  struct Created {
    std::string id, key;  // key: shown once, never stored (only its hash)
  };
  // scopes nullopt: every scope. Throws std::invalid_argument starting with the argument at
  // fault ("user: ...", "scopes: ...", "expires_days: ..."). Audited (key_created).
  Created create(const std::string& user, std::optional<std::set<std::string>> scopes, std::optional<int> expires_days);
  // Our key format, so a JWT isn't looked up here.
  static bool looks_like_key(std::string_view token);
  // The principal (via "key", subject = the key id) or why not: "revoked", "expired",
  // "unknown key" (also for a wrong secret with a real id, checked before the key's state so a
  // guess learns nothing). The hashes are compared in constant time. last_used is written at
  // most once a minute per key, not per request. A verified key's row is kept recheck_ms, so
  // a client's stream of requests costs no database read each.
  std::variant<Principal, std::string> verify(std::string_view key);
  // Never the key or its hash. All users when empty; std::invalid_argument "user: ..." for an
  // unknown one.
  std::vector<KeyInfo> list(const std::string& user = "");
  // False for an unknown id; a key already revoked stays revoked when it was (true). Audited.
  bool revoke(const std::string& id);

 private:
  struct Row {
    std::string hash, user;
    std::set<std::string> scopes;
    std::optional<int64_t> expires, revoked, last_used;
    int64_t read_ms = 0;
  };
  std::optional<Row> read_row(const std::string& id);

  store::Store& store_;
  Audit audit_;
  int64_t recheck_ms_;
  std::mutex m_;
  std::unordered_map<std::string, Row> verified_;               // id -> its row, as last read
  std::unordered_map<std::string, int64_t> last_used_written_;  // id -> ms, this process's writes
};

}  // namespace concierge::access
