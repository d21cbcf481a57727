#pragma once
// JSON-RPC 2.0 framing: message classification, ids, error objects.
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/json.hpp"

namespace concierge::rpc {

enum Code : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  kResourceNotFoundLegacy = -32002,       // 2025-11-25 and earlier
  kInsufficientScope = -32003,            // local: the caller's token lacks a scope (HTTP: 403)
  kHeaderMismatch = -32020,               // 2026-07-28
  kMissingRequiredClientCapability = -32021,
  kUnsupportedProtocolVersion = -32022,
  kUrlElicitationRequired = -32042,       // 2025-11-25 only
  kRequestCancelled = -32800,             // local: never sent, marks a suppressed reply
};

// The one exception type that crosses into the dispatcher and becomes an error reply.
struct Error : std::runtime_error {
  int code;
  Json data;
  Error(int code, std::string message, Json data = nullptr)
      : std::runtime_error(std::move(message)), code(code), data(std::move(data)) {}
};

inline Error invalid_params(std::string message, Json data = nullptr) {
  return Error(kInvalidParams, std::move(message), std::move(data));
}

enum class Kind { Request, Notification, Response, Invalid };

struct Classified {
  Kind kind = Kind::Invalid;
  Json id;             // request/response id, or null
  std::string reason;  // why a message is Invalid
};

// Ids are strings or integers, never null; floats (including integers too large for 64 bits,
// which the parser turns into floats) are refused rather than silently rounded.
bool valid_id(const Json& id);
Classified classify(const Json& message);

Json make_result(const Json& id, Json result);
Json make_error(const Json& id, int code, std::string_view message, const Json& data = nullptr);
Json make_notification(std::string_view method, Json params);
Json make_request(const Json& id, std::string_view method, Json params);

bool valid_utf8(std::string_view s);

// The reserved _meta keys of 2026-07-28 requests.
inline constexpr const char* kMetaProtocolVersion = "io.modelcontextprotocol/protocolVersion";
inline constexpr const char* kMetaClientCapabilities = "io.modelcontextprotocol/clientCapabilities";
inline constexpr const char* kMetaSubscriptionId = "io.modelcontextprotocol/subscriptionId";
// A 2026-07-28 request's required _meta fields: the -32602 error naming the first one missing.
std::optional<Error> check_modern_meta(const Json& params);
// Parses one wire message; on failure returns the -32700 reply to send instead.
bool parse(std::string_view text, Json& out, Json& error_reply);

}  // namespace concierge::rpc
