#pragma once
// The transport-agnostic MCP core. A transport hands it one message at a time with a Connection;
// replies and notifications come back through the Connection's Sink. One binder maps method
// names to typed handlers; params are checked before a handler runs; every request gets exactly
// one reply.
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/call_outcome.hpp"
#include "server/context.hpp"
#include "common/json.hpp"
#include "server/jsonrpc.hpp"
#include "server/protocol.hpp"
#include "server/registry.hpp"
#include "server/request_state.hpp"
#include "server/tasks.hpp"
#include "server/thread_pool.hpp"

namespace concierge {

struct ServerOptions {
  std::string name = "concierge";
  std::string title = "Concierge";
  std::string version = CONCIERGE_VERSION;
  std::string description = "Your calendar, mail, music, video and bookings for AI assistants.";
  std::string website_url;
  std::string instructions;
  Json icons;  // null or an array of Icon
  size_t page_size = 100;
  std::chrono::milliseconds client_request_timeout{60000};
  // HMAC key for requestState; random per process when empty. Instances behind one load
  // balancer share it, so a retry may land on any of them.
  std::string state_key;
  // Starts every handshake-era session id and every task id (`serve --instance NAME` gives
  // "NAME."): a load balancer routes a session's requests (Mcp-Session-Id) and a task's
  // (tasks/* carry its id in Mcp-Name) to the instance holding it by this prefix alone.
  std::string instance_prefix;
  size_t min_workers = 4, max_workers = 128;
  int list_ttl_ms = 60000;  // caching hint on list results (2026-07-28)
  // Tasks (tasks.hpp): how long a task stays retrievable (default, and the most a 2025-11-25
  // client may ask for), the polling hint, and how many may be unfinished at once (each one
  // holds a worker while it runs or waits for input).
  int64_t task_ttl_ms = 3'600'000, task_max_ttl_ms = 86'400'000;
  int task_poll_interval_ms = 500;
  size_t max_live_tasks = 64;
};

// What the core reports of every tools/call it answers (or drops, cancelled), before the reply
// leaves: the command history records it. The arguments are as the client sent them; the
// observer redacts. A throwing observer turns the reply into an internal error, so a call is
// never acknowledged without its record.
struct ToolCallEvent {
  using Outcome = CallOutcome;
  const RequestContext& ctx;
  std::string tool;                  // empty when params named none
  const Json& arguments;             // null when params had none
  const RegisteredTool* definition;  // null for an unknown tool
  Outcome outcome;
  std::chrono::microseconds duration;
  const Json& reply;                 // the JSON-RPC reply; null when cancelled
};
using ToolCallObserver = std::function<void(const ToolCallEvent&)>;

// Replies to one request, exactly once. A second reply is refused; a Responder destroyed without
// replying sends -32603 (a handler bug must not leave a client waiting forever).
class Responder {
 public:
  Responder(Server& server, std::shared_ptr<RequestContext> ctx);
  ~Responder();
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  bool reply(Json result);
  bool fail(int code, std::string_view message, const Json& data = nullptr);
  bool replied() const { return done_.load(); }
  RequestContext& context() { return *ctx_; }

 private:
  bool finish(Json message);
  Server& server_;
  std::shared_ptr<RequestContext> ctx_;
  std::atomic<bool> done_{false};
};

class Server {
 public:
  // Methods are served in the legacy era (initialize handshake), the modern era (per-request
  // _meta), or both.
  enum Eras : unsigned { kLegacy = 1, kModern = 2, kBoth = 3 };
  using AsyncHandler = std::function<void(const Json& params, std::shared_ptr<Responder>)>;

  explicit Server(ServerOptions options = {});
  ~Server();

  ToolRegistry& tools() { return tools_; }
  ResourceRegistry& resources() { return resources_; }
  PromptRegistry& prompts() { return prompts_; }
  const ServerOptions& options() const { return options_; }
  TaskManager& tasks() { return tasks_; }

  // `user` owns the session: resource-updated notifications for other users never reach it.
  std::shared_ptr<Session> new_session(std::shared_ptr<Sink> notify_sink, std::string user = "local");

  // One wire message (a line on stdio, a POST body on HTTP). Malformed JSON -> -32700.
  void handle_text(std::string_view text, const Connection& conn);
  void handle(const Json& message, const Connection& conn);

  // Typed binding: P is parsed from params by `P parse_params(const Json&, std::type_identity<P>)`
  // (found by ADL); a parse failure is -32602 before the handler runs.
  // The protocol methods bind this way (methods.cpp, protocol.hpp).
  template <class P>
  void bind(std::string method, Eras eras, std::function<Json(const P&, RequestContext&)> fn, bool run_inline = false) {
    bind_async(std::move(method), eras, [fn = std::move(fn)](const Json& params, std::shared_ptr<Responder> r) {
      P p = parse_params(params, std::type_identity<P>{});
      r->reply(fn(p, r->context()));
    }, run_inline);
  }
  void bind_async(std::string method, Eras eras, AsyncHandler fn, bool run_inline = false);

  // Set before serving; called on the replying thread (see ToolCallEvent).
  void set_tool_call_observer(ToolCallObserver observer) { call_observer_ = std::move(observer); }
  // Cleans a tools/call handler's exception message of the call's secrets before it is logged.
  using Redactor = std::function<std::string(const RequestContext& ctx, std::string text)>;
  void set_log_redactor(Redactor r) { log_redactor_ = std::move(r); }
  std::string redact_for_log(const RequestContext& ctx, std::string text) const {
    return log_redactor_ ? log_redactor_(ctx, std::move(text)) : text;
  }

  // Where a user connects a service in the browser (the server's /connect pages), or nullopt
  // when the server has none for it. When a tool throws NeedsConnection for a service with a
  // URL, the client is sent there: URL-mode elicitation where it can, else the tool error
  // carries the URL (invoke.cpp). Set before serving.
  using ConnectUrl = std::function<std::optional<std::string>(const std::string& user, const std::string& service)>;
  void set_connect_url(ConnectUrl f) { connect_url_ = std::move(f); }
  std::optional<std::string> connect_url(const std::string& user, const std::string& service) const {
    return connect_url_ ? connect_url_(user, service) : std::nullopt;
  }
  // The user finished connecting `service`: each of their sessions that was sent a URL
  // elicitation for it (2025-11-25) gets notifications/elicitation/complete.
  void connection_completed(const std::string& user, const std::string& service);

  // Scopes (HTTP with authentication): every scope a request needs, by what it names (the tool
  // of a tools/call, the resource of resources/read or /subscribe, the prompt of prompts/get,
  // the ref of completion/complete). Empty when a valid caller is enough, or when it names
  // nothing known (the handler answers that).
  std::vector<std::string> required_scopes(const std::string& method, const Json& params) const;
  // The -32003 refusal of a request `granted` does not cover (its data lists requiredScopes),
  // or nullopt. The dispatcher refuses with it; the HTTP transport asks first, to answer 403.
  std::optional<rpc::Error> missing_scope(const Json& message, const std::optional<std::set<std::string>>& granted) const;

  // Unsolicited notifications. A resource of one user's (`user` set) is announced only to that
  // user's sessions and subscriptions; nullopt: a resource every user shares.
  void notify_resource_updated(const std::string& uri, const std::optional<std::string>& user = std::nullopt);
  void notify_list_changed(const std::string& what);  // "tools", "resources", "prompts"

  // Cancels one in-flight request of a connection (notifications/cancelled; on HTTP, the client
  // closing a 2026-07-28 response stream).
  void cancel_request(const Connection& conn, const Json& id);
  // Shutdown: cancel every in-flight request, then wait for handlers to finish.
  void cancel_all();
  bool wait_idle(std::chrono::milliseconds timeout) { return pool_.wait_idle(timeout); }

  // The server's identity as a revision's Implementation object.
  const Json& server_info(Revision r) const;
  Json capabilities(Revision r) const;

 private:
  friend class Responder;
  friend class RequestContext;
  struct Method {
    unsigned eras;
    AsyncHandler fn;
    bool run_inline;
    // For a method whose cost depends on its params (tools/call): true when this call is quick.
    std::function<bool(const Json& params)> quick;
  };

  void handle_request(const Json& msg, const Connection& conn);
  void handle_notification(const Json& msg, const Connection& conn);
  void handle_response(const Json& msg, const Connection& conn);
  void handle_batch(const Json& batch, const Connection& conn);
  void run(const Method& m, const Json& params, std::shared_ptr<Responder> r);
  void initialize(const Json& msg, const Connection& conn);
  Json input_required_result(const InputRequired& ir, RequestContext& ctx, const Json& params);
  void finish_request(RequestContext& ctx);
  void register_protocol_methods();

  // Handlers of the protocol methods.
  Json list_tools(const PageParams& page, RequestContext& ctx);
  Json call_tool(const CallToolParams& params, RequestContext& ctx);
  Json list_resources(const PageParams& page, RequestContext& ctx);
  Json list_resource_templates(const PageParams& page, RequestContext& ctx);
  Json read_resource(const UriParams& params, RequestContext& ctx);
  Json list_prompts(const PageParams& page, RequestContext& ctx);
  Json get_prompt(const GetPromptParams& params, RequestContext& ctx);
  Json complete(const CompleteParams& params, RequestContext& ctx);
  Json discover(RequestContext& ctx);
  void cacheable(Json& result, RequestContext& ctx, int ttl_ms, bool shared = false) const;

  void observe_call(RequestContext& ctx, Json& message, bool cancelled);
  void count_request(RequestContext& ctx, const Json& message, bool cancelled);
  Json build_server_info(Revision r) const;
  mutable std::once_flag server_info_once_;
  mutable Json server_info_[static_cast<int>(kLatest) + 1];

  ServerOptions options_;
  ToolCallObserver call_observer_;
  Redactor log_redactor_;
  ConnectUrl connect_url_;
  ToolRegistry tools_;
  ResourceRegistry resources_;
  PromptRegistry prompts_;
  RequestStateSealer sealer_;
  std::unordered_map<std::string, Method> methods_;
  std::mutex sessions_m_;
  std::vector<std::weak_ptr<Session>> sessions_;
  size_t sessions_live_ = 0;  // sessions_.size() after the last prune
  // Open subscriptions/listen requests (2026-07-28): their filter and where to send.
  struct Subscription {
    Json id;  // the listen request's id, echoed as io.modelcontextprotocol/subscriptionId
    bool tools = false, prompts = false, resources = false;
    std::set<std::string> uris;
    std::shared_ptr<Responder> responder;  // held open until the client cancels
  };
  void listen(const Json& params, std::shared_ptr<Responder> r);
  void notify_subscribers(const std::function<bool(const Subscription&)>& wants, const std::string& method, Json params);
  std::mutex subs_m_;
  std::vector<Subscription> subs_;
  TaskManager tasks_{*this, pool_};  // holds a reference only: pool_ is built next
  ThreadPool pool_;  // last: its workers use everything above
};

}  // namespace concierge
