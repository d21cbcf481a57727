#pragma once
// Helpers for talking to a line-oriented peer over pipes: a LineReader that reads newline-framed
// lines from an fd with poll() timeouts, and ChildProcess, which spawns a program with its
// stdin/stdout/stderr on pipes. All waits are bounded and event-driven (poll, condition
// variables); nothing sleeps. A ChildProcess that is destroyed while its child still runs kills
// (SIGKILL) and reaps it, so a failing test never leaks a process.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace concierge::test {

using Clock = std::chrono::steady_clock;

inline int poll_timeout_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 60'000 ? 60'000 : static_cast<int>(left) + 1;
}

// Reads newline-terminated lines from a (non-blocking) fd. Every complete line is also kept in
// history(), so a test can check afterwards everything the peer ever wrote.
class LineReader {
 public:
  explicit LineReader(int fd = -1) : fd_(fd) {}
  void reset(int fd) { fd_ = fd; }
  int fd() const { return fd_; }
  bool eof() const { return eof_; }

  // Reads whatever is available now without blocking (the fd must be O_NONBLOCK or readable).
  // Returns false once the peer closed its end.
  bool drain() {
    char chunk[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n > 0) {
        feed(chunk, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {
        eof_ = true;
        return false;
      }
      if (errno == EINTR) continue;
      return true;  // EAGAIN: nothing more for now
    }
  }

  // The next line (without its '\n'), or nullopt if none arrived within the timeout or at EOF.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      if (!ready_.empty()) {
        std::string l = std::move(ready_.front());
        ready_.pop_front();
        return l;
      }
      if (eof_) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, poll_timeout_ms(deadline));
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
      if (rc == 0) {
        if (Clock::now() >= deadline) return std::nullopt;
        continue;
      }
      drain();
    }
  }

  // Reads until EOF (or the timeout); returns whether EOF was reached. Lines stay queued.
  bool read_to_eof(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!eof_) {
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, poll_timeout_ms(deadline));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) return eof_;
      drain();
      if (Clock::now() >= deadline) break;
    }
    return eof_;
  }

  const std::vector<std::string>& history() const { return history_; }
  const std::string& partial() const { return partial_; }  // bytes after the last '\n'

 private:
  void feed(const char* p, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; ++i) {
      if (p[i] != '\n') continue;
      partial_.append(p + start, i - start);
      history_.push_back(partial_);
      ready_.push_back(std::move(partial_));
      partial_.clear();
      start = i + 1;
    }
    partial_.append(p + start, n - start);
  }

  int fd_;
  bool eof_ = false;
  std::string partial_;
  std::deque<std::string> ready_;
  std::vector<std::string> history_;
};

// Writes all of data to a non-blocking fd, waiting with poll. While the fd is full, `reader`
// (if given) is drained so a peer that answers while we write can never deadlock us.
inline bool write_all(int fd, std::string_view data, LineReader* reader = nullptr,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = Clock::now() + timeout;
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return false;  // EPIPE: the peer is gone
    if (Clock::now() >= deadline) return false;
    pollfd p[2] = {{fd, POLLOUT, 0}, {reader ? reader->fd() : -1, POLLIN, 0}};
    int rc = ::poll(p, reader && !reader->eof() ? 2 : 1, poll_timeout_ms(deadline));
    if (rc < 0 && errno != EINTR) return false;
    if (rc > 0 && reader && !reader->eof() && (p[1].revents & (POLLIN | POLLHUP))) reader->drain();
  }
  return true;
}

inline void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Writing to a pipe whose reader is gone must fail with EPIPE, not kill the test binary.
inline void ignore_sigpipe() {
  static const bool done = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)done;
}

struct ExitStatus {
  bool exited = false;  // normal exit (code valid); otherwise killed by `signal`
  int code = -1;
  int signal = 0;
};

class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> argv) {
    ignore_sigpipe();
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC))
      throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
    // The child starts with default signal dispositions and nothing blocked, whatever the test
    // binary has set up (we ignore SIGPIPE here).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&defaults, s);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, args[0], &fa, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
      ::close(in[1]);
      ::close(out[0]);
      ::close(err[0]);
      throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
    }
    stdin_ = in[1];
    stdout_ = out[0];
    stderr_ = err[0];
    set_nonblocking(stdin_);
    set_nonblocking(stdout_);
    reader_.reset(stdout_);

    // stderr is drained by its own thread: a chatty child never blocks on a full pipe.
    stderr_thread_ = std::thread([this] {
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(stderr_, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        std::lock_guard l(m_);
        stderr_text_.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard l(m_);
        stderr_eof_ = true;
      }
      cv_.notify_all();
    });
    // The reaper waits for the exit without reaping (WNOWAIT), records it under the lock, and
    // only then reaps: signal() checks `exited_` under the same lock, so it can never hit a
    // recycled pid.
    reaper_ = std::thread([this] {
      siginfo_t info{};
      while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
      }
      int status = 0;
      std::lock_guard l(m_);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      exited_ = true;
      status_.exited = WIFEXITED(status);
      status_.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      status_.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      cv_.notify_all();
    });
  }

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  ~ChildProcess() {
    {
      std::lock_guard l(m_);
      if (!exited_) ::kill(pid_, SIGKILL);
    }
    if (reaper_.joinable()) reaper_.join();
    close_stdin();
    if (stderr_thread_.joinable()) stderr_thread_.join();
    if (stdout_ >= 0) ::close(stdout_);
    if (stderr_ >= 0) ::close(stderr_);
  }

  pid_t pid() const { return pid_; }

  bool write(std::string_view data, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return stdin_ >= 0 && write_all(stdin_, data, &reader_, timeout);
  }
  bool write_line(std::string_view line) {
    std::string s(line);
    s += '\n';
    return write(s);
  }

  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return reader_.read_line(timeout);
  }
  LineReader& stdout_reader() { return reader_; }

  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }

  bool signal(int sig) {
    std::lock_guard l(m_);
    return !exited_ && ::kill(pid_, sig) == 0;
  }

  // The exit status, or nullopt if the child is still running after `timeout`. Once it exited,
  // also waits (briefly) until its stderr is drained to EOF, so stderr_text() is complete.
  std::optional<ExitStatus> wait_exit(std::chrono::milliseconds timeout) {
    std::unique_lock l(m_);
    if (!cv_.wait_for(l, timeout, [&] { return exited_; })) return std::nullopt;
    cv_.wait_for(l, std::chrono::seconds(1), [&] { return stderr_eof_; });  // a grandchild may hold it
    return status_;
  }

  std::string stderr_text() {
    std::lock_guard l(m_);
    return stderr_text_;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1, stderr_ = -1;
  LineReader reader_;
  std::thread stderr_thread_, reaper_;
  std::mutex m_;
  std::condition_variable cv_;
  bool exited_ = false, stderr_eof_ = false;
  ExitStatus status_;
  std::string stderr_text_;
};

// A command that must refuse to start: what it printed on stderr, or "(did not refuse)" when it
// did not exit with a non-zero status within `timeout`.
inline std::string refusal_of(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  ChildProcess p(argv);
  p.close_stdin();
  auto st = p.wait_exit(timeout);
  if (!st || !st->exited || st->code == 0) return "(did not refuse)";
  return p.stderr_text();
}

}  // namespace concierge::test
