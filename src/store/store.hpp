#pragma once
// The store: by default one SQLite database file in the data directory (WAL), or a PostgreSQL
// database shared by several instances (--database postgresql://...). Either way one serialized
// writer connection and a small pool of reader connections.
// Users are first-class: every row that belongs to a person carries its user id.
#include "store/sql.hpp"
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace concierge::store {

// The data directory: the flag when set, else $CONCIERGE_DATA_DIR, else $XDG_DATA_HOME/concierge,
// else $HOME/.local/share/concierge.
std::filesystem::path resolve_data_dir(const std::string& flag);

class Store {
 public:
  // Creates the directory (0700) and the database (0600) when missing, sets the pragmas and
  // applies pending migrations. Throws std::runtime_error naming the path on failure.
  // database_url: empty for SQLite in `dir`, else a PostgreSQL URL (postgresql://...). The data
  // directory is still this instance's own: its history journal and lock files live there.
  explicit Store(const std::filesystem::path& dir, const std::string& database_url = "");
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // SQLite's database file (its parent is the data directory); with PostgreSQL the file that
  // would be, so path().parent_path() is the data directory on both.
  const std::filesystem::path& path() const { return path_; }
  sql::Engine engine() const { return url_.empty() ? sql::Engine::sqlite : sql::Engine::postgres; }
  // The database as a user may be shown it: the file, or the URL without its password.
  std::string describe() const;
  int schema_version();
  // A module's own numbered migrations (the domains' local providers): step i takes the module
  // from version i to i + 1, in one transaction with the version bump. Append only.
  void migrate(const std::string& module, const std::vector<std::string>& steps);
  std::string integrity_check();  // "ok" when healthy (SQLite's check; PostgreSQL checks itself)
  // /healthz: whether this process may write the database files now (permissions, a read-only
  // filesystem), then a write and a read on the write connection. Throws saying why not.
  void probe();
  // Held while the handle lives: one holder per key among every process on this store, waiting
  // for the one before. On SQLite a lock file per key in the data directory (flock); on
  // PostgreSQL a session advisory lock on a connection of its own, so instances on other
  // machines take turns too. Used around an OAuth refresh (one per account). In memory: no lock.
  std::shared_ptr<void> lock_across(const std::string& key);
  // PostgreSQL: LISTEN on `channel` (sql::Notifications); SQLite has none (nullptr).
  std::unique_ptr<sql::Notifications> listen(const std::string& channel);
  // The id of a user by name, created on first use.
  int64_t user_id(const std::string& user);
  // The name of a user id ("" when there is none).
  std::string user_name(int64_t id);

  // f(sql::Database&) on the one write connection, serialized. Several statements belong in an
  // sql::Transaction inside f (sql.hpp says why it is an immediate one).
  template <class F>
  auto write(F&& f) {
    std::lock_guard l(write_m_);
    return f(*writer_);
  }
  // f(sql::Database&) on a read-only connection of its own for the duration of the call.
  template <class F>
  auto read(F&& f) {
    Lease lease(*this);
    return f(*lease.db);
  }

 private:
  struct Lease {
    explicit Lease(Store& s);
    ~Lease();
    Store& store;
    std::unique_ptr<sql::Database> db;
  };
  std::unique_ptr<sql::Database> open(bool writable) const;
  std::string ddl(const std::string& sqlite_ddl) const;
  int read_version(sql::Database& db) const;
  void write_version(sql::Database& db, int version) const;

  std::filesystem::path path_;
  std::string url_;
  std::mutex write_m_;
  std::unique_ptr<sql::Database> writer_;
  std::mutex pool_m_;
  std::vector<std::unique_ptr<sql::Database>> idle_readers_;
  std::mutex users_m_;
  std::unordered_map<std::string, int64_t> users_;
};

}  // namespace concierge::store
