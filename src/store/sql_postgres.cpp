// sql.hpp on PostgreSQL, through libpq (Debian's libpq-dev): a C library with nothing between
// us and the protocol. libpqxx 6 would add a second exception hierarchy and its own statement
// API to hide behind this same seam, so it buys nothing here.
//
// Statements are prepared once per connection (a bounded cache) and their parameters typed by
// the server from where they are used, as SQLite's affinity would: every value goes as text,
// except to a bytea parameter, which gets the bytes themselves. Results come as text.
#include <libpq-fe.h>

#include <poll.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <vector>

#include "store/sql.hpp"

namespace concierge::sql {

namespace {

constexpr Oid kBytea = 17;
constexpr size_t kMostPrepared = 256;  // per connection; the mail search's SQL varies with the query
// Every write transaction takes this transaction-scoped advisory lock first: writers run one at
// a time, as on SQLite, so a read-then-write (is the slot free? book it) sees every earlier
// commit. Readers never wait for it. ("conc" as a number.)
constexpr const char* kBeginWrite = "BEGIN; SELECT pg_advisory_xact_lock(1668247139)";

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

class PgDatabase;

class PgCursor final : public detail::Cursor {
 public:
  PgCursor(PgDatabase& db, const std::string& sql);
  void bind_null(int i) override { slot(i) = Param{}; }
  void bind_int(int i, int64_t v) override { slot(i) = Param{std::to_string(v)}; }
  void bind_real(int i, double v) override {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    slot(i) = Param{std::string(buf)};
  }
  void bind_text(int i, const std::string& v) override { slot(i) = Param{v}; }
  void bind_blob(int i, const void* p, size_t n) override { slot(i) = Param{std::string(static_cast<const char*>(p), n)}; }
  bool step() override;
  int run() override;
  void reset() override {
    res_.reset();
    row_ = -1;
    blobs_.clear();
  }
  void clear_bindings() override {
    for (auto& p : params_) p = Param{};
  }
  bool is_null(int col) const override { return PQgetisnull(res_.get(), current(), col) != 0; }
  int64_t int64(int col) const override;
  double real(int col) const override {
    if (is_null(col)) return 0;
    return std::strtod(PQgetvalue(res_.get(), current(), col), nullptr);
  }
  std::string text(int col) const override {
    if (PQftype(res_.get(), col) == kBytea) return std::string(blob(col));
    return std::string(PQgetvalue(res_.get(), current(), col), static_cast<size_t>(PQgetlength(res_.get(), current(), col)));
  }
  std::string_view blob(int col) const override;

 private:
  struct Param {
    std::optional<std::string> value;
  };
  Param& slot(int i) {
    if (i < 1 || static_cast<size_t>(i) >= numbering_.size())
      throw Error("parameter " + std::to_string(i) + " is out of range (the statement has " + std::to_string(numbering_.size() - 1) + ")", "08P01");
    // A number the text skips (?1 and ?3 only) takes its value nowhere, as in SQLite.
    const int k = numbering_[static_cast<size_t>(i)];
    return k ? params_[static_cast<size_t>(k) - 1] : unused_;
  }
  int current() const {
    if (!res_ || row_ < 0 || row_ >= PQntuples(res_.get())) throw Error("no current row", "24000");
    return row_;
  }
  Result execute();

  PgDatabase& db_;
  std::vector<int> numbering_;  // SQLite's parameter n is $numbering_[n] (0: not in the text); before sql_, which fills it
  std::string sql_;
  std::vector<Param> params_;
  Param unused_;
  std::vector<Oid> types_;     // as the server inferred them
  Result res_;
  int row_ = -1;
  mutable std::map<int, std::string> blobs_;  // bytea columns of the current row, decoded
};

class PgDatabase final : public Database {
 public:
  PgDatabase(const std::string& url, bool read_only) : read_only_(read_only) {
    // connect_timeout before the URL's own words, so a URL that sets one wins.
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"10", "concierge", url.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      std::string why = conn_ ? trim(PQerrorMessage(conn_)) : "out of memory";
      if (conn_) PQfinish(conn_);
      throw Error("cannot connect: " + why, "08001");  // the caller names the database (redact_url)
    }
    prepare_session();
  }
  ~PgDatabase() override { PQfinish(conn_); }
  Engine engine() const override { return Engine::postgres; }
  int exec(const std::string& sql) override {
    Result r = check(PQexec(live(), sql.c_str()));
    const char* n = PQcmdTuples(r.get());
    return *n ? std::atoi(n) : 0;
  }
  std::unique_ptr<detail::Cursor> prepare(const std::string& sql) override { return std::make_unique<PgCursor>(*this, sql); }

  struct Prepared {
    std::string name;
    std::vector<Oid> types;
  };
  // The statement prepared on this connection, and its parameters' types.
  const Prepared& prepared(const std::string& pg_sql) {
    PGconn* c = live();
    if (auto it = prepared_.find(pg_sql); it != prepared_.end()) return it->second;
    if (prepared_.size() >= kMostPrepared) {
      check(PQexec(c, "DEALLOCATE ALL"));
      prepared_.clear();
    }
    Prepared p{"s" + std::to_string(++named_), {}};
    check(PQprepare(c, p.name.c_str(), pg_sql.c_str(), 0, nullptr));
    Result d = check(PQdescribePrepared(c, p.name.c_str()));
    for (int i = 0; i < PQnparams(d.get()); ++i) p.types.push_back(PQparamtype(d.get(), i));
    return prepared_.emplace(pg_sql, std::move(p)).first->second;
  }
  void begin_write() override { exec(kBeginWrite); }
  void commit() override {
    // After a failed statement PostgreSQL answers COMMIT by rolling back, without an error (its
    // tag says ROLLBACK), where SQLite would have kept the others: said aloud, never silent.
    Result r = check(PQexec(live(), "COMMIT"));
    if (std::string_view(PQcmdStatus(r.get())) == "ROLLBACK")
      throw Error("the transaction was rolled back: a statement in it had failed", "25P02");
  }
  void rollback() noexcept override {
    if (PQtransactionStatus(conn_) == PQTRANS_IDLE) return;
    PQclear(PQexec(conn_, "ROLLBACK"));
  }

  PGconn* conn() { return conn_; }
  // The connection, re-established when the server went away (a restart, a failover): the
  // statement that found it broken failed; the next one runs.
  PGconn* live() {
    if (PQstatus(conn_) == CONNECTION_BAD) {
      PQreset(conn_);
      prepared_.clear();  // they went with the old session
      if (PQstatus(conn_) != CONNECTION_OK) throw Error("the database connection is lost: " + trim(PQerrorMessage(conn_)), "08006");
      prepare_session();
    }
    return conn_;
  }
  Result check(PGresult* raw) {
    Result r(raw);
    const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    std::string what = trim(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_));
    if (what.rfind("ERROR:", 0) == 0) what = trim(what.substr(6));
    while (!what.empty() && what.front() == ' ') what.erase(0, 1);
    throw Error(what, state ? state : "08006");
  }

 private:
  void prepare_session() {
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);  // "already exists, skipping" is no news
    Result r(PQexec(conn_, read_only_ ? "SET default_transaction_read_only = on; SET client_encoding = 'UTF8'" : "SET client_encoding = 'UTF8'"));
    check(r.release());
  }
  PGconn* conn_ = nullptr;
  bool read_only_;
  std::map<std::string, Prepared> prepared_;
  uint64_t named_ = 0;
};

PgCursor::PgCursor(PgDatabase& db, const std::string& sql) : db_(db), sql_(postgres_parameters(sql, &numbering_)) {
  types_ = db_.prepared(sql_).types;
  params_.resize(types_.size());
}

Result PgCursor::execute() {
  const auto& p = db_.prepared(sql_);  // again: a reconnection or a full cache may have dropped it
  std::vector<const char*> values(params_.size());
  std::vector<int> lengths(params_.size()), formats(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& v = params_[i].value;
    formats[i] = types_[i] == kBytea ? 1 : 0;
    // libpq sends text parameters as C strings: a NUL would silently cut the value short.
    if (v && !formats[i] && v->find('\0') != std::string::npos)
      throw Error("parameter " + std::to_string(i + 1) + " holds a NUL character, which PostgreSQL cannot store as text", "22021");
    values[i] = v ? v->data() : nullptr;
    lengths[i] = v ? static_cast<int>(v->size()) : 0;
  }
  return db_.check(PQexecPrepared(db_.live(), p.name.c_str(), static_cast<int>(params_.size()), values.data(), lengths.data(), formats.data(), 0));
}

bool PgCursor::step() {
  if (!res_) res_ = execute();
  blobs_.clear();
  ++row_;
  return row_ < PQntuples(res_.get());
}

int PgCursor::run() {
  Result r = execute();
  const char* n = PQcmdTuples(r.get());
  return *n ? std::atoi(n) : 0;
}

int64_t PgCursor::int64(int col) const {
  if (is_null(col)) return 0;
  const char* v = PQgetvalue(res_.get(), current(), col);
  if (v[0] == 't' && v[1] == 0) return 1;  // a boolean
  if (v[0] == 'f' && v[1] == 0) return 0;
  int64_t out = 0;
  const char* end = v + PQgetlength(res_.get(), current(), col);
  auto [p, ec] = std::from_chars(v, end, out);
  if (ec == std::errc() && p == end) return out;
  return static_cast<int64_t>(std::strtod(v, nullptr));  // numeric (sum, avg): as SQLite, truncated
}

std::string_view PgCursor::blob(int col) const {
  const char* v = PQgetvalue(res_.get(), current(), col);
  const size_t n = static_cast<size_t>(PQgetlength(res_.get(), current(), col));
  if (PQftype(res_.get(), col) != kBytea) return std::string_view(v, n);
  auto it = blobs_.find(col);
  if (it == blobs_.end()) {
    size_t len = 0;
    unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(v), &len);
    if (!raw) throw Error("cannot decode a bytea value", "22P03");
    it = blobs_.emplace(col, std::string(reinterpret_cast<char*>(raw), len)).first;
    PQfreemem(raw);
  }
  return it->second;
}

}  // namespace

std::string postgres_parameters(std::string_view sql, std::vector<int>* numbering) {
  // SQLite numbers a bare `?` one past the highest so far and lets `?N` skip numbers;
  // PostgreSQL wants $1..$K each used with a type it can infer. So the numbers that appear are
  // renumbered densely, in order of appearance, and numbering[n] says which $k SQLite's n became.
  std::string out;
  out.reserve(sql.size() + 16);
  int highest = 0;
  std::vector<int> to_pg(1, 0);
  int next = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // a literal or a quoted name, doubled quotes inside
      size_t j = i + 1;
      while (j < sql.size() && !(sql[j] == c && !(j + 1 < sql.size() && sql[j + 1] == c))) j += (sql[j] == c) ? 2 : 1;
      out.append(sql.substr(i, j + 1 - i));
      i = j;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t j = sql.find('\n', i);
      if (j == std::string_view::npos) j = sql.size();
      out.append(sql.substr(i, j - i));
      i = j - 1;
    } else if (c == '?') {
      size_t j = i + 1;
      while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) ++j;
      if (j - i - 1 > 5) {  // past any parameter number SQLite allows (32766): left as it is, for PostgreSQL to refuse
        out.append(sql.substr(i, j - i));
        i = j - 1;
        continue;
      }
      const int n = j > i + 1 ? std::atoi(std::string(sql.substr(i + 1, j - i - 1)).c_str()) : highest + 1;
      highest = std::max(highest, n);
      if (static_cast<int>(to_pg.size()) <= n) to_pg.resize(static_cast<size_t>(n) + 1, 0);
      if (!to_pg[static_cast<size_t>(n)]) to_pg[static_cast<size_t>(n)] = ++next;
      out += "$" + std::to_string(to_pg[static_cast<size_t>(n)]);
      i = j - 1;
    } else {
      out += c;
    }
  }
  if (numbering) *numbering = std::move(to_pg);
  return out;
}

std::string postgres_ddl(std::string_view sql) {
  static const std::regex identity(R"(\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?)", std::regex::icase);
  static const std::regex integer(R"(\bINTEGER\b)", std::regex::icase);
  static const std::regex real(R"(\bREAL\b)", std::regex::icase);
  static const std::regex blob(R"(\bBLOB\b)", std::regex::icase);
  static const std::regex without_rowid(R"(\bWITHOUT\s+ROWID\b)", std::regex::icase);
  std::string s(sql);
  s = std::regex_replace(s, identity, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
  s = std::regex_replace(s, integer, "BIGINT");
  s = std::regex_replace(s, real, "DOUBLE PRECISION");
  s = std::regex_replace(s, blob, "BYTEA");
  return std::regex_replace(s, without_rowid, "");
}

std::string redact_url(const std::string& url) {
  // postgresql://user:password@host/... : the password between the first ':' after the scheme
  // and the '@'.
  static const std::regex pw(R"(^([a-z]+://[^:/@]*:)[^@]*@)", std::regex::icase);
  static const std::regex kv(R"((password\s*=\s*)('[^']*'|\S+))", std::regex::icase);
  return std::regex_replace(std::regex_replace(url, pw, "$1***@"), kv, "$1***");
}

std::unique_ptr<Database> open_postgres(const std::string& url, bool read_only) { return std::make_unique<PgDatabase>(url, read_only); }

namespace {

class PgNotifications final : public Notifications {
 public:
  PgNotifications(const std::string& url, const std::string& channel) : db_(url, false), listen_("LISTEN " + channel) { db_.exec(listen_); }
  bool wait(std::chrono::milliseconds timeout) override {
    PGconn* c = db_.conn();
    if (PQstatus(c) == CONNECTION_BAD) {
      db_.live();  // reconnects, or throws saying why
      db_.exec(listen_);
      return true;  // whatever was sent meanwhile is lost: the caller reads what it stands for
    }
    if (drain(c)) return true;
    pollfd p{PQsocket(c), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    PQconsumeInput(c);  // a broken connection shows at the next call
    return drain(c);
  }

 private:
  static bool drain(PGconn* c) {
    bool any = false;
    while (PGnotify* n = PQnotifies(c)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  }
  PgDatabase db_;
  std::string listen_;
};

}  // namespace

std::unique_ptr<Notifications> listen_postgres(const std::string& url, const std::string& channel) {
  return std::make_unique<PgNotifications>(url, channel);
}

}  // namespace concierge::sql
