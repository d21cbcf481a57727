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

// A string member of what a service sent, "" when it is absent, not a string, or j is not an
// object: upstream bodies are read leniently, field by field.
inline std::string json_string(const Json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// The JSON Schema name of a value's type, for error messages.
inline std::string json_kind(const Json& v) {
  switch (v.type()) {
    case Json::value_t::string: return "string";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer";
    case Json::value_t::number_float: return "number";
    case Json::value_t::array: return "array";
    case Json::value_t::object: return "object";
    default: return "null";
  }
}
}  // namespace concierge
