#pragma once
// Concierge as its own OAuth 2.1 authorization server (`serve --auth builtin`): the RFC 8414
// metadata, dynamic client registration (RFC 7591; public clients only), Client ID Metadata
// Documents (cimd.hpp), the authorization endpoint's checks and redirects (authorize.hpp; the
// pages in src/web render sign-in and consent), the token endpoint (code with PKCE S256,
// rotating refresh tokens), revocation (RFC 7009) and the JWKS of the server's signing key. The
// issuer is the public URL's origin. Served as HttpRoutes (server/http.hpp): the transport knows
// nothing of OAuth.
// Access tokens are ES256 JWTs (RFC 9068) carrying their grant's id (`gid`): the resource server
// checks them without a query per request beyond the grant's liveness (cached 1 s), and a
// revoked grant kills them all. Codes and refresh tokens are opaque and stored hashed (grants.hpp).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "access/authorize.hpp"
#include "access/grants.hpp"
#include "access/rate_limit.hpp"
#include "access/signing_key.hpp"
#include "common/json.hpp"
#include "server/http.hpp"
#include "store/store.hpp"

namespace concierge::access {

// A client as registered (RFC 7591 §2): what the authorization endpoint checks requests against.
struct RegisteredClient {
  std::string client_id;
  std::string client_name;                 // "" when not given
  std::vector<std::string> redirect_uris;  // matched exactly
  std::vector<std::string> grant_types;    // authorization_code [, refresh_token]
  std::vector<std::string> response_types; // code
  std::string scope;                       // space-separated; "" when not given
  std::string client_uri, logo_uri;        // https; "" when not given
  int64_t issued_at = 0;                   // seconds since the epoch
  std::optional<int64_t> last_used_ms;
  Json metadata() const;                   // as answered (RFC 7591 §3.2.1), without client_id_issued_at
};

struct RegistrationLimits {
  size_t max_body_bytes = 16 * 1024;
  size_t max_redirect_uris = 10;
  size_t max_uri_length = 2000;
  size_t max_name_length = 200;
};

// An RFC 7591 §3.2.2 error: `error` is invalid_redirect_uri or invalid_client_metadata, the
// description starts with the member at fault.
struct RegistrationError {
  std::string error, description;
};

// The registration request's metadata checked and normalized (client_id and issued_at left
// empty). Unknown members are ignored (RFC 7591 §2). token_endpoint_auth_method must be "none"
// when given; absent, it is "none" (the only method there is), and the answer says so.
std::variant<RegisteredClient, RegistrationError> check_registration(const Json& request, const RegistrationLimits& limits = {});

// A redirect URI a client may register: https with a host, or http on a loopback host (RFC 8252
// §7.3); absolute, no fragment, no user info. Why not, or nullopt.
std::optional<std::string> redirect_uri_problem(const std::string& uri);

// The registered clients (store table oauth_clients).
class ClientStore {
 public:
  explicit ClientStore(store::Store& store) : store_(store) {}
  void add(const RegisteredClient& client, const std::string& registered_from);
  std::optional<RegisteredClient> find(const std::string& client_id);
  std::vector<RegisteredClient> list();
  bool remove(const std::string& client_id);
  void touch(const std::string& client_id);  // last_used_ms: now (a token was issued to it)
  size_t count();

 private:
  store::Store& store_;
};

class ClientDocuments;

struct AuthorizationServerOptions {
  std::string public_url;  // the MCP endpoint's public URL (--public-url); the issuer is its origin
  RegistrationLimits limits;
  size_t registrations_per_window = 20;  // per client address (an IPv6 /64)
  std::chrono::seconds registration_window{3600};
  size_t max_clients = 10'000;  // registrations stop (503) past this many stored clients
  std::chrono::seconds code_ttl{60};                 // authorization codes
  std::chrono::seconds access_token_ttl{3600};       // --auth-token-ttl; at most an hour
  std::chrono::seconds refresh_token_ttl{30 * 86400};  // each refresh token; rotation renews it
  size_t token_requests_per_window = 120;  // /token and /revoke, per client address
  std::chrono::seconds token_window{60};
  size_t max_form_bytes = 16 * 1024;       // /token and /revoke bodies
  bool allow_http_client_metadata = false; // --allow-http-client-metadata: CIMD over http on loopback
};

class AuthorizationServer {
 public:
  // Throws std::invalid_argument naming --public-url when it is not an absolute http(s) URL.
  AuthorizationServer(store::Store& store, SigningKey key, AuthorizationServerOptions options);
  ~AuthorizationServer();

  // A public URL derived once the listener is bound (loopback without --public-url): called
  // before the server serves, like StoreAuthenticator::set_audience.
  void set_public_url(const std::string& public_url);
  const std::string& public_url() const { return options_.public_url; }
  const std::string& issuer() const { return issuer_; }
  const SigningKey& signing_key() const { return key_; }
  ClientStore& clients() { return clients_; }
  const AuthorizationServerOptions& options() const { return options_; }

  Json metadata() const;  // RFC 8414
  // POST /register (RFC 7591 §3): 201 with the client, 400 with an RFC 7591 error, 429 past the
  // rate limit.
  HttpReply register_client(const HttpRequest& request, RateLimiter::Clock::time_point now = RateLimiter::Clock::now());

  // The authorization endpoint (authorize.hpp): the request's parameters are its query, or the
  // same pairs posted as a form. A checked request, or the reply: a redirect to the client with
  // an error (once client and redirect_uri are trusted), or a 400 HTML page (unknown client,
  // redirect_uri not one of the client's exactly: no redirect).
  std::variant<AuthorizationRequest, HttpReply> check_authorization(const HttpRequest& request);
  // The person allowed it: a single-use code (code_ttl) bound to the client, redirect_uri, PKCE
  // challenge, user, granted scopes and resource, sent back with state and iss (RFC 9207).
  // Scopes outside the request are dropped; none left is a denial.
  HttpReply approve(const AuthorizationRequest& request, const Decision& decision);
  HttpReply deny(const AuthorizationRequest& request);
  // POST /token (form): authorization_code and refresh_token grants; RFC 6749 §5.2 errors.
  HttpReply token(const HttpRequest& request, RateLimiter::Clock::time_point now = RateLimiter::Clock::now());
  // POST /revoke (RFC 7009): a refresh or an access token revokes its grant; 200 whatever it is.
  HttpReply revoke(const HttpRequest& request, RateLimiter::Clock::time_point now = RateLimiter::Clock::now());
  GrantStore& grants() { return grants_; }
  // The client a client_id names: registered, or a metadata document fetched; or why not.
  std::variant<RegisteredClient, std::string> find_client(const std::string& client_id);

 private:
  std::string access_token(const Grant& grant, const std::vector<std::string>& scopes) const;
  std::variant<std::vector<std::pair<std::string, std::string>>, HttpReply> read_form(const HttpRequest& request,
                                                                                      RateLimiter::Clock::time_point now);
  SigningKey key_;
  AuthorizationServerOptions options_;
  std::string issuer_;
  ClientStore clients_;
  GrantStore grants_;
  RateLimiter registrations_;
  RateLimiter token_requests_;
  std::unique_ptr<ClientDocuments> documents_;
};

// Its routes: GET /.well-known/oauth-authorization-server, POST /register, POST /token,
// POST /revoke, GET /jwks (all public: browser-based clients call them cross-origin). GET
// /authorize is the pages' (src/web), which call check_authorization.
std::vector<HttpRoute> authorization_routes(std::shared_ptr<AuthorizationServer> server);

}  // namespace concierge::access
