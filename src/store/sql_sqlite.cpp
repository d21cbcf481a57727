// sql.hpp on SQLite, through SQLiteCpp. SQLite's exceptions become sql::Error here, so nothing
// above the seam knows which engine spoke.
#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include "store/sql.hpp"

namespace concierge::sql {

bool Error::constraint_violation() const {
  if (code_.size() == 5) return code_.compare(0, 2, "23") == 0;  // PostgreSQL: class 23
  try {
    return (std::stoi(code_) & 0xff) == SQLITE_CONSTRAINT;
  } catch (const std::exception&) {
    return false;
  }
}

Column Database::execAndGet(const std::string& sql) {
  std::shared_ptr<detail::Cursor> c = prepare(sql);
  if (!c->step()) throw Error("no row from: " + sql, "");
  return Column(c, 0);
}

namespace {

[[noreturn]] void rethrow(const SQLite::Exception& e) { throw Error(e.what(), std::to_string(e.getExtendedErrorCode())); }

template <class F>
auto guarded(F&& f) {
  try {
    return f();
  } catch (const SQLite::Exception& e) {
    rethrow(e);
  }
}

class SqliteCursor final : public detail::Cursor {
 public:
  SqliteCursor(SQLite::Database& db, const std::string& sql) : st_(guarded([&] { return SQLite::Statement(db, sql); })) {}
  void bind_null(int i) override { guarded([&] { st_.bind(i); }); }
  void bind_int(int i, int64_t v) override { guarded([&] { st_.bind(i, v); }); }
  void bind_real(int i, double v) override { guarded([&] { st_.bind(i, v); }); }
  void bind_text(int i, const std::string& v) override { guarded([&] { st_.bind(i, v); }); }
  void bind_blob(int i, const void* p, size_t n) override { guarded([&] { st_.bind(i, p, static_cast<int>(n)); }); }
  bool step() override { return guarded([&] { return st_.executeStep(); }); }
  int run() override { return guarded([&] { return st_.exec(); }); }
  void reset() override { guarded([&] { st_.reset(); }); }
  void clear_bindings() override { guarded([&] { st_.clearBindings(); }); }
  bool is_null(int col) const override { return guarded([&] { return st_.getColumn(col).isNull(); }); }
  int64_t int64(int col) const override { return guarded([&] { return st_.getColumn(col).getInt64(); }); }
  double real(int col) const override { return guarded([&] { return st_.getColumn(col).getDouble(); }); }
  std::string text(int col) const override { return guarded([&] { return st_.getColumn(col).getString(); }); }
  std::string_view blob(int col) const override {
    return guarded([&] {
      auto c = st_.getColumn(col);
      return std::string_view(static_cast<const char*>(c.getBlob()), static_cast<size_t>(c.getBytes()));
    });
  }

 private:
  mutable SQLite::Statement st_;
};

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(const std::string& path, int flags, int busy_ms) : db_(guarded([&] { return SQLite::Database(path, flags, busy_ms); })) {}
  Engine engine() const override { return Engine::sqlite; }
  int exec(const std::string& sql) override { return guarded([&] { return db_.exec(sql); }); }
  std::unique_ptr<detail::Cursor> prepare(const std::string& sql) override { return std::make_unique<SqliteCursor>(db_, sql); }
  void begin_write() override { guarded([&] { db_.exec("BEGIN IMMEDIATE"); }); }
  void commit() override { guarded([&] { db_.exec("COMMIT"); }); }
  void rollback() noexcept override {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {  // none open (a failed COMMIT already ended it)
    }
  }

 private:
  SQLite::Database db_;
};

}  // namespace

std::unique_ptr<Database> open_sqlite(const std::string& path, bool writable, bool uri, int busy_timeout_ms) {
  int flags = (writable ? SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE : SQLite::OPEN_READONLY) | SQLite::OPEN_NOMUTEX | (uri ? SQLite::OPEN_URI : 0);
  return std::make_unique<SqliteDatabase>(path, flags, busy_timeout_ms);
}

}  // namespace concierge::sql
