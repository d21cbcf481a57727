#include "access/passwords.hpp"

#include <sodium.h>

#include <chrono>
#include <optional>
#include <stdexcept>

#include "access/identities.hpp"

namespace concierge::access {

namespace {

void init_sodium() {
  static const int ok = sodium_init();  // thread-safe, once; < 0: no usable random source
  if (ok < 0) throw std::runtime_error("libsodium could not be initialized");
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What an unknown user's guess is checked against: same parameters, so the same cost.
const std::string& dummy_hash() {
  static const std::string h = hash_password("not a password of anyone's");
  return h;
}

}  // namespace

std::string hash_password(std::string_view password) {
  if (password.size() < kMinPasswordBytes)
    throw std::invalid_argument("password: at least " + std::to_string(kMinPasswordBytes) + " characters, got " +
                                std::to_string(password.size()));
  if (password.size() > kMaxPasswordBytes)
    throw std::invalid_argument("password: at most " + std::to_string(kMaxPasswordBytes) + " bytes");
  init_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    throw std::runtime_error("argon2id: out of memory hashing the password");
  return out;
}

bool verify_password(const std::string& encoded, std::string_view password) {
  if (password.size() > kMaxPasswordBytes) return false;
  init_sodium();
  return crypto_pwhash_str_verify(encoded.c_str(), password.data(), password.size()) == 0;
}

void Passwords::set(const std::string& user, std::string_view password) {
  const int64_t uid = known_user(store_, user);
  const std::string hash = hash_password(password);
  store_.write([&](sql::Database& db) {
    sql::Statement up(db, "INSERT INTO passwords (user_id, hash, updated_ms) VALUES (?, ?, ?) "
                             "ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_ms = excluded.updated_ms");
    up.bind(1, uid);
    up.bind(2, hash);
    up.bind(3, now_ms());
    up.exec();
  });
}

bool Passwords::check(const std::string& user, std::string_view password) {
  std::optional<std::string> hash;
  if (auto uid = find_user(store_, user))
    hash = store_.read([&](sql::Database& db) -> std::optional<std::string> {
      sql::Statement q(db, "SELECT hash FROM passwords WHERE user_id = ?");
      q.bind(1, *uid);
      if (!q.executeStep()) return std::nullopt;
      return q.getColumn(0).getString();
    });
  if (!hash) {
    verify_password(dummy_hash(), password);
    return false;
  }
  return verify_password(*hash, password);
}

}  // namespace concierge::access
