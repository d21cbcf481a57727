#pragma once
// The authorization endpoint's protocol half (`--auth builtin`): checking a request, and turning
// the person's decision into the redirect back to the client. The pages in between (sign-in,
// consent; src/web) call these; nothing here renders HTML beyond the one error page a request
// whose redirect can't be trusted gets.
#include <string>
#include <variant>
#include <vector>

#include "server/http.hpp"

namespace concierge::access {

// A checked authorization request (OAuth 2.1 §4.1.1): its client is known (registered, or a
// Client ID Metadata Document fetched), redirect_uri is one of the client's exactly, PKCE is
// S256, resource (when given) is the public URL, scopes are known ones.
struct AuthorizationRequest {
  std::string client_id;
  std::string client_name;  // for the consent page: the registered name, else the client_id
  std::string redirect_uri;
  std::string state;                // passed through as sent ("" when absent)
  std::string code_challenge;       // S256
  std::string resource;             // the public URL (RFC 8707), "" when absent
  std::vector<std::string> scopes;  // requested; all scopes when the request named none
  std::string redirect_host() const;  // host[:port], for the consent page
};

// What the person decided on the consent page.
struct Decision {
  std::string user;                  // the signed-in user's name
  std::vector<std::string> granted;  // a subset of the request's scopes (the person may untick)
};

}  // namespace concierge::access
