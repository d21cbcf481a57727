#pragma once
// The field-first errors (common/error.hpp) under the names the providers use.
#include "common/error.hpp"

namespace concierge::providers {

using Error = FieldError;
using concierge::Conflict;
using concierge::NotFound;

}  // namespace concierge::providers
