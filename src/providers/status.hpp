#pragma once
// The health of each service Concierge talks to, as the concierge://services resource shows it.
// Providers report outcomes here; the record is kept per user, domain and account in the store
// (table service_status) so a restart still shows the last error and when it happened. The
// OAuth adapters fill `details` with token expiry, scopes, breaker state and budget left.
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/json.hpp"

namespace concierge::store {
class Store;
}

namespace concierge::providers {

// The domains, in the order the resource lists them.
const std::vector<std::string>& domains();

enum class Health { Ok, Degraded, Down, NeedsReauth, NotConfigured };
std::string_view to_string(Health h);

struct AccountStatus {
  std::string account = "default";
  Health health = Health::Ok;
  std::optional<std::string> last_error;  // already free of secrets: the reporter redacts
  std::optional<int64_t> last_error_ms;   // unix ms
  int64_t updated_ms = 0;
  Json details = Json::object();  // token_expires_at, scopes, breaker, budget_left (OAuth adapters)
};

struct DomainStatus {
  std::string domain;
  std::string provider;  // "local" (SQLite), "google", "caldav"...; empty: none configured
  std::vector<AccountStatus> accounts;
};

class StatusBoard {
 public:
  explicit StatusBoard(store::Store& store);

  // Which provider serves a domain (set at start from configuration).
  void set_provider(const std::string& domain, const std::string& provider);
  // Outcomes of calls to a provider: an error is remembered with its time until a later success
  // clears the health (the last error stays on record).
  void report_ok(const std::string& user, const std::string& domain, const std::string& account = "default");
  void report_error(const std::string& user, const std::string& domain, const std::string& account, const std::string& message,
                    Health health = Health::Degraded);
  void set_details(const std::string& user, const std::string& domain, const std::string& account, const Json& details);

  // Details read live when the resource is read (token expiry and scopes, breaker, budget left),
  // for an adapter's account. A "health" key in what it returns ("down", "needs_reauth")
  // overrides a stored "ok".
  using LiveDetails = std::function<Json(const std::string& user)>;
  void add_live(const std::string& domain, const std::string& account, LiveDetails details);

  std::vector<DomainStatus> snapshot(const std::string& user);
  // The concierge://services document.
  Json to_json(const std::string& user);

 private:
  void save(const std::string& user, const std::string& domain, const AccountStatus& a);
  AccountStatus load(const std::string& user, const std::string& domain, const std::string& account);

  store::Store& store_;
  std::mutex m_;
  std::vector<std::pair<std::string, std::string>> providers_;  // domain -> provider
  struct Live {
    std::string domain, account;
    LiveDetails details;
  };
  std::vector<Live> live_;
};

}  // namespace concierge::providers
