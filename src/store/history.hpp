#pragma once
// The command history: every tools/call, committed before its reply leaves. Concurrent calls
// share a commit (group commit): a writer thread takes every record queued so far, inserts them
// in one transaction, then wakes their callers.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "server/json.hpp"

namespace concierge::store {

class Store;

enum class Outcome { Ok, ToolError, ProtocolError, Cancelled };
std::string_view to_string(Outcome o);

struct CallRecord {
  int64_t time_ms = 0;  // unix ms
  std::string user, client_name, client_version, protocol_version, transport, tool;
  Json arguments;  // already redacted (redact())
  Outcome outcome = Outcome::Ok;
  int64_t duration_us = 0;
  std::string summary;  // record() keeps at most 500 characters
};

struct HistoryOptions {
  int retention_days = 90;  // 0 keeps everything
};

class History {
 public:
  explicit History(Store& store, HistoryOptions options = {});
  ~History();  // commits what is queued
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  // Returns once the row is committed. Throws std::runtime_error when the commit failed.
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
  uint64_t commits() const;  // transactions so far (group commit batches)

 private:
  void writer_loop();
  void commit_batch(std::vector<CallRecord>& batch);

  Store& store_;
  HistoryOptions options_;
  mutable std::mutex m_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<CallRecord> queue_;
  uint64_t enqueued_ = 0, committed_ = 0, commits_ = 0;
  struct Failure {
    uint64_t first, last;
    std::string error;
  };
  std::deque<Failure> failures_;  // recent failed batches, for their callers
  bool stopping_ = false;
  std::thread writer_;
};

// A copy of args with the value of every secret replaced by "[redacted]": keys named like token,
// password, secret, authorization, api key, cookie, credential or private key (any depth, in
// arrays too), and properties the tool's input schema marks sensitive ("writeOnly": true or
// "format": "password").
Json redact(const Json& args, const Json& input_schema);
// Text (a log line, an error message, a summary) with every secret value of args cut out.
std::string redact_text(std::string text, const Json& args, const Json& input_schema);

}  // namespace concierge::store
