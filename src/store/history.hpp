#pragma once
// The command history: every tools/call is durable before its reply leaves, at a few
// microseconds a call. record() appends the row to a journal file (history.journal, beside the
// database) with one write(2): from then on it survives the process being killed. A background
// thread moves journaled rows into SQLite in large transactions (group commit: every 20 ms, or
// sooner under load). Two journal files take turns: when the active one has grown past a few
// MB, appends move to the other, and the full one is emptied once its rows are in SQLite. Reads first wait for
// what is journaled to be in SQLite, so they see every acknowledged call. At start, rows a crash
// left in the journal are replayed (exactly once: SQLite keeps the last sequence it took in).
// Each process journals to a slot of its own (history.journal for the first, history-N.journal
// beside it), held with an flock for its lifetime, with its own sequence numbers (one row per
// slot in history_journals): processes sharing a data directory never replay, renumber or empty
// each other's journal. Slots whose process is gone are replayed by the next start.
// Measured why: an SQLite commit per call, even grouped, cost 40-100 us of CPU per call here,
// more than the whole rest of a tools/call.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/call_outcome.hpp"
#include "common/json.hpp"

namespace concierge::store {

class Store;

using Outcome = CallOutcome;

// What one call may take up in the history: its client sends the arguments, names and versions,
// so each is capped where it is recorded (record()).
inline constexpr size_t kHistoryArgumentsMax = 16 * 1024;  // bytes of JSON text
inline constexpr size_t kHistoryLabelMax = 256;            // characters of a client name, version, tool...
inline constexpr int kHistoryDepthMax = 128;               // nesting levels of arguments kept

struct CallRecord {
  int64_t time_ms = 0;  // unix ms
  std::string user, client_name, client_version, protocol_version, transport, tool;  // record() keeps kHistoryLabelMax characters
  // Already redacted (redact()). record() keeps at most kHistoryArgumentsMax bytes of JSON text;
  // past that, or past kHistoryDepthMax levels, it keeps {"truncated": true, "originalBytes": N,
  // "prefix": "<the start of the JSON text>"} (or "reason" for the depth) instead.
  Json arguments;
  Outcome outcome = Outcome::Ok;
  int64_t duration_us = 0;
  std::string summary;  // record() keeps at most 500 characters
};

struct HistoryOptions {
  int retention_days = 90;  // 0 keeps everything
  // The history's share of the database, in MiB (arguments, summaries and names, plus a fixed
  // estimate per row for the rest). Past it the oldest calls go first, down to 90% of it, so the
  // purge is not repeated on every call. 0: no cap.
  int max_mb = 256;
};

class History {
 public:
  explicit History(Store& store, HistoryOptions options = {});
  ~History();
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  // Returns once the row is durable (journaled). Throws std::runtime_error when it is not.
  void record(CallRecord r);

  struct Query {
    std::string user;
    std::optional<int64_t> from_ms, to_ms;  // [from, to)
    std::optional<std::string> tool;
    size_t limit = 50;
    std::optional<int64_t> before_id;
  };
  struct Page {
    Json rows = Json::array();  // most recent first
    std::optional<int64_t> next_before_id;  // set when more rows match
  };
  // A row: {id, time (RFC 3339 UTC, ms), user, client {name, version}, protocolVersion,
  // transport, tool, arguments, outcome, durationMs, summary}.
  Page query(const Query& q);
  std::vector<std::string> tools(const std::string& user);  // distinct, sorted
  // Distinct days (YYYY-MM-DD) in that zone with calls, newest first, at most 366.
  std::vector<std::string> days(const std::string& user, const std::string& time_zone);
  size_t count(const std::string& user);
  size_t export_jsonl(const std::string& user, std::ostream& out);  // oldest first
  size_t purge(const std::string& user, std::optional<int64_t> before_ms);  // nullopt: everything
  size_t apply_retention();  // all users; also at start and daily
  // The oldest calls of all users past options.max_mb; also at start, daily, and whenever the
  // running estimate passes the cap. Returns the calls removed.
  size_t apply_size_cap();
  uint64_t commits() const;  // SQLite transactions that took journaled rows in
  // /healthz and /metrics: calls journaled and not yet in SQLite, and whether the last attempt to
  // append to the journal, or to move rows into SQLite, failed (and why).
  struct JournalState {
    size_t backlog = 0;
    bool append_failing = false, ingest_failing = false;
    std::string error;
  };
  JournalState journal_state() const;
  // Waits until every row recorded so far is in SQLite (reads call it).
  void sync();

 private:
  struct Pending {
    uint64_t seq;
    CallRecord r;
    std::string arguments;  // r.arguments as JSON text ("" for none), serialized once
  };
  void ingest_loop();
  uint64_t ingest(const std::vector<Pending>& batch, int slot);  // one transaction; returns the bytes it added
  void open_journal();
  uint64_t replay_journal(int slot, const int fds[2]);  // returns the slot's last sequence number
  void recover_abandoned();  // replays the slots of processes that died (their lock is free)

  Store& store_;
  HistoryOptions options_;
  std::filesystem::path journal_path_[2];
  int journal_fd_[2] = {-1, -1};
  int slot_ = -1;               // this process's journal slot (open_journal())
  int64_t journals_base_ = 0;   // added to a slot where the database names it (journals_base())
  int active_ = 0;              // the file appends go to
  size_t journal_bytes_ = 0;    // in the active file
  uint64_t retired_last_ = 0;   // the other file holds rows up to this seq (0: it is empty)
  mutable std::mutex m_;
  std::condition_variable work_cv_, ingested_cv_;
  std::vector<Pending> queue_;  // journaled, not yet in SQLite
  uint64_t next_seq_ = 1, ingested_seq_ = 0, commits_ = 0;
  std::atomic<uint64_t> bytes_estimate_{0};  // the history's size as apply_size_cap counts it, plus what was ingested since
  bool flush_wanted_ = false, stopping_ = false;
  bool append_failing_ = false, ingest_failing_ = false;
  std::string last_error_;
  std::thread ingester_;
};

// A copy of args with the value of every secret replaced by "[redacted]": keys named like token,
// password, secret, authorization, api key, cookie, credential or private key (any depth, in
// arrays too), and properties the tool's input schema marks sensitive ("writeOnly": true or
// "format": "password"). Arguments nested deeper than kHistoryDepthMax are not copied: the
// result is {"truncated": true, "reason": ...}. Both functions walk the JSON with a stack of
// their own, never the call stack, whatever its depth.
Json redact(const Json& args, const Json& input_schema);
// Text (a log line, an error message, a summary) with every secret value of args cut out.
std::string redact_text(std::string text, const Json& args, const Json& input_schema);

}  // namespace concierge::store
