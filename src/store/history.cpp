#include "store/history.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <algorithm>
#include <chrono>
#include <date/tz.h>
#include <set>
#include <spdlog/spdlog.h>

#include "store/store.hpp"

namespace concierge::store {

namespace {

constexpr size_t kSummaryMax = 500;
constexpr auto kRetentionEvery = std::chrono::hours(24);

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string rfc3339(int64_t ms) {
  return date::format("%FT%TZ", std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ms)));
}

// At most kSummaryMax characters (not bytes: a UTF-8 sequence is never cut), with a marker.
std::string clip(std::string s) {
  size_t chars = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == kSummaryMax - 1) break;
      ++chars;
    }
  }
  if (i >= s.size()) return s;
  s.resize(i);
  return s + "…";
}

const char* const kColumns =
    "h.id, h.time_ms, u.name, h.client_name, h.client_version, h.protocol_version, h.transport, h.tool, h.arguments, "
    "h.outcome, h.duration_us, h.summary";

Json row_json(SQLite::Statement& q) {
  Json args = q.getColumn(8).isNull() ? Json() : Json::parse(q.getColumn(8).getString(), nullptr, false);
  return Json{{"id", q.getColumn(0).getInt64()},
              {"time", rfc3339(q.getColumn(1).getInt64())},
              {"user", q.getColumn(2).getString()},
              {"client", {{"name", q.getColumn(3).getString()}, {"version", q.getColumn(4).getString()}}},
              {"protocolVersion", q.getColumn(5).getString()},
              {"transport", q.getColumn(6).getString()},
              {"tool", q.getColumn(7).getString()},
              {"arguments", args.is_discarded() ? Json() : args},
              {"outcome", q.getColumn(9).getString()},
              {"durationMs", static_cast<double>(q.getColumn(10).getInt64()) / 1000.0},
              {"summary", q.getColumn(11).getString()}};
}

// ---- redaction ----

bool secret_key(std::string key) {
  for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const char* const kNames[] = {"token",  "password",   "passwd",     "secret",  "authorization", "api_key",
                                       "apikey", "api-key",    "cookie",     "credential", "private_key", "passphrase"};
  return std::any_of(std::begin(kNames), std::end(kNames), [&](const char* n) { return key.find(n) != std::string::npos; });
}

bool schema_marks_sensitive(const Json& schema) {
  return schema.is_object() && (schema.value("writeOnly", false) || schema.value("format", "") == "password");
}

// The subschema a property or an array item is validated against, or null.
const Json* sub_schema(const Json* schema, const std::string& key) {
  if (!schema || !schema->is_object()) return nullptr;
  if (auto p = schema->find("properties"); p != schema->end() && p->is_object())
    if (auto s = p->find(key); s != p->end()) return &*s;
  if (auto a = schema->find("additionalProperties"); a != schema->end() && a->is_object()) return &*a;
  return nullptr;
}
const Json* item_schema(const Json* schema) {
  if (!schema || !schema->is_object()) return nullptr;
  auto i = schema->find("items");
  return i != schema->end() && i->is_object() ? &*i : nullptr;
}

// Walks args beside its schema; on_secret gets each secret value (replaced when `out` is set).
template <class F>
void walk(const Json& value, const Json* schema, F&& on_secret, Json* out) {
  if (value.is_object()) {
    for (const auto& [k, v] : value.items()) {
      const Json* s = sub_schema(schema, k);
      if (secret_key(k) || (s && schema_marks_sensitive(*s))) {
        on_secret(v);
        if (out) (*out)[k] = "[redacted]";
      } else {
        walk(v, s, on_secret, out ? &(*out)[k] : nullptr);
      }
    }
  } else if (value.is_array()) {
    const Json* s = item_schema(schema);
    for (size_t i = 0; i < value.size(); ++i) walk(value[i], s, on_secret, out ? &(*out)[i] : nullptr);
  }
}

void collect_values(const Json& v, std::vector<std::string>& out) {
  if (v.is_string()) out.push_back(v.get<std::string>());
  else if (v.is_number()) out.push_back(v.dump());
  else if (v.is_structured())
    for (const auto& x : v) collect_values(x, out);
}

}  // namespace

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::Ok: return "ok";
    case Outcome::ToolError: return "tool_error";
    case Outcome::ProtocolError: return "protocol_error";
    case Outcome::Cancelled: return "cancelled";
  }
  return "ok";
}

Json redact(const Json& args, const Json& input_schema) {
  Json out = args;
  walk(args, &input_schema, [](const Json&) {}, &out);
  return out;
}

std::string redact_text(std::string text, const Json& args, const Json& input_schema) {
  std::vector<std::string> secrets;
  walk(args, &input_schema, [&](const Json& v) { collect_values(v, secrets); }, nullptr);
  // Longest first, so a secret containing another is cut whole.
  std::sort(secrets.begin(), secrets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& s : secrets) {
    if (s.size() < 3) continue;  // "1" or "ok" would shred the text and hide nothing
    for (size_t pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos + 10)) text.replace(pos, s.size(), "[redacted]");
  }
  return text;
}

History::History(Store& store, HistoryOptions options) : store_(store), options_(options) {
  apply_retention();
  writer_ = std::thread([this] { writer_loop(); });
}

History::~History() {
  {
    std::lock_guard l(m_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void History::record(CallRecord r) {
  r.summary = clip(std::move(r.summary));
  std::unique_lock l(m_);
  if (stopping_) throw std::runtime_error("history is closed");
  queue_.push_back(std::move(r));
  const uint64_t mine = ++enqueued_;
  work_cv_.notify_one();
  done_cv_.wait(l, [&] { return committed_ >= mine; });
  for (const auto& f : failures_)
    if (mine >= f.first && mine <= f.last) throw std::runtime_error("history commit failed: " + f.error);
}

void History::writer_loop() {
  auto next_retention = std::chrono::steady_clock::now() + kRetentionEvery;
  std::unique_lock l(m_);
  for (;;) {
    work_cv_.wait_until(l, next_retention, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (stopping_) return;
      l.unlock();
      apply_retention();
      next_retention = std::chrono::steady_clock::now() + kRetentionEvery;
      l.lock();
      continue;
    }
    // Everything queued so far goes in one transaction: callers that arrived while the last
    // commit was on disk share this one.
    std::vector<CallRecord> batch(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    const uint64_t last = enqueued_, first = last - batch.size() + 1;
    l.unlock();
    std::string error;
    try {
      commit_batch(batch);
    } catch (const std::exception& e) {
      error = e.what();
      spdlog::error("history: commit of {} call(s) failed: {}", batch.size(), error);
    }
    l.lock();
    if (!error.empty()) {
      failures_.push_back(Failure{first, last, error});
      if (failures_.size() > 64) failures_.pop_front();
    }
    committed_ = last;
    ++commits_;
    done_cv_.notify_all();
  }
}

void History::commit_batch(std::vector<CallRecord>& batch) {
  std::vector<int64_t> uids;
  uids.reserve(batch.size());
  for (const auto& r : batch) uids.push_back(store_.user_id(r.user));
  store_.write([&](SQLite::Database& db) {
    SQLite::Transaction tx(db);
    SQLite::Statement ins(db,
                          "INSERT INTO history (user_id, time_ms, client_name, client_version, protocol_version, transport, tool, "
                          "arguments, outcome, duration_us, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& r = batch[i];
      ins.bind(1, uids[i]);
      ins.bind(2, r.time_ms);
      ins.bind(3, r.client_name);
      ins.bind(4, r.client_version);
      ins.bind(5, r.protocol_version);
      ins.bind(6, r.transport);
      ins.bind(7, r.tool);
      if (r.arguments.is_null()) ins.bind(8);
      else ins.bind(8, r.arguments.dump(-1, ' ', false, Json::error_handler_t::replace));
      ins.bind(9, std::string(to_string(r.outcome)));
      ins.bind(10, r.duration_us);
      ins.bind(11, r.summary);
      ins.exec();
      ins.reset();
    }
    tx.commit();
    return 0;
  });
}

uint64_t History::commits() const {
  std::lock_guard l(m_);
  return commits_;
}

History::Page History::query(const Query& q) {
  const int64_t uid = store_.user_id(q.user);
  std::string sql = std::string("SELECT ") + kColumns + " FROM history h JOIN users u ON u.id = h.user_id WHERE h.user_id = ?";
  if (q.from_ms) sql += " AND h.time_ms >= ?";
  if (q.to_ms) sql += " AND h.time_ms < ?";
  if (q.tool) sql += " AND h.tool = ?";
  if (q.before_id) sql += " AND h.id < ?";
  sql += " ORDER BY h.id DESC LIMIT ?";
  return store_.read([&](SQLite::Database& db) {
    SQLite::Statement s(db, sql);
    int i = 1;
    s.bind(i++, uid);
    if (q.from_ms) s.bind(i++, *q.from_ms);
    if (q.to_ms) s.bind(i++, *q.to_ms);
    if (q.tool) s.bind(i++, *q.tool);
    if (q.before_id) s.bind(i++, *q.before_id);
    s.bind(i++, static_cast<int64_t>(q.limit) + 1);  // one more says whether there are more
    Page page;
    while (s.executeStep()) {
      if (page.rows.size() == q.limit) {
        page.next_before_id = page.rows.back()["id"].get<int64_t>();
        break;
      }
      page.rows.push_back(row_json(s));
    }
    return page;
  });
}

std::vector<std::string> History::tools(const std::string& user) {
  const int64_t uid = store_.user_id(user);
  return store_.read([&](SQLite::Database& db) {
    SQLite::Statement s(db, "SELECT DISTINCT tool FROM history WHERE user_id = ? AND tool != '' ORDER BY tool");
    s.bind(1, uid);
    std::vector<std::string> out;
    while (s.executeStep()) out.push_back(s.getColumn(0).getString());
    return out;
  });
}

std::vector<std::string> History::days(const std::string& user, const std::string& time_zone) {
  const int64_t uid = store_.user_id(user);
  const date::time_zone* zone = date::locate_zone(time_zone);
  // Quarter-hour buckets: every zone's offset is a multiple of 15 minutes, so a bucket never
  // straddles midnight, and there are few of them whatever the number of calls.
  constexpr int64_t kBucket = 15 * 60 * 1000;
  std::set<std::string, std::greater<>> out;
  store_.read([&](SQLite::Database& db) {
    SQLite::Statement s(db, "SELECT DISTINCT time_ms / ? FROM history WHERE user_id = ?");
    s.bind(1, kBucket);
    s.bind(2, uid);
    while (s.executeStep()) {
      std::chrono::sys_time<std::chrono::milliseconds> t{std::chrono::milliseconds(s.getColumn(0).getInt64() * kBucket)};
      out.insert(date::format("%F", date::floor<date::days>(date::make_zoned(zone, t).get_local_time())));
    }
    return 0;
  });
  std::vector<std::string> v(out.begin(), out.end());
  if (v.size() > 366) v.resize(366);
  return v;
}

size_t History::count(const std::string& user) {
  const int64_t uid = store_.user_id(user);
  return store_.read([&](SQLite::Database& db) {
    SQLite::Statement s(db, "SELECT COUNT(*) FROM history WHERE user_id = ?");
    s.bind(1, uid);
    s.executeStep();
    return static_cast<size_t>(s.getColumn(0).getInt64());
  });
}

size_t History::export_jsonl(const std::string& user, std::ostream& out) {
  const int64_t uid = store_.user_id(user);
  return store_.read([&](SQLite::Database& db) {
    SQLite::Statement s(db, std::string("SELECT ") + kColumns + " FROM history h JOIN users u ON u.id = h.user_id WHERE h.user_id = ? ORDER BY h.id");
    s.bind(1, uid);
    size_t n = 0;
    while (s.executeStep()) {
      out << row_json(s).dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
      ++n;
    }
    return n;
  });
}

size_t History::purge(const std::string& user, std::optional<int64_t> before_ms) {
  const int64_t uid = store_.user_id(user);
  return store_.write([&](SQLite::Database& db) {
    SQLite::Statement s(db, before_ms ? "DELETE FROM history WHERE user_id = ? AND time_ms < ?" : "DELETE FROM history WHERE user_id = ?");
    s.bind(1, uid);
    if (before_ms) s.bind(2, *before_ms);
    return static_cast<size_t>(s.exec());
  });
}

size_t History::apply_retention() {
  if (options_.retention_days <= 0) return 0;
  const int64_t cutoff = now_ms() - static_cast<int64_t>(options_.retention_days) * 86'400'000;
  size_t n = store_.write([&](SQLite::Database& db) {
    SQLite::Statement s(db, "DELETE FROM history WHERE time_ms < ?");
    s.bind(1, cutoff);
    return static_cast<size_t>(s.exec());
  });
  if (n) spdlog::info("history: {} call(s) older than {} days removed", n, options_.retention_days);
  return n;
}

}  // namespace concierge::store
