// Connection limits on cpp-httplib: see http_internal.hpp's "Connection guard".
#include "server/http_internal.hpp"

namespace concierge::http_detail {

namespace {

class ConnStream;

// The connection being served on this thread (one connection per task, start to end), so a
// handler can say its connection must close (it left body bytes unread).
struct ConnState {
  ConnStream* stream = nullptr;
  bool close_after = false;
};
thread_local ConnState* t_conn = nullptr;

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

}  // namespace

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
void unread_body(const httplib::Request& req, httplib::Response& res) {
  if (!t_conn || !has_body(req)) return;
  t_conn->close_after = true;
  res.set_header("Connection", "close");
}

void close_after_response() { t_conn->close_after = true; }
int current_socket() { return t_conn ? t_conn->stream->socket() : -1; }

bool client_gone(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP)) return true;
  char c;
  return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}
bool body_over_budget() { return t_conn->stream->over_budget(); }
bool body_timed_out() { return t_conn->stream->timed_out(); }

}  // namespace concierge::http_detail
