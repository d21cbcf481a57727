#pragma once
// Concierge users and the external identities that map to them: an issuer's (iss, sub) is one
// user, created on first sight or only pre-provisioned (`--auth-require-provisioned`). A user
// made by `concierge users add` (or any user that existed before, such as "local") is
// provisioned; one made at a first sign-in is not, until `users link` names it.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/store.hpp"

namespace concierge::access {

// A user's id by name, without creating one (Store::user_id creates). "local", the stdio user,
// always exists.
std::optional<int64_t> find_user(store::Store& store, const std::string& name);

// A user's id by name; std::invalid_argument starting with `field` when there is no such user.
int64_t known_user(store::Store& store, const std::string& name, const std::string& field = "user");

// 1-64 of A-Z a-z 0-9 . _ @ -, not starting with . or - (a name that is safe in a shell, a log
// line and a file name).
bool valid_user_name(const std::string& name);

class Identities {
 public:
  explicit Identities(store::Store& store);
  // The Concierge user an (issuer, subject) maps to. Unknown pair: created on first sight (a new
  // user named after the subject, made unique, never "local") unless require_provisioned, then
  // nullopt; a pair mapped to a user not provisioned is nullopt under require_provisioned too.
  // An empty or over-long (> 255 bytes) issuer or subject: nullopt.
  std::optional<std::string> user_for(const std::string& issuer, const std::string& subject, bool require_provisioned);
  // `users add`: a provisioned user. Throws std::invalid_argument "name: ..." (exists, invalid).
  void add_user(const std::string& name);
  // Pre-provisions an identity for an existing user (which becomes provisioned). Throws
  // std::invalid_argument starting with the argument at fault: unknown user, or the pair
  // already mapped to another user ("subject: ...").
  void link(const std::string& user, const std::string& issuer, const std::string& subject);
  struct UserInfo {
    std::string name;
    int64_t created_ms = 0;
    size_t keys = 0;                      // keys not revoked
    std::vector<std::string> identities;  // "ISSUER SUBJECT"
    bool provisioned = true;
  };
  std::vector<UserInfo> users();

 private:
  struct Mapped {
    std::string user;
    bool provisioned = false;
  };
  store::Store& store_;
  std::mutex m_;
  std::map<std::pair<std::string, std::string>, Mapped> cache_;  // every request asks: no read for a known pair
};

}  // namespace concierge::access
