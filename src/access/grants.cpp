#include "access/grants.hpp"

#include "store/sql.hpp"
#include <openssl/sha.h>

#include <map>
#include <set>

#include "access/scopes.hpp"
#include "common/base64.hpp"

namespace concierge::access {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string digest(const std::string& secret) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof md);
}

void bind_blob(sql::Statement& s, int i, const std::string& bytes) { s.bind(i, bytes.data(), int(bytes.size())); }

constexpr const char* kGrantColumns =
    "g.grant_id, g.client_id, g.user_name, g.scope, g.resource, g.redirect_uri, g.code_challenge, g.revoked_ms";

Grant grant_from_row(sql::Statement& q) {
  return Grant{q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(), scope_list(q.getColumn(3).getString()),
               q.getColumn(4).getString(), q.getColumn(5).getString(), q.getColumn(6).getString()};
}

void revoke_in(sql::Database& db, const std::string& grant_id, const std::string& why, int64_t now) {
  sql::Statement u(db, "UPDATE oauth_grants SET revoked_ms = ?, revoked_why = ? WHERE grant_id = ? AND revoked_ms IS NULL");
  u.bind(1, now);
  u.bind(2, why);
  u.bind(3, grant_id);
  u.exec();
}

std::string new_refresh(sql::Database& db, const std::string& grant_id, std::chrono::seconds ttl, int64_t now) {
  std::string token = base64url_encode(random_bytes(32));
  sql::Statement ins(db, "INSERT INTO oauth_refresh_tokens (token_hash, grant_id, issued_ms, expires_ms) VALUES (?,?,?,?)");
  bind_blob(ins, 1, digest(token));
  ins.bind(2, grant_id);
  ins.bind(3, now);
  ins.bind(4, now + std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count());
  ins.exec();
  sql::Statement u(db, "UPDATE oauth_grants SET last_used_ms = ? WHERE grant_id = ?");
  u.bind(1, now);
  u.bind(2, grant_id);
  u.exec();
  return token;
}

}  // namespace

std::string GrantStore::create(const Grant& g, std::chrono::seconds code_ttl) {
  std::string code = base64url_encode(random_bytes(32));
  const int64_t now = now_ms();
  store_.write([&](sql::Database& db) {
    sql::Statement ins(db,
                          "INSERT INTO oauth_grants (grant_id, client_id, user_name, scope, resource, redirect_uri, code_hash, "
                          "code_challenge, code_expires_ms, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?)");
    ins.bind(1, g.grant_id);
    ins.bind(2, g.client_id);
    ins.bind(3, g.user);
    ins.bind(4, scope_param(g.scopes));
    ins.bind(5, g.resource);
    ins.bind(6, g.redirect_uri);
    bind_blob(ins, 7, digest(code));
    ins.bind(8, g.code_challenge);
    ins.bind(9, now + std::chrono::duration_cast<std::chrono::milliseconds>(code_ttl).count());
    ins.bind(10, now);
    ins.exec();
  });
  return code;
}

Redeemed GrantStore::redeem_code(const std::string& code, const Check& check, std::chrono::seconds refresh_ttl) {
  const int64_t now = now_ms();
  return store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    Redeemed r;
    sql::Statement q(db, std::string("SELECT ") + kGrantColumns + ", g.code_expires_ms, g.code_used_ms FROM oauth_grants g WHERE g.code_hash = ?");
    bind_blob(q, 1, digest(code));
    if (!q.executeStep()) return r;
    r.grant = grant_from_row(q);
    const bool revoked = !q.getColumn(7).isNull();
    const int64_t expires = q.getColumn(8).getInt64();
    const bool used = !q.getColumn(9).isNull();
    q.reset();
    if (used) {
      // RFC 6749 §4.1.2: a code used twice revokes what it issued (someone else holds it too).
      revoke_in(db, r.grant.grant_id, "authorization code reused", now);
      tx.commit();
      r.outcome = revoked ? Redemption::Revoked : Redemption::Reused;
      return r;
    }
    if (revoked) r.outcome = Redemption::Revoked;
    else if (now >= expires) r.outcome = Redemption::Expired;
    else if (auto why = check(r.grant)) {
      r.outcome = Redemption::Refused;
      r.refused = *why;
    } else {
      sql::Statement u(db, "UPDATE oauth_grants SET code_used_ms = ? WHERE grant_id = ?");
      u.bind(1, now);
      u.bind(2, r.grant.grant_id);
      u.exec();
      r.refresh_token = new_refresh(db, r.grant.grant_id, refresh_ttl, now);
      r.outcome = Redemption::Ok;
    }
    tx.commit();
    return r;
  });
}

Redeemed GrantStore::rotate_refresh(const std::string& token, const Check& check, std::chrono::seconds refresh_ttl) {
  const int64_t now = now_ms();
  return store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    Redeemed r;
    sql::Statement q(db, std::string("SELECT ") + kGrantColumns +
                                ", t.expires_ms, t.rotated_ms FROM oauth_refresh_tokens t JOIN oauth_grants g ON g.grant_id = t.grant_id "
                                "WHERE t.token_hash = ?");
    const std::string hash = digest(token);
    bind_blob(q, 1, hash);
    if (!q.executeStep()) return r;
    r.grant = grant_from_row(q);
    const bool revoked = !q.getColumn(7).isNull();
    const int64_t expires = q.getColumn(8).getInt64();
    const bool rotated = !q.getColumn(9).isNull();
    q.reset();
    if (revoked) {
      r.outcome = Redemption::Revoked;
    } else if (rotated) {
      // A retired refresh token came back: it leaked, or the client lost a reply. Either way
      // the family can't be trusted (RFC 9700 §4.14.2).
      revoke_in(db, r.grant.grant_id, "refresh token reused", now);
      r.outcome = Redemption::Reused;
    } else if (now >= expires) {
      r.outcome = Redemption::Expired;
    } else if (auto why = check(r.grant)) {
      r.outcome = Redemption::Refused;
      r.refused = *why;
    } else {
      sql::Statement u(db, "UPDATE oauth_refresh_tokens SET rotated_ms = ? WHERE token_hash = ?");
      u.bind(1, now);
      bind_blob(u, 2, hash);
      u.exec();
      r.refresh_token = new_refresh(db, r.grant.grant_id, refresh_ttl, now);
      r.outcome = Redemption::Ok;
    }
    tx.commit();
    return r;
  });
}

std::optional<Grant> GrantStore::grant_of_refresh(const std::string& token) {
  return store_.read([&](sql::Database& db) -> std::optional<Grant> {
    sql::Statement q(db, std::string("SELECT ") + kGrantColumns +
                                " FROM oauth_refresh_tokens t JOIN oauth_grants g ON g.grant_id = t.grant_id WHERE t.token_hash = ?");
    bind_blob(q, 1, digest(token));
    if (!q.executeStep()) return std::nullopt;
    return grant_from_row(q);
  });
}

bool GrantStore::revoke(const std::string& grant_id, const std::string& why) {
  return store_.write([&](sql::Database& db) {
    sql::Statement q(db, "SELECT 1 FROM oauth_grants WHERE grant_id = ?");
    q.bind(1, grant_id);
    if (!q.executeStep()) return false;
    q.reset();
    revoke_in(db, grant_id, why, now_ms());
    return true;
  });
}

size_t GrantStore::revoke_client(const std::string& client_id, const std::string& why) {
  return store_.write([&](sql::Database& db) {
    sql::Statement u(db, "UPDATE oauth_grants SET revoked_ms = ?, revoked_why = ? WHERE client_id = ? AND revoked_ms IS NULL");
    u.bind(1, now_ms());
    u.bind(2, why);
    u.bind(3, client_id);
    return size_t(u.exec());
  });
}

bool GrantStore::live(const std::string& grant_id) {
  return store_.read([&](sql::Database& db) {
    sql::Statement q(db, "SELECT revoked_ms IS NULL FROM oauth_grants WHERE grant_id = ?");
    q.bind(1, grant_id);
    return q.executeStep() && q.getColumn(0).getInt() == 1;
  });
}

std::vector<ClientUse> GrantStore::uses() {
  return store_.read([&](sql::Database& db) {
    std::map<std::string, ClientUse> by_client;
    std::map<std::string, std::set<std::string>> users;
    sql::Statement q(db, "SELECT client_id, user_name, COALESCE(last_used_ms, created_ms), revoked_ms IS NULL FROM oauth_grants");
    while (q.executeStep()) {
      auto& u = by_client[q.getColumn(0).getString()];
      u.client_id = q.getColumn(0).getString();
      const int64_t used = q.getColumn(2).getInt64();
      if (!u.last_used_ms || *u.last_used_ms < used) u.last_used_ms = used;
      if (q.getColumn(3).getInt() == 1) {
        ++u.live_grants;
        users[u.client_id].insert(q.getColumn(1).getString());
      }
    }
    std::vector<ClientUse> out;
    for (auto& [id, u] : by_client) {
      u.users.assign(users[id].begin(), users[id].end());
      out.push_back(std::move(u));
    }
    return out;
  });
}

}  // namespace concierge::access
