#pragma once
// Retry-After as the client reads it (client.cpp); declared apart for the fuzz harness.
#include <optional>

#include "providers/http/client.hpp"

namespace concierge::providers::http {

// The wait a response's Retry-After asks for (seconds, or an HTTP date relative to now); nullopt
// when there is none or it can't be read.
std::optional<Ms> retry_after(const Response& r);

}  // namespace concierge::providers::http
