#pragma once
// Opaque ids for rows the local providers create: random, so they reveal nothing and don't collide
// across users or merged stores.
#include <string>

namespace concierge::providers {

std::string random_id(size_t hex_chars = 20);

}  // namespace concierge::providers
