#include "server/stdio.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <spdlog/spdlog.h>
#include <string>

namespace concierge {

namespace {
// Writes whole lines under a lock: concurrent handlers never interleave their messages.
class LineSink : public Sink {
 public:
  explicit LineSink(int fd) : fd_(fd) {}
  void send(const Json& message) override {
    std::string line = dump(message);
    line += '\n';
    std::lock_guard l(m_);
    if (broken_) return;
    const char* p = line.data();
    size_t left = line.size();
    while (left) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        broken_ = true;  // the client went away; nothing more can reach it
        spdlog::warn("stdout closed: {}", std::strerror(errno));
        return;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
  }

 private:
  int fd_;
  std::mutex m_;
  bool broken_ = false;
};
}  // namespace

bool serve_stdio(Server& server, int in_fd, int out_fd, int stop_fd, const StdioOptions& options) {
  auto sink = std::make_shared<LineSink>(out_fd);
  Connection conn{server.new_session(sink), sink, "stdio", "local"};
  std::string buffer;
  bool discarding = false;
  bool signalled = false;  // inside an over-long line: drop bytes until its newline
  char chunk[1 << 16];
  auto too_long = [&] {
    sink->send(rpc::make_error(nullptr, rpc::kInvalidRequest,
                               "Invalid Request: message exceeds the " + std::to_string(options.max_message_bytes) +
                                   "-byte limit"));
  };
  for (;;) {
    pollfd fds[2] = {{in_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    int nfds = stop_fd >= 0 ? 2 : 1;
    if (::poll(fds, nfds, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (nfds == 2 && fds[1].revents) {
      spdlog::info("stopping on signal");
      signalled = true;
      break;
    }
    ssize_t n = ::read(in_fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {  // EOF: the client closed our stdin; a last line without its newline still counts
      if (!discarding && buffer.find_first_not_of(" \t\r") != std::string::npos) server.handle_text(buffer, conn);
      break;
    }
    size_t start = 0;
    for (ssize_t i = 0; i < n; ++i) {
      if (chunk[i] != '\n') continue;
      if (discarding) {
        discarding = false;
      } else {
        buffer.append(chunk + start, static_cast<size_t>(i) - start);
        if (!buffer.empty() && buffer.back() == '\r') buffer.pop_back();
        if (buffer.size() > options.max_message_bytes) too_long();
        else if (buffer.find_first_not_of(" \t") != std::string::npos) server.handle_text(buffer, conn);
      }
      buffer.clear();
      start = static_cast<size_t>(i) + 1;
    }
    if (!discarding) {
      buffer.append(chunk + start, static_cast<size_t>(n) - start);
      if (buffer.size() > options.max_message_bytes) {
        too_long();
        buffer.clear();
        discarding = true;
      }
    }
  }
  // EOF: the client has sent all it will; let what it asked for finish, within the grace period.
  // A signal: stop now. Either way whatever is still running is cancelled (its reply suppressed).
  auto grace = options.shutdown_grace;
  bool clean = !signalled && server.wait_idle(grace * 3 / 4);
  if (!clean) {
    server.cancel_all();
    clean = server.wait_idle(signalled ? grace : grace / 4);
  }
  if (!clean) spdlog::warn("handlers still running {} ms after shutdown began", options.shutdown_grace.count());
  return clean;
}

}  // namespace concierge
