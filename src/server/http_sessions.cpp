// The HTTP transport, handshake era (2025-03-26 … 2025-11-25): sessions named by Mcp-Session-Id, their GET streams and resumption.
#include "server/http_internal.hpp"

namespace concierge {

std::shared_ptr<HttpSession> HttpServer::Impl::find_session(const std::string& id, const std::string& user) {
  std::lock_guard l(sessions_m);
  auto it = sessions.find(id);
  if (it == sessions.end() || it->second->core->user != user) return nullptr;
  it->second->last_used = Clock::now();
  return it->second;
}

// Adds a session within --max-sessions, evicting the least recently used idle one (no stream
// open) when full. False when every session is streaming.
bool HttpServer::Impl::add_session(const std::shared_ptr<HttpSession>& s) {
  std::shared_ptr<HttpSession> evicted;
  {
    std::lock_guard l(sessions_m);
    if (sessions.size() >= opt.max_sessions) {
      auto lru = sessions.end();
      for (auto it = sessions.begin(); it != sessions.end(); ++it) {
        {
          std::lock_guard sl(it->second->m);
          if (it->second->attached > 0) continue;
        }
        if (lru == sessions.end() || it->second->last_used.load() < lru->second->last_used.load()) lru = it;
      }
      if (lru == sessions.end()) return false;
      evicted = lru->second;
      sessions.erase(lru);
    }
    sessions[s->core->id] = s;
  }
  if (evicted) {
    spdlog::info("session {} evicted: {} sessions open (--max-sessions)", evicted->core->id.substr(0, 6), opt.max_sessions);
    end_session(evicted);
  }
  return true;
}

// A session that is gone: its requests are cancelled, its stream closed, its replay freed.
void HttpServer::Impl::end_session(const std::shared_ptr<HttpSession>& s) {
  {
    std::lock_guard l(s->core->m);
    for (auto& [_, token] : s->core->inflight) token.cancel();
  }
  std::lock_guard l(s->m);
  if (s->standalone) s->standalone->close_stream();
  s->streams.clear();
}

void HttpServer::Impl::drop_session(const std::shared_ptr<HttpSession>& s) {
  {
    std::lock_guard l(sessions_m);
    auto it = sessions.find(s->core->id);
    if (it == sessions.end() || it->second != s) return;
    sessions.erase(it);
  }
  end_session(s);
}

// A new long-lived stream beyond what --max-connections leaves for streams: 503, so open streams
// can never take the connections kept for requests.
// ---- Handshake era (2025-03-26 … 2025-11-25) ------------------------------------------------------

void HttpServer::Impl::post_legacy(const httplib::Request& req, httplib::Response& res, const Json& msg, const Caller& who) {
  auto fail = [&](int status, int code, const std::string& message) {
    res.status = status;
    Json id = msg.is_object() && msg.contains("id") && rpc::valid_id(msg["id"]) ? msg["id"] : Json();
    res.set_content(error_body(id, code, message), "application/json");
  };
  if (req.has_header(kVersionHeader)) {
    auto rev = parse_revision(req.get_header_value(kVersionHeader));
    if (!rev || is_modern(*rev))
      return fail(400, rpc::kInvalidRequest, "Unsupported MCP-Protocol-Version: " + req.get_header_value(kVersionHeader));
  }
  bool is_init = msg.is_object() && msg.value("method", "") == "initialize";
  std::shared_ptr<HttpSession> session;
  if (req.has_header(kSessionHeader)) {
    session = find_session(req.get_header_value(kSessionHeader), who.user);
    if (!session) return fail(404, rpc::kInvalidRequest, "Session not found (it expired or was deleted): initialize again");
    if (is_init) return fail(400, rpc::kInvalidRequest, "Invalid Request: this session is already initialized");
  } else if (is_init) {
    session = std::make_shared<HttpSession>();
    session->core = core.new_session(std::make_shared<StandaloneSink>(session), who.user);
  } else {
    return fail(400, rpc::kInvalidRequest, "Bad Request: missing Mcp-Session-Id header (send initialize first)");
  }

  auto kind = msg.is_array() ? rpc::Kind::Request : rpc::classify(msg).kind;
  bool has_request = kind == rpc::Kind::Request || kind == rpc::Kind::Invalid;
  if (msg.is_array()) {
    has_request = false;
    for (const auto& m : msg) has_request |= rpc::classify(m).kind != rpc::Kind::Notification && rpc::classify(m).kind != rpc::Kind::Response;
  }
  Json id = msg.is_object() && msg.contains("id") ? msg["id"] : Json();
  // A single request outside the caller's scopes is 403 (a batch's gets its JSON-RPC error).
  if (kind == rpc::Kind::Request && msg.is_object())
    if (auto refused = core.missing_scope(msg, who.scopes)) return forbid(res, who, *refused, id);
  auto ex = exchange(Exchange::Style::Legacy, msg.is_array() ? Json("batch") : id, base64url_encode(random_bytes(9)));
  Connection conn{session->core, ex, "http", who.user, /*run_quick_inline=*/true, who.scopes, traceparent_of(req)};
  if (!has_request) {
    core.handle(msg, conn);
    res.status = 202;
    return;
  }
  if (msg.is_array()) {
    // A batch reply is one array; a custom id makes the exchange recognise it.
    core.handle(msg, conn);
  } else {
    core.handle(msg, conn);
  }
  if (is_init) {
    auto body = ex->wait_first(stopping);
    Json r = body ? Json::parse(*body, nullptr, false) : Json();
    if (!r.is_object() || !r.contains("result")) {  // a refused initialize creates no session
      res.status = r.is_object() ? 200 : 503;
      if (body) res.set_content(*body, "application/json");
      return;
    }
    if (!add_session(session)) return refuse_session(res, id);
    res.set_header(kSessionHeader, session->core->id);
    res.set_content(std::move(*body), "application/json");
    return;
  }
  respond(res, ex, conn, false, session);
}

void HttpServer::Impl::get_mcp(const httplib::Request& req, httplib::Response& res, const Caller& who) {
  auto fail = [&](int status, const std::string& message) {
    res.status = status;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, message), "application/json");
  };
  if (!req.has_header(kSessionHeader)) {
    if (parse_revision(req.get_header_value(kVersionHeader)) == Revision::V2026_07_28) {
      res.set_header("Allow", "POST");
      return fail(405, "Method Not Allowed: 2026-07-28 has no GET stream; use subscriptions/listen");
    }
    return fail(400, "Bad Request: missing Mcp-Session-Id header");
  }
  if (!accepts(req.get_header_value("Accept"), "text/event-stream"))
    return fail(406, "Not Acceptable: Accept must list text/event-stream");
  auto session = find_session(req.get_header_value(kSessionHeader), who.user);
  if (!session) return fail(404, "Session not found");
  Connection conn{session->core, nullptr, "http", who.user, false, who.scopes};
  if (refuse_stream(res)) return;
  bool streaming = false;  // else the claim is given back
  struct Unclaim {
    Guard& g;
    bool& streaming;
    ~Unclaim() { if (!streaming) --g.streams; }
  } unclaim{guard, streaming};

  if (req.has_header("Last-Event-ID")) {
    // Resumption: replay what this stream missed, then carry on live. A stream that is gone, or
    // whose missed events were dropped (replay caps), gets a fresh GET stream instead.
    std::string last = req.get_header_value("Last-Event-ID");
    auto colon = last.rfind(':');
    std::string sid = last.substr(0, colon);
    uint64_t seq = colon == std::string::npos ? 0 : std::strtoull(last.c_str() + colon + 1, nullptr, 10);
    std::shared_ptr<Exchange> ex;
    {
      std::lock_guard l(session->m);
      auto it = session->streams.find(sid);
      if (it != session->streams.end()) ex = it->second;
      if (!ex && session->standalone && session->standalone->stream_id() == sid) {
        if (session->standalone_open) return fail(409, "Conflict: this session already has a GET stream open");
        if (!session->standalone->missed(seq)) {
          ex = session->standalone;
          session->standalone_open = true;  // the GET stream again, notifications included
        }
      }
    }
    if (ex && !ex->missed(seq)) {
      conn.sink = ex;
      streaming = true;
      stream(res, ex, seq, conn, false, session, "", true);
      return;
    }
    spdlog::debug("Last-Event-ID {} is past what was kept: a fresh stream", last);
  }
  std::shared_ptr<Exchange> ex;
  {
    std::lock_guard l(session->m);
    if (session->standalone_open) return fail(409, "Conflict: this session already has a GET stream open");
    ex = exchange(Exchange::Style::Legacy, Json(), base64url_encode(random_bytes(9)));
    session->standalone = ex;
    session->standalone_open = true;
  }
  conn.sink = ex;
  streaming = true;
  stream(res, ex, 0, conn, false, session,
         "id: " + ex->stream_id() + ":0\nretry: " + std::to_string(opt.sse_retry.count()) + "\ndata: \n\n", true);
}

void HttpServer::Impl::delete_mcp(const httplib::Request& req, httplib::Response& res, const Caller& who) {
  if (!req.has_header(kSessionHeader)) {
    res.status = 400;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Bad Request: missing Mcp-Session-Id header"), "application/json");
    return;
  }
  std::shared_ptr<HttpSession> s;
  {
    std::lock_guard l(sessions_m);
    auto it = sessions.find(req.get_header_value(kSessionHeader));
    if (it != sessions.end() && it->second->core->user == who.user) {  // another user's: 404 too
      s = it->second;
      sessions.erase(it);
    }
  }
  if (!s) {
    res.status = 404;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Session not found"), "application/json");
    return;
  }
  end_session(s);
  res.status = 200;
}

void HttpServer::Impl::reap_idle() {
  std::mutex m;
  std::unique_lock l(m);
  auto period = std::max<std::chrono::seconds>(std::chrono::seconds(1), std::min<std::chrono::seconds>(opt.session_idle_timeout / 4, std::chrono::seconds(30)));
  while (!stopping) {
    reaper_cv.wait_for(l, period, [&] { return stopping.load(); });
    std::vector<std::shared_ptr<HttpSession>> expired;
    {
      std::lock_guard sl(sessions_m);
      for (auto it = sessions.begin(); it != sessions.end();) {
        // Streaming now keeps a session; unfinished requests without a stream do not.
        bool open;
        {
          std::lock_guard ssl(it->second->m);
          open = it->second->attached > 0;
        }
        if (!open && Clock::now() - it->second->last_used.load() > opt.session_idle_timeout) {
          expired.push_back(it->second);
          it = sessions.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& s : expired) {
      spdlog::info("session {} expired after {} s idle", s->core->id.substr(0, 6), opt.session_idle_timeout.count());
      end_session(s);
    }
  }
}

}  // namespace concierge
