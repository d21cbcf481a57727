#pragma once
// Arguments one action of a multi-action tool needs (a schema can't say which action needs which):
// missing, they are a tool error naming the field.
#include <string>

#include "providers/error.hpp"
#include "common/json.hpp"

namespace concierge::tools {

template <class T = std::string>
T required_for(const Json& args, const char* field, const std::string& action) {
  if (!args.contains(field)) throw providers::Error(field, "is required for action '" + action + "'");
  return args[field].get<T>();
}

}  // namespace concierge::tools
