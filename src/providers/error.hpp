#pragma once
// What a provider refuses, in words the model can act on. Each names the argument at fault
// (field) so a client can point at it. They derive from ToolError: the server's one boundary
// (invoke_tool) turns them into isError results; nothing is written when one is thrown.
#include <string>

#include "server/registry.hpp"

namespace concierge::providers {

struct Error : ToolError {
  std::string field;
  Error(std::string field_, const std::string& message)
      : ToolError(field_.empty() ? message : field_ + ": " + message), field(std::move(field_)) {}
};
// An id that names nothing (or nothing of this user's).
struct NotFound : Error {
  using Error::Error;
};
// The request is valid but the state refuses it: the slot was just taken, a near-duplicate exists.
struct Conflict : Error {
  using Error::Error;
};

}  // namespace concierge::providers
