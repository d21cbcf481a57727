#pragma once
// From configuration to connected accounts: for each domain whose provider is not "local",
// one HTTP client per service API (its policy, the configured base URL), one OAuth client per
// OAuth service (the adapter's endpoints and least-privilege scopes, the configured client id),
// and one adapter per signed-in account name (or "default" before any sign-in, so tools can say
// which command signs in). The configured provider becomes the domain's default account; the
// local provider stays reachable as account "local".
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "providers/auth/credentials.hpp"
#include "providers/auth/oauth.hpp"
#include "providers/auth/tokens.hpp"
#include "providers/config.hpp"
#include "providers/http/client.hpp"
#include "providers/providers.hpp"

namespace concierge::providers {

class StatusBoard;

// The services `concierge auth login` signs in to (the registry's adapters' sign_in).
std::vector<std::string> oauth_services();

// The OAuth settings of a service: its adapters' endpoints and joined scopes (of the adapters a
// domain is configured to use, else all of them: for Google, Calendar, Gmail and YouTube), then
// the configuration's client id, secret and endpoint overrides. Throws std::invalid_argument for
// a service without OAuth.
auth::OAuthConfig oauth_config(const std::string& service, const Config& config, bool read_only);

struct Connections {
  Connections(store::Store& store, const std::filesystem::path& data_dir);
  auth::TokenStore tokens;
  std::map<std::string, std::shared_ptr<auth::OAuthClient>> oauth;  // by service
  std::map<std::string, std::shared_ptr<http::Client>> http;        // by API ("gmail", "spotify"...)

  std::shared_ptr<auth::OAuthClient> oauth_client(const std::string& service, const Config& config, bool read_only = false);
};

// Adds the configured adapters to `providers` (see above) and their live details (token expiry,
// scopes, breaker, budget) to the status board. Throws std::runtime_error when a provider lacks
// what it needs (a CalDAV URL, an IMAP user...), naming the setting.
void connect(Providers& providers, Connections& connections, const Config& config, StatusBoard* status);

}  // namespace concierge::providers
