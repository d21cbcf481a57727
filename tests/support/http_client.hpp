#pragma once
// HTTP helpers for the transport tests.
//
// - request(): one exchange through cpp-httplib's client, with everything sent and received
//   kept, so a failing assertion can print the raw exchange (Reply::describe()).
// - RawHttp: a hand-rolled HTTP/1.1 connection on a raw socket for what httplib's client can't
//   do well: many long-lived SSE streams at once, reading events one at a time with deadlines,
//   noticing when the server closes, and writing a large body while reading an early response.
// - Server-Sent Events parsing (parse_sse / SseParser), JSON-RPC message extraction from a
//   response body that is either application/json or text/event-stream.
// Every wait is bounded and event-driven (poll); nothing sleeps.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <httplib.h>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json.hpp"

namespace concierge::test::http {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

inline std::string clip(const std::string& s, size_t n = 2000) {
  if (s.size() <= n) return s;
  return s.substr(0, n) + "... [" + std::to_string(s.size() - n) + " more bytes]";
}

// ---- Server-Sent Events -----------------------------------------------------------------------

struct SseEvent {
  std::string event;           // the `event:` field ("" when absent)
  std::optional<std::string> id;
  std::optional<std::string> retry;
  std::optional<std::string> data;  // lines joined with '\n'; nullopt when no data field
  std::string raw;             // the event's lines as received
  bool blank_data() const {
    if (!data) return true;
    return std::all_of(data->begin(), data->end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  }
  std::optional<Json> json() const {
    if (!data || blank_data()) return std::nullopt;
    try {
      return Json::parse(*data);
    } catch (...) {
      return std::nullopt;
    }
  }
};

// Incremental parser (WHATWG event-stream rules; a block with any field is reported, comment-only
// blocks are not).
class SseParser {
 public:
  void feed(std::string_view bytes) {
    buf_.append(bytes);
    for (;;) {
      size_t i = 0;
      while (i < buf_.size() && buf_[i] != '\n' && buf_[i] != '\r') ++i;
      if (i == buf_.size()) return;
      size_t next = i + 1;
      if (buf_[i] == '\r') {
        if (i + 1 == buf_.size()) return;  // wait: may be \r\n
        if (buf_[i + 1] == '\n') next = i + 2;
      }
      line(buf_.substr(0, i));
      buf_.erase(0, next);
    }
  }
  std::deque<SseEvent>& events() { return events_; }
  const std::vector<std::string>& comments() const { return comments_; }

 private:
  void line(const std::string& l) {
    if (l.empty()) {
      if (any_) events_.push_back(std::move(cur_));
      cur_ = SseEvent{};
      any_ = false;
      return;
    }
    if (l[0] == ':') {
      comments_.push_back(l);
      return;
    }
    cur_.raw += l + "\n";
    auto colon = l.find(':');
    std::string field = l.substr(0, colon), value;
    if (colon != std::string::npos) {
      value = l.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    }
    any_ = true;
    if (field == "data") {
      cur_.data = cur_.data ? *cur_.data + "\n" + value : value;
    } else if (field == "event") {
      cur_.event = value;
    } else if (field == "id") {
      cur_.id = value;
    } else if (field == "retry") {
      cur_.retry = value;
    }
  }
  std::string buf_;
  SseEvent cur_;
  bool any_ = false;
  std::deque<SseEvent> events_;
  std::vector<std::string> comments_;
};

inline std::vector<SseEvent> parse_sse(std::string_view body) {
  SseParser p;
  p.feed(body);
  p.feed("\n\n");  // a final event without its blank line still counts
  return {p.events().begin(), p.events().end()};
}

// ---- One exchange through cpp-httplib ---------------------------------------------------------

struct Reply {
  int status = -1;  // -1: no response (see error)
  std::string error;
  httplib::Headers headers;
  std::string body;
  std::string request;  // what was sent, for describe()

  bool has_header(const std::string& name) const { return headers.find(name) != headers.end(); }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);  // httplib::Headers compares names case-insensitively
    return it == headers.end() ? std::string() : it->second;
  }
  std::string content_type() const { return lower(header("Content-Type")); }
  bool is_sse() const { return content_type().rfind("text/event-stream", 0) == 0; }
  bool is_json() const { return content_type().rfind("application/json", 0) == 0; }

  // The JSON-RPC messages in the body: the JSON object (application/json), or every SSE event's
  // data parsed as JSON (text/event-stream).
  std::vector<Json> messages() const {
    std::vector<Json> out;
    if (is_sse()) {
      for (auto& e : parse_sse(body))
        if (auto j = e.json()) out.push_back(*j);
    } else {
      try {
        out.push_back(Json::parse(body));
      } catch (...) {
      }
    }
    return out;
  }
  // The response (result or error) among messages(), or null.
  Json response() const {
    for (auto& m : messages())
      if (m.is_object() && !m.contains("method") && (m.contains("result") || m.contains("error"))) return m;
    return nullptr;
  }
  Json json() const {
    try {
      return Json::parse(body);
    } catch (...) {
      return nullptr;
    }
  }

  std::string describe() const {
    std::ostringstream o;
    o << "---- request ----\n" << request << "\n---- response ----\n";
    if (status < 0) {
      o << "(no response: " << error << ")\n";
      return o.str();
    }
    o << "HTTP " << status << "\n";
    for (auto& [k, v] : headers) o << k << ": " << v << "\n";
    o << "\n" << clip(body) << "\n";
    return o.str();
  }
};

struct Request {
  std::string method = "POST";
  std::string path = "/mcp";
  httplib::Headers headers;
  std::string body;
};

inline Reply request(int port, const Request& r, time_t read_timeout_s = 10) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_tcp_nodelay(true);  // head and body are separate writes: no Nagle/delayed-ACK stall
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(read_timeout_s, 0);
  cli.set_write_timeout(10, 0);
  httplib::Request req;
  req.method = r.method;
  req.path = r.path;
  req.headers = r.headers;
  req.body = r.body;

  Reply out;
  {
    std::ostringstream o;
    o << r.method << " " << r.path << " HTTP/1.1\n";
    for (auto& [k, v] : r.headers) o << k << ": " << v << "\n";
    o << "\n" << clip(r.body);
    out.request = o.str();
  }
  auto res = cli.send(req);
  if (!res) {
    out.error = httplib::to_string(res.error());
    return out;
  }
  out.status = res->status;
  out.headers = res->headers;
  out.body = res->body;
  return out;
}

// ---- Raw connection -----------------------------------------------------------------------------

inline int poll_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left + 1, 60'000));
}

// One HTTP/1.1 request on its own socket, its response read incrementally: the head, then the
// body (chunked, Content-Length or close-delimited), fed to an SSE parser as it arrives.
class RawHttp {
 public:
  RawHttp() = default;
  RawHttp(const RawHttp&) = delete;
  RawHttp& operator=(const RawHttp&) = delete;
  RawHttp(RawHttp&& o) noexcept { *this = std::move(o); }
  RawHttp& operator=(RawHttp&& o) noexcept {
    if (this != &o) {
      close();
      fd_ = std::exchange(o.fd_, -1);
      sent_ = std::move(o.sent_);
      in_ = std::move(o.in_);
      received_ = std::move(o.received_);
      head_done_ = o.head_done_;
      status_ = o.status_;
      headers_ = std::move(o.headers_);
      mode_ = o.mode_;
      remaining_ = o.remaining_;
      chunk_state_ = o.chunk_state_;
      body_ = std::move(o.body_);
      body_done_ = o.body_done_;
      eof_ = o.eof_;
      error_ = std::move(o.error_);
      sse_ = std::move(o.sse_);
    }
    return *this;
  }
  ~RawHttp() { close(); }

  // Connects and sends the request (head and body). False (with error()) on failure.
  bool start(int port, const std::string& method, const std::string& path,
             const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body = {},
             std::chrono::milliseconds timeout = 10s) {
    std::signal(SIGPIPE, SIG_IGN);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return fail("socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return fail("connect");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    std::string head = method + " " + path + " HTTP/1.1\r\n";
    bool has_host = false, has_len = false;
    for (auto& [k, v] : headers) {
      head += k + ": " + v + "\r\n";
      has_host |= lower(k) == "host";
      has_len |= lower(k) == "content-length" || lower(k) == "transfer-encoding";
    }
    if (!has_host) head += "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
    if (!has_len && (!body.empty() || method == "POST")) head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    head += "\r\n";
    sent_ = head + clip(body, 500);
    return send_all(head + body, Clock::now() + timeout);
  }

  // Writes data, reading whatever the server sends meanwhile; stops early (returning false with
  // error() "response arrived") if a complete response head arrived before everything was written
  // and stop_on_response is set, or on a write error.
  bool send_all(std::string_view data, Clock::time_point deadline, bool stop_on_response = false) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return fail("send");
      pollfd p{fd_, POLLOUT | POLLIN, 0};
      int rc = ::poll(&p, 1, poll_ms(deadline));
      if (rc < 0 && errno == EINTR) continue;
      if (rc == 0 && Clock::now() >= deadline) {
        error_ = "timed out writing the request";
        return false;
      }
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
        pump();
        if (stop_on_response && head_done_) {
          error_ = "response arrived before the request was fully written";
          return false;
        }
        if (eof_) {
          error_ = "connection closed while writing";
          return false;
        }
      }
    }
    return true;
  }

  // Waits for the response head. False on timeout or a connection closed without one.
  bool wait_head(std::chrono::milliseconds timeout = 10s) {
    auto deadline = Clock::now() + timeout;
    while (!head_done_) {
      if (eof_) return false;
      if (!wait_readable(deadline)) return false;
      pump();
    }
    return true;
  }

  // The next SSE event of the body, waiting up to timeout.
  std::optional<SseEvent> next_event(std::chrono::milliseconds timeout = 5s) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      if (!sse_.events().empty()) {
        SseEvent e = std::move(sse_.events().front());
        sse_.events().pop_front();
        return e;
      }
      if (body_done_ || eof_) return std::nullopt;
      if (!wait_readable(deadline)) return std::nullopt;
      pump();
    }
  }

  // Waits for the end of the body or the connection (server closed the stream).
  bool wait_end(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!body_done_ && !eof_) {
      if (!wait_readable(deadline)) return false;
      pump();
    }
    return true;
  }

  // Reads what is available now without waiting; true while the stream is still open.
  bool still_open() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) pump();
    return !body_done_ && !eof_;
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd() const { return fd_; }
  bool head_done() const { return head_done_; }
  int status() const { return status_; }
  std::string header(const std::string& name) const {
    auto n = lower(name);
    for (auto& [k, v] : headers_)
      if (k == n) return v;
    return {};
  }
  bool has_header(const std::string& name) const {
    auto n = lower(name);
    for (auto& [k, v] : headers_)
      if (k == n) return true;
    return false;
  }
  const std::string& body() const { return body_; }
  bool body_done() const { return body_done_; }
  bool eof() const { return eof_; }
  const std::string& error() const { return error_; }

  std::string describe() const {
    std::ostringstream o;
    o << "---- request (raw) ----\n" << sent_ << "\n---- response (raw, as received) ----\n" << clip(received_, 3000);
    if (!error_.empty()) o << "\n(error: " << error_ << ")";
    if (eof_) o << "\n(connection closed by server)";
    return o.str();
  }

 private:
  bool fail(const char* what) {
    error_ = std::string(what) + ": " + std::strerror(errno);
    return false;
  }
  bool wait_readable(Clock::time_point deadline) {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, poll_ms(deadline));
      if (rc < 0 && errno == EINTR) continue;
      if (rc > 0) return true;
      if (Clock::now() >= deadline) return false;
    }
  }
  // Reads everything available now.
  void pump() {
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        received_.append(buf, static_cast<size_t>(n));
        in_.append(buf, static_cast<size_t>(n));
        process();
        continue;
      }
      if (n == 0) {
        eof_ = true;
        if (head_done_ && mode_ == Mode::UntilClose) body_done_ = true;
        return;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        error_ = std::string("recv: ") + std::strerror(errno);
        eof_ = true;
      }
      return;
    }
  }
  void process() {
    if (!head_done_) {
      auto end = in_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      std::string head = in_.substr(0, end);
      in_.erase(0, end + 4);
      std::istringstream s(head);
      std::string line;
      std::getline(s, line);
      if (line.size() > 12) status_ = std::atoi(line.c_str() + 9);
      while (std::getline(s, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto c = line.find(':');
        if (c == std::string::npos) continue;
        headers_.emplace_back(lower(line.substr(0, c)), trim(line.substr(c + 1)));
      }
      head_done_ = true;
      if (lower(header("transfer-encoding")).find("chunked") != std::string::npos) {
        mode_ = Mode::Chunked;
      } else if (has_header("content-length")) {
        mode_ = Mode::Length;
        remaining_ = std::stoull(header("content-length"));
        if (remaining_ == 0) body_done_ = true;
      } else {
        mode_ = Mode::UntilClose;
      }
    }
    while (!body_done_ && !in_.empty()) {
      if (mode_ == Mode::Length) {
        size_t k = std::min<size_t>(remaining_, in_.size());
        body(in_.substr(0, k));
        in_.erase(0, k);
        remaining_ -= k;
        if (remaining_ == 0) body_done_ = true;
      } else if (mode_ == Mode::UntilClose) {
        body(in_);
        in_.clear();
      } else if (chunk_state_ == ChunkState::Size) {
        auto e = in_.find("\r\n");
        if (e == std::string::npos) return;
        remaining_ = std::stoull(in_.substr(0, e), nullptr, 16);
        in_.erase(0, e + 2);
        chunk_state_ = remaining_ == 0 ? ChunkState::Trailer : ChunkState::Data;
      } else if (chunk_state_ == ChunkState::Data) {
        size_t k = std::min<size_t>(remaining_, in_.size());
        body(in_.substr(0, k));
        in_.erase(0, k);
        remaining_ -= k;
        if (remaining_ == 0) chunk_state_ = ChunkState::DataEnd;
      } else if (chunk_state_ == ChunkState::DataEnd) {
        if (in_.size() < 2) return;
        in_.erase(0, 2);
        chunk_state_ = ChunkState::Size;
      } else {  // trailers until an empty line
        auto e = in_.find("\r\n");
        if (e == std::string::npos) return;
        bool last = e == 0;
        in_.erase(0, e + 2);
        if (last) body_done_ = true;
      }
    }
  }
  void body(const std::string& b) {
    body_ += b;
    sse_.feed(b);
  }

  enum class Mode { Length, Chunked, UntilClose };
  enum class ChunkState { Size, Data, DataEnd, Trailer };
  int fd_ = -1;
  std::string sent_, in_, received_;
  bool head_done_ = false;
  int status_ = -1;
  std::vector<std::pair<std::string, std::string>> headers_;
  Mode mode_ = Mode::UntilClose;
  size_t remaining_ = 0;
  ChunkState chunk_state_ = ChunkState::Size;
  std::string body_;
  bool body_done_ = false, eof_ = false;
  std::string error_;
  SseParser sse_;
};

}  // namespace concierge::test::http
