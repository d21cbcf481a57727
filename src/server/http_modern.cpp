// The HTTP transport, 2026-07-28 (stateless: every request carries its own protocol version and capabilities).
#include "server/http_internal.hpp"

namespace concierge {

// ---- 2026-07-28 ---------------------------------------------------------------------------------

std::optional<std::string> HttpServer::Impl::check_mirrored_headers(const httplib::Request& req, const Json& msg) {
  const std::string method = msg.value("method", "");
  if (!req.has_header("Mcp-Method")) return "Missing Mcp-Method header";
  if (req.get_header_value("Mcp-Method") != method)
    return "Header mismatch: Mcp-Method '" + req.get_header_value("Mcp-Method") + "' does not match body method '" + method + "'";
  const Json& params = msg.contains("params") ? msg["params"] : Json::object();
  const char* name_field = nullptr;
  if (method == "tools/call" || method == "prompts/get") name_field = "name";
  else if (method == "resources/read") name_field = "uri";
  else if (method == "tasks/get" || method == "tasks/update" || method == "tasks/cancel") name_field = "taskId";
  if (name_field) {
    if (!req.has_header("Mcp-Name")) return "Missing Mcp-Name header (required for " + method + ")";
    auto name = decode_header_value(trim_ows(req.get_header_value("Mcp-Name")));
    if (!name) return "Malformed Mcp-Name header";
    auto body = params.find(name_field);
    if (body == params.end() || !body->is_string() || *name != body->get<std::string>())
      return "Header mismatch: Mcp-Name '" + *name + "' does not match params." + name_field;
  }
  if (method != "tools/call") return std::nullopt;
  // Tool parameters mirrored into Mcp-Param-* headers (x-mcp-header in the tool's inputSchema).
  const RegisteredTool* tool = params.contains("name") && params["name"].is_string() ? core.tools().find(params["name"].get<std::string>()) : nullptr;
  if (!tool) return std::nullopt;
  const Json args = params.value("arguments", Json::object());
  std::optional<std::string> problem;
  std::function<void(const Json&, const Json&)> walk = [&](const Json& schema, const Json& value) {
    auto props = schema.find("properties");
    if (props == schema.end() || !props->is_object()) return;
    for (auto& [key, sub] : props->items()) {
      if (problem || !sub.is_object()) continue;
      const Json* v = value.is_object() && value.contains(key) ? &value[key] : nullptr;
      if (auto h = sub.find("x-mcp-header"); h != sub.end() && h->is_string()) {
        if (!v || v->is_null()) continue;  // nothing to mirror
        std::string header = "Mcp-Param-" + h->get<std::string>();
        if (!req.has_header(header)) { problem = "Missing " + header + " header"; return; }
        auto decoded = decode_header_value(trim_ows(req.get_header_value(header)));
        if (!decoded) { problem = "Malformed " + header + " header"; return; }
        bool same = false;
        if (v->is_string()) same = *decoded == v->get<std::string>();
        else if (v->is_boolean()) same = *decoded == (v->get<bool>() ? "true" : "false");
        else if (v->is_number()) {
          Json parsed = parse_json(*decoded, kMaxClientJsonDepth);
          same = parsed.is_number() && parsed.get<double>() == v->get<double>();
        }
        if (!same) { problem = "Header mismatch: " + header + " does not match arguments." + key; return; }
      } else if (v) {
        walk(sub, *v);
      }
    }
  };
  walk(tool->def.input_schema, args);
  return problem;
}

void HttpServer::Impl::post_modern(const httplib::Request& req, httplib::Response& res, const Json& msg, const Caller& who) {
  const Json id = msg.is_object() && msg.contains("id") && rpc::valid_id(msg["id"]) ? msg["id"] : Json();
  auto reject = [&](int status, int code, const std::string& message, const Json& data = nullptr) {
    res.status = status;
    res.set_content(dump(rpc::make_error(id, code, message, data)), "application/json");
  };
  if (!msg.is_object()) return reject(400, rpc::kInvalidRequest, "Invalid Request: 2026-07-28 has no batches");
  auto kind = rpc::classify(msg).kind;
  if (kind == rpc::Kind::Invalid) return reject(400, rpc::kInvalidRequest, "Invalid Request: " + rpc::classify(msg).reason);
  const Json& params = msg.contains("params") ? msg["params"] : Json::object();
  if (kind == rpc::Kind::Request) {
    // Order matters to clients probing the era: _meta first, then the headers that mirror it.
    if (auto bad = rpc::check_modern_meta(params)) return reject(400, bad->code, bad->what(), bad->data);
    std::string meta_version = params["_meta"][rpc::kMetaProtocolVersion];
    if (!req.has_header(kVersionHeader)) return reject(400, rpc::kHeaderMismatch, "Missing MCP-Protocol-Version header");
    if (req.get_header_value(kVersionHeader) != meta_version)
      return reject(400, rpc::kHeaderMismatch, "Header mismatch: MCP-Protocol-Version '" + req.get_header_value(kVersionHeader) +
                                                    "' does not match _meta protocolVersion '" + meta_version + "'");
    auto rev = parse_revision(meta_version);
    if (!rev || !is_modern(*rev))
      return reject(400, rpc::kUnsupportedProtocolVersion, "Unsupported protocol version: " + meta_version,
                    Json{{"supported", supported_revisions()}, {"requested", meta_version}});
    if (auto mismatch = check_mirrored_headers(req, msg)) return reject(400, rpc::kHeaderMismatch, *mismatch);
    if (auto refused = core.missing_scope(msg, who.scopes)) return forbid(res, who, *refused, id);
  }
  // A listen is a stream for as long as the client keeps it: it counts against the streams.
  bool claimed = kind == rpc::Kind::Request && msg.value("method", "") == "subscriptions/listen";
  if (claimed && refuse_stream(res)) return;
  // Stateless: a fresh session object per request, only to track it for cancellation.
  auto ex = exchange(Exchange::Style::Modern, id, "");
  Connection conn{core.new_session(nullptr, who.user), ex, "http", who.user, /*run_quick_inline=*/true, who.scopes, traceparent_of(req)};
  if (kind != rpc::Kind::Request) {
    core.handle(msg, conn);
    res.status = 202;
    return;
  }
  core.handle(msg, conn);
  respond(res, ex, conn, true, nullptr, claimed);
}

// Sends the reply as JSON when it is the first thing the handler produced; otherwise opens an
// SSE stream carrying the notifications (and, in the handshake era, server->client requests)
// followed by the reply.

}  // namespace concierge
