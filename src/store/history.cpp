#include "store/history.hpp"

#include "store/sql.hpp"
#include <algorithm>
#include <chrono>
#include <date/tz.h>
#include <set>
#include <cerrno>
#include <cstring>
#include <array>
#include <random>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include "common/private_file.hpp"
#include "store/store.hpp"

namespace concierge::store {

namespace {

constexpr size_t kSummaryMax = 500;
// What a history row takes besides its text columns (ids, times, the short labels, the two index
// entries), roughly; the size cap counts it so that a flood of tiny calls is bounded too.
constexpr uint64_t kRowOverhead = 100;
// The history's size as the cap counts it, by SQL (the same sum ingest() adds up).
std::string row_bytes(const sql::Database& db) {
  auto len = [&](const char* col) { return sql::byte_length(db, col); };
  return "(" + std::to_string(kRowOverhead) + " + COALESCE(" + len("arguments") + ", 0) + " + len("summary") + " + " + len("client_name") + " + " +
         len("client_version") + " + " + len("tool") + ")";
}

uint64_t cap_bytes(const HistoryOptions& o) { return static_cast<uint64_t>(o.max_mb) * 1024 * 1024; }
constexpr auto kRetentionEvery = std::chrono::hours(24);

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string rfc3339(int64_t ms) {
  return date::format("%FT%TZ", std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ms)));
}

// At most `max` characters (not bytes: a UTF-8 sequence is never cut), with a marker.
std::string clip(std::string s, size_t max = kSummaryMax) {
  size_t chars = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == max - 1) break;
      ++chars;
    }
  }
  if (i >= s.size()) return s;
  s.resize(i);
  return s + "…";
}

// The longest start of s of at most `bytes` bytes that ends on a UTF-8 character boundary.
std::string_view utf8_prefix(std::string_view s, size_t bytes) {
  if (s.size() <= bytes) return s;
  size_t i = bytes;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return s.substr(0, i);
}

// Whether v nests deeper than `max` levels (a scalar is level 0), found without recursion.
bool deeper_than(const Json& v, int max) {
  std::vector<std::pair<const Json*, int>> stack{{&v, 0}};
  while (!stack.empty()) {
    auto [j, depth] = stack.back();
    stack.pop_back();
    if (!j->is_structured()) continue;
    if (depth + 1 > max) return true;
    for (const auto& x : *j) stack.emplace_back(&x, depth + 1);
  }
  return false;
}

Json too_deep() {
  return Json{{"truncated", true}, {"reason", "nested deeper than " + std::to_string(kHistoryDepthMax) + " levels"}};
}

// The arguments as stored: their JSON text when it fits kHistoryArgumentsMax, else a marker
// (valid JSON itself) with the original size and as much of the start as fits.
std::string stored_arguments(const Json& a) {
  if (a.is_null()) return "";
  if (deeper_than(a, kHistoryDepthMax)) return too_deep().dump();  // dump() recurses: never on unbounded depth
  std::string text = a.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() <= kHistoryArgumentsMax) return text;
  // Escaping can grow the prefix (a quote becomes \", a control character \u00XX): shrink
  // until the marker fits.
  for (size_t keep = kHistoryArgumentsMax - 128;; keep = keep * 3 / 4) {
    std::string marker = Json{{"truncated", true}, {"originalBytes", text.size()}, {"prefix", std::string(utf8_prefix(text, keep))}}.dump(
        -1, ' ', false, Json::error_handler_t::replace);
    if (marker.size() <= kHistoryArgumentsMax) return marker;
  }
}

const char* const kColumns =
    "h.id, h.time_ms, u.name, h.client_name, h.client_version, h.protocol_version, h.transport, h.tool, h.arguments, "
    "h.outcome, h.duration_us, h.summary";

Json row_json(sql::Statement& q) {
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

// Walks args beside its schema; on_secret gets each secret value (replaced when `out`, a copy
// of args, is set). Its own stack: client-supplied depth never reaches the call stack.
template <class F>
void walk(const Json& value, const Json* schema, F&& on_secret, Json* out) {
  struct Item {
    const Json* value;
    const Json* schema;
    Json* out;
  };
  std::vector<Item> stack{{&value, schema, out}};
  while (!stack.empty()) {
    const Item it = stack.back();
    stack.pop_back();
    if (it.value->is_object()) {
      for (const auto& [k, v] : it.value->items()) {
        const Json* s = sub_schema(it.schema, k);
        if (secret_key(k) || (s && schema_marks_sensitive(*s))) {
          on_secret(v);
          if (it.out) (*it.out)[k] = "[redacted]";  // an existing key: nothing is inserted, no pointer moves
        } else if (v.is_structured()) {
          stack.push_back({&v, s, it.out ? &(*it.out)[k] : nullptr});
        }
      }
    } else if (it.value->is_array()) {
      const Json* s = item_schema(it.schema);
      for (size_t i = 0; i < it.value->size(); ++i)
        if ((*it.value)[i].is_structured()) stack.push_back({&(*it.value)[i], s, it.out ? &(*it.out)[i] : nullptr});
    }
  }
}

// Every scalar of v as text (its own stack, as walk()).
void collect_values(const Json& v, std::vector<std::string>& out) {
  std::vector<const Json*> stack{&v};
  while (!stack.empty()) {
    const Json* j = stack.back();
    stack.pop_back();
    if (j->is_string()) out.push_back(j->get<std::string>());
    else if (j->is_number()) out.push_back(j->dump());
    else if (j->is_structured())
      for (const auto& x : *j) stack.push_back(&x);
  }
}

}  // namespace

Json redact(const Json& args, const Json& input_schema) {
  if (deeper_than(args, kHistoryDepthMax)) return too_deep();  // copying recurses per level
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

namespace {
constexpr auto kIngestEvery = std::chrono::milliseconds(20);
constexpr auto kRecoverEvery = std::chrono::seconds(2);  // 128 failed opens when no other instance ran
constexpr size_t kIngestBatch = 512;              // wake the ingester early past this many rows
constexpr size_t kJournalMax = 4 * 1024 * 1024;   // past this, appends move to the other journal file

// A JSON string literal, escaped.
void append_string(std::string& out, const std::string& s) {
  out += Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The journal line of a record, written by hand: this is on every call's path, and building a
// Json object for it cost more than the write(2) itself.
std::string journal_line(uint64_t seq, const CallRecord& r, const std::string& arguments) {
  std::string out;
  out.reserve(160 + arguments.size() + r.summary.size());
  out += "{\"seq\":" + std::to_string(seq) + ",\"r\":{\"t\":" + std::to_string(r.time_ms) + ",\"u\":";
  append_string(out, r.user);
  out += ",\"cn\":";
  append_string(out, r.client_name);
  out += ",\"cv\":";
  append_string(out, r.client_version);
  out += ",\"pv\":";
  append_string(out, r.protocol_version);
  out += ",\"tr\":";
  append_string(out, r.transport);
  out += ",\"tool\":";
  append_string(out, r.tool);
  out += ",\"a\":" + (arguments.empty() ? std::string("null") : arguments);
  out += ",\"o\":\"" + std::string(to_string(r.outcome)) + "\",\"d\":" + std::to_string(r.duration_us) + ",\"s\":";
  append_string(out, r.summary);
  out += "}}\n";
  return out;
}

CallRecord record_from(const Json& j) {
  CallRecord r;
  r.time_ms = j.at("t").get<int64_t>();
  r.user = j.at("u").get<std::string>();
  r.client_name = j.at("cn").get<std::string>();
  r.client_version = j.at("cv").get<std::string>();
  r.protocol_version = j.at("pv").get<std::string>();
  r.transport = j.at("tr").get<std::string>();
  r.tool = j.at("tool").get<std::string>();
  r.arguments = j.at("a");
  const std::string o = j.at("o").get<std::string>();
  for (auto x : {Outcome::Ok, Outcome::ToolError, Outcome::ProtocolError, Outcome::Cancelled})
    if (to_string(x) == o) r.outcome = x;
  r.duration_us = j.at("d").get<int64_t>();
  r.summary = j.at("s").get<std::string>();
  return r;
}

bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}
}  // namespace

namespace {
constexpr int kJournalSlots = 64;

// Slot 0 keeps the original names, so a journal an older version left behind is replayed.
std::array<std::filesystem::path, 2> slot_paths(const std::filesystem::path& dir, int slot) {
  const std::string base = slot == 0 ? "history.journal" : "history-" + std::to_string(slot) + ".journal";
  return {dir / base, dir / (base + ".2")};
}
}  // namespace

History::History(Store& store, HistoryOptions options) : store_(store), options_(options) {
  if (!store.path().empty()) open_journal();  // in memory (listing the tools): nowhere to journal, nothing to recover
  ingester_ = std::thread([this] { ingest_loop(); });  // applies the retention first, off the start-up path
}

History::~History() {
  {
    std::lock_guard l(m_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (ingester_.joinable()) ingester_.join();
  for (int fd : journal_fd_)
    if (fd >= 0) ::close(fd);  // closing drops the slot's lock
}

// On SQLite the database is this data directory's own, and its slots are 0..N. On PostgreSQL
// instances on other machines (other data directories) share the table: a directory's slots
// start at a random base of its own, kept in <data dir>/history.id.
static int64_t journals_base(const std::filesystem::path& dir) {
  std::random_device rd;
  const int64_t fresh = (((static_cast<int64_t>(rd()) << 21) ^ rd()) % (int64_t(1) << 40) + 1) << 10;
  const auto path = dir / "history.id";
  const std::string text = create_private_file(path, std::to_string(fresh) + "\n", "the history journals' id");
  int64_t id = 0;
  try {
    id = std::stoll(text);
  } catch (const std::exception&) {
  }
  if (id <= 0) throw std::runtime_error(path.string() + " holds no journal id");
  return id;
}

void History::open_journal() {
  const auto dir = store_.path().parent_path();
  if (store_.engine() == sql::Engine::postgres) journals_base_ = journals_base(dir);
  for (int k = 0; k < kJournalSlots; ++k) {
    const bool take = slot_ < 0;  // the first free slot becomes ours; later ones are only recovered
    const auto paths = slot_paths(dir, k);
    int fds[2] = {-1, -1};
    auto close_both = [&] {
      for (int& fd : fds)
        if (fd >= 0) ::close(std::exchange(fd, -1));
    };
    for (int i = 0; i < 2; ++i) {
      fds[i] = ::open(paths[i].c_str(), O_RDWR | O_APPEND | O_CLOEXEC | (take ? O_CREAT : 0), 0600);
      if (fds[i] < 0 && (take || errno != ENOENT)) {
        const std::string why = std::strerror(errno);
        close_both();
        throw std::runtime_error("cannot open " + paths[i].string() + ": " + why);
      }
    }
    if (fds[0] < 0 || fds[1] < 0 || ::flock(fds[0], LOCK_EX | LOCK_NB) != 0) {
      close_both();  // not there, or a live process's
      continue;
    }
    const uint64_t last = replay_journal(k, fds);
    if (!take) {
      close_both();
      continue;
    }
    slot_ = k;
    journal_path_[0] = paths[0];
    journal_path_[1] = paths[1];
    journal_fd_[0] = fds[0];
    journal_fd_[1] = fds[1];
    next_seq_ = last + 1;
    ingested_seq_ = last;
  }
  if (slot_ < 0)
    throw std::runtime_error("every history journal in " + dir.string() + " is in use (" + std::to_string(kJournalSlots) +
                             " Concierge processes on one data directory)");
}

// Another instance on this data directory that died (SIGKILL, a crash) leaves its slot's lock
// free: whoever notices first takes its acknowledged calls in, without waiting for a restart.
void History::recover_abandoned() {
  const auto dir = store_.path().parent_path();
  for (int k = 0; k < kJournalSlots; ++k) {
    if (k == slot_) continue;
    const auto paths = slot_paths(dir, k);
    int fds[2] = {::open(paths[0].c_str(), O_RDWR | O_APPEND | O_CLOEXEC), ::open(paths[1].c_str(), O_RDWR | O_APPEND | O_CLOEXEC)};
    struct stat a {}, b {};
    if (fds[0] >= 0 && fds[1] >= 0 && ::flock(fds[0], LOCK_EX | LOCK_NB) == 0 && ::fstat(fds[0], &a) == 0 && ::fstat(fds[1], &b) == 0 &&
        a.st_size + b.st_size > 0)
      replay_journal(k, fds);
    for (int fd : fds)
      if (fd >= 0) ::close(fd);  // drops the lock
  }
}

uint64_t History::replay_journal(int slot, const int fds[2]) {
  std::string text;
  char buf[65536];
  for (int i = 0; i < 2; ++i) {
    for (off_t off = 0;;) {
      ssize_t n = ::pread(fds[i], buf, sizeof buf, off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text.append(buf, static_cast<size_t>(n));
      off += n;
    }
    if (!text.empty() && text.back() != '\n') text += '\n';  // a torn last line stays alone
  }
  const uint64_t taken = store_.read([&](sql::Database& db) {
    sql::Statement q(db, "SELECT last_seq FROM history_journals WHERE slot = ?");
    q.bind(1, journals_base_ + slot);
    return q.executeStep() ? static_cast<uint64_t>(q.getColumn(0).getInt64()) : uint64_t{0};
  });
  std::vector<Pending> missing;
  uint64_t max_seq = taken;
  size_t bad = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (line.empty()) continue;
    Json j = Json::parse(line, nullptr, false);
    try {
      uint64_t seq = j.at("seq").get<uint64_t>();
      max_seq = std::max(max_seq, seq);
      if (seq > taken) {
        CallRecord r = record_from(j.at("r"));
        std::string args = stored_arguments(r.arguments);
        missing.push_back(Pending{seq, std::move(r), std::move(args)});
      }
    } catch (const std::exception&) {
      ++bad;  // a write cut short by a crash: never acknowledged
    }
  }
  if (bad) spdlog::warn("history: {} unreadable journal line(s) skipped", bad);
  if (!missing.empty()) {
    std::sort(missing.begin(), missing.end(), [](const Pending& a, const Pending& b) { return a.seq < b.seq; });
    ingest(missing, slot);
    spdlog::info("history: {} call(s) recovered from the journal", missing.size());
  }
  for (int i = 0; i < 2; ++i)
    if (::ftruncate(fds[i], 0) != 0) spdlog::warn("history: cannot empty the journal: {}", std::strerror(errno));
  return max_seq;
}

void History::record(CallRecord r) {
  r.summary = clip(std::move(r.summary));
  for (auto* label : {&r.user, &r.client_name, &r.client_version, &r.protocol_version, &r.transport, &r.tool})
    *label = clip(std::move(*label), kHistoryLabelMax);
  std::string args = stored_arguments(r.arguments);
  r.arguments = nullptr;  // from here on the text is what counts
  std::unique_lock l(m_);
  if (journal_bytes_ > kJournalMax && retired_last_ == 0) {
    // Sustained load never lets the journal drain: appends move to the other file, and this
    // one is emptied once the ingester has taken its rows in.
    retired_last_ = next_seq_ - 1;
    active_ ^= 1;
    journal_bytes_ = 0;
  }
  const uint64_t seq = next_seq_++;
  const std::string line = journal_line(seq, r, args);
  if (journal_fd_[active_] >= 0) {
    if (!write_all(journal_fd_[active_], line)) {
      append_failing_ = true;
      last_error_ = "cannot append to " + journal_path_[active_].string() + ": " + std::strerror(errno);
      throw std::runtime_error(last_error_);
    }
    append_failing_ = false;
    journal_bytes_ += line.size();
  }
  queue_.push_back(Pending{seq, std::move(r), std::move(args)});
  if (queue_.size() >= kIngestBatch) work_cv_.notify_one();
}

History::JournalState History::journal_state() const {
  std::lock_guard l(m_);
  return JournalState{queue_.size(), append_failing_, ingest_failing_, append_failing_ || ingest_failing_ ? last_error_ : std::string()};
}

void History::sync() {
  std::unique_lock l(m_);
  const uint64_t target = next_seq_ - 1;
  if (ingested_seq_ >= target) return;
  flush_wanted_ = true;
  work_cv_.notify_one();
  ingested_cv_.wait(l, [&] { return ingested_seq_ >= target || stopping_; });
}

void History::ingest_loop() {
  auto next_retention = std::chrono::steady_clock::now();
  auto next_recovery = next_retention + kRecoverEvery;  // the constructor just did it
  std::unique_lock l(m_);
  for (;;) {
    work_cv_.wait_for(l, kIngestEvery, [&] { return stopping_ || flush_wanted_ || queue_.size() >= kIngestBatch; });
    flush_wanted_ = false;
    if (!queue_.empty()) {
      std::vector<Pending> batch;
      batch.swap(queue_);
      l.unlock();
      bool ok = true;
      try {
        bytes_estimate_ += ingest(batch, slot_);
      } catch (const std::exception& e) {
        ok = false;  // the rows stay journaled; a later round (or the next start) takes them in
        spdlog::error("history: moving {} call(s) into the database failed: {}", batch.size(), e.what());
        std::lock_guard failed(m_);
        ingest_failing_ = true;
        last_error_ = std::string("moving calls into the database failed: ") + e.what();
      }
      if (ok && options_.max_mb > 0 && bytes_estimate_ > cap_bytes(options_)) {
        try {
          apply_size_cap();
        } catch (const std::exception& e) {
          spdlog::error("history: keeping it under {} MiB failed: {}", options_.max_mb, e.what());
        }
      }
      l.lock();
      if (ok) {
        ingested_seq_ = batch.back().seq;
        ingest_failing_ = false;
        ++commits_;
      } else {
        queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
        l.unlock();
        std::this_thread::sleep_for(std::chrono::seconds(1));
        l.lock();
      }
    }
    // Files whose rows are all in the database start afresh (writers hold m_ to append, so
    // nothing lands between the check and the truncation).
    if (retired_last_ != 0 && ingested_seq_ >= retired_last_) {
      if (::ftruncate(journal_fd_[active_ ^ 1], 0) == 0) retired_last_ = 0;
      else spdlog::warn("history: cannot empty the journal: {}", std::strerror(errno));
    }
    if (queue_.empty() && journal_bytes_ > 0 && retired_last_ == 0) {
      if (::ftruncate(journal_fd_[active_], 0) == 0) journal_bytes_ = 0;
      else spdlog::warn("history: cannot empty the journal: {}", std::strerror(errno));
    }
    ingested_cv_.notify_all();
    if (stopping_ && queue_.empty()) return;
    if (slot_ >= 0 && std::chrono::steady_clock::now() >= next_recovery) {
      next_recovery = std::chrono::steady_clock::now() + kRecoverEvery;
      l.unlock();
      try {
        recover_abandoned();
      } catch (const std::exception& e) {
        spdlog::error("history: recovering another instance's journal failed: {}", e.what());
      }
      l.lock();
    }
    if (std::chrono::steady_clock::now() >= next_retention) {
      next_retention = std::chrono::steady_clock::now() + kRetentionEvery;
      l.unlock();
      try {
        apply_retention();
        apply_size_cap();
      } catch (const std::exception& e) {
        spdlog::error("history: retention failed: {}", e.what());
      }
      l.lock();
    }
  }
}

uint64_t History::ingest(const std::vector<Pending>& batch, int slot) {
  uint64_t bytes = 0;
  std::vector<int64_t> uids;
  uids.reserve(batch.size());
  for (const auto& p : batch) uids.push_back(store_.user_id(p.r.user));
  store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    sql::Statement ins(db,
                          "INSERT INTO history (user_id, time_ms, client_name, client_version, protocol_version, transport, tool, "
                          "arguments, outcome, duration_us, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& r = batch[i].r;
      const auto& args = batch[i].arguments;
      ins.bind(1, uids[i]);
      ins.bind(2, r.time_ms);
      ins.bind(3, r.client_name);
      ins.bind(4, r.client_version);
      ins.bind(5, r.protocol_version);
      ins.bind(6, r.transport);
      ins.bind(7, r.tool);
      if (args.empty()) ins.bind(8);
      else ins.bind(8, args);
      ins.bind(9, std::string(to_string(r.outcome)));
      ins.bind(10, r.duration_us);
      ins.bind(11, r.summary);
      ins.exec();
      ins.reset();
      bytes += kRowOverhead + args.size() + r.summary.size() + r.client_name.size() + r.client_version.size() + r.tool.size();
    }
    // The same transaction remembers how far the journal has been taken in: a replay after a
    // crash between this commit and the journal's truncation inserts nothing twice.
    sql::Statement mark(db, "INSERT INTO history_journals (slot, last_seq) VALUES (?, ?) "
                               "ON CONFLICT (slot) DO UPDATE SET last_seq = excluded.last_seq");
    mark.bind(1, journals_base_ + slot);
    mark.bind(2, static_cast<int64_t>(batch.back().seq));
    mark.exec();
    tx.commit();
    return 0;
  });
  return bytes;
}

uint64_t History::commits() const {
  std::lock_guard l(m_);
  return commits_;
}

History::Page History::query(const Query& q) {
  sync();
  const int64_t uid = store_.user_id(q.user);
  std::string sql = std::string("SELECT ") + kColumns + " FROM history h JOIN users u ON u.id = h.user_id WHERE h.user_id = ?";
  if (q.from_ms) sql += " AND h.time_ms >= ?";
  if (q.to_ms) sql += " AND h.time_ms < ?";
  if (q.tool) sql += " AND h.tool = ?";
  if (q.before_id) sql += " AND h.id < ?";
  sql += " ORDER BY h.id DESC LIMIT ?";
  return store_.read([&](sql::Database& db) {
    sql::Statement s(db, sql);
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
  sync();
  const int64_t uid = store_.user_id(user);
  return store_.read([&](sql::Database& db) {
    sql::Statement s(db, "SELECT DISTINCT tool FROM history WHERE user_id = ? AND tool != '' ORDER BY tool");
    s.bind(1, uid);
    std::vector<std::string> out;
    while (s.executeStep()) out.push_back(s.getColumn(0).getString());
    return out;
  });
}

std::vector<std::string> History::days(const std::string& user, const std::string& time_zone) {
  sync();
  const int64_t uid = store_.user_id(user);
  const date::time_zone* zone = date::locate_zone(time_zone);
  // Quarter-hour buckets: every zone's offset is a multiple of 15 minutes, so a bucket never
  // straddles midnight, and there are few of them whatever the number of calls.
  constexpr int64_t kBucket = 15 * 60 * 1000;
  std::set<std::string, std::greater<>> out;
  store_.read([&](sql::Database& db) {
    sql::Statement s(db, "SELECT DISTINCT time_ms / ? FROM history WHERE user_id = ?");
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
  sync();
  const int64_t uid = store_.user_id(user);
  return store_.read([&](sql::Database& db) {
    sql::Statement s(db, "SELECT COUNT(*) FROM history WHERE user_id = ?");
    s.bind(1, uid);
    s.executeStep();
    return static_cast<size_t>(s.getColumn(0).getInt64());
  });
}

size_t History::export_jsonl(const std::string& user, std::ostream& out) {
  sync();
  const int64_t uid = store_.user_id(user);
  return store_.read([&](sql::Database& db) {
    sql::Statement s(db, std::string("SELECT ") + kColumns + " FROM history h JOIN users u ON u.id = h.user_id WHERE h.user_id = ? ORDER BY h.id");
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
  sync();
  const int64_t uid = store_.user_id(user);
  return store_.write([&](sql::Database& db) {
    sql::Statement s(db, before_ms ? "DELETE FROM history WHERE user_id = ? AND time_ms < ?" : "DELETE FROM history WHERE user_id = ?");
    s.bind(1, uid);
    if (before_ms) s.bind(2, *before_ms);
    return static_cast<size_t>(s.exec());
  });
}

size_t History::apply_retention() {
  if (options_.retention_days <= 0) return 0;
  const int64_t cutoff = now_ms() - static_cast<int64_t>(options_.retention_days) * 86'400'000;
  size_t n = store_.write([&](sql::Database& db) {
    sql::Statement s(db, "DELETE FROM history WHERE time_ms < ?");
    s.bind(1, cutoff);
    return static_cast<size_t>(s.exec());
  });
  if (n) spdlog::info("history: {} call(s) older than {} days removed", n, options_.retention_days);
  return n;
}

size_t History::apply_size_cap() {
  if (options_.max_mb <= 0) return 0;
  const uint64_t cap = cap_bytes(options_), target = cap / 10 * 9;
  // Counted afresh each time (another process may share the database, a purge may have run):
  // the running estimate only decides when to look. Counted first on a reader, so the usual
  // answer (under the cap) holds no write lock for the length of a scan.
  auto sum = [](const sql::Database& db) { return "SELECT COALESCE(SUM(" + row_bytes(db) + "), 0) FROM history"; };
  const auto seen = store_.read([&](sql::Database& db) { return static_cast<uint64_t>(db.execAndGet(sum(db)).getInt64()); });
  if (seen <= cap) {
    bytes_estimate_ = seen;
    return 0;
  }
  auto [removed, left] = store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    const auto total = static_cast<uint64_t>(db.execAndGet(sum(db)).getInt64());
    if (total <= cap) return std::pair<size_t, uint64_t>(0, total);
    // The oldest rows (lowest ids) whose sizes add up to what must go.
    sql::Statement q(db, "SELECT id, " + row_bytes(db) + " FROM history ORDER BY id");
    uint64_t freed = 0;
    int64_t last = 0;
    while (total - freed > target && q.executeStep()) {
      last = q.getColumn(0).getInt64();
      freed += static_cast<uint64_t>(q.getColumn(1).getInt64());
    }
    q.reset();
    sql::Statement del(db, "DELETE FROM history WHERE id <= ?");
    del.bind(1, last);
    const auto n = static_cast<size_t>(del.exec());
    tx.commit();
    return std::pair<size_t, uint64_t>(n, total - freed);
  });
  bytes_estimate_ = left;
  if (removed) spdlog::info("history: {} oldest call(s) removed to keep it under {} MiB", removed, options_.max_mb);
  return removed;
}

}  // namespace concierge::store
