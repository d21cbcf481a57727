#pragma once
// What a transport hands the core with each message, and what a handler sees of its request.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/cancellation.hpp"
#include "common/json.hpp"
#include "common/log.hpp"
#include "server/revision.hpp"

namespace concierge {

class Server;
class Responder;

enum class LogLevel { Debug, Info, Notice, Warning, Error, Critical, Alert, Emergency };
std::optional<LogLevel> parse_log_level(std::string_view s);
std::string_view to_string(LogLevel l);

// Where outgoing messages go. A transport implements it; writes must be safe from any thread.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void send(const Json& message) = 0;
  // A request whose reply was suppressed (cancelled): batch collectors stop waiting for it.
  virtual void skip(const Json& /*id*/) {}
  // Ends the current response stream early where the transport has one (legacy Streamable HTTP
  // SSE): the client reconnects with Last-Event-ID and gets the rest. A no-op elsewhere.
  virtual void close_stream() {}
};

// A reply or error the client sends back for one of our server->client requests.
struct PendingCall {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  Json response;
};

// Per-connection (stdio) or per-session (HTTP) state. The legacy era keeps its handshake here;
// the modern era uses it only to find in-flight requests to cancel.
struct Session {
  std::string id;
  std::string user = "local";  // whose it is: notifications for another user's resources never reach it
  std::shared_ptr<Sink> notify_sink;  // unsolicited notifications (list_changed, updated)

  std::mutex m;
  bool initialized = false;  // initialize answered
  Revision revision = kLatestLegacy;
  Json client_capabilities = Json::object();
  Json client_info = Json::object();
  std::optional<LogLevel> log_level;
  std::set<std::string> subscriptions;
  std::unordered_map<std::string, CancelToken> inflight;  // request id (dumped) -> token
  int64_t next_request_id = 1;
  std::unordered_map<std::string, std::shared_ptr<PendingCall>> pending;  // our requests
  // URL elicitations sent to this session (2025-11-25, -32042) and not yet completed: the
  // service to connect -> its elicitationId (notifications/elicitation/complete names it).
  std::map<std::string, std::string> url_elicitations;
};

struct Connection {
  std::shared_ptr<Session> session;
  std::shared_ptr<Sink> sink;  // replies to this message go here
  std::string transport = "stdio";
  std::string user = "local";
  // The transport's thread is dedicated to this message (HTTP POST): quick methods and tools
  // may run on it rather than hop to the worker pool (see ToolDefinition::quick).
  bool run_quick_inline = false;
  // The scopes the caller's token grants (HTTP with authentication); nullopt: unrestricted
  // (stdio, HTTP without --auth).
  std::optional<std::set<std::string>> scopes;
  // The W3C traceparent the request came with (HTTP; checked by logging::valid_traceparent),
  // carried into its log lines.
  std::string traceparent;
};

// Whether `granted` (nullopt: unrestricted) covers `scope` (empty: needs only a valid caller).
inline bool scope_allows(const std::optional<std::set<std::string>>& granted, const std::string& scope) {
  return !granted || scope.empty() || granted->count(scope) > 0;
}

struct InputRequest {
  std::string key;
  std::string method;  // elicitation/create, sampling/createMessage, roots/list
  Json params;
};

// Thrown by RequestContext::input in the modern era when a response is not yet at hand; the
// core turns it into an InputRequiredResult.
struct InputRequired {
  std::vector<InputRequest> requests;
};

class RequestContext {
 public:
  const Json& id() const { return id_; }
  const std::string& method() const { return method_; }
  Revision revision() const { return revision_; }
  bool modern() const { return is_modern(revision_); }
  const Json& client_capabilities() const { return client_capabilities_; }
  const Json& client_info() const { return client_info_; }
  const std::string& user() const { return conn_.user; }
  const std::string& transport() const { return conn_.transport; }
  // Whether the caller's scopes cover `scope` (always, for unrestricted callers).
  bool allows(const std::string& scope) const { return scope_allows(conn_.scopes, scope); }
  const std::optional<std::set<std::string>>& scopes() const { return conn_.scopes; }
  const CancelToken& cancel() const { return cancel_; }
  const Json& meta() const { return meta_; }
  std::chrono::steady_clock::time_point started() const { return started_; }
  // tools/call only: the params as received (the history observer needs name and arguments).
  const Json& call_params() const { return call_params_; }
  // What the request's log lines carry (common/log.hpp).
  logging::Context log_context() const;

  // Request-scoped notifications: a log message (sent only at or above the client's level), and
  // progress (sent only when the request carried a progressToken).
  void log(LogLevel level, const Json& data, std::string_view logger = {}) const;
  void progress(double value, std::optional<double> total = {}, std::string_view message = {}) const;
  bool wants_progress() const { return !progress_token_.is_null(); }
  // Asks the transport to close this request's response stream now (see Sink::close_stream).
  void close_stream() const { conn_.sink->close_stream(); }
  Server& server() const { return *server_; }

  // Asks the client for input: elicitation/create, sampling/createMessage or roots/list.
  // Legacy era: a server->client request, waiting for its response. Modern era: the response
  // carried by this retry's inputResponses, or InputRequired is thrown to ask for it.
  // Inside a task body the task handles it instead (tasks.hpp).
  // Missing client capability -> rpc::Error -32021.
  Json input(std::string key, std::string method, Json params);
  // Several at once: every response, or (modern) one InputRequired naming all that are missing.
  std::map<std::string, Json> inputs(std::vector<InputRequest> requests);

  // For work that outlives its request (a task body): a copy with the request's identity,
  // capabilities and progress token, but its own cancellation and sink, none of the request's
  // multi-round-trip answers, and `hook` answering ctx.input() instead.
  using InputHook = std::function<std::map<std::string, Json>(RequestContext&, std::vector<InputRequest>)>;
  std::shared_ptr<RequestContext> detached(CancelToken cancel, std::shared_ptr<Sink> sink, InputHook hook) const;
  bool is_detached() const { return bool(input_hook_); }
  const std::shared_ptr<Session>& session() const { return conn_.session; }
  // Sends a message on this request's own stream (e.g. a server->client request it waits on).
  void send(const Json& message) const { conn_.sink->send(message); }

 private:
  friend class Server;
  friend class Responder;
  void check_capability(const InputRequest& r) const;
  Json ask_client(const InputRequest& r);

  Server* server_ = nullptr;
  Connection conn_;
  Json id_;
  std::string method_;
  Revision revision_ = kLatestLegacy;
  Json client_capabilities_ = Json::object();
  Json client_info_ = Json::object();
  Json meta_ = Json::object();
  Json call_params_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  Json progress_token_;
  std::optional<LogLevel> log_level_;
  bool log_all_ = false;
  CancelToken cancel_;
  std::map<std::string, Json> input_responses_;  // modern: from requestState + inputResponses
  // Set on a task's context only (tasks.hpp): inputs() hands its requests here instead, to park
  // the task (2026-07-28) or route them through tasks/result (2025-11-25).
  InputHook input_hook_;
};

}  // namespace concierge
