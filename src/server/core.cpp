#include "server/core.hpp"

#include <spdlog/spdlog.h>

#include "common/log.hpp"
#include "common/log_text.hpp"
#include "common/metrics.hpp"
#include "server/params.hpp"

namespace concierge {

namespace {
constexpr const char* kMetaVersion = "io.modelcontextprotocol/protocolVersion";
constexpr const char* kMetaCaps = "io.modelcontextprotocol/clientCapabilities";
constexpr const char* kMetaClientInfo = "io.modelcontextprotocol/clientInfo";
constexpr const char* kMetaLogLevel = "io.modelcontextprotocol/logLevel";
constexpr const char* kMetaServerInfo = "io.modelcontextprotocol/serverInfo";

const Json kEmpty = Json::object();

const Json& params_of(const Json& msg) {
  auto it = msg.find("params");
  return it == msg.end() ? kEmpty : *it;
}

const Json& meta_of(const Json& params) {
  auto it = params.find("_meta");
  return (it != params.end() && it->is_object()) ? *it : kEmpty;
}

// Methods that may answer with an InputRequiredResult (2026-07-28, MRTR).
bool mrtr_method(std::string_view m) { return m == "tools/call" || m == "prompts/get" || m == "resources/read"; }

// What /metrics counts of the core (metrics.hpp). Label values come from bounded sets: the
// methods bound here and the tools registered, else "unknown".
struct CoreMetrics {
  metrics::Counter& requests = metrics::Registry::global().counter(
      "concierge_requests_total", "JSON-RPC requests answered, by method and outcome (ok, tool_error, protocol_error, cancelled, input_required).",
      {"method", "outcome"});
  metrics::Counter& tool_calls = metrics::Registry::global().counter(
      "concierge_tool_calls_total", "tools/call requests finished, by tool and outcome as the history records them.", {"tool", "outcome"});
  metrics::Histogram& tool_seconds = metrics::Registry::global().histogram(
      "concierge_tool_call_duration_seconds", "Time from a tools/call's arrival to its reply, by tool.", {"tool"},
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
};
CoreMetrics& core_metrics() {
  static CoreMetrics m;
  return m;
}

// Collects a batch's replies and sends them as one array once every request has answered.
class BatchSink : public Sink {
 public:
  BatchSink(std::shared_ptr<Sink> out, size_t expected) : out_(std::move(out)), expected_(expected) {}
  void send(const Json& m) override {
    if (!m.contains("id") || m.contains("method")) { out_->send(m); return; }  // notifications pass
    add(m);
  }
  void skip(const Json&) override { add(nullptr); }

 private:
  void add(const Json& reply) {
    Json ready;
    {
      std::lock_guard l(m_);
      if (!reply.is_null()) replies_.push_back(reply);
      if (++seen_ != expected_ || replies_.empty()) return;
      ready = std::move(replies_);
    }
    out_->send(ready);
  }
  std::shared_ptr<Sink> out_;
  std::mutex m_;
  size_t expected_, seen_ = 0;
  Json replies_ = Json::array();
};
}  // namespace

// ---- Log levels -----------------------------------------------------------------------------

static constexpr std::array<std::string_view, 8> kLevels{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"};

std::optional<LogLevel> parse_log_level(std::string_view s) {
  for (size_t i = 0; i < kLevels.size(); ++i)
    if (kLevels[i] == s) return static_cast<LogLevel>(i);
  return std::nullopt;
}
std::string_view to_string(LogLevel l) { return kLevels[static_cast<size_t>(l)]; }

// ---- RequestContext -------------------------------------------------------------------------

std::shared_ptr<RequestContext> RequestContext::detached(CancelToken cancel, std::shared_ptr<Sink> sink, InputHook hook) const {
  auto copy = std::make_shared<RequestContext>(*this);
  copy->cancel_ = std::move(cancel);
  copy->conn_.sink = std::move(sink);
  copy->input_responses_.clear();  // a task's input keys are its own
  copy->input_hook_ = std::move(hook);
  return copy;
}

logging::Context RequestContext::log_context() const {
  logging::Context c{.request_id = id_.dump(), .user = conn_.user, .method = method_, .traceparent = conn_.traceparent};
  if (auto n = call_params_.find("name"); n != call_params_.end() && n->is_string()) c.tool = n->get<std::string>().substr(0, 128);
  return c;
}

void RequestContext::log(LogLevel level, const Json& data, std::string_view logger) const {
  if (cancel_.cancelled()) return;
  if (modern()) {
    if (!log_level_ || level < *log_level_) return;  // no level in _meta: no log messages
  } else {
    std::lock_guard l(conn_.session->m);
    if (conn_.session->log_level && level < *conn_.session->log_level) return;
  }
  Json p{{"level", to_string(level)}, {"data", data}};
  if (!logger.empty()) p["logger"] = logger;
  conn_.sink->send(rpc::make_notification("notifications/message", std::move(p)));
}

void RequestContext::progress(double value, std::optional<double> total, std::string_view message) const {
  if (progress_token_.is_null() || cancel_.cancelled()) return;
  Json p{{"progressToken", progress_token_}, {"progress", value}};
  if (total) p["total"] = *total;
  if (!message.empty() && revision_ >= Revision::V2025_03_26) p["message"] = message;
  conn_.sink->send(rpc::make_notification("notifications/progress", std::move(p)));
}

void RequestContext::check_capability(const InputRequest& r) const {
  const Json& caps = client_capabilities_;
  Json need;
  if (r.method == "elicitation/create") {
    bool url = r.params.value("mode", "form") == "url";
    // Elicitation arrived in 2025-06-18 and URL mode in 2025-11-25: an older client can't be
    // asked, whatever its (open-ended) capabilities object says.
    if (revision_ < (url ? Revision::V2025_11_25 : Revision::V2025_06_18))
      throw rpc::Error(rpc::kMissingRequiredClientCapability,
                       std::string("This request needs ") + (url ? "URL-mode " : "") + "elicitation, which protocol " +
                           std::string(to_string(revision_)) + " does not have",
                       Json{{"requiredCapabilities", Json{{"elicitation", Json{{url ? "url" : "form", Json::object()}}}}}});
    auto e = caps.find("elicitation");
    bool ok = e != caps.end() && e->is_object() &&
              (url ? e->contains("url") : (e->empty() || e->contains("form")));
    if (!ok) need = Json{{"elicitation", Json{{url ? "url" : "form", Json::object()}}}};
  } else if (r.method == "sampling/createMessage") {
    if (!caps.contains("sampling")) need = Json{{"sampling", Json::object()}};
  } else if (r.method == "roots/list") {
    if (!caps.contains("roots")) need = Json{{"roots", Json::object()}};
  } else {
    throw std::logic_error("not a client request: " + r.method);
  }
  if (!need.is_null())
    throw rpc::Error(rpc::kMissingRequiredClientCapability,
                     "This request needs a client capability the client did not declare: " + need.begin().key(),
                     Json{{"requiredCapabilities", need}});
}

Json RequestContext::input(std::string key, std::string method, Json params) {
  auto all = inputs({InputRequest{key, std::move(method), std::move(params)}});
  return std::move(all[key]);
}

std::map<std::string, Json> RequestContext::inputs(std::vector<InputRequest> requests) {
  for (const auto& r : requests) check_capability(r);
  if (input_hook_) return input_hook_(*this, std::move(requests));  // a task's body
  std::map<std::string, Json> out;
  if (!modern()) {
    for (const auto& r : requests) out[r.key] = ask_client(r);
    return out;
  }
  InputRequired missing;
  for (auto& r : requests) {
    auto it = input_responses_.find(r.key);
    if (it != input_responses_.end()) out[r.key] = it->second;
    else missing.requests.push_back(std::move(r));
  }
  if (!missing.requests.empty()) throw missing;
  return out;
}

Json RequestContext::ask_client(const InputRequest& r) {
  auto& s = *conn_.session;
  auto call = std::make_shared<PendingCall>();
  Json id;
  {
    std::lock_guard l(s.m);
    id = s.next_request_id++;
    s.pending[id.dump()] = call;
  }
  Json params = r.params;
  // Related-request tracking for transports with per-request streams (2025-11-25 HTTP).
  conn_.sink->send(rpc::make_request(id, r.method, std::move(params)));
  auto timeout = server_->options().client_request_timeout;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool answered = false;
  {
    std::unique_lock l(call->m);
    while (!call->done && !cancel_.cancelled() && std::chrono::steady_clock::now() < deadline)
      call->cv.wait_for(l, std::chrono::milliseconds(50));
    answered = call->done;
  }
  {
    std::lock_guard l(s.m);
    s.pending.erase(id.dump());
  }
  if (!answered) {
    bool cancelled = cancel_.cancelled();
    conn_.sink->send(rpc::make_notification(
        "notifications/cancelled",
        Json{{"requestId", id}, {"reason", cancelled ? "the originating request was cancelled" : "timed out"}}));
    if (cancelled) throw rpc::Error(rpc::kRequestCancelled, "cancelled");
    throw rpc::Error(rpc::kInternalError, "The client did not answer " + r.method + " within " +
                                              std::to_string(timeout.count() / 1000) + " s");
  }
  const Json& resp = call->response;
  if (auto e = resp.find("error"); e != resp.end())
    throw rpc::Error(rpc::kInternalError, "The client refused " + r.method + ": " + e->value("message", "error"),
                     Json{{"clientError", *e}});
  return resp.value("result", Json::object());
}

// ---- Responder ------------------------------------------------------------------------------

Responder::Responder(Server& server, std::shared_ptr<RequestContext> ctx) : server_(server), ctx_(std::move(ctx)) {}

Responder::~Responder() {
  if (!done_.load()) {
    // A cancelled request ends without a reply by design (an open subscriptions/listen, say).
    if (!ctx_->cancel().cancelled())
      spdlog::error("handler for {} dropped request {} without replying", ctx_->method(), ctx_->id().dump());
    fail(rpc::kInternalError, "Internal error: the handler finished without a reply");
  }
}

bool Responder::reply(Json result) {
  if (!result.is_object()) result = Json::object();
  if (ctx_->modern()) {
    if (!result.contains("resultType")) result["resultType"] = "complete";
    result["_meta"][kMetaServerInfo] = server_.server_info(ctx_->revision());
  }
  return finish(rpc::make_result(ctx_->id(), std::move(result)));
}

bool Responder::fail(int code, std::string_view message, const Json& data) {
  return finish(rpc::make_error(ctx_->id(), code, message, data));
}

bool Responder::finish(Json message) {
  if (done_.exchange(true)) {
    spdlog::error("second reply to request {} ({}) refused", ctx_->id().dump(), ctx_->method());
    return false;
  }
  server_.finish_request(*ctx_);
  bool cancelled = ctx_->cancel().cancelled();
  if (ctx_->method_ == "tools/call") server_.observe_call(*ctx_, message, cancelled);
  server_.count_request(*ctx_, message, cancelled);
  if (cancelled) {  // the client gave up on it: it gets no reply
    ctx_->conn_.sink->skip(ctx_->id());
    return true;
  }
  ctx_->conn_.sink->send(message);
  return true;
}

// The request's metric and its closing log line, with the request's context and its duration.
// At debug: at info the line cost 3-4 us of a 50 us stdio call (bench/), and the counts and
// durations are in /metrics anyway.
void Server::count_request(RequestContext& ctx, const Json& message, bool cancelled) {
  std::string_view outcome = "ok";
  if (cancelled) outcome = "cancelled";
  else if (message.contains("error")) outcome = "protocol_error";
  else if (const Json& r = message["result"]; r.value("resultType", "") == "input_required") outcome = "input_required";
  else if (r.value("isError", false)) outcome = "tool_error";
  core_metrics().requests.inc({ctx.method_, std::string(outcome)});
  const bool call = ctx.method_ == "tools/call";
  const auto level = spdlog::level::debug;
  if (!spdlog::should_log(level)) return;
  logging::Context lc = ctx.log_context();
  lc.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - ctx.started_).count();
  logging::Scope scope(&lc);
  spdlog::log(level, "{} {}{}{} in {:.1f} ms", ctx.method_, call ? log_safe(lc.tool, 128) : "", call ? " " : "", outcome, *lc.duration_ms);
}

void Server::observe_call(RequestContext& ctx, Json& message, bool cancelled) {
  using Outcome = ToolCallEvent::Outcome;
  Outcome outcome = Outcome::Ok;
  static const Json kNull;
  if (cancelled) {
    outcome = Outcome::Cancelled;
  } else if (message.contains("error")) {
    outcome = Outcome::ProtocolError;
  } else {
    const Json& result = message["result"];
    // A multi-round-trip round is not the call's end: the retry that completes it is recorded.
    if (result.value("resultType", "") == "input_required") return;
    if (result.value("isError", false)) outcome = Outcome::ToolError;
  }
  const Json& params = ctx.call_params_;
  std::string tool;
  if (auto n = params.find("name"); n != params.end() && n->is_string()) tool = n->get<std::string>();
  auto a = params.find("arguments");
  const RegisteredTool* definition = tool.empty() ? nullptr : tools_.find(tool);
  ToolCallEvent ev{ctx, tool, a != params.end() ? *a : kNull, definition, outcome,
                   std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - ctx.started_),
                   cancelled ? kNull : message};
  const std::string label = definition ? tool : "unknown";
  core_metrics().tool_calls.inc({label, std::string(to_string(outcome))});
  core_metrics().tool_seconds.observe({label}, ev.duration.count() / 1e6);
  if (!call_observer_) return;
  try {
    call_observer_(ev);
  } catch (const std::exception& e) {
    // Never acknowledge a call whose record was not kept.
    spdlog::error("tools/call {} could not be recorded: {}", log_safe(tool), log_safe(e.what()));
    message = rpc::make_error(ctx.id(), rpc::kInternalError, "Internal error: the call could not be recorded in the command history");
  }
}

// ---- Server ---------------------------------------------------------------------------------

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      sealer_(options_.state_key),
      pool_(options_.min_workers, options_.max_workers) {
  register_protocol_methods();
}

Server::~Server() {
  cancel_all();
  std::lock_guard l(subs_m_);
  subs_.clear();
}

std::shared_ptr<Session> Server::new_session(std::shared_ptr<Sink> notify_sink, std::string user) {
  auto s = std::make_shared<Session>();
  s->user = std::move(user);
  // A stateless (2026-07-28) request's session (no notify sink) is never addressed by id.
  if (notify_sink) s->id = options_.instance_prefix + base64url_encode(random_bytes(18));
  s->notify_sink = std::move(notify_sink);
  std::lock_guard l(sessions_m_);
  // Pruned when the list has doubled: amortised O(1) per session, where a scan per stateless
  // request cost a lot of throughput with many streams open.
  if (sessions_.size() >= 2 * sessions_live_ + 16) {
    std::erase_if(sessions_, [](auto& w) { return w.expired(); });
    sessions_live_ = sessions_.size();
  }
  sessions_.push_back(s);
  return s;
}

void Server::bind_async(std::string method, Eras eras, AsyncHandler fn, bool run_inline) {
  methods_[std::move(method)] = Method{eras, std::move(fn), run_inline};
}

void Server::handle_text(std::string_view text, const Connection& conn) {
  Json msg, err;
  if (!rpc::parse(text, msg, err)) {
    conn.sink->send(err);
    return;
  }
  handle(msg, conn);
}

void Server::handle(const Json& msg, const Connection& conn) {
  if (msg.is_array()) return handle_batch(msg, conn);
  auto c = rpc::classify(msg);
  switch (c.kind) {
    case rpc::Kind::Request: return handle_request(msg, conn);
    case rpc::Kind::Notification: return handle_notification(msg, conn);
    case rpc::Kind::Response: return handle_response(msg, conn);
    case rpc::Kind::Invalid:
      conn.sink->send(rpc::make_error(c.id, rpc::kInvalidRequest, "Invalid Request: " + c.reason));
  }
}

void Server::handle_batch(const Json& batch, const Connection& conn) {
  bool allowed;
  {
    std::lock_guard l(conn.session->m);
    allowed = conn.session->initialized && conn.session->revision == Revision::V2025_03_26;
  }
  if (!allowed) {
    conn.sink->send(rpc::make_error(nullptr, rpc::kInvalidRequest,
                                    "Invalid Request: JSON-RPC batches are supported only with protocol version 2025-03-26"));
    return;
  }
  if (batch.empty()) {
    conn.sink->send(rpc::make_error(nullptr, rpc::kInvalidRequest, "Invalid Request: empty batch"));
    return;
  }
  size_t expected = 0;
  for (const auto& m : batch) {
    auto k = rpc::classify(m).kind;
    if (k == rpc::Kind::Request || k == rpc::Kind::Invalid) ++expected;
  }
  Connection bc = conn;
  if (expected) bc.sink = std::make_shared<BatchSink>(conn.sink, expected);
  for (const auto& m : batch) {
    if (!m.is_object()) {  // a batch inside a batch would recurse per nesting level
      bc.sink->send(rpc::make_error(nullptr, rpc::kInvalidRequest, "Invalid Request: a batch's elements must be objects"));
      continue;
    }
    if (m.value("method", "") == "initialize") {
      bc.sink->send(rpc::make_error(m.value("id", Json()), rpc::kInvalidRequest,
                                    "Invalid Request: initialize must not be part of a batch"));
      continue;
    }
    handle(m, bc);
  }
}

void Server::handle_response(const Json& msg, const Connection& conn) {
  std::shared_ptr<PendingCall> call;
  {
    std::lock_guard l(conn.session->m);
    auto it = conn.session->pending.find(msg["id"].dump());
    if (it != conn.session->pending.end()) call = it->second;
  }
  if (!call) {
    spdlog::warn("response to unknown request id {} ignored", msg["id"].dump());
    return;
  }
  {
    std::lock_guard l(call->m);
    call->response = msg;
    call->done = true;
  }
  call->cv.notify_all();
}

void Server::handle_notification(const Json& msg, const Connection& conn) {
  const std::string method = msg["method"];
  const Json& params = params_of(msg);
  if (method == "notifications/initialized") {
    return;
  }
  if (method == "notifications/cancelled") {
    auto id = params.find("requestId");
    if (id == params.end() || !rpc::valid_id(*id)) return;
    auto reason = params.find("reason");
    spdlog::debug("request {} cancelled: {}", id->dump(), reason != params.end() && reason->is_string() ? log_safe(reason->get<std::string>()) : "");
    cancel_request(conn, *id);
    return;
  }
  // Anything else (roots/list_changed, progress, unknown): notifications are never answered.
  spdlog::debug("notification {} ignored", log_safe(method));
}

void Server::handle_request(const Json& msg, const Connection& conn) {
  const Json& id = msg["id"];
  const std::string& method = msg["method"].get_ref<const std::string&>();
  const Json& params = params_of(msg);
  auto& session = *conn.session;

  // initialize opens the handshake era; with 2026-07-28 _meta it is just a method that era lacks.
  if (method == "initialize" && !meta_of(params).contains(kMetaVersion)) return initialize(msg, conn);

  auto ctx = std::make_shared<RequestContext>();
  ctx->server_ = this;
  ctx->conn_ = conn;
  ctx->id_ = id;
  ctx->method_ = method;
  if (method == "tools/call") ctx->call_params_ = params;
  const Json& meta = meta_of(params);
  ctx->meta_ = meta;
  if (auto pt = meta.find("progressToken"); pt != meta.end() && (pt->is_string() || pt->is_number_integer()))
    ctx->progress_token_ = *pt;

  auto reject = [&](int code, const std::string& message, const Json& data = nullptr) {
    core_metrics().requests.inc({methods_.count(method) ? method : "unknown", "protocol_error"});
    conn.sink->send(rpc::make_error(id, code, message, data));
  };

  bool modern = meta.contains(kMetaVersion) || method == "server/discover";
  if (modern) {
    // Stateless: everything about the client comes with the request itself.
    if (auto bad = rpc::check_modern_meta(params)) return reject(bad->code, bad->what(), bad->data);
    auto v = meta.find(kMetaVersion);
    auto rev = parse_revision(v->get<std::string>());
    if (!rev || !is_modern(*rev)) {
      std::string msg_text = "Unsupported protocol version: " + v->get<std::string>();
      if (rev) msg_text += " uses the initialize handshake; per-request _meta needs 2026-07-28";
      return reject(rpc::kUnsupportedProtocolVersion, msg_text,
                    Json{{"supported", supported_revisions()}, {"requested", *v}});
    }
    auto caps = meta.find(kMetaCaps);
    ctx->revision_ = *rev;
    ctx->client_capabilities_ = *caps;
    if (auto ci = meta.find(kMetaClientInfo); ci != meta.end() && ci->is_object()) ctx->client_info_ = *ci;
    if (auto ll = meta.find(kMetaLogLevel); ll != meta.end()) {
      auto lvl = ll->is_string() ? parse_log_level(ll->get<std::string>()) : std::nullopt;
      if (!lvl)
        return reject(rpc::kInvalidParams, std::string("Invalid _meta.") + kMetaLogLevel + ": expected a logging level",
                      Json{{"field", std::string("_meta.") + kMetaLogLevel}});
      ctx->log_level_ = lvl;
    }
    // A retry of a multi-round-trip request: its state must be ours and for this very request.
    if (auto rs = params.find("requestState"); rs != params.end()) {
      if (!rs->is_string()) return reject(rpc::kInvalidParams, "Invalid requestState: expected a string", Json{{"field", "requestState"}});
      auto opened = sealer_.open(rs->get<std::string>(), conn.user + "\n" + request_digest(method, params));
      if (!opened.error.empty())
        return reject(rpc::kInvalidParams, "Invalid requestState: " + opened.error, Json{{"field", "requestState"}});
      const Json answered = opened.payload.value("responses", Json::object());
      for (auto& [k, v2] : answered.items()) ctx->input_responses_[k] = v2;
    }
    if (auto ir = params.find("inputResponses"); ir != params.end()) {
      if (!ir->is_object()) return reject(rpc::kInvalidParams, "Invalid inputResponses: expected an object", Json{{"field", "inputResponses"}});
      for (auto& [k, v2] : ir->items()) ctx->input_responses_[k] = v2;
    }
  } else {
    std::lock_guard l(session.m);
    if (!session.initialized && method != "ping")
      return reject(rpc::kInvalidParams,
                    "Not initialized: send initialize first (protocol 2025-11-25 and earlier), or carry _meta." +
                        std::string(kMetaVersion) + " on every request (2026-07-28)");
    ctx->revision_ = session.initialized ? session.revision : kLatestLegacy;
    ctx->client_capabilities_ = session.client_capabilities;
    ctx->client_info_ = session.client_info;
  }

  auto it = methods_.find(method);
  unsigned era = ctx->modern() ? kModern : kLegacy;
  if (it == methods_.end() || !(it->second.eras & era)) {
    std::string why = it == methods_.end() ? "" : std::string(" (not part of protocol ") + std::string(to_string(ctx->revision_)) + ")";
    return reject(rpc::kMethodNotFound, "Method not found: " + method + why);
  }

  if (auto refused = missing_scope(msg, conn.scopes)) return reject(refused->code, refused->what(), refused->data);

  {
    std::lock_guard l(session.m);
    if (!session.inflight.emplace(id.dump(), ctx->cancel_).second)
      return reject(rpc::kInvalidRequest, "Invalid Request: id " + id.dump() + " is already in use by a request in progress");
  }
  auto responder = std::make_shared<Responder>(*this, ctx);
  const Method& m = it->second;
  if (m.run_inline || (conn.run_quick_inline && m.quick && m.quick(params))) {
    run(m, params, std::move(responder));
  } else {
    // The message is copied into the job: the transport's buffer is gone by the time it runs.
    pool_.submit([this, &m, p = params, r = std::move(responder)]() mutable { run(m, p, std::move(r)); });
  }
}

void Server::run(const Method& m, const Json& params, std::shared_ptr<Responder> r) {
  auto& ctx = r->context();
  const logging::Context lc = ctx.log_context();
  logging::Scope scope(&lc);  // the handler's log lines name the request
  try {
    m.fn(params, r);
  } catch (const rpc::Error& e) {
    if (e.code == rpc::kRequestCancelled) r->fail(rpc::kInternalError, "cancelled");  // suppressed
    else r->fail(e.code, e.what(), e.data);
  } catch (const Cancelled&) {
    r->fail(rpc::kInternalError, "cancelled");  // suppressed: the client cancelled
  } catch (const InputRequired& ir) {
    if (ctx.modern() && mrtr_method(ctx.method())) {
      r->reply(input_required_result(ir, ctx, params));
    } else {
      spdlog::error("{} asked for client input outside a multi-round-trip request", ctx.method());
      r->fail(rpc::kInternalError, "Internal error");
    }
  } catch (const std::exception& e) {
    // The message may carry provider details; it goes to the log, not to the client.
    spdlog::error("handler for {} failed: {}", ctx.method(), log_safe(redact_for_log(ctx, e.what())));
    r->fail(rpc::kInternalError, "Internal error");
  }
}

void Server::finish_request(RequestContext& ctx) {
  std::lock_guard l(ctx.conn_.session->m);
  ctx.conn_.session->inflight.erase(ctx.id().dump());
}

Json Server::input_required_result(const InputRequired& ir, RequestContext& ctx, const Json& params) {
  Json requests = Json::object();
  for (const auto& r : ir.requests) requests[r.key] = Json{{"method", r.method}, {"params", r.params}};
  // Responses already gathered ride along in the state, so a later round need not ask again.
  Json answered = Json::object();
  for (const auto& [k, v] : ctx.input_responses_) answered[k] = v;
  std::string binding = ctx.user() + "\n" + request_digest(ctx.method(), params);
  return Json{{"resultType", "input_required"},
              {"inputRequests", std::move(requests)},
              {"requestState", sealer_.seal(Json{{"responses", std::move(answered)}}, binding)}};
}

void Server::initialize(const Json& msg, const Connection& conn) {
  const Json& id = msg["id"];
  const Json& params = params_of(msg);
  Revision negotiated;
  Json result;
  try {
    Fields f(params);
    auto requested = f.req<std::string>("protocolVersion");
    Json caps = object_field(f, "capabilities", true);
    Json info = object_field(f, "clientInfo", true);
    auto rev = parse_revision(requested);
    // Echo a handshake-era version we support; otherwise offer our latest handshake version.
    negotiated = (rev && !is_modern(*rev)) ? *rev : kLatestLegacy;
    std::lock_guard l(conn.session->m);
    if (conn.session->initialized) throw rpc::Error(rpc::kInvalidRequest, "Invalid Request: already initialized");
    conn.session->initialized = true;
    conn.session->revision = negotiated;
    conn.session->client_capabilities = std::move(caps);
    conn.session->client_info = std::move(info);
  } catch (const rpc::Error& e) {
    core_metrics().requests.inc({"initialize", "protocol_error"});
    conn.sink->send(rpc::make_error(id, e.code, e.what(), e.data));
    return;
  }
  core_metrics().requests.inc({"initialize", "ok"});
  result = Json{{"protocolVersion", to_string(negotiated)},
                {"capabilities", capabilities(negotiated)},
                {"serverInfo", server_info(negotiated)}};
  if (!options_.instructions.empty()) result["instructions"] = options_.instructions;
  // Whatever the client calls itself, as one line (a name need not even be a string).
  auto said = [&](const char* key) {
    auto v = conn.session->client_info.find(key);
    return v == conn.session->client_info.end() ? std::string("?") : log_safe(v->is_string() ? v->get<std::string>() : v->dump(), 200);
  };
  spdlog::info("initialized: client {} {}, protocol {}", said("name"), said("version"), to_string(negotiated));
  conn.sink->send(rpc::make_result(id, std::move(result)));
}

const Json& Server::server_info(Revision r) const {
  // Built once per revision: every 2026-07-28 result carries it.
  std::call_once(server_info_once_, [this] {
    for (int i = 0; i <= static_cast<int>(kLatest); ++i) server_info_[i] = build_server_info(static_cast<Revision>(i));
  });
  return server_info_[static_cast<int>(r)];
}

Json Server::build_server_info(Revision r) const {
  Json info{{"name", options_.name}, {"version", options_.version}};
  if (!options_.title.empty()) info["title"] = options_.title;
  if (!options_.description.empty()) info["description"] = options_.description;
  if (!options_.website_url.empty()) info["websiteUrl"] = options_.website_url;
  if (options_.icons.is_array()) info["icons"] = options_.icons;
  adapt_implementation(info, r);
  return info;
}

Json Server::capabilities(Revision r) const {
  // Change notifications: session streams in the handshake era, subscriptions/listen in 2026-07-28.
  Json caps{{"tools", Json{{"listChanged", true}}}, {"logging", Json::object()}, {"completions", Json::object()}};
  if (!resources_.empty()) caps["resources"] = Json{{"subscribe", true}, {"listChanged", true}};
  if (!prompts_.empty()) caps["prompts"] = Json{{"listChanged", true}};
  tasks_.add_capabilities(caps);
  adapt_capabilities(caps, r);
  return caps;
}

void Server::cacheable(Json& result, RequestContext& ctx, int ttl_ms, bool shared) const {
  if (!ctx.modern()) return;
  result["ttlMs"] = std::max(0, ttl_ms);
  result["cacheScope"] = shared ? "public" : "private";
}

void Server::notify_resource_updated(const std::string& uri, const std::optional<std::string>& user) {
  notify_subscribers([&](const Subscription& s) {
    return s.uris.count(uri) > 0 && (!user || s.responder->context().user() == *user);
  }, "notifications/resources/updated", Json{{"uri", uri}});
  std::lock_guard l(sessions_m_);
  for (auto& w : sessions_) {
    auto s = w.lock();
    if (!s || !s->notify_sink || (user && s->user != *user)) continue;
    bool subscribed;
    { std::lock_guard sl(s->m); subscribed = s->initialized && s->subscriptions.count(uri); }
    if (subscribed) s->notify_sink->send(rpc::make_notification("notifications/resources/updated", Json{{"uri", uri}}));
  }
}

void Server::connection_completed(const std::string& user, const std::string& service) {
  std::lock_guard l(sessions_m_);
  for (auto& w : sessions_) {
    auto s = w.lock();
    if (!s || !s->notify_sink || s->user != user) continue;
    std::string id;
    {
      std::lock_guard sl(s->m);
      auto it = s->url_elicitations.find(service);
      if (it == s->url_elicitations.end()) continue;
      id = std::move(it->second);
      s->url_elicitations.erase(it);
    }
    s->notify_sink->send(rpc::make_notification("notifications/elicitation/complete", Json{{"elicitationId", id}}));
  }
}

void Server::notify_list_changed(const std::string& what) {
  notify_subscribers([&](const Subscription& s) {
    return (what == "tools" && s.tools) || (what == "prompts" && s.prompts) || (what == "resources" && s.resources);
  }, "notifications/" + what + "/list_changed", nullptr);
  std::lock_guard l(sessions_m_);
  for (auto& w : sessions_) {
    auto s = w.lock();
    if (!s || !s->notify_sink) continue;
    bool ready;
    { std::lock_guard sl(s->m); ready = s->initialized; }
    if (ready) s->notify_sink->send(rpc::make_notification("notifications/" + what + "/list_changed", nullptr));
  }
}

void Server::cancel_request(const Connection& conn, const Json& id) {
  {
    std::lock_guard l(conn.session->m);
    auto it = conn.session->inflight.find(id.dump());
    if (it != conn.session->inflight.end()) it->second.cancel();
  }
  // A cancelled subscriptions/listen (its client hung up) is unsubscribed now, not at the next
  // notification: until then it holds its request, its stream's buffer and its session.
  std::vector<std::shared_ptr<Responder>> ended;  // released (ending the request) outside the lock
  std::lock_guard l(subs_m_);
  for (auto it = subs_.begin(); it != subs_.end();) {
    if (it->responder->context().cancel().cancelled()) {
      ended.push_back(std::move(it->responder));
      it = subs_.erase(it);
    } else {
      ++it;
    }
  }
}

void Server::listen(const Json& params, std::shared_ptr<Responder> r) {
  auto& ctx = r->context();
  Fields f(params);
  Json filter = object_field(f, "notifications", true);
  Subscription sub;
  sub.id = ctx.id();
  Json honoured = Json::object();
  auto flag = [&](const char* key, bool& out) {
    if (auto it = filter.find(key); it != filter.end()) {
      if (!it->is_boolean()) throw rpc::invalid_params(std::string("Invalid parameter notifications.") + key + ": expected a boolean");
      out = it->get<bool>();
      if (out) honoured[key] = true;
    }
  };
  flag("toolsListChanged", sub.tools);
  flag("promptsListChanged", sub.prompts);
  flag("resourcesListChanged", sub.resources);
  if (auto it = filter.find("resourceSubscriptions"); it != filter.end()) {
    if (!it->is_array()) throw rpc::invalid_params("Invalid parameter notifications.resourceSubscriptions: expected an array of URIs");
    for (const auto& u : *it) {
      if (!u.is_string()) throw rpc::invalid_params("Invalid parameter notifications.resourceSubscriptions: expected an array of URIs");
      // A resource outside the caller's scopes is not honoured (the acknowledgement leaves it out).
      bool allowed = true;
      for (const auto& scope : required_scopes("resources/read", Json{{"uri", u}})) allowed &= ctx.allows(scope);
      if (allowed) sub.uris.insert(u.get<std::string>());
    }
    if (!sub.uris.empty()) honoured["resourceSubscriptions"] = Json(sub.uris);
  }
  // The acknowledgement goes out before the subscription is live, so it is always the first frame.
  ctx.conn_.sink->send(rpc::make_notification(
      "notifications/subscriptions/acknowledged",
      Json{{"notifications", honoured}, {"_meta", {{rpc::kMetaSubscriptionId, sub.id}}}}));
  sub.responder = std::move(r);
  std::lock_guard l(subs_m_);
  subs_.push_back(std::move(sub));
}

void Server::notify_subscribers(const std::function<bool(const Subscription&)>& wants, const std::string& method, Json params) {
  std::vector<std::shared_ptr<Responder>> ended;  // released outside the lock
  std::lock_guard l(subs_m_);
  for (auto it = subs_.begin(); it != subs_.end();) {
    if (it->responder->context().cancel().cancelled()) {
      ended.push_back(std::move(it->responder));
      it = subs_.erase(it);
      continue;
    }
    if (wants(*it)) {
      Json p = params.is_null() ? Json::object() : params;
      p["_meta"][rpc::kMetaSubscriptionId] = it->id;
      it->responder->context().conn_.sink->send(rpc::make_notification(method, std::move(p)));
    }
    ++it;
  }
}

void Server::cancel_all() {
  tasks_.cancel_all();
  std::lock_guard l(sessions_m_);
  for (auto& w : sessions_)
    if (auto s = w.lock()) {
      std::lock_guard sl(s->m);
      for (auto& [_, token] : s->inflight) token.cancel();
    }
}

}  // namespace concierge
