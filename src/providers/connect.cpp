#include "providers/connect.hpp"

#include <atomic>
#include <date/date.h>
#include <stdexcept>

#include "providers/booking/calcom.hpp"
#include "providers/calendar/caldav.hpp"
#include "providers/calendar/google.hpp"
#include "providers/google_oauth.hpp"
#include "providers/mail/gmail.hpp"
#include "providers/mail/imap.hpp"
#include "providers/mail/mime.hpp"
#include "providers/music/mpd.hpp"
#include "providers/music/spotify.hpp"
#include "providers/status.hpp"
#include "providers/video/youtube.hpp"
#include "store/store.hpp"

namespace concierge::providers {

namespace {

std::string trim_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

http::Policy with_base(http::Policy p, const ServiceConfig& s) {
  if (!s.base_url.empty()) p.base_url = trim_slash(s.base_url);
  return p;
}

std::string rfc3339(Millis ms) {
  return date::format("%FT%TZ", date::floor<std::chrono::seconds>(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms))));
}

// The domains a service serves under this configuration.
std::vector<std::string> domains_of(const std::string& service, const Config& config) {
  std::vector<std::string> out;
  for (auto& [domain, provider] : config.providers)
    if (provider == service) out.push_back(domain);
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

const std::vector<std::string>& oauth_services() {
  static const std::vector<std::string> all{"google", "spotify", "calcom"};
  return all;
}

auth::OAuthConfig oauth_config(const std::string& service, const Config& config, bool read_only) {
  auth::OAuthConfig c;
  if (service == "google") {
    // One Google sign-in covers every Google API a domain is configured to use (all three when
    // none is yet), with only their scopes.
    auto domains = domains_of("google", config);
    if (domains.empty()) domains = {"calendar", "mail", "video"};
    std::vector<std::string> scopes;
    for (auto& d : domains) {
      std::vector<std::string> more = d == "calendar" ? calendar::google_calendar_scopes(read_only)
                                      : d == "mail"   ? mail::gmail_scopes(read_only)
                                                      : video::youtube_scopes(read_only);
      for (auto& s : more)
        if (std::find(scopes.begin(), scopes.end(), s) == scopes.end()) scopes.push_back(s);
    }
    c = google_oauth(scopes);
  } else if (service == "spotify") {
    c = music::spotify_oauth(read_only);
  } else if (service == "calcom") {
    // Cal.com's token endpoint is part of API v2: a configured (self-hosted) base URL has its own.
    auto it = config.services.find("calcom");
    const bool based = it != config.services.end() && !it->second.base_url.empty();
    c = based ? booking::calcom_oauth(read_only, trim_slash(it->second.base_url)) : booking::calcom_oauth(read_only);
  } else {
    throw std::invalid_argument(service + " does not sign in with OAuth");
  }
  auto it = config.services.find(service);
  if (it != config.services.end()) {
    const auto& s = it->second;
    c.client_id = s.client_id;
    c.client_secret = s.client_secret;
    if (!s.authorize_url.empty()) c.authorize_url = s.authorize_url;
    if (!s.token_url.empty()) c.token_url = s.token_url;
  }
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
  auto client_for = [&](const std::string& api, http::Policy policy, const std::string& service) {
    auto& slot = c.http[api];
    if (!slot) slot = std::make_shared<http::Client>(with_base(std::move(policy), service_config(service)));
    return slot;
  };
  // The account names an OAuth service serves: every name signed in, else "default" (whose
  // calls then say which command signs in).
  auto account_names = [&](const std::string& service) {
    auto names = c.tokens.account_names(service);
    if (names.empty()) names.push_back("default");
    return names;
  };
  // The credentials of one account of a service, watched for grants that need signing in again.
  auto credentials = [&](const std::string& service, const std::string& account) -> std::shared_ptr<auth::Credentials> {
    std::shared_ptr<auth::Credentials> inner;
    auto sc = service_config(service);
    if (service == "calcom" && !sc.api_key.empty())
      inner = std::make_shared<auth::StaticCredentials>("calcom", account, "Bearer " + sc.api_key,
                                                        "set CONCIERGE_CALCOM_API_KEY to a valid key (Cal.com settings, Developer, API keys)");
    else
      inner = std::make_shared<auth::OAuthCredentials>(c.oauth_client(service, config), service, account);
    return std::make_shared<ReportingCredentials>(inner, status, store, domains_of(service, config));
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
    if (status) status->set_provider(domain, provider);
    std::string first;
    auto add = [&](auto& accounts, const std::string& name, auto adapter) {
      accounts.add(name, adapter);
      if (first.empty()) first = name;
    };
    if (provider == "google" || provider == "spotify" || provider == "calcom") {
      const bool api_key = provider == "calcom" && !service_config("calcom").api_key.empty();
      auto names = api_key ? std::vector<std::string>{"default"} : account_names(provider);
      for (auto& name : names) {
        auto creds = credentials(provider, name);
        if (domain == "calendar") {
          auto client = client_for("google_calendar", calendar::google_calendar_policy(), "google");
          add(p.calendar, name, std::make_shared<calendar::GoogleCalendar>(client, creds));
          live(domain, provider, name, client, true);
        } else if (domain == "mail") {
          auto client = client_for("gmail", mail::gmail_policy(), "google");
          add(p.mail, name, std::make_shared<mail::GmailMail>(client, creds));
          live(domain, provider, name, client, true);
        } else if (domain == "video") {
          auto client = client_for("youtube", video::youtube_policy(), "google");
          // One Google project's daily quota, shared by every account.
          static auto meter = std::make_shared<video::QuotaMeter>();
          add(p.video, name, std::make_shared<video::YouTubeVideo>(client, creds, meter));
          live(domain, provider, name, client, true);
        } else if (domain == "music") {
          auto client = client_for("spotify", music::spotify_policy(), "spotify");
          add(p.music, name, std::make_shared<music::SpotifyMusic>(client, creds));
          live(domain, provider, name, client, true);
        } else if (domain == "booking") {
          auto client = client_for("calcom", booking::calcom_policy(), "calcom");
          auto versions = booking::calcom_versions(service_config("calcom").api_versions);
          add(p.booking, name, std::make_shared<booking::CalcomBooking>(client, creds, versions));
          live(domain, provider, name, client, !api_key);
        }
      }
    } else if (provider == "caldav") {
      auto sc = service_config("caldav");
      if (sc.base_url.empty()) throw std::runtime_error("calendar is set to caldav: set CONCIERGE_CALDAV_BASE_URL (the calendar home or server URL)");
      calendar::CaldavOptions o;
      o.url = sc.base_url;
      o.username = sc.username;
      o.password = sc.password;
      // Not client_for: its base URL would be the configured one, path and all, while the adapter
      // asks for the absolute paths the server hands out (discovery starts at the configured path).
      auto& client = c.http["caldav"];
      if (!client) client = std::make_shared<http::Client>(calendar::caldav_policy(o));
      add(p.calendar, "default", std::make_shared<calendar::CaldavCalendar>(o, client));
      live(domain, "caldav", "default", client, false);
    } else if (provider == "imap") {
      auto sc = service_config("imap"), smtp = service_config("smtp");
      if (sc.base_url.empty()) throw std::runtime_error("mail is set to imap: set CONCIERGE_IMAP_BASE_URL (imaps://host or imap://host:port)");
      mail::ImapOptions o;
      o.imap_url = sc.base_url;
      o.smtp_url = smtp.base_url;
      o.username = sc.username;
      o.password = sc.password;
      o.smtp_username = smtp.username;
      o.smtp_password = smtp.password;
      o.imap_allow_plaintext = sc.allow_plaintext;
      o.smtp_allow_plaintext = smtp.allow_plaintext;
      // "Alice Example <alice@example.org>" or a bare address; the SMTP service's `from` also counts.
      if (auto from = !sc.from.empty() ? sc.from : smtp.from; !from.empty()) {
        try {
          o.from = mail::parse_address(from, "from");
        } catch (const Error& e) {
          throw std::runtime_error(std::string(sc.from.empty() ? "CONCIERGE_SMTP_FROM" : "CONCIERGE_IMAP_FROM") + " (services." +
                                   (sc.from.empty() ? "smtp" : "imap") + ".from): " + e.what());
        }
      }
      add(p.mail, "default", std::make_shared<mail::ImapMail>(o));
      live(domain, "imap", "default", nullptr, false);
    } else if (provider == "mpd") {
      auto sc = service_config("mpd");
      music::MpdOptions o;
      try {
        if (!sc.base_url.empty()) o = music::mpd_options_from_url(sc.base_url);
      } catch (const std::invalid_argument& e) {
        throw std::runtime_error(std::string("CONCIERGE_MPD_BASE_URL: ") + e.what());
      }
      if (!sc.password.empty()) o.password = sc.password;
      add(p.music, "default", std::make_shared<music::MpdMusic>(o));
      live(domain, "mpd", "default", nullptr, false);
    }
    // The configured provider answers calls that name no account.
    if (!first.empty()) {
      if (domain == "calendar") p.calendar.set_default(first);
      else if (domain == "mail") p.mail.set_default(first);
      else if (domain == "music") p.music.set_default(first);
      else if (domain == "video") p.video.set_default(first);
      else if (domain == "booking") p.booking.set_default(first);
    }
  }
}

}  // namespace concierge::providers
