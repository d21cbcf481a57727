#include "access/keys.hpp"

#include <algorithm>
#include <chrono>
#include <openssl/crypto.h>
#include <stdexcept>

#include "access/identities.hpp"
#include "access/scopes.hpp"
#include "common/base64.hpp"
#include "common/text.hpp"
#include "providers/auth/oauth.hpp"

namespace concierge::access {

namespace {

constexpr std::string_view kPrefix = "ck_";
constexpr size_t kIdChars = 16, kSecretChars = 43;  // 8 random bytes in hex; 32 in base64url
constexpr size_t kKeyChars = kPrefix.size() + kIdChars + 1 + kSecretChars;
constexpr int64_t kLastUsedEvery = 60'000;  // last_used: at most one write a minute per key

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool b64url_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; }

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::optional<int64_t> optional_ms(const sql::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}

// scopes column: NULL is every scope (also ones a later version adds), else space-separated.
std::set<std::string> scopes_of(const sql::Column& c) {
  if (c.isNull()) return {all_scopes().begin(), all_scopes().end()};
  std::set<std::string> out;
  const std::string text = c.getString();
  for (size_t at = 0; at < text.size();) {
    size_t sp = text.find(' ', at);
    if (sp == std::string::npos) sp = text.size();
    if (sp > at) out.insert(text.substr(at, sp - at));
    at = sp + 1;
  }
  return out;
}

Json key_detail(const std::string& id, const std::optional<std::set<std::string>>& scopes, std::optional<int64_t> expires_ms) {
  Json d{{"key", id}, {"scopes", scopes ? join_scopes(*scopes) : std::string("all")}};
  if (expires_ms) d["expires_ms"] = *expires_ms;
  return d;
}

}  // namespace

KeyStore::KeyStore(store::Store& store, int64_t recheck_ms) : store_(store), audit_(store), recheck_ms_(recheck_ms) {}

bool KeyStore::looks_like_key(std::string_view t) {
  if (t.size() != kKeyChars || t.substr(0, kPrefix.size()) != kPrefix || t[kPrefix.size() + kIdChars] != '_') return false;
  auto id = t.substr(kPrefix.size(), kIdChars), secret = t.substr(kPrefix.size() + kIdChars + 1);
  return std::all_of(id.begin(), id.end(), hex_digit) && std::all_of(secret.begin(), secret.end(), b64url_char);
}

KeyStore::Created KeyStore::create(const std::string& user, std::optional<std::set<std::string>> scopes, std::optional<int> expires_days) {
  const int64_t uid = known_user(store_, user);
  if (scopes) {
    if (scopes->empty()) throw std::invalid_argument("scopes: none given (leave them out for a key with every scope)");
    for (auto& s : *scopes)
      if (std::find(all_scopes().begin(), all_scopes().end(), s) == all_scopes().end())
        throw std::invalid_argument("scopes: unknown scope '" + s + "'");
  }
  if (expires_days && (*expires_days < 1 || *expires_days > 36500))
    throw std::invalid_argument("expires_days: must be 1 to 36500, got " + std::to_string(*expires_days));

  const int64_t now = now_ms();
  const std::optional<int64_t> expires = expires_days ? std::optional<int64_t>(now + int64_t(*expires_days) * 86'400'000) : std::nullopt;
  Created c;
  c.id = hex(random_bytes(kIdChars / 2));
  c.key = std::string(kPrefix) + c.id + "_" + base64url_encode(random_bytes(32));
  const std::string hash = providers::auth::sha256(c.key);
  store_.write([&](sql::Database& db) {
    sql::Statement ins(db, "INSERT INTO api_keys (id, user_id, hash, scopes, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?)");
    ins.bind(1, c.id);
    ins.bind(2, uid);
    ins.bind(3, hash.data(), static_cast<int>(hash.size()));
    if (scopes) ins.bind(4, join_scopes(*scopes));
    else ins.bind(4);
    ins.bind(5, now);
    if (expires) ins.bind(6, *expires);
    else ins.bind(6);
    ins.exec();
  });
  audit_.record(user, "key_created", key_detail(c.id, scopes, expires));
  return c;
}

std::optional<KeyStore::Row> KeyStore::read_row(const std::string& id) {
  return store_.read([&](sql::Database& db) -> std::optional<Row> {
    sql::Statement q(db, "SELECT k.hash, u.name, k.scopes, k.expires_ms, k.revoked_ms, k.last_used_ms "
                            "FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return std::nullopt;
    auto h = q.getColumn(0);
    return Row{std::string(static_cast<const char*>(h.getBlob()), static_cast<size_t>(h.getBytes())), q.getColumn(1).getString(),
               scopes_of(q.getColumn(2)), optional_ms(q.getColumn(3)), optional_ms(q.getColumn(4)), optional_ms(q.getColumn(5)), now_ms()};
  });
}

std::variant<Principal, std::string> KeyStore::verify(std::string_view key) {
  if (!looks_like_key(key)) return std::string("unknown key");
  const std::string id(key.substr(kPrefix.size(), kIdChars));
  const int64_t now = now_ms();
  std::optional<Row> row;
  {
    std::lock_guard l(m_);
    if (auto it = verified_.find(id); it != verified_.end() && now - it->second.read_ms < recheck_ms_) row = it->second;
  }
  const bool fresh = !row;
  if (fresh) row = read_row(id);
  if (!row) return std::string("unknown key");
  const std::string hash = providers::auth::sha256(std::string(key));
  if (row->hash.size() != hash.size() || CRYPTO_memcmp(row->hash.data(), hash.data(), hash.size()) != 0) return std::string("unknown key");
  if (row->revoked) return std::string("revoked");
  if (row->expires && now >= *row->expires) return std::string("expired");

  bool write = false;
  {
    std::lock_guard l(m_);
    if (fresh) verified_[id] = *row;  // only rows whose secret was presented: a guess adds nothing
    int64_t& last = last_used_written_[id];
    last = std::max(last, row->last_used.value_or(0));
    if (now - last >= kLastUsedEvery) {
      last = now;
      write = true;
    }
  }
  if (write)
    store_.write([&](sql::Database& db) {
      sql::Statement up(db, "UPDATE api_keys SET last_used_ms = ? WHERE id = ?");
      up.bind(1, now);
      up.bind(2, id);
      up.exec();
    });
  return Principal{.user = row->user, .scopes = std::move(row->scopes), .via = "key", .subject = id};
}

std::vector<KeyInfo> KeyStore::list(const std::string& user) {
  std::optional<int64_t> uid;
  if (!user.empty()) uid = known_user(store_, user);
  return store_.read([&](sql::Database& db) {
    sql::Statement q(db, std::string("SELECT k.id, u.name, k.scopes, k.created_ms, k.expires_ms, k.revoked_ms, k.last_used_ms "
                                        "FROM api_keys k JOIN users u ON u.id = k.user_id") +
                                (uid ? " WHERE k.user_id = ?" : "") + " ORDER BY k.created_ms, k.id");
    if (uid) q.bind(1, *uid);
    std::vector<KeyInfo> out;
    while (q.executeStep())
      out.push_back(KeyInfo{.id = q.getColumn(0).getString(), .user = q.getColumn(1).getString(), .scopes = scopes_of(q.getColumn(2)),
                            .created_ms = q.getColumn(3).getInt64(), .expires_ms = optional_ms(q.getColumn(4)),
                            .revoked_ms = optional_ms(q.getColumn(5)), .last_used_ms = optional_ms(q.getColumn(6)),
                            .every_scope = q.getColumn(2).isNull()});
    return out;
  });
}

bool KeyStore::revoke(const std::string& id) {
  const int64_t now = now_ms();
  // The owner's name, and whether this call revoked it (a second revoke keeps the first time).
  auto owner = store_.write([&](sql::Database& db) -> std::optional<std::pair<std::string, bool>> {
    sql::Transaction tx(db);
    sql::Statement q(db, "SELECT u.name, k.revoked_ms IS NULL FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return std::nullopt;
    std::pair<std::string, bool> r{q.getColumn(0).getString(), q.getColumn(1).getInt() != 0};
    q.reset();
    if (r.second) {
      sql::Statement up(db, "UPDATE api_keys SET revoked_ms = ? WHERE id = ?");
      up.bind(1, now);
      up.bind(2, id);
      up.exec();
    }
    tx.commit();
    return r;
  });
  if (!owner) return false;
  {
    std::lock_guard l(m_);
    verified_.erase(id);
  }
  if (owner->second) audit_.record(owner->first, "key_revoked", Json{{"key", id}});
  return true;
}

}  // namespace concierge::access
