#include "providers/config.hpp"
#include "common/text.hpp"
#include "providers/registry.hpp"
#include "providers/status.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace concierge::providers {

namespace {

std::string env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v ? v : "";
}

const std::vector<std::string> kSecretKeys{"client_secret", "api_key", "password", "token", "refresh_token"};

// An API version as the services date them (YYYY-MM-DD); `where` names the setting at fault.
std::string checked_version(const std::string& v, const std::string& where) {
  bool ok = v.size() == 10 && v[4] == '-' && v[7] == '-';
  for (size_t i = 0; ok && i < v.size(); ++i) ok = i == 4 || i == 7 || std::isdigit(static_cast<unsigned char>(v[i]));
  if (!ok) throw std::runtime_error(where + ": expected an API version date like 2026-02-25, got '" + v + "'");
  return v;
}

// "bookings_version" -> "bookings" when the service has that family, else "".
std::string version_family(const ServiceSettings& service, const std::string& key) {
  const std::string suffix = "_version";
  if (key.size() <= suffix.size() || key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0) return "";
  std::string family = key.substr(0, key.size() - suffix.size());
  auto& all = service.api_version_families;
  return std::find(all.begin(), all.end(), family) != all.end() ? family : "";
}

// The services that take allow_plaintext, for the message refusing it elsewhere.
std::string plaintext_services() {
  std::vector<std::string> out;
  for (auto& s : known_services())
    if (service_settings(s)->allow_plaintext) out.push_back(s);
  return join_and(out);
}

}  // namespace

std::filesystem::path Config::default_path() {
  if (auto c = env("CONCIERGE_CONFIG"); !c.empty()) return c;
  if (auto x = env("XDG_CONFIG_HOME"); !x.empty()) return std::filesystem::path(x) / "concierge" / "config.json";
  if (auto h = env("HOME"); !h.empty()) return std::filesystem::path(h) / ".config" / "concierge" / "config.json";
  return "config.json";
}

Config Config::load() {
  Config c;
  c.path = default_path();
  for (auto& d : domains()) c.providers[d] = "local";
  const auto services = known_services();
  auto fail = [&](const std::string& why) { throw std::runtime_error(c.path.string() + ": " + why); };
  auto check_provider = [&](const std::string& domain, const std::string& provider, const std::string& where) {
    if (!find_domain(domain)) throw std::runtime_error(where + ": no domain '" + domain + "' (" + comma_list(domains()) + ")");
    if (provider != "local" && !find_adapter(domain, provider))
      throw std::runtime_error(where + ": " + domain + " can't use '" + provider + "' (" + comma_list(providers_of(domain)) + ")");
  };
  if (std::filesystem::exists(c.path)) {
    std::ifstream in(c.path);
    Json j = Json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail("not a JSON object");
    for (auto& [key, value] : j.items()) {
      if (key == "providers") {
        if (!value.is_object()) fail("providers: expected an object of domain -> provider");
        for (auto& [domain, p] : value.items()) {
          if (!p.is_string()) fail("providers." + domain + ": expected a string");
          check_provider(domain, p.get<std::string>(), c.path.string() + ": providers." + domain);
          c.providers[domain] = p.get<std::string>();
        }
      } else if (key == "services") {
        if (!value.is_object()) fail("services: expected an object of service -> settings");
        for (auto& [service, s] : value.items()) {
          auto settings = service_settings(service);
          if (!settings) fail("services." + service + ": no such service (" + comma_list(services) + ")");
          if (!s.is_object()) fail("services." + service + ": expected an object");
          auto& sc = c.services[service];
          for (auto& [k, v] : s.items()) {
            std::string where = "services." + service + "." + k;
            if (std::find(kSecretKeys.begin(), kSecretKeys.end(), k) != kSecretKeys.end())
              fail(where + ": secrets come from the environment only; set CONCIERGE_" + upper(service) + "_" + upper(k) +
                   " and remove it from the file");
            if (k == "allow_plaintext") {
              // Spelled out and boolean on purpose: it lets the password cross the network readable.
              if (!settings->allow_plaintext) fail(where + ": unknown setting (" + plaintext_services() + " only)");
              if (!v.is_boolean()) fail(where + ": expected true or false");
              sc.allow_plaintext = v.get<bool>();
              continue;
            }
            if (!v.is_string()) fail(where + ": expected a string");
            if (auto family = version_family(*settings, k); !family.empty())
              sc.api_versions[family] = checked_version(v, c.path.string() + ": " + where);
            else if (k == "client_id") sc.client_id = v;
            else if (k == "base_url") sc.base_url = v;
            else if (k == "redirect_base") sc.redirect_base = v;
            else if (k == "authorize_url") sc.authorize_url = v;
            else if (k == "token_url") sc.token_url = v;
            else if (k == "username") sc.username = v;
            else if (k == "from") sc.from = v;
            else {
              std::string versions;
              for (auto& family : settings->api_version_families) versions += ", " + family + "_version";
              fail(where + ": unknown setting (client_id, base_url, redirect_base, authorize_url, token_url, username, from" + versions +
                   (settings->allow_plaintext ? ", allow_plaintext)" : ")"));
            }
          }
        }
      } else {
        fail(key + ": unknown key (providers, services)");
      }
    }
  }
  for (auto& domain : domains())
    if (auto p = env("CONCIERGE_" + upper(domain) + "_PROVIDER"); !p.empty()) {
      check_provider(domain, p, "CONCIERGE_" + upper(domain) + "_PROVIDER");
      c.providers[domain] = p;
    }
  for (auto& service : services) {
    const auto settings = *service_settings(service);
    std::string prefix = "CONCIERGE_" + upper(service) + "_";
    auto& sc = c.services[service];
    if (auto v = env(prefix + "CLIENT_ID"); !v.empty()) sc.client_id = v;
    if (auto v = env(prefix + "CLIENT_SECRET"); !v.empty()) sc.client_secret = v;
    if (auto v = env(prefix + "API_KEY"); !v.empty()) sc.api_key = v;
    if (auto v = env(prefix + "BASE_URL"); !v.empty()) sc.base_url = v;
    if (auto v = env(prefix + "REDIRECT_BASE"); !v.empty()) sc.redirect_base = v;
    if (auto v = env(prefix + "AUTHORIZE_URL"); !v.empty()) sc.authorize_url = v;
    if (auto v = env(prefix + "TOKEN_URL"); !v.empty()) sc.token_url = v;
    if (auto v = env(prefix + "USERNAME"); !v.empty()) sc.username = v;
    if (auto v = env(prefix + "PASSWORD"); !v.empty()) sc.password = v;
    if (auto v = env(prefix + "FROM"); !v.empty()) sc.from = v;
    for (auto& family : settings.api_version_families)
      if (auto v = env(prefix + upper(family) + "_VERSION"); !v.empty())
        sc.api_versions[family] = checked_version(v, prefix + upper(family) + "_VERSION");
    if (settings.allow_plaintext)
      if (auto v = env(prefix + "ALLOW_PLAINTEXT"); !v.empty()) {
        if (v != "true" && v != "false") throw std::runtime_error(prefix + "ALLOW_PLAINTEXT: expected true or false, got '" + v + "'");
        sc.allow_plaintext = v == "true";
      }
  }
  return c;
}

Json Config::redacted() const {
  Json services = Json::object();
  for (auto& [name, s] : this->services) {
    Json j = Json::object();
    if (!s.client_id.empty()) j["client_id"] = s.client_id;
    if (!s.base_url.empty()) j["base_url"] = s.base_url;
    if (!s.redirect_base.empty()) j["redirect_base"] = s.redirect_base;
    if (!s.authorize_url.empty()) j["authorize_url"] = s.authorize_url;
    if (!s.token_url.empty()) j["token_url"] = s.token_url;
    if (!s.username.empty()) j["username"] = s.username;
    if (!s.from.empty()) j["from"] = s.from;
    if (s.allow_plaintext) j["allow_plaintext"] = true;
    for (auto& [family, version] : s.api_versions) j[family + "_version"] = version;
    if (!s.password.empty()) j["password"] = "(set)";
    if (!s.client_secret.empty()) j["client_secret"] = "(set)";
    if (!s.api_key.empty()) j["api_key"] = "(set)";
    if (!j.empty()) services[name] = j;
  }
  return Json{{"path", path.string()}, {"exists", std::filesystem::exists(path)}, {"providers", providers}, {"services", services}};
}

}  // namespace concierge::providers
