#pragma once
// stdio transport: one JSON-RPC message per line in, one per line out. It only frames; the core
// does everything else.
#include <chrono>
#include <cstddef>

#include "server/core.hpp"

namespace concierge {

struct StdioOptions {
  size_t max_message_bytes = 16 * 1024 * 1024;
  std::chrono::milliseconds shutdown_grace{2000};
};

// Serves until EOF on in_fd or until stop_fd becomes readable (signal handling writes to it),
// then cancels in-flight work and waits up to shutdown_grace. Returns true when every handler
// finished in time.
bool serve_stdio(Server& server, int in_fd, int out_fd, int stop_fd, const StdioOptions& options = {});

}  // namespace concierge
