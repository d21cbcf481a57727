#pragma once
// The HTTP transport's internals, shared by its files: http_connection.cpp (connection limits
// on cpp-httplib), http.cpp (routing, bodies, origin checks, replies and streams), and one file
// per protocol era: http_modern.cpp (2026-07-28, stateless), http_sessions.cpp (2025-03-26 …
// 2025-11-25, Mcp-Session-Id sessions) and http_sse.cpp (2024-11-05, HTTP+SSE). Not for use
// outside src/server/http*.

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <set>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "common/log.hpp"
#include "common/log_text.hpp"
#include "common/json_parse.hpp"
#include "common/metrics.hpp"
#include "server/request_state.hpp"


#include "server/http.hpp"

namespace concierge::http_detail {

using Clock = std::chrono::steady_clock;

constexpr const char* kSessionHeader = "Mcp-Session-Id";
constexpr const char* kVersionHeader = "MCP-Protocol-Version";

constexpr int kServerBusy = -32000;  // JSON-RPC's implementation-defined server error range
// Connections past --max-connections are answered 503 by at most this many threads at once;
// past that the accept loop waits and new clients queue in the listen backlog.
constexpr size_t kRefusers = 16;
// An idle keep-alive connection is closed after this (stop() wakes it at once).
constexpr std::chrono::milliseconds kKeepAlive{5000};


// ---- Connections (http_connection.cpp) ---------------------------------------------------------

// cpp-httplib runs each connection on one task until it closes, and an SSE stream holds its
// task for as long as it is open, so the pool grows with the open connections (up to the cap
// plus the refusers); threads beyond the base exit after idling `idle`. enqueue() blocks the
// accept loop while every thread is taken, so a flood waits in the kernel's backlog, not here.
class ConnectionPool : public httplib::TaskQueue {
 public:
  ConnectionPool(size_t base, size_t max, std::chrono::milliseconds idle) : s_(std::make_shared<State>()) {
    s_->base = std::min(base, max);
    s_->max = max;
    s_->idle_for = idle;
  }
  void enqueue(std::function<void()> fn) override {
    std::unique_lock l(s_->m);
    s_->room.wait(l, [&] { return s_->busy + s_->queue.size() < s_->max || s_->stop; });
    s_->queue.push_back(std::move(fn));
    if (s_->idle < s_->queue.size()) {
      try {
        std::thread([s = s_] { worker(s); }).detach();  // a worker keeps the state alive
        ++s_->live;
      } catch (const std::system_error& e) {  // out of threads: the job waits for a free worker
        spdlog::warn("cannot start an HTTP worker thread: {}", e.what());
      }
    }
    s_->work.notify_one();
  }
  void shutdown() override {
    std::unique_lock l(s_->m);
    s_->stop = true;
    s_->work.notify_all();
    s_->room.notify_all();
    s_->gone.wait(l, [&] { return s_->live == 0; });
  }

 private:
  struct State {
    std::mutex m;
    std::condition_variable work, room, gone;
    std::deque<std::function<void()>> queue;
    size_t base = 0, max = 0, live = 0, idle = 0, busy = 0;
    std::chrono::milliseconds idle_for{0};
    bool stop = false;
  };
  static void worker(std::shared_ptr<State> s) {
    std::unique_lock l(s->m);
    for (;;) {
      ++s->idle;
      bool woke = s->work.wait_for(l, s->idle_for, [&] { return s->stop || !s->queue.empty(); });
      --s->idle;
      if (s->queue.empty()) {
        if (s->stop || (!woke && s->live > s->base)) break;
        continue;
      }
      auto job = std::move(s->queue.front());
      s->queue.pop_front();
      ++s->busy;
      l.unlock();
      job();
      job = nullptr;
      l.lock();
      --s->busy;
      s->room.notify_one();
    }
    --s->live;
    s->gone.notify_all();
  }
  std::shared_ptr<State> s_;
};
// ---- Connection guard --------------------------------------------------------------------------
// Debian's cpp-httplib 0.11.4 is a compiled library (its CPPHTTPLIB_* limits are fixed) and it
// has no cap on header count or bytes (it keeps every header line up to the blank line), no
// request deadline (only a per-read timeout, which a client sending a byte a second never
// trips), no body cap for chunked bodies, no connection cap, and no handle on client sockets.
// Server::process_and_close_socket is a private virtual given each accepted socket: the
// override below reads the request head itself (bounded, with a deadline) into the buffer of
// its own Stream, then calls the library's process_request on that Stream, so parsing, routing
// and writing stay the library's and nothing is copied twice.

// What the guard enforces, and the connections and streams it counts.
struct Guard {
  const HttpOptions& opt;
  const std::atomic<bool>& stopping;
  std::atomic<size_t> connections{0}, streams{0};
  std::mutex fds_m;
  std::unordered_set<int> fds;  // open client sockets, shut down on stop()

  Guard(const HttpOptions& o, const std::atomic<bool>& s) : opt(o), stopping(s) {}
  // SSE streams may take all but an eighth of the connections: the rest stay for requests.
  size_t stream_cap() const { return opt.max_connections - std::max<size_t>(1, opt.max_connections / 8); }
  bool try_claim_stream() {
    size_t cur = streams.load();
    do {
      if (cur >= stream_cap()) return false;
    } while (!streams.compare_exchange_weak(cur, cur + 1));
    return true;
  }
  void shutdown_all() {
    std::lock_guard l(fds_m);
    for (int fd : fds) ::shutdown(fd, SHUT_RDWR);
  }
};

class GuardedServer : public httplib::Server {
 public:
  explicit GuardedServer(Guard& g) : g_(g) {}

 private:
  bool process_and_close_socket(socket_t sock) override;
  Guard& g_;
};

uint64_t content_length(const httplib::Request& req);
bool has_body(const httplib::Request& req);
// The request's W3C traceparent header when it is well formed, else "" (an invalid one is
// ignored, as Trace Context says).
std::string traceparent_of(const httplib::Request& req);
// Answered without reading the body: the connection can't carry another request, and says so.
void unread_body(const httplib::Request& req, httplib::Response& res);
// The connection being served on this thread: close it after this response (its body is not
// read to the end); whether its body overran the byte budget or the body deadline.
void close_after_response();
bool body_over_budget();
bool body_timed_out();
int current_socket();  // -1 outside a connection's thread
// The peer closed or reset the connection (readable with nothing to read). Bytes waiting (a
// pipelined request) mean it is still there.
bool client_gone(int fd);

// ---- Helpers (http.cpp) ---------------------------------------------------------------------------

std::string error_body(const Json& id, int code, std::string_view message, const Json& data = nullptr);
// A limit's refusal: which limit, its flag, its value.
Json limit_data(std::string_view limit, std::string_view flag, const Json& value);
bool is_loopback_host(std::string host);
// An Accept header that lists (or wildcards) a media type.
bool accepts(const std::string& accept, std::string_view type);
std::string trim_ows(std::string s);
// Decodes a header value that may use the `=?base64?…?=` sentinel (2026-07-28). nullopt when
// the value is malformed (bad Base64, characters a header value may not carry).
std::optional<std::string> decode_header_value(const std::string& raw);

// ---- Access (http_access.cpp) -----------------------------------------------------------------

// Who sent an HTTP request: the local user, unrestricted, when authentication is off.
struct Caller {
  std::string user = "local";
  std::optional<std::set<std::string>> scopes;
};

// An IPv4 or IPv6 network (--trusted-proxy), IPv4 held as IPv4-mapped IPv6.
struct Cidr {
  std::array<uint8_t, 16> net{};
  int bits = 128;
};
std::optional<Cidr> parse_cidr(std::string_view text);
bool cidr_contains(const Cidr& c, const std::string& ip);

// An absolute http(s) URL split up (--public-url); nullopt when it is not one, or carries a
// query, fragment or user info.
struct PublicUrl {
  std::string scheme, host, authority, path;  // authority: host[:port], lowercase, default port dropped
  std::string origin() const { return scheme + "://" + authority; }
};
std::optional<PublicUrl> parse_public_url(const std::string& url);
// A literal path as a regex matching only itself (cpp-httplib routes by regex).
std::string regex_escape(const std::string& s);

// ---- Exchanges --------------------------------------------------------------------------------

// The outgoing side of one HTTP response: a POST's reply (JSON or SSE), a GET stream, or a
// legacy /sse stream. It buffers what the core sends until the HTTP side writes it.
class Exchange : public Sink {
 public:
  enum class Style { Modern, Legacy, LegacySse };

  // Buffered events are capped in count and bytes, oldest dropped first (the newest always stays:
  // it is the one about to be written). Only Legacy streams keep written events, for replay.
  Exchange(Style style, Json request_id, std::string stream_id, size_t max_events, size_t max_bytes)
      : style_(style), request_id_(std::move(request_id)), stream_id_(std::move(stream_id)),
        max_events_(std::max<size_t>(1, max_events)), max_bytes_(max_bytes) {}

  void send(const Json& m) override {
    std::lock_guard l(m_);
    if (finished_) return;
    bool is_reply = !request_id_.is_null() && (m.is_array() || (!m.contains("method") && m.contains("id") && m["id"] == request_id_));
    events_.push_back(Event{next_seq_++, dump(m), is_reply});
    bytes_ += events_.back().text.size();
    enforce_caps();
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
    enforce_caps();
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
  // `gone` (the client hung up) is asked every 100 ms while nothing has come: then nullopt.
  std::optional<std::string> wait_first(const std::atomic<bool>& stopping, const std::function<bool()>& gone = nullptr) {
    std::unique_lock l(m_);
    auto ready = [&] { return !events_.empty() || close_requested_ || stopping; };
    while (!cv_.wait_for(l, std::chrono::milliseconds(100), ready))
      if (gone && gone()) return std::nullopt;
    if (!events_.empty() && events_.front().reply && events_.size() == 1 && !close_requested_) {
      std::string body = std::move(events_.front().text);
      events_.clear();
      bytes_ = 0;
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
        // A client that reads slower than events come loses a stream that can't be replayed.
        if (lost_unwritten_ && style_ != Style::Legacy) return End::Gone;
        auto it = std::find_if(events_.begin(), events_.end(), [&](const Event& e) { return e.seq > cursor; });
        if (it == events_.end()) break;
        Event e = *it;
        cursor = e.seq;
        if (style_ != Style::Legacy) {  // no replay in 2026-07-28 nor on a 2024-11-05 /sse stream
          for (auto d = events_.begin(); d != std::next(it); ++d) bytes_ -= d->text.size();
          events_.erase(events_.begin(), std::next(it));
        }
        l.unlock();
        bool ok = e.text.empty() || write_event(sink, e);
        l.lock();
        if (!ok) return End::Gone;
        written_ = std::max(written_, e.seq);
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

  // A resume from `seq` would miss events that were dropped: it gets a fresh stream instead.
  bool missed(uint64_t seq) {
    std::lock_guard l(m_);
    return seq < dropped_through_;
  }
  size_t buffered_bytes() {
    std::lock_guard l(m_);
    return bytes_;
  }

 private:
  struct Event {
    uint64_t seq;
    std::string text;
    bool reply;
  };

  void enforce_caps() {
    while (events_.size() > 1 && (events_.size() > max_events_ || bytes_ > max_bytes_)) {
      const Event& e = events_.front();
      if (e.seq > written_) lost_unwritten_ = true;
      dropped_through_ = e.seq;
      bytes_ -= e.text.size();
      events_.pop_front();
    }
  }

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
  uint64_t next_seq_ = 1, written_ = 0, dropped_through_ = 0;
  size_t max_events_, max_bytes_, bytes_ = 0;
  bool reply_queued_ = false, close_requested_ = false, finished_ = false, lost_unwritten_ = false;
  int reply_error_ = 0;
};

// A legacy (handshake-era) Streamable HTTP session, or a legacy HTTP+SSE one.
struct HttpSession {
  std::shared_ptr<Session> core;
  std::atomic<Clock::time_point> last_used{Clock::now()};
  std::mutex m;
  int attached = 0;  // responses streaming now: a session with none (and idle) expires
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

}  // namespace concierge::http_detail

namespace concierge {

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// ---- The server -------------------------------------------------------------------------------

using namespace http_detail;

struct HttpServer::Impl {
  Server& core;
  HttpOptions opt;
  std::atomic<bool> stopping{false};
  Guard guard{opt, stopping};
  GuardedServer http{guard};
  int port = -1;
  int listen_fd = -1;
  bool loopback = true;

  std::mutex sessions_m;
  std::unordered_map<std::string, std::shared_ptr<HttpSession>> sessions;
  std::mutex live_m;
  std::vector<std::weak_ptr<Exchange>> live;  // open streams, woken on stop
  std::thread reaper;
  std::condition_variable reaper_cv;

  // Access (http_access.cpp): set by check_access() and publish_resource() at bind.
  std::optional<PublicUrl> public_url;
  std::string resource, metadata_url;  // RFC 9728 `resource`, and where its metadata is
  std::string metadata_param;          // `resource_metadata="<metadata_url>"`, for every challenge
  std::vector<Cidr> trusted_proxies;

  Impl(Server& c, HttpOptions o) : core(c), opt(std::move(o)) {}

  void track(const std::shared_ptr<Exchange>& ex) {
    std::lock_guard l(live_m);
    std::erase_if(live, [](auto& w) { return w.expired(); });
    live.push_back(ex);
  }

  std::shared_ptr<Exchange> exchange(Exchange::Style style, Json id, std::string stream_id) {
    return std::make_shared<Exchange>(style, std::move(id), std::move(stream_id), opt.events_per_session, opt.replay_bytes);
  }

  void setup();
  bool check_origin(const httplib::Request& req, httplib::Response& res);
  // Access (http_access.cpp).
  void setup_access();
  void check_access();      // before binding: throws for a bad --public-url or --trusted-proxy
  void publish_resource();  // once bound: `resource` and `metadata_url`
  bool mcp_path(const std::string& path) const;
  bool metadata_path(const std::string& path) const;
  // The Host the client named (X-Forwarded-Host from a trusted proxy); the public URL's check.
  bool check_public_host(const httplib::Request& req, httplib::Response& res);
  void cors(const httplib::Request& req, httplib::Response& res);
  // The caller of an MCP request, or nullopt once the refusal (400/401) is written.
  std::optional<Caller> authorize(const httplib::Request& req, httplib::Response& res);
  // A request outside the caller's scopes: 403 insufficient_scope.
  void forbid(httplib::Response& res, const Caller& who, const rpc::Error& e, const Json& id);
  // The body, at most `limit` bytes (0: --max-body-bytes), or nullopt once the refusal is written.
  std::optional<std::string> read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                                       size_t limit = 0);
  // Routes a higher layer serves (http_routes.cpp): registered before the catch-alls.
  void setup_routes();
  // The registered route for a path (any method), or null; its methods for Allow.
  const HttpRoute* route_at(const std::string& path) const;
  std::string route_methods(const std::string& path) const;
  std::string peer_address(const httplib::Request& req) const;
  void post_mcp(const httplib::Request& req, const std::string& body, httplib::Response& res, const Caller& who);
  void post_modern(const httplib::Request& req, httplib::Response& res, const Json& msg, const Caller& who);
  void post_legacy(const httplib::Request& req, httplib::Response& res, const Json& msg, const Caller& who);
  void get_mcp(const httplib::Request& req, httplib::Response& res, const Caller& who);
  void delete_mcp(const httplib::Request& req, httplib::Response& res, const Caller& who);
  void get_sse(const httplib::Request& req, httplib::Response& res, const Caller& who);
  void post_messages(const httplib::Request& req, const std::string& body, httplib::Response& res, const Caller& who);
  std::optional<std::string> check_mirrored_headers(const httplib::Request& req, const Json& msg);
  void respond(httplib::Response& res, std::shared_ptr<Exchange> ex, const Connection& conn, bool modern,
               std::shared_ptr<HttpSession> session, bool claimed = false);
  void stream(httplib::Response& res, std::shared_ptr<Exchange> ex, uint64_t after_seq, const Connection& conn,
              bool modern, std::shared_ptr<HttpSession> session, std::string priming, bool claimed = false);
  bool refuse_stream(httplib::Response& res);
  void refuse_session(httplib::Response& res, const Json& id);
  // The session named by id when it is `user`'s; another user's reads exactly like a missing one.
  std::shared_ptr<HttpSession> find_session(const std::string& id, const std::string& user);
  bool add_session(const std::shared_ptr<HttpSession>& s);
  void end_session(const std::shared_ptr<HttpSession>& s);
  void drop_session(const std::shared_ptr<HttpSession>& s);
  void reap_idle();
  // /healthz and /readyz: whether every critical check passed, and each check's report.
  std::pair<bool, Json> health();
  std::mutex health_m;
  std::optional<std::chrono::steady_clock::time_point> health_at;
  std::pair<bool, Json> health_cached;

  // Last: unregistered first, before what its collector reads is destroyed.
  metrics::Registry::Handle metrics_handle;
};

}  // namespace concierge
