#pragma once
// Which provider serves each domain and how to reach each service: one JSON file (path from
// `concierge config path`) plus environment variables, the environment winning. Secrets (client
// secrets, API keys) come from the environment only: a file that holds one is refused.
//
//   { "providers": { "calendar": "google", "music": "spotify" },
//     "services":  { "google": { "client_id": "...", "base_url": "...", "redirect_base": "..." } } }
//
//   CONCIERGE_CONFIG             the file (default $XDG_CONFIG_HOME/concierge/config.json,
//                                else ~/.config/concierge/config.json)
//   CONCIERGE_<DOMAIN>_PROVIDER  e.g. CONCIERGE_CALENDAR_PROVIDER=caldav
//   CONCIERGE_<SERVICE>_CLIENT_ID / _CLIENT_SECRET / _API_KEY / _BASE_URL / _REDIRECT_BASE /
//   _AUTHORIZE_URL / _TOKEN_URL / _USERNAME / _PASSWORD / _FROM; CONCIERGE_IMAP_ALLOW_PLAINTEXT /
//   CONCIERGE_SMTP_ALLOW_PLAINTEXT=true|false; for services whose API selects its version by
//   endpoint family (Cal.com's cal-api-version), CONCIERGE_<SERVICE>_<FAMILY>_VERSION, in the
//   file "<family>_version" (e.g. CONCIERGE_CALCOM_BOOKINGS_VERSION, "bookings_version")
#include <filesystem>
#include <map>
#include <string>

#include "common/json.hpp"

namespace concierge::providers {

struct ServiceConfig {
  std::string client_id, client_secret, api_key, base_url, redirect_base;
  // Where sign-in happens (defaults: the service's own; tests point them at a fake).
  std::string authorize_url, token_url;
  // The standards (CalDAV, IMAP, SMTP, MPD): who to sign in as; the password from the
  // environment only. `from`: the address mail is sent from.
  std::string username, password, from;
  // IMAP and SMTP only: go on without TLS (a test server on this machine; refused for others).
  bool allow_plaintext = false;
  // Family -> API version, where set (the service's ServiceSettings::api_version_families).
  std::map<std::string, std::string> api_versions;
};

struct Config {
  std::map<std::string, std::string> providers;  // domain -> provider ("local" unless set)
  std::map<std::string, ServiceConfig> services;  // every known service (registry.hpp: known_services)
  std::filesystem::path path;                     // where it was read from (may not exist)

  // The file (when it exists) and the environment. Throws std::runtime_error naming the file and
  // the key at fault: an unknown domain, service or key, a provider a domain can't use, a secret.
  // Which domains, providers, services and keys there are is the registry's (registry.hpp).
  static Config load();
  static std::filesystem::path default_path();
  // For `concierge config show`: secrets as "(set)".
  Json redacted() const;
};

}  // namespace concierge::providers
