#pragma once
// Users' passwords for the server's own sign-in page (`--auth builtin`), set by
// `concierge users passwd NAME --password-stdin`. Stored as argon2id (libsodium's
// crypto_pwhash_str, interactive limits: ~64 MiB and a few tenths of a second per hash), so a
// copied database costs an attacker that much per guess.
#include <string>
#include <string_view>

#include "store/store.hpp"

namespace concierge::access {

constexpr size_t kMinPasswordBytes = 8;
constexpr size_t kMaxPasswordBytes = 1024;  // argon2 takes any length; a form field needs a bound

// The encoded argon2id hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash). Throws
// std::invalid_argument "password: ..." when shorter than kMinPasswordBytes or longer than
// kMaxPasswordBytes, std::runtime_error when libsodium can't get the memory.
std::string hash_password(std::string_view password);
// Whether `password` matches the encoded hash (false for a malformed hash).
bool verify_password(const std::string& encoded, std::string_view password);

// The `passwords` table: one hash per user.
class Passwords {
 public:
  explicit Passwords(store::Store& store) : store_(store) {}
  // Throws std::invalid_argument "user: ..." for an unknown user, "password: ..." as hash_password.
  void set(const std::string& user, std::string_view password);
  // Whether the user exists, has a password and it matches. An unknown user or one without a
  // password costs a hash all the same, so timing does not tell which names exist.
  bool check(const std::string& user, std::string_view password);

 private:
  store::Store& store_;
};

}  // namespace concierge::access
