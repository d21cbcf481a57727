#pragma once
// The registry of domains and providers: everything configuration, `connect`, the status board,
// `concierge auth` and `concierge config show` know about a provider comes from its declaration
// here, so adding one is its adapter files plus one registration statement:
//
//   // src/providers/music/foo_registration.cpp
//   const bool registered = register_adapter<music::MusicProvider>(
//       {.domain = "music", .provider = "foo", .services = {{.name = "foo"}}},
//       [](AdapterContext& ctx) { return Connected<music::MusicProvider>{std::make_shared<FooMusic>(ctx.service("foo"))}; });
//
// The domains themselves are one table (providers.cpp): each has a typed field in Providers, so
// the tools keep typed access (providers.calendar.get(account)).
//
// Registration happens before main (static registrars; the providers layer is linked whole, so
// the linker keeps them) or in a test before anything reads the registry: it is not locked.
#include <any>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <typeindex>
#include <vector>

#include "providers/auth/credentials.hpp"
#include "providers/auth/oauth.hpp"
#include "providers/config.hpp"
#include "providers/connect.hpp"
#include "providers/demo.hpp"
#include "providers/http/client.hpp"
#include "providers/providers.hpp"

namespace concierge::store {
class Store;
}

namespace concierge::providers {

class StatusBoard;

// One domain: its accounts in Providers, its local provider and demo data.
struct Domain {
  std::string name;              // "calendar": CONCIERGE_CALENDAR_PROVIDER, concierge://services
  std::type_index interface;     // what its adapters implement (calendar::CalendarProvider)
  // Makes the local provider (creating or migrating its tables) and adds it as account "local".
  std::function<void(Providers&, store::Store&)> add_local;
  // Fills the user's empty local domain with the demo dataset: false when it already had data,
  // nullopt without a local provider.
  std::function<std::optional<bool>(Providers&, const DemoContext&)> seed_demo;
  // The domain's accounts: an adapter (std::shared_ptr<interface>) added under a name, and the
  // account calls naming none go to.
  std::function<void(Providers&, const std::string& account, const std::any& adapter)> add;
  std::function<void(Providers&, const std::string& account)> set_default;
};

// The domains, in the order concierge://services lists them (a domain whose local provider
// uses another's comes after it: booking after calendar).
const std::vector<Domain>& registered_domains();
const Domain* find_domain(const std::string& name);

// A service whose settings (CONCIERGE_<SERVICE>_*, "services": {"<service>": {...}}) an adapter
// reads. Every service takes client_id, base_url, redirect_base, authorize_url, token_url,
// username, from and the secrets from the environment; these are the keys beyond those.
struct ServiceSettings {
  std::string name;
  bool allow_plaintext = false;                   // allow_plaintext (IMAP, SMTP)
  std::vector<std::string> api_version_families;  // "<family>_version" (Cal.com's cal-api-version)
};

// What an adapter's factory is given to make one account's adapter.
struct AdapterContext {
  const Config& config;
  Connections& connections;  // HTTP clients by API, OAuth clients, tokens
  StatusBoard* status;       // may be null
  std::string account;       // the signed-in account's name, or "default"
  // For an adapter that signs in: the account's credentials (OAuth, or the API key), watched so
  // a grant that needs signing in again shows on the status board. Null for the others.
  std::shared_ptr<auth::Credentials> credentials;

  // A service's configuration (empty when none is set).
  const ServiceConfig& service(const std::string& name) const;
  // The HTTP client of one API (shared by every account), `policy` with the service's configured
  // base URL over its own.
  std::shared_ptr<http::Client> http_client(const std::string& api, http::Policy policy, const std::string& service);
};

// What a factory made: the adapter, and the HTTP client it calls through (whose breaker and
// budget the status board shows; null for none).
template <class Interface>
struct Connected {
  std::shared_ptr<Interface> adapter;
  std::shared_ptr<http::Client> client;
};

// One adapter: a provider of one domain.
struct Adapter {
  std::string domain;    // a registered domain
  std::string provider;  // the name configuration selects it by: CONCIERGE_<DOMAIN>_PROVIDER=<provider>
  // The service it signs in to with `concierge auth login <sign_in>`: its accounts are the names
  // signed in there (or "default" before any). Empty: it reads its settings only (CalDAV, IMAP).
  std::string sign_in;
  // The services whose settings it reads (sign_in's is implied).
  std::vector<ServiceSettings> services;
  // With sign_in: the OAuth endpoints and least-privilege scopes (the configuration adds the client
  // id, secret and endpoint overrides). Adapters signing in to one service are asked together and
  // their scopes joined, so one sign-in serves them all (Google's Calendar, Gmail and YouTube).
  std::function<auth::OAuthConfig(bool read_only, const ServiceConfig&)> oauth;
  // With sign_in: where to get an API key, when one can stand in for signing in
  // (CONCIERGE_<SIGN_IN>_API_KEY, sent as a bearer token); empty: none can.
  std::string api_key_help;

  // Filled by register_adapter: the interface, and the factory with the adapter as a
  // std::any holding std::shared_ptr<interface> (what Domain::add takes).
  struct Made {
    std::any adapter;
    std::shared_ptr<http::Client> client;
  };
  std::type_index interface = typeid(void);
  std::function<Made(AdapterContext&)> make;
};

// Adds an adapter to the registry; `make` connects one account. Throws std::logic_error for an
// unknown domain, an interface that isn't the domain's, or a name already taken.
bool register_adapter(Adapter adapter);
template <class Interface>
bool register_adapter(Adapter adapter, std::function<Connected<Interface>(AdapterContext&)> make) {
  adapter.interface = typeid(Interface);
  adapter.make = [make = std::move(make)](AdapterContext& ctx) {
    auto made = make(ctx);
    return Adapter::Made{std::shared_ptr<Interface>(std::move(made.adapter)), std::move(made.client)};
  };
  return register_adapter(std::move(adapter));
}

// The adapters, by domain then provider name.
const std::vector<Adapter>& registered_adapters();
const Adapter* find_adapter(const std::string& domain, const std::string& provider);

// The names each domain can be served by, "local" first.
std::vector<std::string> providers_of(const std::string& domain);
// Every service some adapter reads or signs in to, sorted, and the keys one takes (merged over
// the adapters that read it); nullopt for an unknown service.
std::vector<std::string> known_services();
std::optional<ServiceSettings> service_settings(const std::string& service);

// A configured base URL without its trailing slashes.
std::string trim_slash(std::string url);

// "a, b, c" and "a, b and c".
std::string comma_list(const std::vector<std::string>& names);
std::string join_and(const std::vector<std::string>& names);

}  // namespace concierge::providers
