#include "access/identities.hpp"

#include <chrono>
#include <stdexcept>

#include "access/audit.hpp"

namespace concierge::access {

namespace {

constexpr const char* kLocal = "local";  // the stdio user: never a name given to someone else
constexpr size_t kMaxIdentityBytes = 255;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' || c == '-';
}

std::optional<int64_t> user_row(sql::Database& db, const std::string& name) {
  sql::Statement q(db, "SELECT id FROM users WHERE name = ?");
  q.bind(1, name);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getInt64();
}

void insert_identity(sql::Database& db, const std::string& issuer, const std::string& subject, int64_t uid) {
  sql::Statement i(db, "INSERT INTO identities (issuer, subject, user_id, created_ms) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT (issuer, subject) DO NOTHING");
  i.bind(1, issuer);
  i.bind(2, subject);
  i.bind(3, uid);
  i.bind(4, now_ms());
  i.exec();
}

// A user name from an issuer's subject: its safe characters, the rest as '-', at most 48 bytes
// (room for a suffix); "user" when nothing is left.
std::string name_from_subject(const std::string& subject) {
  std::string out;
  for (char c : subject) {
    if (out.size() == 48) break;
    out += name_char(c) ? c : '-';
  }
  while (!out.empty() && (out.front() == '-' || out.front() == '.')) out.erase(out.begin());
  return out.empty() ? "user" : out;
}

}  // namespace

bool valid_user_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name.front() == '-' || name.front() == '.') return false;
  for (char c : name)
    if (!name_char(c)) return false;
  return true;
}

std::optional<int64_t> find_user(store::Store& store, const std::string& name) {
  if (name == kLocal) return store.user_id(name);
  return store.read([&](sql::Database& db) { return user_row(db, name); });
}

int64_t known_user(store::Store& store, const std::string& name, const std::string& field) {
  if (auto id = find_user(store, name)) return *id;
  throw std::invalid_argument(field + ": no user '" + name + "' (add it with: concierge users add " +
                              (valid_user_name(name) ? name : std::string("NAME")) + ")");
}

Identities::Identities(store::Store& store) : store_(store) {}

std::optional<std::string> Identities::user_for(const std::string& issuer, const std::string& subject, bool require_provisioned) {
  if (issuer.empty() || subject.empty() || issuer.size() > kMaxIdentityBytes || subject.size() > kMaxIdentityBytes) return std::nullopt;
  const auto key = std::make_pair(issuer, subject);
  {
    std::lock_guard l(m_);
    if (auto it = cache_.find(key); it != cache_.end() && (it->second.provisioned || !require_provisioned)) return it->second.user;
  }
  auto lookup = [&](sql::Database& db) -> std::optional<Mapped> {
    sql::Statement q(db, "SELECT u.name, u.provisioned FROM identities i JOIN users u ON u.id = i.user_id "
                            "WHERE i.issuer = ? AND i.subject = ?");
    q.bind(1, issuer);
    q.bind(2, subject);
    if (!q.executeStep()) return std::nullopt;
    return Mapped{q.getColumn(0).getString(), q.getColumn(1).getInt() != 0};
  };
  std::optional<Mapped> found = store_.read(lookup);
  if (!found && !require_provisioned) {
    found = store_.write([&](sql::Database& db) -> Mapped {
      // IMMEDIATE: two processes seeing the same new subject at once make one user, not two.
      sql::Transaction tx(db);
      if (auto again = lookup(db)) return *again;
      const std::string base = name_from_subject(subject);
      std::string name = base;
      for (int n = 2; name == kLocal || user_row(db, name); ++n) name = base + "-" + std::to_string(n);
      sql::Statement u(db, "INSERT INTO users (name, created_ms, provisioned) VALUES (?, ?, 0) RETURNING id");
      u.bind(1, name);
      u.bind(2, now_ms());
      u.executeStep();
      const int64_t id = u.getColumn(0).getInt64();
      u.reset();  // done with it: SQLite commits no transaction while a statement is mid-step
      insert_identity(db, issuer, subject, id);
      tx.commit();
      return Mapped{name, false};
    });
  }
  if (!found || (require_provisioned && !found->provisioned)) return std::nullopt;
  std::lock_guard l(m_);
  cache_[key] = *found;
  return found->user;
}

void Identities::add_user(const std::string& name) {
  if (!valid_user_name(name))
    throw std::invalid_argument("name: '" + name + "' is not a user name (1-64 of A-Z a-z 0-9 . _ @ -, not starting with . or -)");
  const bool added = store_.write([&](sql::Database& db) {
    sql::Statement ins(db, "INSERT INTO users (name, created_ms, provisioned) VALUES (?, ?, 1) ON CONFLICT (name) DO NOTHING");
    ins.bind(1, name);
    ins.bind(2, now_ms());
    return ins.exec() == 1;
  });
  if (!added) throw std::invalid_argument("name: user '" + name + "' already exists");
  Audit(store_).record(name, "user_added", Json::object());
}

void Identities::link(const std::string& user, const std::string& issuer, const std::string& subject) {
  const int64_t uid = known_user(store_, user);
  if (issuer.empty() || issuer.size() > kMaxIdentityBytes) throw std::invalid_argument("issuer: must be 1-255 bytes");
  if (subject.empty() || subject.size() > kMaxIdentityBytes) throw std::invalid_argument("subject: must be 1-255 bytes");
  store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    sql::Statement q(db, "SELECT u.name FROM identities i JOIN users u ON u.id = i.user_id WHERE i.issuer = ? AND i.subject = ?");
    q.bind(1, issuer);
    q.bind(2, subject);
    if (q.executeStep() && q.getColumn(0).getString() != user)
      throw std::invalid_argument("subject: '" + subject + "' of " + issuer + " is already user '" + q.getColumn(0).getString() + "'");
    insert_identity(db, issuer, subject, uid);
    // Naming the user is provisioning it: an administrator vouched for it.
    sql::Statement p(db, "UPDATE users SET provisioned = 1 WHERE id = ?");
    p.bind(1, uid);
    p.exec();
    tx.commit();
  });
  {
    std::lock_guard l(m_);
    cache_.clear();  // a user just provisioned: its other identities' cached flag is stale
  }
  Audit(store_).record(user, "identity_linked", Json{{"issuer", issuer}, {"subject", subject}});
}

std::vector<Identities::UserInfo> Identities::users() {
  return store_.read([&](sql::Database& db) {
    std::vector<UserInfo> out;
    sql::Statement q(db, "SELECT u.name, u.created_ms, u.provisioned, "
                            "(SELECT COUNT(*) FROM api_keys k WHERE k.user_id = u.id AND k.revoked_ms IS NULL), "
                            "(SELECT " + sql::string_agg(db, "issuer || ' ' || subject", "'\n'") + " FROM identities i WHERE i.user_id = u.id) "
                            "FROM users u ORDER BY u.name");
    while (q.executeStep()) {
      UserInfo u{.name = q.getColumn(0).getString(), .created_ms = q.getColumn(1).getInt64(),
                 .keys = static_cast<size_t>(q.getColumn(3).getInt64()), .identities = {}, .provisioned = q.getColumn(2).getInt() != 0};
      const std::string ids = q.getColumn(4).getString();
      for (size_t at = 0; at < ids.size();) {
        size_t nl = ids.find('\n', at);
        if (nl == std::string::npos) nl = ids.size();
        u.identities.push_back(ids.substr(at, nl - at));
        at = nl + 1;
      }
      out.push_back(std::move(u));
    }
    return out;
  });
}

}  // namespace concierge::access
