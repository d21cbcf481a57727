#pragma once
// Scope strings as tokens, keys and the command line carry them.
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"

namespace concierge::access {

// The granted scopes of a token's claims: `scope` (space-separated, RFC 9068 / RFC 8693) or
// `scp` (an array, as some issuers send). Names Concierge doesn't know are dropped.
std::set<std::string> scopes_from_claims(const Json& claims);

// A space- or comma-separated list from the command line (`keys create --scopes`). Throws
// std::invalid_argument naming the first unknown scope and listing the known ones.
std::set<std::string> parse_scope_list(std::string_view text);

// Space-separated, in all_scopes() order (for `scope=` in WWW-Authenticate, metadata, keys list).
std::string join_scopes(const std::set<std::string>& scopes);

// An OAuth `scope` parameter (RFC 6749 §3.3: space-delimited) as a list, in order, without
// repeats; any names (callers check them against all_scopes()). And back.
std::vector<std::string> scope_list(std::string_view text);
std::string scope_param(const std::vector<std::string>& scopes);

}  // namespace concierge::access
