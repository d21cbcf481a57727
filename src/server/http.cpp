#include "server/http.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "server/json_parse.hpp"
#include "server/request_state.hpp"
#include "server/thread_pool.hpp"

namespace concierge {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kSessionHeader = "Mcp-Session-Id";
constexpr const char* kVersionHeader = "MCP-Protocol-Version";

// cpp-httplib runs each connection on one task until it closes, and an SSE stream holds its
// task for as long as it is open: the queue must grow, or open streams starve new POSTs.
class ElasticTaskQueue : public httplib::TaskQueue {
 public:
  explicit ElasticTaskQueue(size_t max_threads) : pool_(std::min<size_t>(8, max_threads), max_threads) {}
  void enqueue(std::function<void()> fn) override { pool_.submit(std::move(fn)); }
  void shutdown() override { pool_.wait_idle(std::chrono::seconds(5)); }

 private:
  ThreadPool pool_;
};

bool is_loopback_host(std::string host) {
  // Strip a port: "[::1]:8080", "localhost:8080".
  if (!host.empty() && host.front() == '[') {
    auto end = host.find(']');
    host = end == std::string::npos ? host : host.substr(1, end - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host == "localhost" || host == "127.0.0.1" || host == "::1";
}

std::string error_body(const Json& id, int code, std::string_view message, const Json& data = nullptr) {
  Json e = rpc::make_error(id, code, message, data);
  if (id.is_null()) e.erase("id");  // transport-level refusals answer no particular request
  return dump(e);
}

// An Accept header that lists (or wildcards) a media type.
bool accepts(const std::string& accept, std::string_view type) {
  if (accept.empty()) return false;
  auto slash = type.find('/');
  std::string any_sub = std::string(type.substr(0, slash)) + "/*";
  size_t pos = 0;
  while (pos <= accept.size()) {
    size_t end = accept.find(',', pos);
    if (end == std::string::npos) end = accept.size();
    std::string item = accept.substr(pos, end - pos);
    item = item.substr(0, item.find(';'));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item == type || item == "*/*" || item == any_sub) return true;
    pos = end + 1;
  }
  return false;
}

std::string trim_ows(std::string s) {
  s.erase(0, s.find_first_not_of(" \t"));
  auto last = s.find_last_not_of(" \t");
  s.erase(last == std::string::npos ? 0 : last + 1);
  return s;
}

// Decodes a header value that may use the `=?base64?…?=` sentinel (2026-07-28). nullopt when
// the value is malformed (bad Base64, characters a header value may not carry).
std::optional<std::string> decode_header_value(const std::string& raw) {
  for (unsigned char c : raw)
    if (!(c == '\t' || (c >= 0x20 && c <= 0x7E))) return std::nullopt;
  static const std::string kPrefix = "=?base64?", kSuffix = "?=";
  if (raw.size() >= kPrefix.size() + kSuffix.size() && raw.compare(0, kPrefix.size(), kPrefix) == 0 &&
      raw.compare(raw.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
    std::string b64 = raw.substr(kPrefix.size(), raw.size() - kPrefix.size() - kSuffix.size());
    if (b64.size() % 4 != 0) return std::nullopt;  // padding is required
    size_t pad = 0;
    while (pad < b64.size() && b64[b64.size() - 1 - pad] == '=') ++pad;
    if (pad > 2) return std::nullopt;
    std::string body = b64.substr(0, b64.size() - pad);
    for (char& c : body) {
      if (c == '+') c = '-';
      else if (c == '/') c = '_';
      else if (!std::isalnum(static_cast<unsigned char>(c))) return std::nullopt;
    }
    return base64url_decode(body);
  }
  return raw;
}

// ---- Exchanges --------------------------------------------------------------------------------

// The outgoing side of one HTTP response: a POST's reply (JSON or SSE), a GET stream, or a
// legacy /sse stream. It buffers what the core sends until the HTTP side writes it.
class Exchange : public Sink {
 public:
  enum class Style { Modern, Legacy, LegacySse };

  Exchange(Style style, Json request_id, std::string stream_id)
      : style_(style), request_id_(std::move(request_id)), stream_id_(std::move(stream_id)) {}

  void send(const Json& m) override {
    std::lock_guard l(m_);
    if (finished_) return;
    bool is_reply = !request_id_.is_null() && (m.is_array() || (!m.contains("method") && m.contains("id") && m["id"] == request_id_));
    events_.push_back(Event{next_seq_++, dump(m), is_reply});
    if (is_reply) {
      reply_queued_ = true;
      if (m.is_object())
        if (auto e = m.find("error"); e != m.end() && e->is_object()) reply_error_ = e->value("code", 0);
    }
    cv_.notify_all();
  }
  void skip(const Json&) override {  // a cancelled request: nothing more will come
    std::lock_guard l(m_);
    reply_queued_ = true;
    events_.push_back(Event{next_seq_++, "", true});
    cv_.notify_all();
  }
  void close_stream() override {
    std::lock_guard l(m_);
    close_requested_ = true;
    cv_.notify_all();
  }
  void wake() { cv_.notify_all(); }
  // The reply's JSON-RPC error code (0: a result), so the status can be chosen without re-parsing.
  int reply_error() {
    std::lock_guard l(m_);
    return reply_error_;
  }

  // Waits until there is something to decide on. Returns the reply if it came first.
  std::optional<std::string> wait_first(const std::atomic<bool>& stopping) {
    std::unique_lock l(m_);
    cv_.wait(l, [&] { return !events_.empty() || close_requested_ || stopping; });
    if (!events_.empty() && events_.front().reply && events_.size() == 1 && !close_requested_) {
      std::string body = std::move(events_.front().text);
      events_.clear();
      finished_ = true;
      return body;
    }
    return std::nullopt;
  }

  // Writes SSE events after `after_seq` to the sink until the reply has been written, the
  // stream was asked to close, the client left, or the server stops. Returns false when the
  // client is gone.
  enum class End { Replied, Closed, Gone, Stopping };
  End pump(httplib::DataSink& sink, uint64_t after_seq, const std::atomic<bool>& stopping, std::chrono::seconds heartbeat) {
    std::unique_lock l(m_);
    uint64_t cursor = after_seq;
    auto last_write = Clock::now();
    for (;;) {
      // Events this stream has not written yet (a resumed stream starts from Last-Event-ID).
      while (true) {
        auto it = std::find_if(events_.begin(), events_.end(), [&](const Event& e) { return e.seq > cursor; });
        if (it == events_.end()) break;
        Event e = *it;
        cursor = e.seq;
        if (style_ == Style::Modern) events_.erase(events_.begin(), std::next(it));  // no replay in 2026-07-28
        l.unlock();
        bool ok = e.text.empty() || write_event(sink, e);
        l.lock();
        if (!ok) return End::Gone;
        if (e.reply) {
          finished_ = true;
          return End::Replied;
        }
      }
      if (close_requested_) {
        close_requested_ = false;  // a resumed stream goes on
        return End::Closed;
      }
      if (stopping) return End::Stopping;
      // Wake every second to notice a client that left (its worker and, in 2026-07-28, its
      // request are released then, not at the next heartbeat).
      auto step = std::min<std::chrono::seconds>(heartbeat, std::chrono::seconds(1));
      if (!cv_.wait_for(l, step, [&] {
            return close_requested_ || stopping || (!events_.empty() && events_.back().seq > cursor);
          })) {
        l.unlock();
        bool alive = sink.is_writable();
        if (alive && Clock::now() - last_write >= heartbeat) {
          alive = sink.write(":\n\n", 3);  // keeps intermediaries from timing the stream out
          last_write = Clock::now();
        }
        l.lock();
        if (!alive) return End::Gone;
      }
    }
  }

  bool finished() {
    std::lock_guard l(m_);
    return finished_;
  }
  const std::string& stream_id() const { return stream_id_; }
  const Json& request_id() const { return request_id_; }
  Style style() const { return style_; }

  // Keeps at most `limit` events for replay (legacy resumability).
  void trim(size_t limit) {
    std::lock_guard l(m_);
    while (events_.size() > limit) events_.pop_front();
  }

 private:
  struct Event {
    uint64_t seq;
    std::string text;
    bool reply;
  };

  bool write_event(httplib::DataSink& sink, const Event& e) {
    std::string out;
    out.reserve(e.text.size() + 64);
    if (style_ == Style::Legacy) out += "id: " + stream_id_ + ":" + std::to_string(e.seq) + "\n";
    out += "event: message\ndata: ";
    out += e.text;
    out += "\n\n";
    return sink.write(out.data(), out.size());
  }

  Style style_;
  Json request_id_;
  std::string stream_id_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  uint64_t next_seq_ = 1;
  bool reply_queued_ = false, close_requested_ = false, finished_ = false;
  int reply_error_ = 0;
};

// A legacy (handshake-era) Streamable HTTP session, or a legacy HTTP+SSE one.
struct HttpSession {
  std::shared_ptr<Session> core;
  Clock::time_point last_used = Clock::now();
  std::mutex m;
  std::unordered_map<std::string, std::shared_ptr<Exchange>> streams;  // resumable POST streams
  std::shared_ptr<Exchange> standalone;  // the GET stream, or the /sse stream
  bool standalone_open = false;
};

// Session notifications go to the session's open GET stream, if any.
class StandaloneSink : public Sink {
 public:
  explicit StandaloneSink(std::weak_ptr<HttpSession> s) : s_(std::move(s)) {}
  void send(const Json& m) override {
    auto s = s_.lock();
    if (!s) return;
    std::shared_ptr<Exchange> ex;
    {
      std::lock_guard l(s->m);
      if (s->standalone_open) ex = s->standalone;
    }
    if (ex) ex->send(m);
  }

 private:
  std::weak_ptr<HttpSession> s_;
};

}  // namespace

// ---- The server -------------------------------------------------------------------------------

struct HttpServer::Impl {
  Server& core;
  HttpOptions opt;
  httplib::Server http;
  int port = -1;
  int listen_fd = -1;
  bool loopback = true;
  std::atomic<bool> stopping{false};

  std::mutex sessions_m;
  std::unordered_map<std::string, std::shared_ptr<HttpSession>> sessions;
  std::mutex live_m;
  std::vector<std::weak_ptr<Exchange>> live;  // open streams, woken on stop
  std::thread reaper;
  std::condition_variable reaper_cv;

  Impl(Server& c, HttpOptions o) : core(c), opt(std::move(o)) {}

  void track(const std::shared_ptr<Exchange>& ex) {
    std::lock_guard l(live_m);
    std::erase_if(live, [](auto& w) { return w.expired(); });
    live.push_back(ex);
  }

  void setup();
  bool check_origin(const httplib::Request& req, httplib::Response& res);
  void post_mcp(const httplib::Request& req, httplib::Response& res);
  void post_modern(const httplib::Request& req, httplib::Response& res, const Json& msg);
  void post_legacy(const httplib::Request& req, httplib::Response& res, const Json& msg);
  void get_mcp(const httplib::Request& req, httplib::Response& res);
  void delete_mcp(const httplib::Request& req, httplib::Response& res);
  void get_sse(const httplib::Request& req, httplib::Response& res);
  void post_messages(const httplib::Request& req, httplib::Response& res);
  std::optional<std::string> check_mirrored_headers(const httplib::Request& req, const Json& msg);
  void respond(httplib::Response& res, std::shared_ptr<Exchange> ex, const Connection& conn, bool modern,
               std::shared_ptr<HttpSession> session);
  void stream(httplib::Response& res, std::shared_ptr<Exchange> ex, uint64_t after_seq, const Connection& conn,
              bool modern, std::shared_ptr<HttpSession> session, std::string priming);
  std::shared_ptr<HttpSession> find_session(const std::string& id);
  void reap_idle();
};

void HttpServer::Impl::setup() {
  http.new_task_queue = [max = opt.max_threads] { return new ElasticTaskQueue(max); };
  http.set_keep_alive_max_count(1'000'000);  // the library default closes after 5 requests
  // The library gives no handle on client sockets: an idle keep-alive connection holds its worker
  // until this timeout, even after stop(). A short one keeps shutdown under 2 s.
  http.set_keep_alive_timeout(1);
  http.set_tcp_nodelay(true);
  http.set_read_timeout(opt.read_timeout);
  http.set_write_timeout(std::chrono::seconds(30));
  http.set_payload_max_length(opt.max_body_bytes);  // larger bodies get 413 before any handler
  http.set_socket_options([this](socket_t fd) {
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd = fd;
  });

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return check_origin(req, res) ? httplib::Server::HandlerResponse::Unhandled : httplib::Server::HandlerResponse::Handled;
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      spdlog::error("HTTP handler failed: {}", e.what());
    }
    res.status = 500;
    res.set_content(error_body(nullptr, rpc::kInternalError, "Internal error"), "application/json");
  });
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 413 && res.body.empty())
      res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Request body too large"), "application/json");
  });

  http.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    size_t n;
    {
      std::lock_guard l(sessions_m);
      n = sessions.size();
    }
    res.set_content(dump(Json{{"status", "ok"}, {"server", core.options().name}, {"version", core.options().version},
                              {"sessions", n}}),
                    "application/json");
  });
  http.Post(opt.endpoint, [this](const httplib::Request& req, httplib::Response& res) { post_mcp(req, res); });
  http.Get(opt.endpoint, [this](const httplib::Request& req, httplib::Response& res) { get_mcp(req, res); });
  http.Delete(opt.endpoint, [this](const httplib::Request& req, httplib::Response& res) { delete_mcp(req, res); });
  auto not_allowed = [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "GET, POST, DELETE");
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Method not allowed"), "application/json");
  };
  http.Put(opt.endpoint, not_allowed);
  http.Patch(opt.endpoint, not_allowed);
  http.Options(opt.endpoint, not_allowed);
  http.Get("/sse", [this](const httplib::Request& req, httplib::Response& res) { get_sse(req, res); });
  http.Post("/messages", [this](const httplib::Request& req, httplib::Response& res) { post_messages(req, res); });
}

// DNS-rebinding protection: a browser page must not reach a loopback server through a name it
// controls, so Origin must be ours when present, and on loopback binds Host must be a loopback name.
bool HttpServer::Impl::check_origin(const httplib::Request& req, httplib::Response& res) {
  auto refuse = [&](const std::string& why) {
    spdlog::warn("refused {} {}: {}", req.method, req.path, why);
    res.status = 403;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Forbidden: " + why), "application/json");
    return false;
  };
  if (req.has_header("Origin")) {
    std::string origin = req.get_header_value("Origin");
    bool listed = std::find(opt.allowed_origins.begin(), opt.allowed_origins.end(), origin) != opt.allowed_origins.end();
    std::string host = origin;
    for (const char* scheme : {"http://", "https://"})
      if (host.rfind(scheme, 0) == 0) host = host.substr(std::strlen(scheme));
    if (!listed && !(host != origin && is_loopback_host(host))) return refuse("Origin " + origin + " is not allowed");
  }
  if (loopback && !is_loopback_host(req.get_header_value("Host")))
    return refuse("Host " + req.get_header_value("Host") + " is not a loopback name");
  return true;
}

std::shared_ptr<HttpSession> HttpServer::Impl::find_session(const std::string& id) {
  std::lock_guard l(sessions_m);
  auto it = sessions.find(id);
  if (it == sessions.end()) return nullptr;
  it->second->last_used = Clock::now();
  return it->second;
}

void HttpServer::Impl::post_mcp(const httplib::Request& req, httplib::Response& res) {
  auto fail = [&](int status, int code, const std::string& message) {
    res.status = status;
    res.set_content(error_body(nullptr, code, message), "application/json");
  };
  std::string ctype = req.get_header_value("Content-Type");
  if (ctype.substr(0, ctype.find(';')) != "application/json")
    return fail(415, rpc::kInvalidRequest, "Unsupported Media Type: Content-Type must be application/json");
  std::string accept = req.get_header_value("Accept");
  if (!accepts(accept, "application/json") || !accepts(accept, "text/event-stream"))
    return fail(406, rpc::kInvalidRequest, "Not Acceptable: Accept must list application/json and text/event-stream");
  Json msg, err;
  if (!rpc::parse(req.body, msg, err)) {
    res.status = 400;
    res.set_content(dump(err), "application/json");
    return;
  }
  // The era: a session or a handshake-era version header means legacy; per-request _meta or
  // the 2026-07-28 header means modern.
  bool has_session = req.has_header(kSessionHeader);
  std::string version = req.get_header_value(kVersionHeader);
  bool meta_version = msg.is_object() && msg.contains("params") && msg["params"].is_object() &&
                      msg["params"].contains("_meta") && msg["params"]["_meta"].is_object() &&
                      msg["params"]["_meta"].contains(rpc::kMetaProtocolVersion);
  auto rev = parse_revision(version);
  bool legacy_header = rev && !is_modern(*rev);
  bool modern = !has_session && (meta_version || (!version.empty() && !legacy_header)) &&
                !(msg.is_object() && msg.value("method", "") == "initialize" && !meta_version);
  if (modern) post_modern(req, res, msg);
  else post_legacy(req, res, msg);
}

// ---- 2026-07-28 ---------------------------------------------------------------------------------

std::optional<std::string> HttpServer::Impl::check_mirrored_headers(const httplib::Request& req, const Json& msg) {
  const std::string method = msg.value("method", "");
  if (!req.has_header("Mcp-Method")) return "Missing Mcp-Method header";
  if (req.get_header_value("Mcp-Method") != method)
    return "Header mismatch: Mcp-Method '" + req.get_header_value("Mcp-Method") + "' does not match body method '" + method + "'";
  const Json& params = msg.contains("params") ? msg["params"] : Json::object();
  const char* name_field = nullptr;
  if (method == "tools/call" || method == "prompts/get") name_field = "name";
  else if (method == "resources/read") name_field = "uri";
  else if (method == "tasks/get" || method == "tasks/update" || method == "tasks/cancel") name_field = "taskId";
  if (name_field) {
    if (!req.has_header("Mcp-Name")) return "Missing Mcp-Name header (required for " + method + ")";
    auto name = decode_header_value(trim_ows(req.get_header_value("Mcp-Name")));
    if (!name) return "Malformed Mcp-Name header";
    auto body = params.find(name_field);
    if (body == params.end() || !body->is_string() || *name != body->get<std::string>())
      return "Header mismatch: Mcp-Name '" + *name + "' does not match params." + name_field;
  }
  if (method != "tools/call") return std::nullopt;
  // Tool parameters mirrored into Mcp-Param-* headers (x-mcp-header in the tool's inputSchema).
  const RegisteredTool* tool = params.contains("name") && params["name"].is_string() ? core.tools().find(params["name"].get<std::string>()) : nullptr;
  if (!tool) return std::nullopt;
  const Json args = params.value("arguments", Json::object());
  std::optional<std::string> problem;
  std::function<void(const Json&, const Json&)> walk = [&](const Json& schema, const Json& value) {
    auto props = schema.find("properties");
    if (props == schema.end() || !props->is_object()) return;
    for (auto& [key, sub] : props->items()) {
      if (problem || !sub.is_object()) continue;
      const Json* v = value.is_object() && value.contains(key) ? &value[key] : nullptr;
      if (auto h = sub.find("x-mcp-header"); h != sub.end() && h->is_string()) {
        if (!v || v->is_null()) continue;  // nothing to mirror
        std::string header = "Mcp-Param-" + h->get<std::string>();
        if (!req.has_header(header)) { problem = "Missing " + header + " header"; return; }
        auto decoded = decode_header_value(trim_ows(req.get_header_value(header)));
        if (!decoded) { problem = "Malformed " + header + " header"; return; }
        bool same = false;
        if (v->is_string()) same = *decoded == v->get<std::string>();
        else if (v->is_boolean()) same = *decoded == (v->get<bool>() ? "true" : "false");
        else if (v->is_number()) {
          Json parsed = parse_json(*decoded, kMaxClientJsonDepth);
          same = parsed.is_number() && parsed.get<double>() == v->get<double>();
        }
        if (!same) { problem = "Header mismatch: " + header + " does not match arguments." + key; return; }
      } else if (v) {
        walk(sub, *v);
      }
    }
  };
  walk(tool->def.input_schema, args);
  return problem;
}

void HttpServer::Impl::post_modern(const httplib::Request& req, httplib::Response& res, const Json& msg) {
  const Json id = msg.is_object() && msg.contains("id") && rpc::valid_id(msg["id"]) ? msg["id"] : Json();
  auto reject = [&](int status, int code, const std::string& message, const Json& data = nullptr) {
    res.status = status;
    res.set_content(dump(rpc::make_error(id, code, message, data)), "application/json");
  };
  if (!msg.is_object()) return reject(400, rpc::kInvalidRequest, "Invalid Request: 2026-07-28 has no batches");
  auto kind = rpc::classify(msg).kind;
  if (kind == rpc::Kind::Invalid) return reject(400, rpc::kInvalidRequest, "Invalid Request: " + rpc::classify(msg).reason);
  const Json& params = msg.contains("params") ? msg["params"] : Json::object();
  if (kind == rpc::Kind::Request) {
    // Order matters to clients probing the era: _meta first, then the headers that mirror it.
    if (auto bad = rpc::check_modern_meta(params)) return reject(400, bad->code, bad->what(), bad->data);
    std::string meta_version = params["_meta"][rpc::kMetaProtocolVersion];
    if (!req.has_header(kVersionHeader)) return reject(400, rpc::kHeaderMismatch, "Missing MCP-Protocol-Version header");
    if (req.get_header_value(kVersionHeader) != meta_version)
      return reject(400, rpc::kHeaderMismatch, "Header mismatch: MCP-Protocol-Version '" + req.get_header_value(kVersionHeader) +
                                                    "' does not match _meta protocolVersion '" + meta_version + "'");
    auto rev = parse_revision(meta_version);
    if (!rev || !is_modern(*rev))
      return reject(400, rpc::kUnsupportedProtocolVersion, "Unsupported protocol version: " + meta_version,
                    Json{{"supported", supported_revisions()}, {"requested", meta_version}});
    if (auto mismatch = check_mirrored_headers(req, msg)) return reject(400, rpc::kHeaderMismatch, *mismatch);
  }
  // Stateless: a fresh session object per request, only to track it for cancellation.
  auto ex = std::make_shared<Exchange>(Exchange::Style::Modern, id, "");
  Connection conn{core.new_session(nullptr), ex, "http", "local", /*run_quick_inline=*/true};
  if (kind != rpc::Kind::Request) {
    core.handle(msg, conn);
    res.status = 202;
    return;
  }
  core.handle(msg, conn);
  respond(res, ex, conn, true, nullptr);
}

// Sends the reply as JSON when it is the first thing the handler produced; otherwise opens an
// SSE stream carrying the notifications (and, in the handshake era, server->client requests)
// followed by the reply.
void HttpServer::Impl::respond(httplib::Response& res, std::shared_ptr<Exchange> ex, const Connection& conn, bool modern,
                               std::shared_ptr<HttpSession> session) {
  // 2025-11-25 sessions always get a resumable stream (priming event, event ids): a reply whose
  // connection drops can be fetched again with Last-Event-ID. Older ones get JSON when they can.
  bool resumable = false;
  if (!modern && session) {
    std::lock_guard l(session->core->m);
    resumable = session->core->revision >= Revision::V2025_11_25;
  }
  if (auto body = resumable ? std::nullopt : ex->wait_first(stopping)) {
    if (body->empty()) {  // cancelled with no reply (e.g. server shutting down)
      res.status = 503;
      return;
    }
    if (modern) {
      // 2026-07-28 maps protocol errors onto HTTP statuses.
      int code = ex->reply_error();
      if (code != 0)
        res.status = code == rpc::kMethodNotFound ? 404
                     : (code == rpc::kInvalidParams || code == rpc::kInvalidRequest || code == rpc::kParseError ||
                        code == rpc::kHeaderMismatch || code == rpc::kMissingRequiredClientCapability ||
                        code == rpc::kUnsupportedProtocolVersion)
                         ? 400
                         : 200;
    }
    res.set_content(std::move(*body), "application/json");
    return;
  }
  std::string priming;
  if (!modern) {
    // A resumable stream: the priming event gives the client an id to reconnect from.
    priming = "id: " + ex->stream_id() + ":0\nretry: " + std::to_string(opt.sse_retry.count()) + "\ndata: \n\n";
    std::lock_guard l(session->m);
    session->streams[ex->stream_id()] = ex;
  }
  stream(res, ex, 0, conn, modern, session, std::move(priming));
}

void HttpServer::Impl::stream(httplib::Response& res, std::shared_ptr<Exchange> ex, uint64_t after_seq, const Connection& conn,
                              bool modern, std::shared_ptr<HttpSession> session, std::string priming) {
  track(ex);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  auto heartbeat = opt.heartbeat;
  auto limit = opt.events_per_session;
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, ex, after_seq, heartbeat, priming = std::move(priming)](size_t, httplib::DataSink& sink) mutable {
        if (!priming.empty()) {
          if (!sink.write(priming.data(), priming.size())) return false;
          priming.clear();
        }
        auto end = ex->pump(sink, after_seq, stopping, heartbeat);
        // Gone: nothing to finish. Stopping: end the connection rather than keep it alive.
        if (end == Exchange::End::Gone || end == Exchange::End::Stopping) return false;
        sink.done();
        return true;
      },
      [this, ex, conn, modern, session, limit](bool success) {
        if (modern && !ex->finished()) {
          // 2026-07-28: the client closing the response stream cancels the request.
          if (!success) spdlog::debug("client closed the stream of request {}", ex->request_id().dump());
          core.cancel_request(conn, ex->request_id());
        }
        if (session) {
          ex->trim(limit);
          std::lock_guard l(session->m);
          if (ex->finished()) session->streams.erase(ex->stream_id());
          if (session->standalone == ex) session->standalone_open = false;
        }
      });
}

// ---- Handshake era (2025-03-26 … 2025-11-25) ------------------------------------------------------

void HttpServer::Impl::post_legacy(const httplib::Request& req, httplib::Response& res, const Json& msg) {
  auto fail = [&](int status, int code, const std::string& message) {
    res.status = status;
    Json id = msg.is_object() && msg.contains("id") && rpc::valid_id(msg["id"]) ? msg["id"] : Json();
    res.set_content(error_body(id, code, message), "application/json");
  };
  if (req.has_header(kVersionHeader)) {
    auto rev = parse_revision(req.get_header_value(kVersionHeader));
    if (!rev || is_modern(*rev))
      return fail(400, rpc::kInvalidRequest, "Unsupported MCP-Protocol-Version: " + req.get_header_value(kVersionHeader));
  }
  bool is_init = msg.is_object() && msg.value("method", "") == "initialize";
  std::shared_ptr<HttpSession> session;
  if (req.has_header(kSessionHeader)) {
    session = find_session(req.get_header_value(kSessionHeader));
    if (!session) return fail(404, rpc::kInvalidRequest, "Session not found (it expired or was deleted): initialize again");
    if (is_init) return fail(400, rpc::kInvalidRequest, "Invalid Request: this session is already initialized");
  } else if (is_init) {
    session = std::make_shared<HttpSession>();
    session->core = core.new_session(std::make_shared<StandaloneSink>(session));
  } else {
    return fail(400, rpc::kInvalidRequest, "Bad Request: missing Mcp-Session-Id header (send initialize first)");
  }

  auto kind = msg.is_array() ? rpc::Kind::Request : rpc::classify(msg).kind;
  bool has_request = kind == rpc::Kind::Request || kind == rpc::Kind::Invalid;
  if (msg.is_array()) {
    has_request = false;
    for (const auto& m : msg) has_request |= rpc::classify(m).kind != rpc::Kind::Notification && rpc::classify(m).kind != rpc::Kind::Response;
  }
  Json id = msg.is_object() && msg.contains("id") ? msg["id"] : Json();
  auto ex = std::make_shared<Exchange>(Exchange::Style::Legacy, msg.is_array() ? Json("batch") : id,
                                       base64url_encode(random_bytes(9)));
  Connection conn{session->core, ex, "http", "local", /*run_quick_inline=*/true};
  if (!has_request) {
    core.handle(msg, conn);
    res.status = 202;
    return;
  }
  if (msg.is_array()) {
    // A batch reply is one array; a custom id makes the exchange recognise it.
    core.handle(msg, conn);
  } else {
    core.handle(msg, conn);
  }
  if (is_init) {
    auto body = ex->wait_first(stopping);
    Json r = body ? Json::parse(*body, nullptr, false) : Json();
    if (!r.is_object() || !r.contains("result")) {  // a refused initialize creates no session
      res.status = r.is_object() ? 200 : 503;
      if (body) res.set_content(*body, "application/json");
      return;
    }
    {
      std::lock_guard l(sessions_m);
      sessions[session->core->id] = session;
    }
    res.set_header(kSessionHeader, session->core->id);
    res.set_content(std::move(*body), "application/json");
    return;
  }
  respond(res, ex, conn, false, session);
}

void HttpServer::Impl::get_mcp(const httplib::Request& req, httplib::Response& res) {
  auto fail = [&](int status, const std::string& message) {
    res.status = status;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, message), "application/json");
  };
  if (!req.has_header(kSessionHeader)) {
    if (parse_revision(req.get_header_value(kVersionHeader)) == Revision::V2026_07_28) {
      res.set_header("Allow", "POST");
      return fail(405, "Method Not Allowed: 2026-07-28 has no GET stream; use subscriptions/listen");
    }
    return fail(400, "Bad Request: missing Mcp-Session-Id header");
  }
  if (!accepts(req.get_header_value("Accept"), "text/event-stream"))
    return fail(406, "Not Acceptable: Accept must list text/event-stream");
  auto session = find_session(req.get_header_value(kSessionHeader));
  if (!session) return fail(404, "Session not found");
  Connection conn{session->core, nullptr, "http", "local"};

  if (req.has_header("Last-Event-ID")) {
    // Resumption: replay what this stream missed, then carry on live.
    std::string last = req.get_header_value("Last-Event-ID");
    auto colon = last.rfind(':');
    std::string sid = last.substr(0, colon);
    uint64_t seq = colon == std::string::npos ? 0 : std::strtoull(last.c_str() + colon + 1, nullptr, 10);
    std::shared_ptr<Exchange> ex;
    {
      std::lock_guard l(session->m);
      auto it = session->streams.find(sid);
      if (it != session->streams.end()) ex = it->second;
    }
    if (!ex) return fail(404, "Unknown stream for Last-Event-ID " + last);
    conn.sink = ex;
    stream(res, ex, seq, conn, false, session, "");
    return;
  }
  std::shared_ptr<Exchange> ex;
  {
    std::lock_guard l(session->m);
    if (session->standalone_open) return fail(409, "Conflict: this session already has a GET stream open");
    ex = std::make_shared<Exchange>(Exchange::Style::Legacy, Json(), base64url_encode(random_bytes(9)));
    session->standalone = ex;
    session->standalone_open = true;
  }
  conn.sink = ex;
  stream(res, ex, 0, conn, false, session,
         "id: " + ex->stream_id() + ":0\nretry: " + std::to_string(opt.sse_retry.count()) + "\ndata: \n\n");
}

void HttpServer::Impl::delete_mcp(const httplib::Request& req, httplib::Response& res) {
  if (!req.has_header(kSessionHeader)) {
    res.status = 400;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Bad Request: missing Mcp-Session-Id header"), "application/json");
    return;
  }
  std::shared_ptr<HttpSession> s;
  {
    std::lock_guard l(sessions_m);
    auto it = sessions.find(req.get_header_value(kSessionHeader));
    if (it != sessions.end()) {
      s = it->second;
      sessions.erase(it);
    }
  }
  if (!s) {
    res.status = 404;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Session not found"), "application/json");
    return;
  }
  {
    std::lock_guard l(s->core->m);
    for (auto& [_, token] : s->core->inflight) token.cancel();
  }
  {
    std::lock_guard l(s->m);
    if (s->standalone) s->standalone->close_stream();
  }
  res.status = 200;
}

// ---- HTTP+SSE (2024-11-05) ------------------------------------------------------------------------

void HttpServer::Impl::get_sse(const httplib::Request& req, httplib::Response& res) {
  if (!accepts(req.get_header_value("Accept"), "text/event-stream")) {
    res.status = 406;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Not Acceptable: Accept must list text/event-stream"), "application/json");
    return;
  }
  auto session = std::make_shared<HttpSession>();
  auto ex = std::make_shared<Exchange>(Exchange::Style::LegacySse, Json(), "");
  session->core = core.new_session(ex);
  session->standalone = ex;
  session->standalone_open = true;
  {
    std::lock_guard l(sessions_m);
    sessions[session->core->id] = session;
  }
  Connection conn{session->core, ex, "sse", "local"};
  std::string endpoint = "event: endpoint\ndata: /messages?sessionId=" + session->core->id + "\n\n";
  stream(res, ex, 0, conn, false, session, endpoint);
}

void HttpServer::Impl::post_messages(const httplib::Request& req, httplib::Response& res) {
  auto session = find_session(req.get_param_value("sessionId"));
  std::shared_ptr<Exchange> ex;
  if (session) {
    std::lock_guard l(session->m);
    if (session->standalone && session->standalone->style() == Exchange::Style::LegacySse) ex = session->standalone;
  }
  if (!ex) {
    res.status = 404;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Session not found: open GET /sse first"), "application/json");
    return;
  }
  Json msg, err;
  if (!rpc::parse(req.body, msg, err)) {
    res.status = 400;
    res.set_content(dump(err), "application/json");
    return;
  }
  core.handle(msg, Connection{session->core, ex, "sse", "local"});
  res.status = 202;
  res.set_content("Accepted", "text/plain");
}

void HttpServer::Impl::reap_idle() {
  std::mutex m;
  std::unique_lock l(m);
  auto period = std::max<std::chrono::seconds>(std::chrono::seconds(1), std::min<std::chrono::seconds>(opt.session_idle_timeout / 4, std::chrono::seconds(30)));
  while (!stopping) {
    reaper_cv.wait_for(l, period, [&] { return stopping.load(); });
    std::vector<std::shared_ptr<HttpSession>> expired;
    {
      std::lock_guard sl(sessions_m);
      for (auto it = sessions.begin(); it != sessions.end();) {
        bool open;
        {
          std::lock_guard ssl(it->second->m);
          open = it->second->standalone_open || !it->second->streams.empty();
        }
        if (!open && Clock::now() - it->second->last_used > opt.session_idle_timeout) {
          expired.push_back(it->second);
          it = sessions.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& s : expired) spdlog::info("session {} expired after {} s idle", s->core->id.substr(0, 6), opt.session_idle_timeout.count());
  }
}

// ---- Public API -------------------------------------------------------------------------------------

HttpServer::HttpServer(Server& core, HttpOptions options) : impl_(std::make_unique<Impl>(core, std::move(options))) {
  impl_->setup();
}

HttpServer::~HttpServer() {
  stop();
  if (impl_->reaper.joinable()) impl_->reaper.join();
}

int HttpServer::bind() {
  auto& o = impl_->opt;
  impl_->loopback = is_loopback_host(o.host);
  if (!impl_->loopback && !o.allow_remote)
    throw std::runtime_error("refusing to bind " + o.host + ": not a loopback address (pass --allow-remote to expose it)");
  if (!impl_->loopback)
    spdlog::warn("listening on {} without HTTP authentication: anyone who can reach it can use this server", o.host);
  int port = o.port == 0 ? impl_->http.bind_to_any_port(o.host) : (impl_->http.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port <= 0) throw std::runtime_error("cannot bind " + o.host + ":" + std::to_string(o.port));
  // The library listens with a backlog of 5: a burst of clients would overflow it and wait out
  // SYN retransmits. Listening again on the bound socket only raises the backlog.
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);
  impl_->port = port;
  return port;
}

void HttpServer::run() {
  if (impl_->port <= 0) bind();
  impl_->reaper = std::thread([this] { impl_->reap_idle(); });
  impl_->http.listen_after_bind();
}

void HttpServer::stop() {
  if (impl_->stopping.exchange(true)) return;
  impl_->reaper_cv.notify_all();
  {
    std::lock_guard l(impl_->live_m);
    for (auto& w : impl_->live)
      if (auto ex = w.lock()) ex->wake();
  }
  impl_->core.cancel_all();
  impl_->http.stop();
}

int HttpServer::port() const { return impl_->port; }

}  // namespace concierge
