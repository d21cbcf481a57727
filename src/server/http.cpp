#include "server/http.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "common/log_text.hpp"
#include "common/json_parse.hpp"
#include "server/request_state.hpp"

namespace concierge {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kSessionHeader = "Mcp-Session-Id";
constexpr const char* kVersionHeader = "MCP-Protocol-Version";

constexpr int kServerBusy = -32000;  // JSON-RPC's implementation-defined server error range
// Connections past --max-connections are answered 503 by at most this many threads at once;
// past that the accept loop waits and new clients queue in the listen backlog.
constexpr size_t kRefusers = 16;
// An idle keep-alive connection is closed after this (stop() wakes it at once).
constexpr std::chrono::milliseconds kKeepAlive{5000};

std::string error_body(const Json& id, int code, std::string_view message, const Json& data = nullptr);

// A limit's refusal: which limit, its flag, its value.
Json limit_data(std::string_view limit, std::string_view flag, const Json& value) {
  return Json{{"limit", limit}, {"flag", flag}, {"value", value}};
}

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

class ConnStream;

// The connection being served on this thread (one connection per task, start to end), so a
// handler can say its connection must close (it left body bytes unread).
struct ConnState {
  ConnStream* stream = nullptr;
  bool close_after = false;
};
thread_local ConnState* t_conn = nullptr;

// The peer closed or reset the connection (readable with nothing to read). Bytes waiting (a
// pipelined request) mean it is still there.
bool client_gone(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP)) return true;
  char c;
  return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

int poll_ms(Clock::time_point deadline, std::chrono::milliseconds cap) {
  // Rounded up: a poll that times out has reached the deadline.
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<long long>(std::min(left, cap).count(), 0, 60'000));
}

class ConnStream final : public httplib::Stream {
 public:
  enum class Head { Ok, Closed, TooLarge, TooMany, Timeout };

  ConnStream(int fd, std::chrono::milliseconds read_timeout, std::chrono::milliseconds write_timeout)
      : fd_(fd), read_timeout_(read_timeout), write_timeout_(write_timeout), buf_(kChunk) {}

  bool is_readable() const override { return off_ < len_ || wait(POLLIN, Clock::now() + read_timeout_); }
  bool is_writable() const override {
    if (!wait(POLLOUT, Clock::now() + write_timeout_)) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return true;
    char c;  // readable: data (alive) or EOF / reset (gone)
    return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (off_ == len_) {
      if (!wait(POLLIN, deadline_)) return -1;
      if (size >= buf_.size()) return account(::recv(fd_, ptr, size, 0));
      ssize_t n = ::recv(fd_, buf_.data(), buf_.size(), 0);
      if (n <= 0) return n;
      off_ = 0;
      len_ = static_cast<size_t>(n);
    }
    size_t n = std::min(size, len_ - off_);
    std::memcpy(ptr, buf_.data() + off_, n);
    off_ += n;
    return account(static_cast<ssize_t>(n));
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!wait(POLLOUT, Clock::now() + write_timeout_)) return -1;
    return ::send(fd_, ptr, size, MSG_NOSIGNAL);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(::getpeername, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(::getsockname, ip, port); }
  socket_t socket() const override { return fd_; }

  // Waits up to `idle` for the next request to start (true: bytes or EOF to read).
  bool wait_request(std::chrono::milliseconds idle) const { return off_ < len_ || wait(POLLIN, Clock::now() + idle); }

  // Buffers the whole request head (request line, headers, blank line) within the limits and
  // the deadline; the library then parses it from the buffer.
  Head read_head(size_t max_bytes, size_t max_headers, Clock::time_point deadline) {
    body_ = false;
    deadline_ = deadline;
    if (off_ > 0) {
      std::memmove(buf_.data(), buf_.data() + off_, len_ - off_);
      len_ -= off_;
      off_ = 0;
    }
    size_t lines = 0;
    for (size_t at = 0;;) {
      for (; at < len_; ++at) {
        if (at >= max_bytes) return Head::TooLarge;
        if (buf_[at] != '\n') continue;
        ++lines;
        if (at >= 3 && buf_[at - 1] == '\r' && buf_[at - 2] == '\n' && buf_[at - 3] == '\r')
          return lines - 2 > max_headers ? Head::TooMany : Head::Ok;
        if (lines > max_headers + 1) return Head::TooMany;  // the request line and max_headers
      }
      if (len_ == buf_.size()) buf_.resize(std::min(buf_.size() * 2, max_bytes + kChunk));
      if (!wait(POLLIN, deadline)) return Clock::now() >= deadline ? Head::Timeout : Head::Closed;
      ssize_t n = ::recv(fd_, buf_.data() + len_, buf_.size() - len_, 0);
      if (n <= 0) return Head::Closed;
      len_ += static_cast<size_t>(n);
    }
  }
  // The body follows: at most `budget` raw bytes (chunk framing included) before `deadline`.
  void begin_body(size_t budget, Clock::time_point deadline) {
    body_ = true;
    body_read_ = 0;
    budget_ = budget;
    deadline_ = deadline;
  }
  bool over_budget() const { return over_; }
  bool timed_out() const { return Clock::now() >= deadline_; }

  // Sends a complete response of our own (the library never saw this request).
  void respond(int status, const char* reason, const std::string& body, const std::string& extra_headers = "") {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                      "\r\nContent-Type: application/json\r\nConnection: close\r\n" + extra_headers +
                      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    for (size_t done = 0; done < out.size();) {
      ssize_t n = write(out.data() + done, out.size() - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }
  // Closes after an answer the client may still be sending into: reading on for a moment lets it
  // see the answer (closing with unread bytes would reset the connection and lose it).
  void linger(std::chrono::milliseconds for_at_most) {
    ::shutdown(fd_, SHUT_WR);
    auto until = Clock::now() + for_at_most;
    char sink[16384];
    while (wait(POLLIN, until) && ::recv(fd_, sink, sizeof sink, 0) > 0) {
    }
  }

 private:
  static constexpr size_t kChunk = 16384;

  ssize_t account(ssize_t n) {
    if (n > 0 && body_ && (body_read_ += static_cast<size_t>(n)) > budget_) {
      over_ = true;
      return -1;
    }
    return n;
  }
  bool wait(short events, Clock::time_point deadline) const {
    for (;;) {
      pollfd p{fd_, events, 0};
      int rc = ::poll(&p, 1, poll_ms(deadline, events == POLLIN ? read_timeout_ : write_timeout_));
      if (rc > 0) return true;
      if (rc < 0 && errno == EINTR) continue;
      return false;  // the deadline or the per-read timeout, whichever is first
    }
  }
  template <class F>
  void address(F get, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    char text[INET6_ADDRSTRLEN] = "";
    if (get(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return;
    if (a.ss_family == AF_INET) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
      ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
      port = ntohs(v4->sin_port);
    } else if (a.ss_family == AF_INET6) {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
      ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
      port = ntohs(v6->sin6_port);
    }
    ip = text;
  }

  int fd_;
  std::chrono::milliseconds read_timeout_, write_timeout_;
  std::vector<char> buf_;
  size_t off_ = 0, len_ = 0;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool body_ = false, over_ = false;
  size_t body_read_ = 0, budget_ = 0;
};

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

bool GuardedServer::process_and_close_socket(socket_t sock) {
  const auto& opt = g_.opt;
  size_t n = ++g_.connections;
  {
    std::lock_guard l(g_.fds_m);
    g_.fds.insert(sock);
  }
  ConnStream strm(sock, opt.read_timeout, std::chrono::seconds(30));
  ConnState conn{&strm};
  t_conn = &conn;
  auto refuse = [&](int status, const char* reason, std::string message, Json data, const std::string& extra = "") {
    strm.respond(status, reason, error_body(nullptr, status == 503 ? kServerBusy : rpc::kInvalidRequest, message, data), extra);
    strm.linger(std::chrono::seconds(1));
  };
  if (n > opt.max_connections) {
    // Over the cap: read the head briefly so the client is answered, not reset.
    if (strm.read_head(opt.max_header_bytes, opt.max_headers, Clock::now() + std::chrono::seconds(1)) != ConnStream::Head::Closed)
      refuse(503, "Service Unavailable",
             "Server busy: " + std::to_string(opt.max_connections) + " connections are open (--max-connections); retry shortly",
             limit_data("max_connections", "--max-connections", opt.max_connections), "Retry-After: 1\r\n");
  } else {
    auto since = Clock::now();
    for (bool first = true; !g_.stopping; first = false) {
      // The first request's head must arrive within the head timeout of the connect; a later
      // one's within it of its first byte. An idle keep-alive connection is closed.
      if (!strm.wait_request(first ? opt.header_timeout : kKeepAlive)) break;
      if (!first) since = Clock::now();
      auto head = strm.read_head(opt.max_header_bytes, opt.max_headers, since + opt.header_timeout);
      if (head == ConnStream::Head::Closed) break;
      if (head == ConnStream::Head::Timeout) {
        spdlog::debug("dropped a client whose request head took over {} ms", opt.header_timeout.count());
        refuse(408, "Request Timeout",
               "Request head not received within " + std::to_string(opt.header_timeout.count()) + " ms (--header-timeout)",
               limit_data("header_timeout", "--header-timeout", opt.header_timeout.count() / 1000.0));
        break;
      }
      if (head != ConnStream::Head::Ok) {
        bool bytes = head == ConnStream::Head::TooLarge;
        refuse(431, "Request Header Fields Too Large",
               bytes ? "Request head exceeds " + std::to_string(opt.max_header_bytes) + " bytes (--max-header-bytes)"
                     : "Request has more than " + std::to_string(opt.max_headers) + " header lines (--max-headers)",
               bytes ? limit_data("max_header_bytes", "--max-header-bytes", opt.max_header_bytes)
                     : limit_data("max_headers", "--max-headers", opt.max_headers));
        break;
      }
      // In the reserved eighth of the connections, serve one request and close: an idle
      // keep-alive must not hold a slot kept for requests.
      bool close = g_.connections.load() > g_.stream_cap() || g_.stopping;
      bool closed = false;
      conn.close_after = false;
      bool ok = process_request(strm, close, closed, [&](httplib::Request& req) {
        // Chunk framing counts against the body: twice the body cap covers any sane chunking.
        strm.begin_body(opt.max_body_bytes * 2 + 65536, Clock::now() + opt.body_timeout);
        // Only POST, PUT, PATCH and DELETE reach a handler that counts the inflated body: any
        // other method's body is not inflated (it stays under the raw budget).
        const auto& m = req.method;
        if (m != "POST" && m != "PUT" && m != "PATCH" && m != "DELETE") req.headers.erase("Content-Encoding");
      });
      if (conn.close_after) strm.linger(std::chrono::seconds(1));
      if (!ok || closed || close || conn.close_after) break;
    }
  }
  t_conn = nullptr;
  {
    std::lock_guard l(g_.fds_m);
    g_.fds.erase(sock);
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
  }
  --g_.connections;
  return true;
}

uint64_t content_length(const httplib::Request& req) {
  return std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
}
bool has_body(const httplib::Request& req) { return req.has_header("Transfer-Encoding") || content_length(req) > 0; }
// Answered without reading the body: the connection can't carry another request, and says so.
void unread_body(const httplib::Request& req, httplib::Response& res) {
  if (!t_conn || !has_body(req)) return;
  t_conn->close_after = true;
  res.set_header("Connection", "close");
}

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

std::string error_body(const Json& id, int code, std::string_view message, const Json& data) {
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

}  // namespace

// ---- The server -------------------------------------------------------------------------------

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
  std::optional<std::string> read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void post_mcp(const httplib::Request& req, const std::string& body, httplib::Response& res);
  void post_modern(const httplib::Request& req, httplib::Response& res, const Json& msg);
  void post_legacy(const httplib::Request& req, httplib::Response& res, const Json& msg);
  void get_mcp(const httplib::Request& req, httplib::Response& res);
  void delete_mcp(const httplib::Request& req, httplib::Response& res);
  void get_sse(const httplib::Request& req, httplib::Response& res);
  void post_messages(const httplib::Request& req, const std::string& body, httplib::Response& res);
  std::optional<std::string> check_mirrored_headers(const httplib::Request& req, const Json& msg);
  void respond(httplib::Response& res, std::shared_ptr<Exchange> ex, const Connection& conn, bool modern,
               std::shared_ptr<HttpSession> session, bool claimed = false);
  void stream(httplib::Response& res, std::shared_ptr<Exchange> ex, uint64_t after_seq, const Connection& conn,
              bool modern, std::shared_ptr<HttpSession> session, std::string priming, bool claimed = false);
  bool refuse_stream(httplib::Response& res);
  void refuse_session(httplib::Response& res, const Json& id);
  std::shared_ptr<HttpSession> find_session(const std::string& id);
  bool add_session(const std::shared_ptr<HttpSession>& s);
  void end_session(const std::shared_ptr<HttpSession>& s);
  void drop_session(const std::shared_ptr<HttpSession>& s);
  void reap_idle();
};

void HttpServer::Impl::setup() {
  opt.max_connections = std::max<size_t>(2, opt.max_connections);
  http.new_task_queue = [this] { return new ConnectionPool(8, opt.max_connections + kRefusers, opt.worker_idle); };
  // Keep-alive, read and write timeouts are the guard's (GuardedServer); these only feed the
  // library's own socket options.
  http.set_tcp_nodelay(true);
  http.set_read_timeout(opt.read_timeout);
  http.set_write_timeout(std::chrono::seconds(30));
  http.set_payload_max_length(opt.max_body_bytes);  // a larger Content-Length: 413 before reading
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
      spdlog::error("HTTP handler failed: {}", log_safe(e.what()));
    }
    res.status = 500;
    res.set_content(error_body(nullptr, rpc::kInternalError, "Internal error"), "application/json");
  });
  http.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
    if (res.status == 413 && res.body.empty())
      res.set_content(error_body(nullptr, rpc::kInvalidRequest,
                                 "Request body exceeds " + std::to_string(opt.max_body_bytes) + " bytes (--max-body-bytes)",
                                 limit_data("max_body_bytes", "--max-body-bytes", opt.max_body_bytes)),
                      "application/json");
  });

  http.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    size_t n;
    {
      std::lock_guard l(sessions_m);
      n = sessions.size();
    }
    res.set_content(dump(Json{{"status", "ok"}, {"server", core.options().name}, {"version", core.options().version},
                              {"sessions", n}, {"connections", guard.connections.load()}, {"streams", guard.streams.load()}}),
                    "application/json");
  });
  // Every method that carries a body is routed to a handler with a content reader (catch-alls
  // included): the library would otherwise read a chunked or compressed body whole into
  // req.body, unbounded, before routing.
  using Reader = httplib::ContentReader;
  http.Post(opt.endpoint, [this](const httplib::Request& req, httplib::Response& res, const Reader& reader) {
    if (auto body = read_body(req, res, reader)) post_mcp(req, *body, res);
  });
  http.Post("/messages", [this](const httplib::Request& req, httplib::Response& res, const Reader& reader) {
    if (auto body = read_body(req, res, reader)) post_messages(req, *body, res);
  });
  http.Get(opt.endpoint, [this](const httplib::Request& req, httplib::Response& res) { get_mcp(req, res); });
  http.Delete(opt.endpoint, [this](const httplib::Request& req, httplib::Response& res, const Reader&) {
    unread_body(req, res);
    delete_mcp(req, res);
  });
  auto unrouted = [this](const httplib::Request& req, httplib::Response& res, const Reader&) {
    unread_body(req, res);
    if (req.path == opt.endpoint) {
      res.status = 405;
      res.set_header("Allow", "GET, POST, DELETE");
      res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Method not allowed"), "application/json");
    } else {
      res.status = 404;
      res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Not found: " + req.path), "application/json");
    }
  };
  http.Post(".*", unrouted);
  http.Put(".*", unrouted);
  http.Patch(".*", unrouted);
  http.Delete(".*", unrouted);
  http.Options(opt.endpoint, [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "GET, POST, DELETE");
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Method not allowed"), "application/json");
  });
  http.Get("/sse", [this](const httplib::Request& req, httplib::Response& res) { get_sse(req, res); });
}

// The body as read (chunked or not) and inflated (gzip, deflate, br: the library inflates as it
// reads), cut at --max-body-bytes: the cap counts what would be kept, so a small compressed body
// can't inflate past it. Inflating under the cap costs no more than a plain body of that size,
// and refusing would break clients that compress; other encodings are refused (415).
std::optional<std::string> HttpServer::Impl::read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  auto refuse = [&](int status, int code, const std::string& message, const Json& data = nullptr) {
    t_conn->close_after = true;  // the rest of the body is not read: the connection closes
    res.status = status;
    res.set_header("Connection", "close");
    res.set_content(error_body(nullptr, code, message, data), "application/json");
    return std::nullopt;
  };
  auto too_large = [&] {
    return refuse(413, rpc::kInvalidRequest, "Request body exceeds " + std::to_string(opt.max_body_bytes) + " bytes (--max-body-bytes)",
                  limit_data("max_body_bytes", "--max-body-bytes", opt.max_body_bytes));
  };
  std::string encoding = req.get_header_value("Content-Encoding");
  if (!encoding.empty() && encoding != "identity" && encoding != "gzip" && encoding != "deflate" && encoding != "br")
    return refuse(415, rpc::kInvalidRequest, "Unsupported Content-Encoding '" + encoding + "': send identity, gzip, deflate or br");
  if (content_length(req) > opt.max_body_bytes) return too_large();
  std::string body;
  bool over = false;
  bool ok = reader([&](const char* data, size_t n) {
    if (body.size() + n > opt.max_body_bytes) {
      over = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (over || t_conn->stream->over_budget()) return too_large();
  if (!ok) {
    if (t_conn->stream->timed_out())
      return refuse(408, rpc::kInvalidRequest, "Request body not received within " + std::to_string(opt.body_timeout.count()) + " ms (--body-timeout)",
                    limit_data("body_timeout", "--body-timeout", opt.body_timeout.count() / 1000.0));
    return refuse(400, rpc::kParseError, "Could not read the request body (malformed chunking or compression, or the client left)");
  }
  return body;
}

// DNS-rebinding protection: a browser page must not reach a loopback server through a name it
// controls, so Origin must be ours when present, and on loopback binds Host must be a loopback name.
bool HttpServer::Impl::check_origin(const httplib::Request& req, httplib::Response& res) {
  auto refuse = [&](const std::string& why) {
    spdlog::warn("refused {} {}: {}", log_safe(req.method, 32), log_safe(req.path, 200), log_safe(why, 300));
    res.status = 403;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Forbidden: " + why), "application/json");
    unread_body(req, res);  // refused before routing
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

// Adds a session within --max-sessions, evicting the least recently used idle one (no stream
// open) when full. False when every session is streaming.
bool HttpServer::Impl::add_session(const std::shared_ptr<HttpSession>& s) {
  std::shared_ptr<HttpSession> evicted;
  {
    std::lock_guard l(sessions_m);
    if (sessions.size() >= opt.max_sessions) {
      auto lru = sessions.end();
      for (auto it = sessions.begin(); it != sessions.end(); ++it) {
        {
          std::lock_guard sl(it->second->m);
          if (it->second->attached > 0) continue;
        }
        if (lru == sessions.end() || it->second->last_used.load() < lru->second->last_used.load()) lru = it;
      }
      if (lru == sessions.end()) return false;
      evicted = lru->second;
      sessions.erase(lru);
    }
    sessions[s->core->id] = s;
  }
  if (evicted) {
    spdlog::info("session {} evicted: {} sessions open (--max-sessions)", evicted->core->id.substr(0, 6), opt.max_sessions);
    end_session(evicted);
  }
  return true;
}

// A session that is gone: its requests are cancelled, its stream closed, its replay freed.
void HttpServer::Impl::end_session(const std::shared_ptr<HttpSession>& s) {
  {
    std::lock_guard l(s->core->m);
    for (auto& [_, token] : s->core->inflight) token.cancel();
  }
  std::lock_guard l(s->m);
  if (s->standalone) s->standalone->close_stream();
  s->streams.clear();
}

void HttpServer::Impl::drop_session(const std::shared_ptr<HttpSession>& s) {
  {
    std::lock_guard l(sessions_m);
    auto it = sessions.find(s->core->id);
    if (it == sessions.end() || it->second != s) return;
    sessions.erase(it);
  }
  end_session(s);
}

// A new long-lived stream beyond what --max-connections leaves for streams: 503, so open streams
// can never take the connections kept for requests.
bool HttpServer::Impl::refuse_stream(httplib::Response& res) {
  if (guard.try_claim_stream()) return false;
  res.status = 503;
  res.set_header("Retry-After", "5");
  res.set_content(error_body(nullptr, kServerBusy,
                             "Server busy: " + std::to_string(guard.stream_cap()) + " streams are open, the most --max-connections " +
                                 std::to_string(opt.max_connections) + " allows (the rest is kept for requests); retry later",
                             limit_data("max_connections", "--max-connections", opt.max_connections)),
                  "application/json");
  return true;
}

void HttpServer::Impl::refuse_session(httplib::Response& res, const Json& id) {
  res.status = 503;
  res.set_header("Retry-After", "5");
  res.set_content(error_body(id, kServerBusy,
                             "Server busy: " + std::to_string(opt.max_sessions) + " sessions are open and streaming (--max-sessions); retry later",
                             limit_data("max_sessions", "--max-sessions", opt.max_sessions)),
                  "application/json");
}

void HttpServer::Impl::post_mcp(const httplib::Request& req, const std::string& body, httplib::Response& res) {
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
  if (!rpc::parse(body, msg, err)) {
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
  // A listen is a stream for as long as the client keeps it: it counts against the streams.
  bool claimed = kind == rpc::Kind::Request && msg.value("method", "") == "subscriptions/listen";
  if (claimed && refuse_stream(res)) return;
  // Stateless: a fresh session object per request, only to track it for cancellation.
  auto ex = exchange(Exchange::Style::Modern, id, "");
  Connection conn{core.new_session(nullptr), ex, "http", "local", /*run_quick_inline=*/true};
  if (kind != rpc::Kind::Request) {
    core.handle(msg, conn);
    res.status = 202;
    return;
  }
  core.handle(msg, conn);
  respond(res, ex, conn, true, nullptr, claimed);
}

// Sends the reply as JSON when it is the first thing the handler produced; otherwise opens an
// SSE stream carrying the notifications (and, in the handshake era, server->client requests)
// followed by the reply.
void HttpServer::Impl::respond(httplib::Response& res, std::shared_ptr<Exchange> ex, const Connection& conn, bool modern,
                               std::shared_ptr<HttpSession> session, bool claimed) {
  // 2025-11-25 sessions always get a resumable stream (priming event, event ids): a reply whose
  // connection drops can be fetched again with Last-Event-ID. Older ones get JSON when they can.
  bool resumable = false;
  if (!modern && session) {
    std::lock_guard l(session->core->m);
    resumable = session->core->revision >= Revision::V2025_11_25;
  }
  // 2026-07-28: a client that hangs up before anything was sent cancels the request (as closing
  // its stream does below), so a tool waiting on an upstream service stops.
  int sock = modern && t_conn ? t_conn->stream->socket() : -1;
  auto gone = [sock] { return sock >= 0 && client_gone(sock); };
  if (auto body = resumable ? std::nullopt : ex->wait_first(stopping, gone)) {
    if (claimed) --guard.streams;
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
  if (modern && !resumable && gone()) {
    core.cancel_request(conn, ex->request_id());
    return;
  }
  std::string priming;
  if (!modern) {
    // A resumable stream: the priming event gives the client an id to reconnect from.
    priming = "id: " + ex->stream_id() + ":0\nretry: " + std::to_string(opt.sse_retry.count()) + "\ndata: \n\n";
    std::lock_guard l(session->m);
    session->streams[ex->stream_id()] = ex;
  }
  stream(res, ex, 0, conn, modern, session, std::move(priming), claimed);
}

void HttpServer::Impl::stream(httplib::Response& res, std::shared_ptr<Exchange> ex, uint64_t after_seq, const Connection& conn,
                              bool modern, std::shared_ptr<HttpSession> session, std::string priming, bool claimed) {
  track(ex);
  if (!claimed) ++guard.streams;
  if (session) {
    std::lock_guard l(session->m);
    ++session->attached;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  auto heartbeat = opt.heartbeat;
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
      [this, ex, conn, modern, session](bool success) {
        --guard.streams;
        if (modern && !ex->finished()) {
          // 2026-07-28: the client closing the response stream cancels the request (and ends a listen).
          if (!success) spdlog::debug("client closed the stream of request {}", ex->request_id().dump());
          core.cancel_request(conn, ex->request_id());
        }
        if (!session) return;
        session->last_used = Clock::now();  // idle from now on, whatever its unfinished requests
        bool legacy_sse = false;
        {
          std::lock_guard l(session->m);
          --session->attached;
          if (ex->finished()) session->streams.erase(ex->stream_id());
          if (session->standalone == ex) {
            session->standalone_open = false;
            legacy_sse = ex->style() == Exchange::Style::LegacySse;
          }
        }
        // A 2024-11-05 session lives as long as its /sse stream: POST /messages is 404 after.
        if (legacy_sse) drop_session(session);
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
  auto ex = exchange(Exchange::Style::Legacy, msg.is_array() ? Json("batch") : id, base64url_encode(random_bytes(9)));
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
    if (!add_session(session)) return refuse_session(res, id);
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
  if (refuse_stream(res)) return;
  bool streaming = false;  // else the claim is given back
  struct Unclaim {
    Guard& g;
    bool& streaming;
    ~Unclaim() { if (!streaming) --g.streams; }
  } unclaim{guard, streaming};

  if (req.has_header("Last-Event-ID")) {
    // Resumption: replay what this stream missed, then carry on live. A stream that is gone, or
    // whose missed events were dropped (replay caps), gets a fresh GET stream instead.
    std::string last = req.get_header_value("Last-Event-ID");
    auto colon = last.rfind(':');
    std::string sid = last.substr(0, colon);
    uint64_t seq = colon == std::string::npos ? 0 : std::strtoull(last.c_str() + colon + 1, nullptr, 10);
    std::shared_ptr<Exchange> ex;
    {
      std::lock_guard l(session->m);
      auto it = session->streams.find(sid);
      if (it != session->streams.end()) ex = it->second;
      if (!ex && session->standalone && session->standalone->stream_id() == sid) {
        if (session->standalone_open) return fail(409, "Conflict: this session already has a GET stream open");
        if (!session->standalone->missed(seq)) {
          ex = session->standalone;
          session->standalone_open = true;  // the GET stream again, notifications included
        }
      }
    }
    if (ex && !ex->missed(seq)) {
      conn.sink = ex;
      streaming = true;
      stream(res, ex, seq, conn, false, session, "", true);
      return;
    }
    spdlog::debug("Last-Event-ID {} is past what was kept: a fresh stream", last);
  }
  std::shared_ptr<Exchange> ex;
  {
    std::lock_guard l(session->m);
    if (session->standalone_open) return fail(409, "Conflict: this session already has a GET stream open");
    ex = exchange(Exchange::Style::Legacy, Json(), base64url_encode(random_bytes(9)));
    session->standalone = ex;
    session->standalone_open = true;
  }
  conn.sink = ex;
  streaming = true;
  stream(res, ex, 0, conn, false, session,
         "id: " + ex->stream_id() + ":0\nretry: " + std::to_string(opt.sse_retry.count()) + "\ndata: \n\n", true);
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
  end_session(s);
  res.status = 200;
}

// ---- HTTP+SSE (2024-11-05) ------------------------------------------------------------------------

void HttpServer::Impl::get_sse(const httplib::Request& req, httplib::Response& res) {
  if (!accepts(req.get_header_value("Accept"), "text/event-stream")) {
    res.status = 406;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Not Acceptable: Accept must list text/event-stream"), "application/json");
    return;
  }
  if (refuse_stream(res)) return;
  auto session = std::make_shared<HttpSession>();
  auto ex = exchange(Exchange::Style::LegacySse, Json(), "");
  session->core = core.new_session(ex);
  session->standalone = ex;
  session->standalone_open = true;
  if (!add_session(session)) {
    --guard.streams;
    return refuse_session(res, nullptr);
  }
  Connection conn{session->core, ex, "sse", "local"};
  std::string endpoint = "event: endpoint\ndata: /messages?sessionId=" + session->core->id + "\n\n";
  stream(res, ex, 0, conn, false, session, endpoint, true);
}

void HttpServer::Impl::post_messages(const httplib::Request& req, const std::string& body, httplib::Response& res) {
  auto session = find_session(req.get_param_value("sessionId"));
  std::shared_ptr<Exchange> ex;
  if (session) {
    std::lock_guard l(session->m);
    if (session->standalone_open && session->standalone->style() == Exchange::Style::LegacySse) ex = session->standalone;
  }
  if (!ex) {
    res.status = 404;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Session not found (its /sse stream is closed): open GET /sse again"),
                    "application/json");
    return;
  }
  Json msg, err;
  if (!rpc::parse(body, msg, err)) {
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
        // Streaming now keeps a session; unfinished requests without a stream do not.
        bool open;
        {
          std::lock_guard ssl(it->second->m);
          open = it->second->attached > 0;
        }
        if (!open && Clock::now() - it->second->last_used.load() > opt.session_idle_timeout) {
          expired.push_back(it->second);
          it = sessions.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& s : expired) {
      spdlog::info("session {} expired after {} s idle", s->core->id.substr(0, 6), opt.session_idle_timeout.count());
      end_session(s);
    }
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
  // Each connection holds a descriptor: make room for the cap when the soft limit is lower.
  rlimit r{};
  rlim_t want = o.max_connections + kRefusers + 256;
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < want) {
    r.rlim_cur = std::min(want, r.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
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
  impl_->guard.shutdown_all();  // idle keep-alive and half-sent requests end now
}

size_t default_max_connections() {
  // A connection is a socket and a thread (about 100 KiB of memory with an SSE stream): leave a
  // quarter of the descriptors to the store, outgoing HTTP and logs, and threads to the rest.
  rlimit fds{}, procs{};
  size_t by_fds = 1024, by_threads = 1024;
  if (::getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_max != RLIM_INFINITY)
    by_fds = fds.rlim_max > 512 ? (std::min<rlim_t>(fds.rlim_max, 65536) - 256) * 3 / 4 : 64;
  if (::getrlimit(RLIMIT_NPROC, &procs) == 0 && procs.rlim_cur != RLIM_INFINITY) by_threads = procs.rlim_cur / 2;
  return std::clamp<size_t>(std::min(by_fds, by_threads), 16, 1024);
}

int HttpServer::port() const { return impl_->port; }

}  // namespace concierge
