#pragma once
// JSON from outside (clients, upstream services) is parsed with a nesting limit, checked before
// the parser builds anything: copies, dumps, redaction and validation all recurse per level, and
// ~20,000 levels overflow a thread's stack.
#include <cstddef>
#include <string_view>

#include "common/json.hpp"

namespace concierge {

inline constexpr size_t kMaxClientJsonDepth = 64;     // a whole JSON-RPC message, envelope included
inline constexpr size_t kMaxUpstreamJsonDepth = 256;  // a service's response body

// True when text nests arrays and objects deeper than max_depth (brackets in strings don't count).
bool json_too_deep(std::string_view text, size_t max_depth);
// Json::parse without exceptions: a discarded value when text is malformed or nests too deep.
Json parse_json(std::string_view text, size_t max_depth = kMaxUpstreamJsonDepth);

}  // namespace concierge
