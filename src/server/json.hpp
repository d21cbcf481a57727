#pragma once
// One JSON type for the whole project, and the one way we serialize it.
#include <nlohmann/json.hpp>
#include <string>

namespace concierge {
using Json = nlohmann::json;

// Never throws on strings that are not valid UTF-8: replace instead, so a bad byte from a
// provider can't take a reply down with it.
inline std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}
}  // namespace concierge
