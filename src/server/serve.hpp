#pragma once
// Running a Server until the process is told to stop, shared by the binary and the conformance
// fixture: SIGINT/SIGTERM become a byte on a pipe the transports watch, so shutdown runs on the
// normal path (cancel in-flight work, give it a moment) rather than inside a signal handler.
#include <functional>

#include "server/core.hpp"
#include "server/http.hpp"

namespace concierge {

class StopSignals {
 public:
  // Blocks SIGINT and SIGTERM in the calling thread (so in every thread started after: construct
  // it first), ignores SIGPIPE, and starts the one thread that waits for them.
  StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  int fd() const { return read_fd_; }  // readable once a signal arrived (or trigger())
  void trigger() const;

 private:
  int read_fd_ = -1, write_fd_ = -1;
};

// Binds (logging why not and returning 1), calls on_bound with the port, serves until a stop
// signal or a listener failure, then cancels what is in flight. Returns the exit code; a
// handler that ignores cancellation for more than a second ends the process (exit 0).
int serve_http_until_stopped(Server& server, const HttpOptions& options, const StopSignals& stop,
                             const std::function<void(int port)>& on_bound);

}  // namespace concierge
