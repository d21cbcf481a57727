#include "providers/auth/tokens.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.hpp"
#include "common/private_file.hpp"
#include "store/store.hpp"

namespace concierge::providers::auth {

namespace {

constexpr size_t kKey = 32, kNonce = 12, kTag = 16;

const std::vector<std::string> kMigrations{
    R"sql(
      CREATE TABLE auth_tokens (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        service TEXT NOT NULL,
        account TEXT NOT NULL,
        sealed BLOB NOT NULL,            -- AES-256-GCM: nonce | ciphertext | tag
        expires_ms INTEGER NOT NULL,
        scopes TEXT NOT NULL,            -- JSON array, for status without opening the token
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, service, account)
      ) WITHOUT ROWID;
    )sql",
};

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

std::string context_of(int64_t user, const std::string& service, const std::string& account) {
  return std::to_string(user) + "\n" + service + "\n" + account;
}

std::string from_hex(const std::string& hex) {
  if (hex.size() != 2 * kKey) throw std::runtime_error("CONCIERGE_TOKEN_KEY must be 64 hex digits (32 bytes)");
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    auto nibble = [&](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      throw std::runtime_error("CONCIERGE_TOKEN_KEY must be 64 hex digits (32 bytes)");
    };
    out += char(nibble(hex[i]) * 16 + nibble(hex[i + 1]));
  }
  return out;
}

}  // namespace

Sealer::Sealer(std::string key) : key_(std::move(key)) {
  if (key_.size() != kKey) throw std::runtime_error("a token key is 32 bytes");
}

// The key from $CONCIERGE_TOKEN_KEY, else DIR/token.key (created 0600, atomically, when
// missing), else, for an empty dir, a key for this process only.
Sealer Sealer::for_data_dir(const std::filesystem::path& dir) {
  if (const char* env = std::getenv("CONCIERGE_TOKEN_KEY"); env && *env) return Sealer(from_hex(env));
  std::string key(kKey, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), int(kKey)) != 1) throw std::runtime_error("no randomness for a token key");
  // No data directory (an in-memory store, for listing the tools): nothing sealed outlives the process.
  if (dir.empty()) return Sealer(key);
  const auto path = dir / "token.key";
  std::string existing = create_private_file(path, key, "the token key");
  if (existing.size() != kKey) throw std::runtime_error(path.string() + " is not a token key (32 bytes)");
  return Sealer(existing);
}

std::string Sealer::seal(const std::string& plaintext, const std::string& context) const {
  std::string out(kNonce + plaintext.size() + kTag, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(o, int(kNonce)) != 1) throw std::runtime_error("no randomness for a nonce");
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> c(EVP_CIPHER_CTX_new());
  int n = 0;
  bool ok = c && EVP_EncryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, reinterpret_cast<const unsigned char*>(key_.data()), o) == 1 &&
            EVP_EncryptUpdate(c.get(), nullptr, &n, reinterpret_cast<const unsigned char*>(context.data()), int(context.size())) == 1 &&
            EVP_EncryptUpdate(c.get(), o + kNonce, &n, reinterpret_cast<const unsigned char*>(plaintext.data()), int(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(c.get(), o + kNonce + n, &n) == 1 &&
            EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, int(kTag), o + kNonce + plaintext.size()) == 1;
  if (!ok) throw std::runtime_error("sealing failed");
  return out;
}

std::string Sealer::open(const std::string& sealed, const std::string& context) const {
  if (sealed.size() < kNonce + kTag) throw std::runtime_error("a sealed token is too short");
  const auto* s = reinterpret_cast<const unsigned char*>(sealed.data());
  size_t len = sealed.size() - kNonce - kTag;
  std::string out(len, '\0');
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> c(EVP_CIPHER_CTX_new());
  int n = 0;
  std::string tag = sealed.substr(kNonce + len);
  bool ok = c && EVP_DecryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, reinterpret_cast<const unsigned char*>(key_.data()), s) == 1 &&
            EVP_DecryptUpdate(c.get(), nullptr, &n, reinterpret_cast<const unsigned char*>(context.data()), int(context.size())) == 1 &&
            EVP_DecryptUpdate(c.get(), reinterpret_cast<unsigned char*>(out.data()), &n, s + kNonce, int(len)) == 1 &&
            EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, int(kTag), tag.data()) == 1 &&
            EVP_DecryptFinal_ex(c.get(), reinterpret_cast<unsigned char*>(out.data()) + n, &n) == 1;
  if (!ok) throw std::runtime_error("a stored token does not open: altered, moved, or sealed with another key");
  return out;
}

TokenStore::TokenStore(store::Store& store, Sealer sealer) : store_(store), sealer_(std::move(sealer)) {
  store_.migrate("auth", kMigrations);
}

void TokenStore::save(int64_t user, const std::string& service, const std::string& account, const Token& t) {
  Json j{{"access_token", t.access_token}, {"refresh_token", t.refresh_token}, {"token_type", t.token_type},
         {"expires_at", t.expires_at},     {"scopes", t.scopes}};
  std::string sealed = sealer_.seal(j.dump(), context_of(user, service, account));
  store_.write([&](sql::Database& db) {
    sql::Statement up(db, "INSERT INTO auth_tokens (user_id, service, account, sealed, expires_ms, scopes, updated_ms) "
                             "VALUES (?,?,?,?,?,?,?) ON CONFLICT (user_id, service, account) DO UPDATE SET sealed = excluded.sealed, "
                             "expires_ms = excluded.expires_ms, scopes = excluded.scopes, updated_ms = excluded.updated_ms");
    up.bind(1, user);
    up.bind(2, service);
    up.bind(3, account);
    up.bind(4, sealed.data(), int(sealed.size()));
    up.bind(5, t.expires_at);
    up.bind(6, Json(t.scopes).dump());
    up.bind(7, now_ms());
    up.exec();
  });
}

std::optional<Token> TokenStore::load(int64_t user, const std::string& service, const std::string& account) {
  auto sealed = store_.read([&](sql::Database& db) -> std::optional<std::string> {
    sql::Statement q(db, "SELECT sealed FROM auth_tokens WHERE user_id = ? AND service = ? AND account = ?");
    q.bind(1, user);
    q.bind(2, service);
    q.bind(3, account);
    if (!q.executeStep()) return std::nullopt;
    auto col = q.getColumn(0);
    return std::string(static_cast<const char*>(col.getBlob()), size_t(col.getBytes()));
  });
  if (!sealed) return std::nullopt;
  Json j = Json::parse(sealer_.open(*sealed, context_of(user, service, account)));
  Token t;
  t.access_token = j.value("access_token", "");
  t.refresh_token = j.value("refresh_token", "");
  t.token_type = j.value("token_type", "Bearer");
  t.expires_at = j.value("expires_at", Millis(0));
  t.scopes = j.value("scopes", std::vector<std::string>{});
  return t;
}

bool TokenStore::remove(int64_t user, const std::string& service, const std::string& account) {
  return store_.write([&](sql::Database& db) {
    sql::Statement del(db, "DELETE FROM auth_tokens WHERE user_id = ? AND service = ? AND account = ?");
    del.bind(1, user);
    del.bind(2, service);
    del.bind(3, account);
    return del.exec() > 0;
  });
}

std::vector<StoredAccount> TokenStore::accounts(int64_t user) {
  return store_.read([&](sql::Database& db) {
    std::vector<StoredAccount> out;
    sql::Statement q(db, "SELECT service, account, expires_ms, scopes, updated_ms FROM auth_tokens WHERE user_id = ? ORDER BY service, account");
    q.bind(1, user);
    while (q.executeStep())
      out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getInt64(),
                     Json::parse(q.getColumn(3).getString()).get<std::vector<std::string>>(), q.getColumn(4).getInt64()});
    return out;
  });
}

std::vector<std::string> TokenStore::account_names(const std::string& service) {
  return store_.read([&](sql::Database& db) {
    std::vector<std::string> out;
    sql::Statement q(db, "SELECT DISTINCT account FROM auth_tokens WHERE service = ? ORDER BY account");
    q.bind(1, service);
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
  });
}

}  // namespace concierge::providers::auth
