#pragma once
// Streamable HTTP (both eras) and the legacy HTTP+SSE transport, on cpp-httplib. The transport
// frames messages and maps errors to HTTP statuses; the core does everything else.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "server/core.hpp"

namespace concierge {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 0;                       // 0: any free port (read it back from bind())
  bool allow_remote = false;          // binding a non-loopback address needs this
  std::string endpoint = "/mcp";
  size_t max_body_bytes = 4 * 1024 * 1024;
  std::chrono::seconds session_idle_timeout{1800};
  std::chrono::seconds heartbeat{15};         // comment lines on idle SSE streams
  std::chrono::milliseconds sse_retry{1000};  // the SSE retry field (legacy streams)
  std::chrono::seconds read_timeout{30};
  size_t max_threads = 4096;                  // each open SSE stream holds one
  size_t events_per_session = 1024;           // replay buffer for Last-Event-ID
  std::vector<std::string> allowed_origins;   // besides the loopback origins
};

class HttpServer {
 public:
  HttpServer(Server& core, HttpOptions options);
  ~HttpServer();
  // Binds and returns the port (the chosen one when options.port is 0). Throws on failure.
  int bind();
  // Serves until stop(); returns when every connection has been closed.
  void run();
  // Safe from any thread, including a signal-watching one. Open streams end within ~1 s.
  void stop();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace concierge
