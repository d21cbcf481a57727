#pragma once
// What a tool or a provider refuses, in words the model can act on: the protocol core's one
// boundary (invoke_tool) turns these into isError results; nothing is written when one is thrown.
// Low in the tree so tools, providers and the store raise the same types.
#include <stdexcept>
#include <string>

namespace concierge {

// A failure the model should see and can act on.
struct ToolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The same, naming the argument at fault (field) first, so a client can point at it:
// "start: expected an RFC 3339 time".
struct FieldError : ToolError {
  std::string field;
  FieldError(std::string field_, const std::string& message)
      : ToolError(field_.empty() ? message : field_ + ": " + message), field(std::move(field_)) {}
};
// An id that names nothing (or nothing of this user's).
struct NotFound : FieldError {
  using FieldError::FieldError;
};
// The request is valid but the state refuses it: the slot was just taken, a near-duplicate exists.
struct Conflict : FieldError {
  using FieldError::FieldError;
};

// The calling user has not connected the service, or its grant is gone: only connecting it
// (again) helps. The protocol boundary may offer the server's connect page for it (URL-mode
// elicitation) instead of the plain message.
struct NeedsConnection : FieldError {
  std::string service;  // "google", "spotify"...
  NeedsConnection(std::string service_, const std::string& message) : FieldError("account", message), service(std::move(service_)) {}
};

}  // namespace concierge
