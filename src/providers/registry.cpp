#include "providers/registry.hpp"

#include <algorithm>
#include <stdexcept>

namespace concierge::providers {

namespace {

std::vector<Adapter>& adapters() {
  static std::vector<Adapter> all;  // a function's static: adapters register during static initialisation
  return all;
}

void add_unique(std::vector<std::string>& to, const std::string& name) {
  if (std::find(to.begin(), to.end(), name) == to.end()) to.push_back(name);
}

}  // namespace

const Domain* find_domain(const std::string& name) {
  for (auto& d : registered_domains())
    if (d.name == name) return &d;
  return nullptr;
}

bool register_adapter(Adapter a) {
  const std::string what = "adapter '" + a.provider + "' for " + a.domain;
  const Domain* domain = find_domain(a.domain);
  if (!domain) throw std::logic_error(what + ": no such domain");
  if (a.interface != domain->interface) throw std::logic_error(what + ": does not make the domain's provider interface");
  if (a.provider.empty() || a.provider == "local" || find_adapter(a.domain, a.provider))
    throw std::logic_error(what + ": the name is taken");
  if (!a.make) throw std::logic_error(what + ": no factory");
  if (a.oauth && a.sign_in.empty()) throw std::logic_error(what + ": OAuth settings but no service to sign in to");
  auto& all = adapters();
  // Sorted, so every list derived from the registry is the same whatever the link order.
  auto at = std::find_if(all.begin(), all.end(), [&](const Adapter& x) { return std::tie(x.domain, x.provider) > std::tie(a.domain, a.provider); });
  all.insert(at, std::move(a));
  return true;
}

const std::vector<Adapter>& registered_adapters() { return adapters(); }

const Adapter* find_adapter(const std::string& domain, const std::string& provider) {
  for (auto& a : adapters())
    if (a.domain == domain && a.provider == provider) return &a;
  return nullptr;
}

std::vector<std::string> providers_of(const std::string& domain) {
  std::vector<std::string> out{"local"};
  for (auto& a : adapters())
    if (a.domain == domain) out.push_back(a.provider);
  return out;
}

std::vector<std::string> known_services() {
  std::vector<std::string> out;
  for (auto& a : adapters()) {
    if (!a.sign_in.empty()) add_unique(out, a.sign_in);
    for (auto& s : a.services) add_unique(out, s.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<ServiceSettings> service_settings(const std::string& service) {
  std::optional<ServiceSettings> out;
  for (auto& a : adapters()) {
    if (a.sign_in == service && !out) out = ServiceSettings{.name = service};
    for (auto& s : a.services)
      if (s.name == service) {
        if (!out) out = ServiceSettings{.name = service};
        out->allow_plaintext |= s.allow_plaintext;
        for (auto& f : s.api_version_families) add_unique(out->api_version_families, f);
      }
  }
  return out;
}

std::string trim_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::string comma_list(const std::vector<std::string>& names) {
  std::string out;
  for (auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string join_and(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  return out;
}

const ServiceConfig& AdapterContext::service(const std::string& name) const {
  static const ServiceConfig none;
  auto it = config.services.find(name);
  return it == config.services.end() ? none : it->second;
}

std::shared_ptr<http::Client> AdapterContext::http_client(const std::string& api, http::Policy policy, const std::string& service_name) {
  auto& slot = connections.http[api];
  if (!slot) {
    if (auto& base = service(service_name).base_url; !base.empty()) policy.base_url = trim_slash(base);
    if (policy.api.empty()) policy.api = api;
    slot = std::make_shared<http::Client>(std::move(policy));
  }
  return slot;
}

}  // namespace concierge::providers
