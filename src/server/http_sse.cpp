// The HTTP transport, 2024-11-05 HTTP+SSE: a GET /sse stream and POST /messages?sessionId=.
#include "server/http_internal.hpp"

namespace concierge {

// ---- HTTP+SSE (2024-11-05) ------------------------------------------------------------------------

void HttpServer::Impl::get_sse(const httplib::Request& req, httplib::Response& res, const Caller& who) {
  if (!accepts(req.get_header_value("Accept"), "text/event-stream")) {
    res.status = 406;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Not Acceptable: Accept must list text/event-stream"), "application/json");
    return;
  }
  if (refuse_stream(res)) return;
  auto session = std::make_shared<HttpSession>();
  auto ex = exchange(Exchange::Style::LegacySse, Json(), "");
  session->core = core.new_session(ex, who.user);
  session->standalone = ex;
  session->standalone_open = true;
  if (!add_session(session)) {
    --guard.streams;
    return refuse_session(res, nullptr);
  }
  Connection conn{session->core, ex, "sse", who.user, false, who.scopes};
  std::string endpoint = "event: endpoint\ndata: /messages?sessionId=" + session->core->id + "\n\n";
  stream(res, ex, 0, conn, false, session, endpoint, true);
}

void HttpServer::Impl::post_messages(const httplib::Request& req, const std::string& body, httplib::Response& res, const Caller& who) {
  auto session = find_session(req.get_param_value("sessionId"), who.user);
  std::shared_ptr<Exchange> ex;
  if (session) {
    std::lock_guard l(session->m);
    if (session->standalone_open && session->standalone->style() == Exchange::Style::LegacySse) ex = session->standalone;
  }
  if (!ex) {
    res.status = 404;
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Session not found (its /sse stream is closed): open GET /sse again"),
                    "application/json");
    return;
  }
  Json msg, err;
  if (!rpc::parse(body, msg, err)) {
    res.status = 400;
    res.set_content(dump(err), "application/json");
    return;
  }
  // The reply travels on the /sse stream, but a refusal of scope is this POST's own 403 (the
  // step-up signal; a client seeing it fails the request).
  if (msg.is_object() && rpc::classify(msg).kind == rpc::Kind::Request)
    if (auto refused = core.missing_scope(msg, who.scopes)) return forbid(res, who, *refused, msg["id"]);
  core.handle(msg, Connection{session->core, ex, "sse", who.user, false, who.scopes, traceparent_of(req)});
  res.status = 202;
  res.set_content("Accepted", "text/plain");
}

}  // namespace concierge
