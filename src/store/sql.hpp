#pragma once
// The one seam between the store's users and a database engine: the part of SQLiteCpp's
// interface this code base uses (Database, Statement, Column, Transaction), served by SQLite
// (embedded, the default) or by PostgreSQL (--database postgresql://...).
//
// Statements are written once, in the SQL both engines accept: `?` or `?N` parameters, INSERT
// ... ON CONFLICT, RETURNING, lower() rather than COLLATE NOCASE, integers rather than booleans
// in arithmetic. Where the engines' words differ (a case-insensitive LIKE, string aggregation,
// a two-argument max) the few helpers below give the engine's own. Migrations are written with
// SQLite's type names; postgres_ddl() maps them.
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace concierge::sql {

enum class Engine { sqlite, postgres };

// A database error. code(): SQLite's extended result code as a number ("2067") or PostgreSQL's
// SQLSTATE ("23505").
class Error : public std::runtime_error {
 public:
  Error(const std::string& what, std::string code) : std::runtime_error(what), code_(std::move(code)) {}
  const std::string& code() const { return code_; }
  // A UNIQUE, CHECK, NOT NULL, FOREIGN KEY or exclusion constraint refused the change.
  bool constraint_violation() const;

 private:
  std::string code_;
};

namespace detail {
// One prepared statement and, while stepping, its current row. Columns and parameters count
// as in SQLite: parameters from 1, columns from 0.
class Cursor {
 public:
  virtual ~Cursor() = default;
  virtual void bind_null(int i) = 0;
  virtual void bind_int(int i, int64_t v) = 0;
  virtual void bind_real(int i, double v) = 0;
  virtual void bind_text(int i, const std::string& v) = 0;
  virtual void bind_blob(int i, const void* p, size_t n) = 0;
  virtual bool step() = 0;  // false when no row is left
  virtual int run() = 0;    // runs to the end; rows changed
  virtual void reset() = 0;
  virtual void clear_bindings() = 0;
  virtual bool is_null(int col) const = 0;
  virtual int64_t int64(int col) const = 0;
  virtual double real(int col) const = 0;
  virtual std::string text(int col) const = 0;
  virtual std::string_view blob(int col) const = 0;  // valid until the next step or reset
};
}  // namespace detail

class Database {
 public:
  virtual ~Database() = default;
  virtual Engine engine() const = 0;
  // One or more statements without parameters; the rows the last one changed.
  virtual int exec(const std::string& sql) = 0;
  virtual std::unique_ptr<detail::Cursor> prepare(const std::string& sql) = 0;
  // Begins a transaction that will write: SQLite's BEGIN IMMEDIATE; on PostgreSQL a BEGIN that
  // then waits for the database-wide writers' lock (see sql_postgres.cpp).
  virtual void begin_write() = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  class Column execAndGet(const std::string& sql);
};

// A value of a row: of the statement's current row until its next step, or of its own
// (execAndGet).
class Column {
 public:
  Column(std::shared_ptr<detail::Cursor> c, int i) : c_(std::move(c)), i_(i) {}
  bool isNull() const { return c_->is_null(i_); }
  int64_t getInt64() const { return c_->int64(i_); }
  int getInt() const { return static_cast<int>(c_->int64(i_)); }
  double getDouble() const { return c_->real(i_); }
  std::string getString() const { return c_->text(i_); }
  const void* getBlob() const { return c_->blob(i_).data(); }
  int getBytes() const { return static_cast<int>(c_->blob(i_).size()); }

 private:
  std::shared_ptr<detail::Cursor> c_;
  int i_;
};

class Statement {
 public:
  Statement(Database& db, const std::string& sql) : c_(db.prepare(sql)) {}
  void bind(int i) { c_->bind_null(i); }
  void bind(int i, int32_t v) { c_->bind_int(i, v); }
  void bind(int i, uint32_t v) { c_->bind_int(i, v); }
  void bind(int i, int64_t v) { c_->bind_int(i, v); }
  void bind(int i, double v) { c_->bind_real(i, v); }
  void bind(int i, const std::string& v) { c_->bind_text(i, v); }
  void bind(int i, const char* v) { c_->bind_text(i, std::string(v)); }
  void bind(int i, const void* p, int n) { c_->bind_blob(i, p, static_cast<size_t>(n)); }
  bool executeStep() { return c_->step(); }
  int exec() { return c_->run(); }
  Column getColumn(int i) const { return Column(c_, i); }
  void reset() { c_->reset(); }
  void clearBindings() { c_->clear_bindings(); }

 private:
  std::shared_ptr<detail::Cursor> c_;
};

// A write transaction, rolled back unless committed. On SQLite BEGIN IMMEDIATE: instances may
// share the database, and a deferred transaction that reads and then writes fails ("database is
// locked") when another process wrote in between, where an immediate one waits its turn and
// then reads what that process wrote. PostgreSQL gets the same order (Database::begin_write).
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) { db_.begin_write(); }
  ~Transaction() {
    if (!done_) db_.rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    db_.commit();
    done_ = true;
  }

 private:
  Database& db_;
  bool done_ = false;
};

// The engines' own words where they differ.
inline const char* like_nocase(const Database& db) { return db.engine() == Engine::postgres ? "ILIKE" : "LIKE"; }
inline std::string string_agg(const Database& db, const std::string& expr, const std::string& separator_literal) {
  return db.engine() == Engine::postgres ? "string_agg(" + expr + ", " + separator_literal + ")"
                                         : "group_concat(" + expr + ", " + separator_literal + ")";
}
inline const char* greatest(const Database& db) { return db.engine() == Engine::postgres ? "GREATEST" : "MAX"; }
// The length of a text in bytes (SQLite's LENGTH counts characters).
inline std::string byte_length(const Database& db, const std::string& expr) {
  return db.engine() == Engine::postgres ? "octet_length(" + expr + ")" : "LENGTH(CAST(" + expr + " AS BLOB))";
}

// SQLite's `?` and `?N` parameters as PostgreSQL's `$K`, outside quotes and comments,
// numbered densely in order of appearance; numbering[n] (when given) is the K of SQLite's n.
std::string postgres_parameters(std::string_view sql, std::vector<int>* numbering = nullptr);
// A migration written for SQLite as PostgreSQL DDL: INTEGER PRIMARY KEY [AUTOINCREMENT] an
// identity column, INTEGER BIGINT, REAL DOUBLE PRECISION, BLOB BYTEA, WITHOUT ROWID dropped.
std::string postgres_ddl(std::string_view sql);

// Connections. SQLite: `path` ("file:...?mode=memory&cache=shared" with uri), flags as
// SQLiteCpp's. PostgreSQL: a libpq connection string or URL; read_only sessions refuse writes.
std::unique_ptr<Database> open_sqlite(const std::string& path, bool writable, bool uri, int busy_timeout_ms);
std::unique_ptr<Database> open_postgres(const std::string& url, bool read_only);

// PostgreSQL's LISTEN, on a connection of its own. wait() returns true when a NOTIFY on the
// channel has been committed since the last call (or the connection was re-established, when
// one may have been missed), false after `timeout` without one.
class Notifications {
 public:
  virtual ~Notifications() = default;
  virtual bool wait(std::chrono::milliseconds timeout) = 0;
};
std::unique_ptr<Notifications> listen_postgres(const std::string& url, const std::string& channel);

// A URL with its password replaced by "***", for messages and logs.
std::string redact_url(const std::string& url);

}  // namespace concierge::sql
