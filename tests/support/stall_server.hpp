#pragma once
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace concierge::test {

// An upstream (raw TCP on 127.0.0.1, port 0) that reads requests and never answers, for
// cancellation tests. It counts the requests whose head arrived and the connections the client
// closed; its handlers block in recv until the client closes or the test ends (the destructor
// shuts every socket down).
struct StallServer {
  int listener = -1, port = 0;
  std::mutex m;
  std::condition_variable cv;
  int requests = 0, closed = 0;
  bool stopping = false;
  std::vector<int> fds;
  std::vector<std::thread> handlers;
  std::thread acceptor;

  StallServer() {
    listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listener >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listener, 16) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
    acceptor = std::thread([this] {
      for (;;) {
        int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;  // the listener was shut down
        std::lock_guard l(m);
        fds.push_back(fd);
        handlers.emplace_back([this, fd] { hold(fd); });
      }
    });
  }
  ~StallServer() {
    {
      std::lock_guard l(m);
      stopping = true;
      for (int fd : fds) ::shutdown(fd, SHUT_RDWR);
    }
    ::shutdown(listener, SHUT_RDWR);
    acceptor.join();
    ::close(listener);
    for (auto& t : handlers) t.join();
    for (int fd : fds) ::close(fd);
  }
  void hold(int fd) {
    std::string got;
    bool counted = false;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, size_t(n));
      if (!counted && got.find("\r\n\r\n") != std::string::npos) {
        counted = true;
        std::lock_guard l(m);
        ++requests;
        cv.notify_all();
      }
    }
    std::lock_guard l(m);
    if (!stopping) ++closed;
    cv.notify_all();
  }
  bool wait_requests(int n, std::chrono::milliseconds d) {
    std::unique_lock l(m);
    return cv.wait_for(l, d, [&] { return requests >= n; });
  }
  bool wait_closed(int n, std::chrono::milliseconds d) {
    std::unique_lock l(m);
    return cv.wait_for(l, d, [&] { return closed >= n; });
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }
};

}  // namespace concierge::test
