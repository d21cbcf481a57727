#include "server/http_internal.hpp"

namespace concierge {

namespace http_detail {

Json limit_data(std::string_view limit, std::string_view flag, const Json& value) {
  return Json{{"limit", limit}, {"flag", flag}, {"value", value}};
}

bool is_loopback_host(std::string host) {
  // Strip a port: "[::1]:8080", "localhost:8080".
  if (!host.empty() && host.front() == '[') {
    auto end = host.find(']');
    host = end == std::string::npos ? host : host.substr(1, end - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host == "localhost" || host == "127.0.0.1" || host == "::1";
}

std::string error_body(const Json& id, int code, std::string_view message, const Json& data) {
  Json e = rpc::make_error(id, code, message, data);
  if (id.is_null()) e.erase("id");  // transport-level refusals answer no particular request
  return dump(e);
}

bool accepts(const std::string& accept, std::string_view type) {
  if (accept.empty()) return false;
  auto slash = type.find('/');
  std::string any_sub = std::string(type.substr(0, slash)) + "/*";
  size_t pos = 0;
  while (pos <= accept.size()) {
    size_t end = accept.find(',', pos);
    if (end == std::string::npos) end = accept.size();
    std::string item = accept.substr(pos, end - pos);
    item = item.substr(0, item.find(';'));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item == type || item == "*/*" || item == any_sub) return true;
    pos = end + 1;
  }
  return false;
}

std::string trim_ows(std::string s) {
  s.erase(0, s.find_first_not_of(" \t"));
  auto last = s.find_last_not_of(" \t");
  s.erase(last == std::string::npos ? 0 : last + 1);
  return s;
}

std::optional<std::string> decode_header_value(const std::string& raw) {
  for (unsigned char c : raw)
    if (!(c == '\t' || (c >= 0x20 && c <= 0x7E))) return std::nullopt;
  static const std::string kPrefix = "=?base64?", kSuffix = "?=";
  if (raw.size() >= kPrefix.size() + kSuffix.size() && raw.compare(0, kPrefix.size(), kPrefix) == 0 &&
      raw.compare(raw.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
    std::string b64 = raw.substr(kPrefix.size(), raw.size() - kPrefix.size() - kSuffix.size());
    if (b64.size() % 4 != 0) return std::nullopt;  // padding is required
    size_t pad = 0;
    while (pad < b64.size() && b64[b64.size() - 1 - pad] == '=') ++pad;
    if (pad > 2) return std::nullopt;
    std::string body = b64.substr(0, b64.size() - pad);
    for (char& c : body) {
      if (c == '+') c = '-';
      else if (c == '/') c = '_';
      else if (!std::isalnum(static_cast<unsigned char>(c))) return std::nullopt;
    }
    return base64url_decode(body);
  }
  return raw;
}

}  // namespace http_detail

void HttpServer::Impl::setup() {
  opt.max_connections = std::max<size_t>(2, opt.max_connections);
  http.new_task_queue = [this] { return new ConnectionPool(8, opt.max_connections + kRefusers, opt.worker_idle); };
  // Keep-alive, read and write timeouts are the guard's (GuardedServer); these only feed the
  // library's own socket options.
  http.set_tcp_nodelay(true);
  http.set_read_timeout(opt.read_timeout);
  http.set_write_timeout(std::chrono::seconds(30));
  http.set_payload_max_length(opt.max_body_bytes);  // a larger Content-Length: 413 before reading
  http.set_socket_options([this](socket_t fd) {
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd = fd;
  });

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return check_origin(req, res) ? httplib::Server::HandlerResponse::Unhandled : httplib::Server::HandlerResponse::Handled;
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      spdlog::error("HTTP handler failed: {}", log_safe(e.what()));
    }
    res.status = 500;
    res.set_content(error_body(nullptr, rpc::kInternalError, "Internal error"), "application/json");
  });
  http.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
    if (res.status == 413 && res.body.empty())
      res.set_content(error_body(nullptr, rpc::kInvalidRequest,
                                 "Request body exceeds " + std::to_string(opt.max_body_bytes) + " bytes (--max-body-bytes)",
                                 limit_data("max_body_bytes", "--max-body-bytes", opt.max_body_bytes)),
                      "application/json");
  });

  // Liveness with the application's checks, and readiness (a load balancer takes the instance
  // out while it stops or its store is unusable). Neither needs a token.
  http.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    auto [ok, checks] = health();
    size_t n;
    {
      std::lock_guard l(sessions_m);
      n = sessions.size();
    }
    res.status = ok ? 200 : 503;
    res.set_header("Cache-Control", "no-store");
    res.set_content(dump(Json{{"status", ok ? "ok" : "unavailable"}, {"server", core.options().name}, {"version", core.options().version},
                              {"sessions", n}, {"connections", guard.connections.load()}, {"streams", guard.streams.load()},
                              {"checks", checks}}),
                    "application/json");
  });
  http.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    const bool ok = !stopping.load() && health().first;
    res.status = ok ? 200 : 503;
    res.set_header("Cache-Control", "no-store");
    res.set_content(dump(Json{{"status", stopping.load() ? "stopping" : ok ? "ready" : "unavailable"}}), "application/json");
  });
  if (opt.metrics)
    http.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorize(req, res)) return;
      res.set_header("Cache-Control", "no-store");
      res.set_content(metrics::Registry::global().render(), kMetricsContentType);
    });
  // The transport's own gauges, read when scraped.
  metrics_handle = metrics::Registry::global().add_collector([this](std::vector<metrics::Sample>& out) {
    size_t n;
    {
      std::lock_guard l(sessions_m);
      n = sessions.size();
    }
    out.push_back({"concierge_http_sessions", "Open MCP sessions (Mcp-Session-Id and legacy SSE).", "gauge", {}, double(n)});
    out.push_back({"concierge_http_connections", "Open HTTP connections.", "gauge", {}, double(guard.connections.load())});
    out.push_back({"concierge_http_streams", "Open SSE response streams.", "gauge", {}, double(guard.streams.load())});
  });
  // Every method that carries a body is routed to a handler with a content reader (catch-alls
  // included): the library would otherwise read a chunked or compressed body whole into
  // req.body, unbounded, before routing.
  using Reader = httplib::ContentReader;
  setup_routes();  // before the catch-alls below
  // Every MCP endpoint authenticates first (once per request), before reading a body.
  http.Post(opt.endpoint, [this](const httplib::Request& req, httplib::Response& res, const Reader& reader) {
    auto who = authorize(req, res);
    if (!who) return unread_body(req, res);
    if (auto body = read_body(req, res, reader)) post_mcp(req, *body, res, *who);
  });
  http.Post("/messages", [this](const httplib::Request& req, httplib::Response& res, const Reader& reader) {
    auto who = authorize(req, res);
    if (!who) return unread_body(req, res);
    if (auto body = read_body(req, res, reader)) post_messages(req, *body, res, *who);
  });
  http.Get(opt.endpoint, [this](const httplib::Request& req, httplib::Response& res) {
    if (auto who = authorize(req, res)) get_mcp(req, res, *who);
  });
  http.Delete(opt.endpoint, [this](const httplib::Request& req, httplib::Response& res, const Reader&) {
    unread_body(req, res);
    if (auto who = authorize(req, res)) delete_mcp(req, res, *who);
  });
  auto unrouted = [this](const httplib::Request& req, httplib::Response& res, const Reader&) {
    unread_body(req, res);
    if (req.path == opt.endpoint || route_at(req.path)) {
      res.status = 405;
      res.set_header("Allow", req.path == opt.endpoint ? "GET, POST, DELETE" : route_methods(req.path));
      res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Method not allowed"), "application/json");
    } else {
      res.status = 404;
      res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Not found: " + req.path), "application/json");
    }
  };
  http.Post(".*", unrouted);
  http.Put(".*", unrouted);
  http.Patch(".*", unrouted);
  http.Delete(".*", unrouted);
  http.Get("/sse", [this](const httplib::Request& req, httplib::Response& res) {
    if (auto who = authorize(req, res)) get_sse(req, res, *who);
  });
  setup_access();  // CORS preflights, the RFC 9728 metadata
}

// The body as read (chunked or not) and inflated (gzip, deflate, br: the library inflates as it
// reads), cut at --max-body-bytes: the cap counts what would be kept, so a small compressed body
// can't inflate past it. Inflating under the cap costs no more than a plain body of that size,
// and refusing would break clients that compress; other encodings are refused (415).
std::optional<std::string> HttpServer::Impl::read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                                                      size_t limit) {
  // A route's own limit, when lower, is named as the endpoint's rather than the flag's.
  const bool own_limit = limit != 0 && limit < opt.max_body_bytes;
  const size_t max = own_limit ? limit : opt.max_body_bytes;
  auto refuse = [&](int status, int code, const std::string& message, const Json& data = nullptr) {
    close_after_response();  // the rest of the body is not read: the connection closes
    res.status = status;
    res.set_header("Connection", "close");
    res.set_content(error_body(nullptr, code, message, data), "application/json");
    return std::nullopt;
  };
  auto too_large = [&] {
    if (own_limit) return refuse(413, rpc::kInvalidRequest, "Request body exceeds " + std::to_string(max) + " bytes (this endpoint's limit)");
    return refuse(413, rpc::kInvalidRequest, "Request body exceeds " + std::to_string(opt.max_body_bytes) + " bytes (--max-body-bytes)",
                  limit_data("max_body_bytes", "--max-body-bytes", opt.max_body_bytes));
  };
  std::string encoding = req.get_header_value("Content-Encoding");
  if (!encoding.empty() && encoding != "identity" && encoding != "gzip" && encoding != "deflate" && encoding != "br")
    return refuse(415, rpc::kInvalidRequest, "Unsupported Content-Encoding '" + encoding + "': send identity, gzip, deflate or br");
  if (content_length(req) > max) return too_large();
  std::string body;
  bool over = false;
  bool ok = reader([&](const char* data, size_t n) {
    if (body.size() + n > max) {
      over = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (over || body_over_budget()) return too_large();
  if (!ok) {
    if (body_timed_out())
      return refuse(408, rpc::kInvalidRequest, "Request body not received within " + std::to_string(opt.body_timeout.count()) + " ms (--body-timeout)",
                    limit_data("body_timeout", "--body-timeout", opt.body_timeout.count() / 1000.0));
    return refuse(400, rpc::kParseError, "Could not read the request body (malformed chunking or compression, or the client left)");
  }
  return body;
}

// DNS-rebinding protection: a browser page must not reach a loopback server through a name it
// controls, so Origin must be ours when present, and on loopback binds Host must be a loopback name.
bool HttpServer::Impl::check_origin(const httplib::Request& req, httplib::Response& res) {
  auto refuse = [&](const std::string& why) {
    spdlog::warn("refused {} {}: {}", log_safe(req.method, 32), log_safe(req.path, 200), log_safe(why, 300));
    res.status = 403;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Forbidden: " + why), "application/json");
    unread_body(req, res);  // refused before routing
    return false;
  };
  // The metadata and public routes are open to every origin (OAuth clients in browsers).
  const HttpRoute* route = route_at(req.path);
  if (req.has_header("Origin") && !metadata_path(req.path) && !(route && route->public_route)) {
    std::string origin = req.get_header_value("Origin");
    bool listed = std::find(opt.allowed_origins.begin(), opt.allowed_origins.end(), origin) != opt.allowed_origins.end();
    // A route's own pages post forms from the public origin.
    if (route && public_url && origin == public_url->origin()) listed = true;
    std::string host = origin;
    for (const char* scheme : {"http://", "https://"})
      if (host.rfind(scheme, 0) == 0) host = host.substr(std::strlen(scheme));
    if (!listed && !(host != origin && is_loopback_host(host))) return refuse("Origin " + origin + " is not allowed");
  }
  // Behind --public-url the Host must be the public one: that check replaces the loopback one.
  if (public_url) {
    if (!check_public_host(req, res)) return false;
  } else if (loopback && !is_loopback_host(req.get_header_value("Host"))) {
    return refuse("Host " + req.get_header_value("Host") + " is not a loopback name");
  }
  cors(req, res);
  return true;
}

bool HttpServer::Impl::refuse_stream(httplib::Response& res) {
  if (guard.try_claim_stream()) return false;
  res.status = 503;
  res.set_header("Retry-After", "5");
  res.set_content(error_body(nullptr, kServerBusy,
                             "Server busy: " + std::to_string(guard.stream_cap()) + " streams are open, the most --max-connections " +
                                 std::to_string(opt.max_connections) + " allows (the rest is kept for requests); retry later",
                             limit_data("max_connections", "--max-connections", opt.max_connections)),
                  "application/json");
  return true;
}

void HttpServer::Impl::refuse_session(httplib::Response& res, const Json& id) {
  res.status = 503;
  res.set_header("Retry-After", "5");
  res.set_content(error_body(id, kServerBusy,
                             "Server busy: " + std::to_string(opt.max_sessions) + " sessions are open and streaming (--max-sessions); retry later",
                             limit_data("max_sessions", "--max-sessions", opt.max_sessions)),
                  "application/json");
}

void HttpServer::Impl::post_mcp(const httplib::Request& req, const std::string& body, httplib::Response& res, const Caller& who) {
  auto fail = [&](int status, int code, const std::string& message) {
    res.status = status;
    res.set_content(error_body(nullptr, code, message), "application/json");
  };
  std::string ctype = req.get_header_value("Content-Type");
  if (ctype.substr(0, ctype.find(';')) != "application/json")
    return fail(415, rpc::kInvalidRequest, "Unsupported Media Type: Content-Type must be application/json");
  std::string accept = req.get_header_value("Accept");
  if (!accepts(accept, "application/json") || !accepts(accept, "text/event-stream"))
    return fail(406, rpc::kInvalidRequest, "Not Acceptable: Accept must list application/json and text/event-stream");
  Json msg, err;
  if (!rpc::parse(body, msg, err)) {
    res.status = 400;
    res.set_content(dump(err), "application/json");
    return;
  }
  // The era: a session or a handshake-era version header means legacy; per-request _meta or
  // the 2026-07-28 header means modern.
  bool has_session = req.has_header(kSessionHeader);
  std::string version = req.get_header_value(kVersionHeader);
  bool meta_version = msg.is_object() && msg.contains("params") && msg["params"].is_object() &&
                      msg["params"].contains("_meta") && msg["params"]["_meta"].is_object() &&
                      msg["params"]["_meta"].contains(rpc::kMetaProtocolVersion);
  auto rev = parse_revision(version);
  bool legacy_header = rev && !is_modern(*rev);
  bool modern = !has_session && (meta_version || (!version.empty() && !legacy_header)) &&
                !(msg.is_object() && msg.value("method", "") == "initialize" && !meta_version);
  if (modern) post_modern(req, res, msg, who);
  else post_legacy(req, res, msg, who);
}

void HttpServer::Impl::respond(httplib::Response& res, std::shared_ptr<Exchange> ex, const Connection& conn, bool modern,
                               std::shared_ptr<HttpSession> session, bool claimed) {
  // 2025-11-25 sessions always get a resumable stream (priming event, event ids): a reply whose
  // connection drops can be fetched again with Last-Event-ID. Older ones get JSON when they can.
  bool resumable = false;
  if (!modern && session) {
    std::lock_guard l(session->core->m);
    resumable = session->core->revision >= Revision::V2025_11_25;
  }
  // 2026-07-28: a client that hangs up before anything was sent cancels the request (as closing
  // its stream does below), so a tool waiting on an upstream service stops.
  int sock = modern ? current_socket() : -1;
  auto gone = [sock] { return sock >= 0 && client_gone(sock); };
  if (auto body = resumable ? std::nullopt : ex->wait_first(stopping, gone)) {
    if (claimed) --guard.streams;
    if (body->empty()) {  // cancelled with no reply (e.g. server shutting down)
      res.status = 503;
      return;
    }
    if (modern) {
      // 2026-07-28 maps protocol errors onto HTTP statuses.
      int code = ex->reply_error();
      if (code != 0)
        res.status = code == rpc::kMethodNotFound ? 404
                     : (code == rpc::kInvalidParams || code == rpc::kInvalidRequest || code == rpc::kParseError ||
                        code == rpc::kHeaderMismatch || code == rpc::kMissingRequiredClientCapability ||
                        code == rpc::kUnsupportedProtocolVersion)
                         ? 400
                         : 200;
    }
    res.set_content(std::move(*body), "application/json");
    return;
  }
  if (modern && !resumable && gone()) {
    core.cancel_request(conn, ex->request_id());
    return;
  }
  std::string priming;
  if (!modern) {
    // A resumable stream: the priming event gives the client an id to reconnect from.
    priming = "id: " + ex->stream_id() + ":0\nretry: " + std::to_string(opt.sse_retry.count()) + "\ndata: \n\n";
    std::lock_guard l(session->m);
    session->streams[ex->stream_id()] = ex;
  }
  stream(res, ex, 0, conn, modern, session, std::move(priming), claimed);
}

void HttpServer::Impl::stream(httplib::Response& res, std::shared_ptr<Exchange> ex, uint64_t after_seq, const Connection& conn,
                              bool modern, std::shared_ptr<HttpSession> session, std::string priming, bool claimed) {
  track(ex);
  if (!claimed) ++guard.streams;
  if (session) {
    std::lock_guard l(session->m);
    ++session->attached;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  auto heartbeat = opt.heartbeat;
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, ex, after_seq, heartbeat, priming = std::move(priming)](size_t, httplib::DataSink& sink) mutable {
        if (!priming.empty()) {
          if (!sink.write(priming.data(), priming.size())) return false;
          priming.clear();
        }
        auto end = ex->pump(sink, after_seq, stopping, heartbeat);
        // Gone: nothing to finish. Stopping: end the connection rather than keep it alive.
        if (end == Exchange::End::Gone || end == Exchange::End::Stopping) return false;
        sink.done();
        return true;
      },
      [this, ex, conn, modern, session](bool success) {
        --guard.streams;
        if (modern && !ex->finished()) {
          // 2026-07-28: the client closing the response stream cancels the request (and ends a listen).
          if (!success) spdlog::debug("client closed the stream of request {}", ex->request_id().dump());
          core.cancel_request(conn, ex->request_id());
        }
        if (!session) return;
        session->last_used = Clock::now();  // idle from now on, whatever its unfinished requests
        bool legacy_sse = false;
        {
          std::lock_guard l(session->m);
          --session->attached;
          if (ex->finished()) session->streams.erase(ex->stream_id());
          if (session->standalone == ex) {
            session->standalone_open = false;
            legacy_sse = ex->style() == Exchange::Style::LegacySse;
          }
        }
        // A 2024-11-05 session lives as long as its /sse stream: POST /messages is 404 after.
        if (legacy_sse) drop_session(session);
      });
}

// ---- Public API -------------------------------------------------------------------------------------

HttpServer::HttpServer(Server& core, HttpOptions options) : impl_(std::make_unique<Impl>(core, std::move(options))) {
  impl_->setup();
}

HttpServer::~HttpServer() {
  stop();
  if (impl_->reaper.joinable()) impl_->reaper.join();
}

int HttpServer::bind() {
  auto& o = impl_->opt;
  impl_->loopback = is_loopback_host(o.host);
  // Without authentication anyone who reaches the port is the local user: loopback only, unless
  // the operator says otherwise in so many words. With it, the token is the protection.
  if (!impl_->loopback && !o.access.enabled()) {
    if (!o.allow_unauthenticated && !o.allow_remote)
      throw std::runtime_error("refusing to bind " + o.host + " without HTTP authentication: pass --auth keys or --auth issuer "
                               "so callers must present a token, or --allow-unauthenticated to let anyone who can reach it "
                               "act as the local user");
    spdlog::error("listening on {} WITHOUT HTTP AUTHENTICATION (--allow-unauthenticated): anyone who can reach it reads and "
                  "sends the local user's mail, calendar and everything else", o.host);
  }
  impl_->check_access();  // --public-url, --trusted-proxy
  int port = o.port == 0 ? impl_->http.bind_to_any_port(o.host) : (impl_->http.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port <= 0) throw std::runtime_error("cannot bind " + o.host + ":" + std::to_string(o.port));
  // The library listens with a backlog of 5: a burst of clients would overflow it and wait out
  // SYN retransmits. Listening again on the bound socket only raises the backlog.
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);
  // Each connection holds a descriptor: make room for the cap when the soft limit is lower.
  rlimit r{};
  rlim_t want = o.max_connections + kRefusers + 256;
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < want) {
    r.rlim_cur = std::min(want, r.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
  impl_->port = port;
  impl_->publish_resource();
  return port;
}

void HttpServer::run() {
  if (impl_->port <= 0) bind();
  impl_->reaper = std::thread([this] { impl_->reap_idle(); });
  impl_->http.listen_after_bind();
}

void HttpServer::stop() {
  if (impl_->stopping.exchange(true)) return;
  impl_->reaper_cv.notify_all();
  {
    std::lock_guard l(impl_->live_m);
    for (auto& w : impl_->live)
      if (auto ex = w.lock()) ex->wake();
  }
  impl_->core.cancel_all();
  impl_->http.stop();
  impl_->guard.shutdown_all();  // idle keep-alive and half-sent requests end now
}

// The application's checks, run at most once a second whatever the probe rate; probes that
// arrive while they run wait for that run's answer.
std::pair<bool, Json> HttpServer::Impl::health() {
  std::lock_guard l(health_m);
  const auto now = std::chrono::steady_clock::now();
  if (!health_at || now - *health_at >= std::chrono::seconds(1)) {
    bool ok = true;
    Json checks = Json::object();
    if (opt.health) {
      std::vector<HealthCheck> results;
      try {
        results = opt.health();
      } catch (const std::exception& e) {
        results.push_back(HealthCheck{.name = "checks", .ok = false, .detail = Json{{"error", log_safe(e.what(), 300)}}});
      }
      for (auto& c : results) {
        Json d = c.detail.is_object() ? c.detail : Json::object();
        d["ok"] = c.ok;
        if (!c.critical) d["critical"] = false;
        checks[c.name] = std::move(d);
        if (!c.ok && c.critical) ok = false;
      }
    }
    health_cached = {ok, std::move(checks)};
    health_at = now;
  }
  return health_cached;
}

std::string http_detail::traceparent_of(const httplib::Request& req) {
  std::string v = req.get_header_value("traceparent");
  return logging::valid_traceparent(v) ? v : std::string();
}

struct MetricsListener::Impl {
  httplib::Server http;
  std::thread thread;
};

MetricsListener::MetricsListener(const std::string& host, int port) : impl_(std::make_unique<Impl>()) {
  impl_->http.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(metrics::Registry::global().render(), kMetricsContentType);
  });
  port_ = port == 0 ? impl_->http.bind_to_any_port(host) : (impl_->http.bind_to_port(host, port) ? port : -1);
  if (port_ <= 0) throw std::runtime_error("--metrics-addr: cannot bind " + host + ":" + std::to_string(port));
  impl_->thread = std::thread([this] { impl_->http.listen_after_bind(); });
}

MetricsListener::~MetricsListener() {
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

size_t default_max_connections() {
  // A connection is a socket and a thread (about 100 KiB of memory with an SSE stream): leave a
  // quarter of the descriptors to the store, outgoing HTTP and logs, and threads to the rest.
  rlimit fds{}, procs{};
  size_t by_fds = 1024, by_threads = 1024;
  if (::getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_max != RLIM_INFINITY)
    by_fds = fds.rlim_max > 512 ? (std::min<rlim_t>(fds.rlim_max, 65536) - 256) * 3 / 4 : 64;
  if (::getrlimit(RLIMIT_NPROC, &procs) == 0 && procs.rlim_cur != RLIM_INFINITY) by_threads = procs.rlim_cur / 2;
  return std::clamp<size_t>(std::min(by_fds, by_threads), 16, 1024);
}

int HttpServer::port() const { return impl_->port; }

}  // namespace concierge

