#pragma once
// A line-oriented TCP server on 127.0.0.1 at a free port, for protocols a test scripts itself
// (an SMTP sink, an IMAP server without MOVE): one connection at a time on its own thread; the
// session function reads CRLF lines and answers. Waits are poll()s that end when it stops.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

namespace concierge::test {

class LineServer {
 public:
  class Conn {
   public:
    Conn(int fd, const std::atomic<bool>& stop) : fd_(fd), stop_(stop) {}
    bool say(const std::string& s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()); }
    // The next line without its CRLF; false once the peer is gone (or the server stops).
    bool line(std::string& out) {
      for (;;) {
        auto nl = buf_.find("\r\n");
        if (nl != std::string::npos) {
          out = buf_.substr(0, nl);
          buf_.erase(0, nl + 2);
          return true;
        }
        if (!readable(fd_, stop_)) return false;
        char chunk[4096];
        ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) return false;
        buf_.append(chunk, size_t(n));
      }
    }

   private:
    int fd_;
    const std::atomic<bool>& stop_;
    std::string buf_;
  };

  explicit LineServer(std::function<void(Conn&)> session) : session_(std::move(session)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("line server: cannot listen");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (readable(fd_, stop_)) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        Conn conn(c, stop_);
        session_(conn);
        ::close(c);
      }
    });
  }
  ~LineServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  LineServer(const LineServer&) = delete;
  LineServer& operator=(const LineServer&) = delete;
  int port() const { return port_; }

 private:
  static bool readable(int fd, const std::atomic<bool>& stop) {
    while (!stop) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }
  std::function<void(Conn&)> session_;
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace concierge::test
