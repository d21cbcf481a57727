#pragma once
// How a tools/call ended: what the history records and /metrics counts (one set of names).
#include <string_view>

namespace concierge {

enum class CallOutcome { Ok, ToolError, ProtocolError, Cancelled };

constexpr std::string_view to_string(CallOutcome o) {
  switch (o) {
    case CallOutcome::Ok: return "ok";
    case CallOutcome::ToolError: return "tool_error";
    case CallOutcome::ProtocolError: return "protocol_error";
    case CallOutcome::Cancelled: return "cancelled";
  }
  return "ok";
}

}  // namespace concierge
