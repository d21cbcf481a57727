#include "providers/connect.hpp"

#include <algorithm>
#include <atomic>
#include <date/date.h>
#include <stdexcept>

#include "common/text.hpp"
#include "providers/registry.hpp"
#include "providers/status.hpp"
#include "store/store.hpp"

namespace concierge::providers {

namespace {

std::string rfc3339(Millis ms) {
  return date::format("%FT%TZ", date::floor<std::chrono::seconds>(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms))));
}

// The adapters this configuration uses (one per domain not served locally).
std::vector<const Adapter*> configured_adapters(const Config& config) {
  std::vector<const Adapter*> out;
  for (auto& [domain, provider] : config.providers)
    if (auto* a = find_adapter(domain, provider)) out.push_back(a);
  return out;
}

// The domains whose configured adapter signs in to `service`.
std::vector<std::string> domains_of(const std::string& service, const Config& config) {
  std::vector<std::string> out;
  for (auto* a : configured_adapters(config))
    if (a->sign_in == service) out.push_back(a->domain);
  return out;
}

// A grant that needs signing in again shows on the status board (concierge://services,
// `concierge auth status`) for every domain the account serves, and so does its recovery.
class ReportingCredentials : public auth::Credentials {
 public:
  ReportingCredentials(std::shared_ptr<auth::Credentials> inner, StatusBoard* board, store::Store& store, std::vector<std::string> domains)
      : inner_(std::move(inner)), board_(board), store_(store), domains_(std::move(domains)) {}
  std::string authorization(int64_t user) override {
    return watch(user, [&] { return inner_->authorization(user); });
  }
  std::string refresh(int64_t user, const std::string& refused) override {
    return watch(user, [&] { return inner_->refresh(user, refused); });
  }
  std::string account() const override { return inner_->account(); }

 private:
  template <class F>
  std::string watch(int64_t user, F f) {
    try {
      std::string v = f();
      if (flagged_.exchange(false) && board_)
        for (auto& d : domains_) board_->report_ok(store_.user_name(user), d, account());
      return v;
    } catch (const auth::NeedsReauth& e) {
      flagged_ = true;
      if (board_)
        for (auto& d : domains_) board_->report_error(store_.user_name(user), d, account(), e.what(), Health::NeedsReauth);
      throw;
    }
  }
  std::shared_ptr<auth::Credentials> inner_;
  StatusBoard* board_;
  store::Store& store_;
  std::vector<std::string> domains_;
  std::atomic<bool> flagged_{false};
};

}  // namespace

std::vector<std::string> oauth_services() {
  std::vector<std::string> out;
  for (auto& a : registered_adapters())
    if (a.oauth && std::find(out.begin(), out.end(), a.sign_in) == out.end()) out.push_back(a.sign_in);
  return out;
}

auth::OAuthConfig oauth_config(const std::string& service, const Config& config, bool read_only) {
  // One sign-in covers every adapter of the service a domain is configured to use (all of them
  // when none is yet), with only their scopes: Google's Calendar, Gmail and YouTube share one.
  std::vector<const Adapter*> all, used;
  for (auto& a : registered_adapters())
    if (a.sign_in == service && a.oauth) all.push_back(&a);
  for (auto* a : configured_adapters(config))
    if (a->sign_in == service && a->oauth) used.push_back(a);
  if (all.empty()) throw std::invalid_argument(service + " does not sign in with OAuth");
  ServiceConfig settings;
  if (auto it = config.services.find(service); it != config.services.end()) settings = it->second;
  const auto& adapters = used.empty() ? all : used;
  auth::OAuthConfig c = adapters.front()->oauth(read_only, settings);
  for (auto* a : adapters)
    for (auto& s : a->oauth(read_only, settings).scopes)
      if (std::find(c.scopes.begin(), c.scopes.end(), s) == c.scopes.end()) c.scopes.push_back(s);
  c.client_id = settings.client_id;
  c.client_secret = settings.client_secret;
  if (!settings.authorize_url.empty()) c.authorize_url = settings.authorize_url;
  if (!settings.token_url.empty()) c.token_url = settings.token_url;
  return c;
}

Connections::Connections(store::Store& store, const std::filesystem::path& data_dir)
    : tokens(store, auth::Sealer::for_data_dir(data_dir)) {}

std::shared_ptr<auth::OAuthClient> Connections::oauth_client(const std::string& service, const Config& config, bool read_only) {
  auto& slot = oauth[service];
  if (!slot) slot = std::make_shared<auth::OAuthClient>(oauth_config(service, config, read_only), tokens);
  return slot;
}

void connect(Providers& p, Connections& c, const Config& config, StatusBoard* status) {
  store::Store& store = c.tokens.store();
  auto service_config = [&](const std::string& s) {
    auto it = config.services.find(s);
    return it == config.services.end() ? ServiceConfig{} : it->second;
  };
  // The account names an adapter serves: with an API key or without signing in, "default";
  // else every name signed in, or "default" (whose calls then say which command signs in).
  auto account_names = [&](const Adapter& a, bool api_key) {
    std::vector<std::string> names;
    if (!a.sign_in.empty() && !api_key) names = c.tokens.account_names(a.sign_in);
    if (names.empty()) names.push_back("default");
    return names;
  };
  // The credentials of one account, watched for grants that need signing in again.
  auto credentials = [&](const Adapter& a, bool api_key, const std::string& account) -> std::shared_ptr<auth::Credentials> {
    if (a.sign_in.empty()) return nullptr;
    std::shared_ptr<auth::Credentials> inner;
    if (api_key)
      inner = std::make_shared<auth::StaticCredentials>(a.sign_in, account, "Bearer " + service_config(a.sign_in).api_key,
                                                        "set CONCIERGE_" + upper(a.sign_in) + "_API_KEY to a valid key (" + a.api_key_help + ")");
    else
      inner = std::make_shared<auth::OAuthCredentials>(c.oauth_client(a.sign_in, config), a.sign_in, account);
    return std::make_shared<ReportingCredentials>(inner, status, store, domains_of(a.sign_in, config));
  };
  // concierge://services: token expiry and scopes, breaker and budget, read when asked.
  auto live = [&](const std::string& domain, const std::string& service, const std::string& account, std::shared_ptr<http::Client> client,
                  bool oauth) {
    if (!status) return;
    auto* tokens = &c.tokens;
    status->add_live(domain, account, [tokens, &store, service, account, client, oauth](const std::string& user) {
      Json d{{"service", service}};
      if (client) {
        Json s = client->status();
        d["breaker"] = s["breaker"];
        d["budget_left"] = s["budget_left"];
        if (s["breaker"] == "open") d["health"] = "down";
      }
      if (oauth) {
        bool found = false;
        for (auto& a : tokens->accounts(store.user_id(user)))
          if (a.service == service && a.account == account) {
            found = true;
            d["signed_in"] = true;
            d["scopes"] = a.scopes;
            if (a.expires_at) d["token_expires_at"] = rfc3339(a.expires_at);
          }
        if (!found) {
          d["signed_in"] = false;
          d["sign_in"] = "concierge auth login " + service + " --account " + account;
          d["health"] = "needs_reauth";
        }
      }
      return d;
    });
  };

  for (auto& [domain, provider] : config.providers) {
    if (provider == "local") continue;
    const Domain* d = find_domain(domain);
    const Adapter* a = find_adapter(domain, provider);
    // Config::load refuses these; a configuration made otherwise must not fall back to local.
    if (!d || !a) {
      throw std::runtime_error(domain + ": no provider '" + provider + "' (" + comma_list(providers_of(domain)) + ")");
    }
    if (status) status->set_provider(domain, provider);
    const bool api_key = !a->sign_in.empty() && !a->api_key_help.empty() && !service_config(a->sign_in).api_key.empty();
    const auto names = account_names(*a, api_key);
    for (auto& name : names) {
      AdapterContext ctx{.config = config, .connections = c, .status = status, .account = name, .credentials = credentials(*a, api_key, name)};
      auto made = a->make(ctx);
      d->add(p, name, made.adapter);
      live(domain, a->sign_in.empty() ? provider : a->sign_in, name, made.client, !a->sign_in.empty() && !api_key);
    }
    // The configured provider answers calls that name no account.
    d->set_default(p, names.front());
  }
}

}  // namespace concierge::providers
