#include "store/store.hpp"

#include <chrono>
#include <cstdio>

#include "store/start_lock.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace concierge::store {

namespace {

// Numbered migrations: entry i takes the schema from user_version i to i + 1. Append only.
const std::vector<const char*>& migrations() {
  static const std::vector<const char*> all{
      // 1: users, preferences, command history, service status.
      R"sql(
        CREATE TABLE users (
          id INTEGER PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          created_ms INTEGER NOT NULL
        );
        CREATE TABLE preferences (
          user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          key TEXT NOT NULL,
          value TEXT NOT NULL,          -- JSON
          updated_ms INTEGER NOT NULL,
          PRIMARY KEY (user_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE history (
          id INTEGER PRIMARY KEY,
          user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          time_ms INTEGER NOT NULL,
          client_name TEXT NOT NULL,
          client_version TEXT NOT NULL,
          protocol_version TEXT NOT NULL,
          transport TEXT NOT NULL,
          tool TEXT NOT NULL,
          arguments TEXT,               -- JSON, secrets redacted
          outcome TEXT NOT NULL,
          duration_us INTEGER NOT NULL,
          summary TEXT NOT NULL
        );
        CREATE INDEX history_user_time ON history (user_id, time_ms);
        CREATE INDEX history_user_tool ON history (user_id, tool, time_ms);
        -- One row per user, domain and account. details (JSON) is where the OAuth adapters keep
        -- token expiry, scopes, breaker state and budget left.
        CREATE TABLE service_status (
          user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          domain TEXT NOT NULL,
          account TEXT NOT NULL,
          provider TEXT NOT NULL,
          health TEXT NOT NULL,
          last_error TEXT,
          last_error_ms INTEGER,
          details TEXT NOT NULL DEFAULT '{}',
          updated_ms INTEGER NOT NULL,
          PRIMARY KEY (user_id, domain, account)
        ) WITHOUT ROWID;
      )sql",
      // 2: how far the history journal has been taken into the history table (history.cpp).
      R"sql(
        CREATE TABLE history_journal (
          id INTEGER PRIMARY KEY CHECK (id = 1),
          last_seq INTEGER NOT NULL
        );
        INSERT INTO history_journal (id, last_seq) VALUES (1, 0);
      )sql",
      // 3: each domain's local provider owns its tables and migrates them itself (Store::migrate).
      R"sql(
        CREATE TABLE schema_modules (
          name TEXT PRIMARY KEY,
          version INTEGER NOT NULL
        ) WITHOUT ROWID;
      )sql",
      // 4: one journal per process (history.cpp): how far each slot's has been taken in.
      R"sql(
        CREATE TABLE history_journals (
          slot INTEGER PRIMARY KEY,
          last_seq INTEGER NOT NULL
        );
        INSERT INTO history_journals (slot, last_seq) SELECT 0, last_seq FROM history_journal;
        DROP TABLE history_journal;
      )sql",
      // 5: who may call over HTTP (src/access): issuers' identities, API keys, the audit. Users
      // that exist already, and users made by name (`users add`, `auth login --user`), are
      // provisioned; only a first sign-in through an issuer makes one that is not.
      R"sql(
        ALTER TABLE users ADD COLUMN provisioned INTEGER NOT NULL DEFAULT 1;
        CREATE TABLE identities (
          issuer TEXT NOT NULL,
          subject TEXT NOT NULL,
          user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          created_ms INTEGER NOT NULL,
          PRIMARY KEY (issuer, subject)
        ) WITHOUT ROWID;
        CREATE INDEX identities_user ON identities (user_id);
        CREATE TABLE api_keys (
          id TEXT PRIMARY KEY,          -- the id inside the key (ck_<id>_<secret>)
          user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          hash BLOB NOT NULL,           -- SHA-256 of the key; the key itself is never stored
          scopes TEXT,                  -- space-separated; NULL: every scope
          created_ms INTEGER NOT NULL,
          expires_ms INTEGER,
          revoked_ms INTEGER,
          last_used_ms INTEGER          -- written at most once a minute
        ) WITHOUT ROWID;
        CREATE INDEX api_keys_user ON api_keys (user_id);
        CREATE TABLE audit (
          id INTEGER PRIMARY KEY,
          user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,  -- NULL: refused before anyone was identified
          time_ms INTEGER NOT NULL,
          event TEXT NOT NULL,
          detail TEXT NOT NULL          -- JSON, never a secret
        );
        CREATE INDEX audit_user ON audit (user_id, id);
      )sql",
      // 6: clients registered with the built-in authorization server (RFC 7591; src/access/
      // authorization_server.cpp). Public clients only: there is no secret to keep.
      R"sql(
        CREATE TABLE oauth_clients (
          client_id TEXT PRIMARY KEY,   -- random, issued at registration
          client_name TEXT,             -- as the client says; shown on the consent page
          redirect_uris TEXT NOT NULL,  -- JSON array, matched exactly at authorization
          metadata TEXT NOT NULL,       -- JSON: the registration as accepted and answered
          registered_ms INTEGER NOT NULL,
          registered_from TEXT NOT NULL, -- the peer address (rate limit, audit)
          last_used_ms INTEGER          -- NULL: never authorized (unused registrations can be dropped)
        ) WITHOUT ROWID;
      )sql",
      // 7 (issue 17, part "authorization protocol"): what the built-in authorization server
      // issued (src/access/grants.cpp). A grant is one approval: its authorization code, then the
      // refresh-token family the code starts; access tokens carry its id, so revoking the grant
      // kills them all. Codes and refresh tokens are kept as SHA-256 digests only.
      R"sql(
        CREATE TABLE oauth_grants (
          grant_id TEXT PRIMARY KEY,      -- random; the access tokens' `gid` claim
          client_id TEXT NOT NULL,        -- registered (oauth_clients) or a metadata document URL
          user_name TEXT NOT NULL,
          scope TEXT NOT NULL,            -- space-separated, as the person granted
          resource TEXT NOT NULL,         -- the public URL the tokens are for
          redirect_uri TEXT NOT NULL,
          code_hash BLOB NOT NULL UNIQUE,
          code_challenge TEXT NOT NULL,   -- PKCE S256
          code_expires_ms INTEGER NOT NULL,
          code_used_ms INTEGER,           -- exchanged; a second exchange revokes the grant
          created_ms INTEGER NOT NULL,
          last_used_ms INTEGER,
          revoked_ms INTEGER,
          revoked_why TEXT
        ) WITHOUT ROWID;
        CREATE INDEX oauth_grants_client ON oauth_grants(client_id);
        CREATE TABLE oauth_refresh_tokens (
          token_hash BLOB PRIMARY KEY,    -- SHA-256 of the refresh token
          grant_id TEXT NOT NULL REFERENCES oauth_grants(grant_id) ON DELETE CASCADE,
          issued_ms INTEGER NOT NULL,
          expires_ms INTEGER NOT NULL,
          rotated_ms INTEGER              -- replaced by a newer one: presenting it again revokes the grant
        ) WITHOUT ROWID;
        CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens(grant_id);
      )sql",
      // 8 (issue 17, the pages): the sign-in pages'
      // passwords (argon2id), browser sessions and one-time invite links (src/access/passwords.cpp,
      // web_sessions.cpp). Session and invite tokens are stored as their SHA-256 only.
      R"sql(
        CREATE TABLE passwords (
          user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
          hash TEXT NOT NULL,           -- crypto_pwhash_str (argon2id, parameters included)
          updated_ms INTEGER NOT NULL
        );
        CREATE TABLE web_sessions (
          hash BLOB PRIMARY KEY,        -- SHA-256 of the cookie's token
          user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          created_ms INTEGER NOT NULL,
          expires_ms INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX web_sessions_expires ON web_sessions (expires_ms);
        CREATE TABLE invites (
          hash BLOB PRIMARY KEY,        -- SHA-256 of the link's token
          user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          created_ms INTEGER NOT NULL,
          expires_ms INTEGER NOT NULL,
          used_ms INTEGER               -- single use: set when redeemed
        ) WITHOUT ROWID;
      )sql",
  };
  return all;
}

// FNV-1a: a stable 64-bit name for a key, the same in every process and build. A collision
// only makes two keys take turns.
uint64_t key_hash(const std::string& key) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  return h;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The data is the person's alone: the directory is 0700.
void make_private_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
}

}  // namespace

StartLock::StartLock(const std::filesystem::path& dir, std::chrono::milliseconds wait) {
  make_private_dir(dir);
  const auto path = dir / "concierge.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  // Polled rather than a blocking flock, so a process stuck while holding it can't hang every
  // later start: they give up after `wait`, saying why.
  const auto deadline = std::chrono::steady_clock::now() + wait;
  auto pause = std::chrono::milliseconds(2);
  bool said = false;
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      const std::string why = std::strerror(errno);
      ::close(fd_);
      throw std::runtime_error("cannot lock " + path.string() + ": " + why);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::close(fd_);
      throw std::runtime_error(path.string() + ": another Concierge process has been starting on this data directory for " +
                               std::to_string(wait.count() / 1000) + " s; is it stuck?");
    }
    if (!said) spdlog::debug("store: waiting for another process to finish starting ({})", path.string());
    said = true;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

StartLock::~StartLock() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the flock
}

std::filesystem::path resolve_data_dir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (auto d = env("CONCIERGE_DATA_DIR"); !d.empty()) return d;
  if (auto x = env("XDG_DATA_HOME"); !x.empty()) return std::filesystem::path(x) / "concierge";
  if (auto h = env("HOME"); !h.empty()) return std::filesystem::path(h) / ".local" / "share" / "concierge";
  throw std::runtime_error("no data directory: pass --data-dir or set CONCIERGE_DATA_DIR (HOME is not set)");
}

std::unique_ptr<sql::Database> Store::open(bool writable) const {
  if (!url_.empty()) return sql::open_postgres(url_, /*read_only=*/!writable);
  // An empty path: a private in-memory database (listing the tools), shared by this Store's
  // connections (shared cache) and by nothing else.
  const bool memory = path_.empty();
  const std::string uri =
      memory ? "file:concierge-" + std::to_string(::getpid()) + "-" + std::to_string(reinterpret_cast<uintptr_t>(this)) + "?mode=memory&cache=shared"
             : path_.string();
  auto db = sql::open_sqlite(uri, writable, memory, /*busy_timeout_ms=*/5000);
  db->exec("PRAGMA foreign_keys = ON");
  // Shared cache has table locks that fail at once (SQLITE_LOCKED, no busy timeout) where WAL
  // would let a reader run beside the writer; reading uncommitted rows takes none.
  if (memory && !writable) db->exec("PRAGMA read_uncommitted = 1");
  return db;
}

std::string Store::describe() const { return !url_.empty() ? sql::redact_url(url_) : path_.empty() ? "(in memory)" : path_.string(); }

void Store::probe() {
  // Whether this process may still write the files: the open connections keep writing through
  // descriptors opened before a chmod or a read-only remount, and SQLite reuses those for new
  // connections, so neither would notice. access(2) opens nothing (closing a descriptor of the
  // database would drop this process's SQLite locks on it).
  if (!path_.empty() && url_.empty())
    for (const auto& f : {path_, std::filesystem::path(path_.string() + "-wal")})
      if (::faccessat(AT_FDCWD, f.c_str(), W_OK, AT_EACCESS) != 0 && errno != ENOENT)
        throw std::runtime_error(std::string("the database cannot be written: ") + std::strerror(errno));
  const int64_t stamp = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  write([&](sql::Database& db) {
    // A table of one row, made on first use (not a migration: it holds nothing of anyone's).
    // In a write transaction: two instances making it at once on PostgreSQL would collide.
    sql::Transaction tx(db);
    db.exec(ddl("CREATE TABLE IF NOT EXISTS health_probe (id INTEGER PRIMARY KEY CHECK (id = 1), written_us INTEGER NOT NULL)"));
    sql::Statement put(db, "INSERT INTO health_probe (id, written_us) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET written_us = excluded.written_us");
    put.bind(1, stamp);
    put.exec();
    sql::Statement get(db, "SELECT written_us FROM health_probe WHERE id = 1");
    if (!get.executeStep() || get.getColumn(0).getInt64() != stamp) throw std::runtime_error("the row written was not read back");
    tx.commit();
  });
}

// An empty dir: the database is in memory, nothing is on disk (path() is empty).
Store::Store(const std::filesystem::path& dir, const std::string& database_url)
    : path_(dir.empty() ? dir : dir / "concierge.db"), url_(database_url) {
  const bool in_memory = path_.empty() && url_.empty();
  const std::string shown = describe();
  try {
    if (!path_.empty()) make_private_dir(dir);
    if (!path_.empty() && url_.empty()) {
      // The database 0600. SQLite gives the -wal and -shm files the database's mode, so
      // creating it 0600 first covers them too.
      int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) throw std::runtime_error("cannot open " + path_.string() + ": " + std::strerror(errno));
      ::fchmod(fd, 0600);
      ::close(fd);
    }

    writer_ = open(true);
    if (url_.empty()) {
      writer_->exec("PRAGMA journal_mode = WAL");
      // FULL: a commit is on disk (the WAL fsynced) when it returns. The history's hot path
      // does not wait for it (it journals first, history.cpp), so this costs calls nothing.
      writer_->exec("PRAGMA synchronous = FULL");
      // A checkpointed WAL is cut back to this, rather than keeping the size of its largest burst.
      writer_->exec("PRAGMA journal_size_limit = 4194304");
    }

    // A write transaction: the write lock is taken before the version is read, so of two
    // processes migrating one database the second waits, then reads the new version and has
    // nothing left to do. A deferred transaction would fail with "database is locked" or run a
    // migration twice ("table users already exists").
    const auto& all = migrations();
    sql::Transaction tx(*writer_);
    int version = read_version(*writer_);
    if (version > static_cast<int>(all.size()))
      throw std::runtime_error("the database is from a newer Concierge (schema " + std::to_string(version) + ", this one knows " +
                               std::to_string(all.size()) + ")");
    const int from = version;
    for (; version < static_cast<int>(all.size()); ++version) writer_->exec(ddl(all[version]));
    if (version != from) write_version(*writer_, version);
    tx.commit();
    // In memory (listing the tools) there is nothing worth telling.
    if (version != from) spdlog::log(in_memory ? spdlog::level::debug : spdlog::level::info, "store: migrated {} from schema {} to {}", shown, from, version);
  } catch (const sql::Error& e) {
    throw std::runtime_error(shown + ": " + e.what());
  }
}

std::string Store::ddl(const std::string& sqlite_ddl) const { return url_.empty() ? sqlite_ddl : sql::postgres_ddl(sqlite_ddl); }

// SQLite keeps the schema version in its header (user_version); PostgreSQL in a table of one
// row, made under the writers' lock the transaction holds.
int Store::read_version(sql::Database& db) const {
  if (url_.empty()) return db.execAndGet("PRAGMA user_version").getInt();
  db.exec("CREATE TABLE IF NOT EXISTS concierge_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)");
  sql::Statement q(db, "SELECT version FROM concierge_schema WHERE id = 1");
  return q.executeStep() ? q.getColumn(0).getInt() : 0;
}

void Store::write_version(sql::Database& db, int version) const {
  if (url_.empty()) {
    db.exec("PRAGMA user_version = " + std::to_string(version));
    return;
  }
  sql::Statement up(db, "INSERT INTO concierge_schema (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version");
  up.bind(1, version);
  up.exec();
}

Store::~Store() = default;

std::unique_ptr<sql::Notifications> Store::listen(const std::string& channel) {
  return url_.empty() ? nullptr : sql::listen_postgres(url_, channel);
}

std::shared_ptr<void> Store::lock_across(const std::string& key) {
  const uint64_t h = key_hash(key);
  if (!url_.empty()) {
    auto db = sql::open_postgres(url_, false);
    // A waiter gives up rather than hang behind a holder that never lets go; the holder's own
    // work (an HTTP refresh) is bounded far below this.
    db->exec("SET lock_timeout = '60s'");
    sql::Statement q(*db, "SELECT pg_advisory_lock(?)");
    q.bind(1, static_cast<int64_t>(h));
    q.executeStep();
    q.reset();
    // Closing the connection releases a session lock, whatever else happened on it.
    return std::shared_ptr<void>(db.release(), [](void* p) { delete static_cast<sql::Database*>(p); });
  }
  if (path_.empty()) return nullptr;
  char name[32];
  std::snprintf(name, sizeof name, "lock-%016llx", static_cast<unsigned long long>(h));
  const auto path = path_.parent_path() / name;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open the lock file " + path.string() + ": " + std::strerror(errno));
  // Bounded by the holder's work (an HTTP refresh, itself bounded by the client's timeouts).
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("cannot lock " + path.string() + ": " + why);
  }
  return std::shared_ptr<void>(new int(fd), [](void* p) {
    ::close(*static_cast<int*>(p));  // releases the lock
    delete static_cast<int*>(p);
  });
}

void Store::migrate(const std::string& module, const std::vector<std::string>& steps) {
  write([&](sql::Database& db) {
    // IMMEDIATE for the same reason as the main migrations (the constructor).
    sql::Transaction tx(db);
    sql::Statement q(db, "SELECT version FROM schema_modules WHERE name = ?");
    q.bind(1, module);
    int version = q.executeStep() ? q.getColumn(0).getInt() : 0;
    q.reset();
    if (version > static_cast<int>(steps.size()))
      throw std::runtime_error("the " + module + " tables are from a newer Concierge (version " + std::to_string(version) + ")");
    if (version == static_cast<int>(steps.size())) return;
    for (; version < static_cast<int>(steps.size()); ++version) db.exec(ddl(steps[version]));
    sql::Statement up(db, "INSERT INTO schema_modules (name, version) VALUES (?, ?) "
                             "ON CONFLICT (name) DO UPDATE SET version = excluded.version");
    up.bind(1, module);
    up.bind(2, version);
    up.exec();
    tx.commit();
    spdlog::log(path_.empty() && url_.empty() ? spdlog::level::debug : spdlog::level::info, "store: {} tables at version {}", module, version);
  });
}

int Store::schema_version() {
  return write([this](sql::Database& db) { return read_version(db); });
}

std::string Store::integrity_check() {
  if (!url_.empty()) return write([](sql::Database& db) { return db.execAndGet("SELECT 'ok'").getString(); });
  return write([](sql::Database& db) { return db.execAndGet("PRAGMA integrity_check").getString(); });
}

std::string Store::user_name(int64_t id) {
  {
    std::lock_guard l(users_m_);
    for (auto& [name, uid] : users_)
      if (uid == id) return name;
  }
  return read([&](sql::Database& db) -> std::string {
    sql::Statement q(db, "SELECT name FROM users WHERE id = ?");
    q.bind(1, id);
    return q.executeStep() ? q.getColumn(0).getString() : std::string();
  });
}

int64_t Store::user_id(const std::string& user) {
  {
    std::lock_guard l(users_m_);
    if (auto it = users_.find(user); it != users_.end()) return it->second;
  }
  // Looked up first: an insert is a write transaction (an fsync), which a known user need not cost.
  int64_t id = read([&](sql::Database& db) -> int64_t {
    sql::Statement q(db, "SELECT id FROM users WHERE name = ?");
    q.bind(1, user);
    return q.executeStep() ? q.getColumn(0).getInt64() : 0;
  });
  if (id == 0) id = write([&](sql::Database& db) {
    sql::Statement ins(db, "INSERT INTO users (name, created_ms) VALUES (?, ?) ON CONFLICT (name) DO NOTHING");
    ins.bind(1, user);
    ins.bind(2, now_ms());
    ins.exec();
    sql::Statement q(db, "SELECT id FROM users WHERE name = ?");
    q.bind(1, user);
    q.executeStep();
    return q.getColumn(0).getInt64();
  });
  std::lock_guard l(users_m_);
  users_[user] = id;
  return id;
}

Store::Lease::Lease(Store& s) : store(s) {
  {
    std::lock_guard l(s.pool_m_);
    if (!s.idle_readers_.empty()) {
      db = std::move(s.idle_readers_.back());
      s.idle_readers_.pop_back();
    }
  }
  if (!db) db = s.open(false);
}

Store::Lease::~Lease() {
  std::lock_guard l(store.pool_m_);
  if (store.idle_readers_.size() < 8) store.idle_readers_.push_back(std::move(db));
}

}  // namespace concierge::store
