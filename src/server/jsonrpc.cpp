#include "server/jsonrpc.hpp"
#include "common/json_parse.hpp"

namespace concierge::rpc {

bool valid_id(const Json& id) {
  return id.is_string() || id.is_number_integer();  // is_number_integer covers unsigned
}

Classified classify(const Json& m) {
  Classified c;
  if (!m.is_object()) {
    c.reason = "a JSON-RPC message must be an object";
    return c;
  }
  auto id_it = m.find("id");
  bool has_id = id_it != m.end();
  if (has_id && valid_id(*id_it)) c.id = *id_it;
  auto jr = m.find("jsonrpc");
  if (jr == m.end() || *jr != "2.0") {
    c.reason = "\"jsonrpc\" must be \"2.0\"";
    return c;
  }
  if (has_id && !valid_id(*id_it)) {
    c.reason = id_it->is_null() ? "\"id\" must not be null" : "\"id\" must be a string or an integer";
    return c;
  }
  auto method = m.find("method");
  if (method != m.end()) {
    if (!method->is_string()) {
      c.reason = "\"method\" must be a string";
      return c;
    }
    if (auto p = m.find("params"); p != m.end() && !p->is_object()) {
      c.reason = "\"params\" must be an object";
      return c;
    }
    c.kind = has_id ? Kind::Request : Kind::Notification;
    return c;
  }
  bool has_result = m.contains("result"), has_error = m.contains("error");
  if (has_id && (has_result != has_error)) {
    c.kind = Kind::Response;
    return c;
  }
  c.reason = "not a request, notification or response";
  return c;
}

Json make_result(const Json& id, Json result) {
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

Json make_error(const Json& id, int code, std::string_view message, const Json& data) {
  Json err{{"code", code}, {"message", message}};
  if (!data.is_null()) err["data"] = data;
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
}

Json make_notification(std::string_view method, Json params) {
  Json n{{"jsonrpc", "2.0"}, {"method", method}};
  if (!params.is_null()) n["params"] = std::move(params);
  return n;
}

Json make_request(const Json& id, std::string_view method, Json params) {
  Json r{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) r["params"] = std::move(params);
  return r;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) { ++i; continue; }
    size_t len; unsigned cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and out-of-range code points are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

std::optional<Error> check_modern_meta(const Json& params) {
  auto missing = [](const char* key, const char* what) {
    std::string field = std::string("_meta.") + key;
    return Error(kInvalidParams, "Missing or invalid " + field + " (" + what + ")", Json{{"field", field}});
  };
  auto meta = params.is_object() ? params.find("_meta") : params.end();
  if (!params.is_object() || meta == params.end() || !meta->is_object())
    return Error(kInvalidParams, "Missing params._meta: 2026-07-28 requests carry their protocol version and client capabilities there",
                 Json{{"field", "_meta"}});
  auto v = meta->find(kMetaProtocolVersion);
  if (v == meta->end() || !v->is_string()) return missing(kMetaProtocolVersion, "a string");
  auto c = meta->find(kMetaClientCapabilities);
  if (c == meta->end() || !c->is_object()) return missing(kMetaClientCapabilities, "an object");
  return std::nullopt;
}

bool parse(std::string_view text, Json& out, Json& error_reply) {
  if (!valid_utf8(text)) {
    error_reply = make_error(nullptr, kParseError, "Parse error: message is not valid UTF-8");
    return false;
  }
  if (json_too_deep(text, kMaxClientJsonDepth)) {
    error_reply = make_error(nullptr, kParseError,
                             "Parse error: JSON nested deeper than " + std::to_string(kMaxClientJsonDepth) + " levels");
    return false;
  }
  out = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded()) {
    error_reply = make_error(nullptr, kParseError, "Parse error: malformed JSON");
    return false;
  }
  return true;
}

}  // namespace concierge::rpc
