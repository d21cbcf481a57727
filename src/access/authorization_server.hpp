#pragma once
// Concierge as its own OAuth 2.1 authorization server (`serve --auth builtin`), the parts that
// exist so far: the RFC 8414 metadata, dynamic client registration (RFC 7591; public clients
// only) and the JWKS of the server's signing key. The issuer is the public URL's origin. Served
// as HttpRoutes (server/http.hpp): the transport knows nothing of OAuth.
// Not yet: the authorization and token endpoints, revocation, Client ID Metadata Documents, the
// sign-in and consent pages. The metadata names them already; `--auth builtin` stays refused
// until they are served.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

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
  size_t count();

 private:
  store::Store& store_;
};

struct AuthorizationServerOptions {
  std::string public_url;  // the MCP endpoint's public URL (--public-url); the issuer is its origin
  RegistrationLimits limits;
  size_t registrations_per_window = 20;  // per client address (an IPv6 /64)
  std::chrono::seconds registration_window{3600};
  size_t max_clients = 10'000;  // registrations stop (503) past this many stored clients
};

class AuthorizationServer {
 public:
  // Throws std::invalid_argument naming --public-url when it is not an absolute http(s) URL.
  AuthorizationServer(store::Store& store, SigningKey key, AuthorizationServerOptions options);

  const std::string& issuer() const { return issuer_; }
  const SigningKey& signing_key() const { return key_; }
  ClientStore& clients() { return clients_; }
  const AuthorizationServerOptions& options() const { return options_; }

  Json metadata() const;  // RFC 8414
  // POST /register (RFC 7591 §3): 201 with the client, 400 with an RFC 7591 error, 429 past the
  // rate limit.
  HttpReply register_client(const HttpRequest& request, RateLimiter::Clock::time_point now = RateLimiter::Clock::now());

 private:
  SigningKey key_;
  AuthorizationServerOptions options_;
  std::string issuer_;
  ClientStore clients_;
  RateLimiter registrations_;
};

// Its routes: GET /.well-known/oauth-authorization-server, POST /register, GET /jwks (all public:
// browser-based clients call them cross-origin).
std::vector<HttpRoute> authorization_routes(std::shared_ptr<AuthorizationServer> server);

}  // namespace concierge::access
