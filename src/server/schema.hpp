#pragma once
// JSON Schema validation compiled once (valijson), used for tool inputs and outputs.
#include <memory>
#include <optional>
#include <string>

#include "common/json.hpp"

namespace concierge {

class CompiledSchema {
 public:
  // Throws std::invalid_argument when the schema itself can't be compiled.
  explicit CompiledSchema(const Json& schema);
  ~CompiledSchema();
  CompiledSchema(const CompiledSchema&) = delete;
  CompiledSchema& operator=(const CompiledSchema&) = delete;

  // nullopt when valid; else one message starting with the path at fault, in the schema's terms
  // ("max_results: must be at least 1", "attendees[0].email: is required"; see schema.cpp).
  std::optional<std::string> validate(const Json& instance) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace concierge
