#pragma once
// Who is calling, and what they may do: the seam between the HTTP transport (which finds the
// bearer token and answers 401/403) and whatever verifies tokens (src/access: JWTs from an
// issuer, introspection, API keys). The protocol layer knows scopes only as strings; which scope
// a tool needs is the tool's definition (ToolDefinition::scope).
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"

namespace concierge {

// Every scope Concierge knows, in the order metadata lists them.
inline const std::vector<std::string>& all_scopes() {
  static const std::vector<std::string> v{
      "calendar:read", "calendar:write", "mail:read",   "mail:write",  "mail:send",        "music:read",
      "music:write",   "video:read",     "video:write", "booking:read", "booking:write",   "preferences:read",
      "preferences:write", "history:read"};
  return v;
}

// An authenticated caller.
struct Principal {
  std::string user;                // the Concierge user name every per-user row is keyed by
  std::set<std::string> scopes;    // granted scopes (a key without --scopes: all_scopes())
  std::string via;                 // "jwt", "introspection" or "key" (audit, logs)
  std::string subject;             // the token's iss + sub, or the key id (audit; never a secret)
};

// A refusal: `error` is the RFC 6750 error code ("invalid_token", or empty when no token was
// sent), `reason` says why in words for the audit and logs (never the token itself).
struct AccessDenied {
  std::string error;
  std::string reason;
};

// What verifies a bearer token. Implementations are thread-safe; authenticate() may block on the
// network (JWKS or introspection) but must bound it.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The token as sent after "Bearer ". Either a principal or a refusal.
  struct Result {
    std::optional<Principal> principal;
    AccessDenied denied;
  };
  virtual Result authenticate(std::string_view token) = 0;
  // A request was refused (401/403): recorded in the user's audit when the user is known
  // (empty `user` for a refusal before anyone was identified). Never given the token.
  virtual void refused(const std::string& /*user*/, int /*status*/, const std::string& /*reason*/) {}
};

// The HTTP transport's resource-server settings (RFC 9728, MCP authorization). With no
// authenticator every request is the local user, as before.
struct AccessOptions {
  std::shared_ptr<Authenticator> authenticator;
  // The canonical URL of the MCP endpoint (https://mcp.example.com/mcp): `resource` in the
  // metadata, the audience tokens must carry, and the Host a request must name. Empty: derived
  // from the bound address (loopback only).
  std::string public_url;
  std::vector<std::string> authorization_servers;  // issuer URLs for the metadata
  // --auth builtin: the authorization server is this server, its issuer the resource's origin
  // (on loopback without a public URL known only once bound); added to authorization_servers then.
  bool own_authorization_server = false;
  // Peers whose X-Forwarded-Proto/-Host/-For are believed (a TLS-terminating proxy), as CIDRs.
  std::vector<std::string> trusted_proxies;
  bool enabled() const { return authenticator != nullptr; }
};

}  // namespace concierge
