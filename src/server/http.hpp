#pragma once
// Streamable HTTP (both eras) and the legacy HTTP+SSE transport, on cpp-httplib. The transport
// frames messages and maps errors to HTTP statuses; the core does everything else.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/access.hpp"
#include "server/core.hpp"

namespace concierge {

// ---- Routes a higher layer serves (the OAuth authorization server's endpoints, pages) ----------
// The transport frames them and applies its limits and Host/Origin rules; what a route means is
// the handler's alone.

struct HttpRequest {
  std::string method, path;
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // as sent
  std::string body;  // read whole, at most HttpRoute::max_body_bytes (inflated)
  // The client's address: the socket's peer, or, from a --trusted-proxy, the address that proxy
  // saw (the last X-Forwarded-For entry). What a rate limit per client counts.
  std::string peer;
  // The first value, "" when absent; header names compare case-insensitively.
  std::string header(std::string_view name) const;
  std::string param(std::string_view name) const;
  bool has_param(std::string_view name) const;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Cache-Control, Location, ...
};

struct HttpRoute {
  std::string method;  // GET, POST, PUT, PATCH or DELETE
  std::string path;    // matched exactly
  std::function<HttpReply(const HttpRequest&)> handler;  // called concurrently; may throw (500)
  // Public: any Origin may call it and read the reply (Access-Control-Allow-Origin: *, and
  // preflights answered), as for the RFC 9728 metadata: discovery, registration, tokens. Not
  // public: the MCP endpoint's Origin rules, plus the public URL's own origin (a form posted
  // from one of the server's pages).
  bool public_route = false;
  size_t max_body_bytes = 64 * 1024;  // 413 beyond; never more than HttpOptions::max_body_bytes
};

// One thing /healthz checks (the application's: the database, the history journal, breakers).
// A failed critical check makes /healthz and /readyz answer 503.
struct HealthCheck {
  std::string name;
  bool ok = true;
  bool critical = true;
  Json detail = Json::object();  // shown under checks.<name>, beside "ok"
};

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 0;                       // 0: any free port (read it back from bind())
  // Authentication (server/access.hpp). With an authenticator every MCP endpoint needs a bearer
  // token and the RFC 9728 metadata is served; without, every caller is the local user.
  AccessOptions access;
  // A non-loopback bind without an authenticator is refused unless one of these is set
  // (--allow-unauthenticated; --allow-remote is its older name).
  bool allow_unauthenticated = false;
  bool allow_remote = false;
  std::string endpoint = "/mcp";
  // Every limit below answers with its HTTP status and a JSON-RPC error naming the flag
  // (`concierge serve --help` lists them with their defaults).
  size_t max_body_bytes = 4 * 1024 * 1024;    // 413: counted as read (chunked too) and inflated
  size_t max_header_bytes = 64 * 1024;        // 431: request line and headers
  size_t max_headers = 100;                   // 431
  std::chrono::milliseconds header_timeout{10'000};  // the whole request head, else dropped
  std::chrono::milliseconds body_timeout{30'000};    // the whole body, else dropped
  size_t max_connections = 1024;              // 503 + Retry-After beyond; see default_max_connections()
  size_t max_sessions = 1024;                 // the least recently used idle one is evicted
  std::chrono::seconds session_idle_timeout{1800};
  std::chrono::seconds heartbeat{15};         // comment lines on idle SSE streams
  std::chrono::milliseconds sse_retry{1000};  // the SSE retry field (legacy streams)
  std::chrono::seconds read_timeout{30};
  std::chrono::milliseconds worker_idle{10'000};  // threads beyond the base pool exit after this
  size_t events_per_session = 1024;           // replay buffer per stream (Last-Event-ID), events
  size_t replay_bytes = 1024 * 1024;          // ... and bytes; the oldest are dropped
  std::vector<std::string> allowed_origins;   // besides the loopback origins
  // Served before the transport's catch-alls. A route on the MCP endpoint, /sse, /messages,
  // /healthz, /readyz, /metrics or the RFC 9728 metadata, or twice on one method and path, is
  // refused (throws).
  std::vector<HttpRoute> routes;
  // /healthz and /readyz (no token needed) run these, at most once a second (probes are
  // unauthenticated: their cost is bounded whatever the rate). Empty: the transport alone.
  std::function<std::vector<HealthCheck>()> health;
  // /metrics serves metrics::Registry::global() in the Prometheus text format, behind the same
  // authentication as the MCP endpoint.
  bool metrics = true;
};

// Connections this machine can hold: each is a socket and a thread. From the descriptor and
// process limits, between 16 and 1024.
size_t default_max_connections();

// `serve --metrics-addr HOST:PORT`: /metrics alone on a listener of its own, without
// authentication (bind it where only the scraper reaches), until destroyed.
class MetricsListener {
 public:
  MetricsListener(const std::string& host, int port);  // throws when it cannot bind
  ~MetricsListener();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
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
