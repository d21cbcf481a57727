#pragma once
// Connecting services in the browser, for users who can't run `concierge auth login` on the
// server: /connect lists the signed-in user's services; /connect/<service> starts the service's
// OAuth (the adapters' own PKCE client, so the tokens it stores are the ones the tools use),
// with its state kept here, bound to the browser session's user, for at most ten minutes;
// /oauth/callback/<service> checks state and user and stores the tokens; POST
// /connect/<service>/disconnect deletes them and revokes the grant where the service documents
// how. Who is signed in comes from access::WebSessions only.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "access/web_sessions.hpp"
#include "providers/auth/oauth.hpp"
#include "providers/auth/tokens.hpp"
#include "server/http.hpp"

namespace concierge::web {

struct ConnectOptions {
  // The server's public origin ("https://concierge.example.org"): the callback is
  // <origin>/oauth/callback/<service>. A function: on loopback it is known only once bound.
  std::function<std::string()> origin;
  // The services offered (OAuth ones this server is configured for), in the order shown.
  std::vector<std::string> services;
  // The service's OAuth client: the adapters' own, whose tokens the tools read. May throw
  // (std::invalid_argument) for a service without OAuth.
  std::function<std::shared_ptr<providers::auth::OAuthClient>(const std::string& service)> oauth;
  providers::auth::TokenStore* tokens = nullptr;
  // The account name a browser connection is stored under (what the adapters serve by default).
  std::string account = "default";
  // Where a service documents revoking a grant (a form POST of token=...): Google's. Spotify
  // and Cal.com document none: there the tokens are deleted here only.
  std::map<std::string, std::string> revocation_urls{{"google", "https://oauth2.googleapis.com/revoke"}};
  providers::http::Policy revocation_policy;  // timeouts for the revocation call
  // Told once a user has connected a service (the MCP server's elicitation/complete).
  std::function<void(const std::string& user, const std::string& service)> connected;
  std::chrono::seconds pending_ttl{600};  // an OAuth flow started and not finished: its state lives this long
  size_t max_pending = 256;               // flows in progress, all users; beyond: refused
  size_t max_pending_per_user = 8;        // a user's oldest is dropped beyond this
  std::function<std::chrono::steady_clock::time_point()> now = [] { return std::chrono::steady_clock::now(); };
};

// The routes above (GET /connect, and per service GET /connect/<s>, GET /oauth/callback/<s>,
// POST /connect/<s>/disconnect). `sessions` must outlive them.
std::vector<HttpRoute> connect_routes(access::WebSessions& sessions, ConnectOptions options);

// The URL a tool's "connect first" points at: <origin>/connect/<service>.
std::string connect_url(const std::string& origin, const std::string& service);

}  // namespace concierge::web
