#pragma once
// The SQLite store: one database file in the data directory, WAL, one serialized writer
// connection and a small pool of reader connections (WAL lets readers run beside the writer).
// Users are first-class: every row that belongs to a person carries its user id.
#include <SQLiteCpp/SQLiteCpp.h>
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
  explicit Store(const std::filesystem::path& dir);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::filesystem::path& path() const { return path_; }
  int schema_version();
  // A module's own numbered migrations (the domains' local providers): step i takes the module
  // from version i to i + 1, in one transaction with the version bump. Append only.
  void migrate(const std::string& module, const std::vector<std::string>& steps);
  std::string integrity_check();  // "ok" when healthy
  // /healthz: whether this process may write the database files now (permissions, a read-only
  // filesystem), then a write and a read on the write connection. Throws saying why not.
  void probe();
  // The id of a user by name, created on first use.
  int64_t user_id(const std::string& user);
  // The name of a user id ("" when there is none).
  std::string user_name(int64_t id);

  // f(SQLite::Database&) on the one write connection, serialized. Several statements belong in
  // an IMMEDIATE SQLite::Transaction inside f: instances may share the database, and a deferred
  // one that reads and then writes fails ("database is locked") when another process wrote in
  // between, where an immediate one waits its turn and then reads what that process wrote.
  template <class F>
  auto write(F&& f) {
    std::lock_guard l(write_m_);
    return f(*writer_);
  }
  // f(SQLite::Database&) on a read-only connection of its own for the duration of the call.
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
    std::unique_ptr<SQLite::Database> db;
  };
  std::unique_ptr<SQLite::Database> open(bool writable) const;

  std::filesystem::path path_;
  std::mutex write_m_;
  std::unique_ptr<SQLite::Database> writer_;
  std::mutex pool_m_;
  std::vector<std::unique_ptr<SQLite::Database>> idle_readers_;
  std::mutex users_m_;
  std::unordered_map<std::string, int64_t> users_;
};

}  // namespace concierge::store
