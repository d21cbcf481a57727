#include "providers/status.hpp"

#include "store/sql.hpp"
#include <algorithm>
#include <chrono>
#include <date/date.h>

#include "store/store.hpp"

namespace concierge::providers {

namespace {
int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string rfc3339(int64_t ms) {
  return date::format("%FT%TZ", date::floor<std::chrono::milliseconds>(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms))));
}

Health parse_health(const std::string& s) {
  for (Health h : {Health::Ok, Health::Degraded, Health::Down, Health::NeedsReauth, Health::NotConfigured})
    if (to_string(h) == s) return h;
  return Health::Degraded;
}

// health, last_error, last_error_ms, details, updated_ms from column `first` on.
void read_account(sql::Statement& q, int first, AccountStatus& a) {
  a.health = parse_health(q.getColumn(first).getString());
  if (!q.getColumn(first + 1).isNull()) a.last_error = q.getColumn(first + 1).getString();
  if (!q.getColumn(first + 2).isNull()) a.last_error_ms = q.getColumn(first + 2).getInt64();
  a.details = Json::parse(q.getColumn(first + 3).getString(), nullptr, false);
  if (!a.details.is_object()) a.details = Json::object();
  a.updated_ms = q.getColumn(first + 4).getInt64();
}
}  // namespace

std::string_view to_string(Health h) {
  switch (h) {
    case Health::Ok: return "ok";
    case Health::Degraded: return "degraded";
    case Health::Down: return "down";
    case Health::NeedsReauth: return "needs_reauth";
    case Health::NotConfigured: return "not_configured";
  }
  return "degraded";
}

StatusBoard::StatusBoard(store::Store& store) : store_(store) {}

void StatusBoard::set_provider(const std::string& domain, const std::string& provider) {
  std::lock_guard l(m_);
  for (auto& [d, p] : providers_)
    if (d == domain) {
      p = provider;
      return;
    }
  providers_.emplace_back(domain, provider);
}

AccountStatus StatusBoard::load(const std::string& user, const std::string& domain, const std::string& account) {
  const int64_t uid = store_.user_id(user);
  return store_.read([&](sql::Database& db) {
    AccountStatus a;
    a.account = account;
    sql::Statement q(db,
                        "SELECT health, last_error, last_error_ms, details, updated_ms FROM service_status "
                        "WHERE user_id = ? AND domain = ? AND account = ?");
    q.bind(1, uid);
    q.bind(2, domain);
    q.bind(3, account);
    if (q.executeStep()) read_account(q, 0, a);
    return a;
  });
}

void StatusBoard::save(const std::string& user, const std::string& domain, const AccountStatus& a) {
  const int64_t uid = store_.user_id(user);
  std::string provider;
  {
    std::lock_guard l(m_);
    for (const auto& [d, p] : providers_)
      if (d == domain) provider = p;
  }
  store_.write([&](sql::Database& db) {
    sql::Statement q(db,
                        "INSERT INTO service_status (user_id, domain, account, provider, health, last_error, last_error_ms, "
                        "details, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (user_id, domain, account) DO UPDATE SET provider = excluded.provider, "
                        "health = excluded.health, last_error = excluded.last_error, last_error_ms = excluded.last_error_ms, "
                        "details = excluded.details, updated_ms = excluded.updated_ms");
    q.bind(1, uid);
    q.bind(2, domain);
    q.bind(3, a.account);
    q.bind(4, provider);
    q.bind(5, std::string(to_string(a.health)));
    if (a.last_error) q.bind(6, *a.last_error);
    else q.bind(6);
    if (a.last_error_ms) q.bind(7, *a.last_error_ms);
    else q.bind(7);
    q.bind(8, a.details.dump());
    q.bind(9, a.updated_ms);
    q.exec();
  });
}

void StatusBoard::report_ok(const std::string& user, const std::string& domain, const std::string& account) {
  AccountStatus a = load(user, domain, account);
  if (a.health == Health::Ok && a.updated_ms != 0) return;  // nothing new: no write per call
  a.health = Health::Ok;
  a.updated_ms = now_ms();
  save(user, domain, a);
}

void StatusBoard::report_error(const std::string& user, const std::string& domain, const std::string& account,
                               const std::string& message, Health health) {
  AccountStatus a = load(user, domain, account);
  a.health = health;
  a.last_error = message;
  a.last_error_ms = a.updated_ms = now_ms();
  save(user, domain, a);
}

void StatusBoard::set_details(const std::string& user, const std::string& domain, const std::string& account, const Json& details) {
  AccountStatus a = load(user, domain, account);
  for (auto& [k, v] : details.items()) a.details[k] = v;
  a.updated_ms = now_ms();
  save(user, domain, a);
}

std::vector<DomainStatus> StatusBoard::snapshot(const std::string& user) {
  std::vector<DomainStatus> out;
  for (const auto& d : domains()) {
    DomainStatus s{d, {}, {}};
    {
      std::lock_guard l(m_);
      for (const auto& [dom, p] : providers_)
        if (dom == d) s.provider = p;
    }
    out.push_back(std::move(s));
  }
  const int64_t uid = store_.user_id(user);
  store_.read([&](sql::Database& db) {
    sql::Statement q(db,
                        "SELECT domain, account, health, last_error, last_error_ms, details, updated_ms FROM service_status "
                        "WHERE user_id = ? ORDER BY domain, account");
    q.bind(1, uid);
    while (q.executeStep()) {
      auto it = std::find_if(out.begin(), out.end(), [&](const DomainStatus& s) { return s.domain == q.getColumn(0).getString(); });
      if (it == out.end()) continue;
      AccountStatus a;
      a.account = q.getColumn(1).getString();
      read_account(q, 2, a);
      it->accounts.push_back(std::move(a));
    }
    return 0;
  });
  std::vector<Live> live;
  {
    std::lock_guard l(m_);
    live = live_;
  }
  for (const auto& l : live) {
    auto d = std::find_if(out.begin(), out.end(), [&](const DomainStatus& s) { return s.domain == l.domain; });
    if (d == out.end()) continue;
    auto a = std::find_if(d->accounts.begin(), d->accounts.end(), [&](const AccountStatus& x) { return x.account == l.account; });
    if (a == d->accounts.end()) {
      d->accounts.push_back(AccountStatus{.account = l.account});
      a = d->accounts.end() - 1;
    }
    Json extra = l.details(user);
    if (!extra.is_object()) continue;
    if (extra.contains("health")) {
      if (a->health == Health::Ok) a->health = parse_health(extra["health"].get<std::string>());
      extra.erase("health");
    }
    for (auto& [k, v] : extra.items()) a->details[k] = v;
  }
  return out;
}

void StatusBoard::add_live(const std::string& domain, const std::string& account, LiveDetails details) {
  std::lock_guard l(m_);
  live_.push_back({domain, account, std::move(details)});
}

Json StatusBoard::to_json(const std::string& user) {
  Json services = Json::array();
  for (const auto& d : snapshot(user)) {
    Json accounts = Json::array();
    for (const auto& a : d.accounts) {
      Json j{{"account", a.account}, {"health", to_string(a.health)}, {"details", a.details}};
      j["lastError"] = a.last_error ? Json(*a.last_error) : Json();
      j["lastErrorAt"] = a.last_error_ms ? Json(rfc3339(*a.last_error_ms)) : Json();
      if (a.updated_ms) j["updatedAt"] = rfc3339(a.updated_ms);
      accounts.push_back(std::move(j));
    }
    // A domain's health: its worst account's, or not_configured without a provider.
    std::string health = d.provider.empty() ? "not_configured" : "ok";
    for (const auto& a : d.accounts)
      if (a.health != Health::Ok) health = std::string(to_string(a.health));
    services.push_back(Json{{"domain", d.domain},
                            {"provider", d.provider.empty() ? Json() : Json(d.provider)},
                            {"health", health},
                            {"accounts", std::move(accounts)}});
  }
  return Json{{"services", std::move(services)}};
}

}  // namespace concierge::providers
