#pragma once
// Who did what to get in, per user: sign-ins, refused requests (with the reason, never the
// token), keys created and revoked. Stored in the `audit` table and handed to the person by
// `concierge history export`.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "common/json.hpp"
#include "store/store.hpp"

namespace concierge::access {

// What keeps the audit bounded whatever a client sends. Refusals come from the network (anyone
// who reaches the port can send bad tokens), and sign-ins may be recorded per request, so
// every event but the administrative ones (kAdministrative: one per command line run) is
// rate-limited per user and event: at most `per_minute` rows in a minute; the rest are counted
// and the next row recorded carries that count as "suppressed". Under that, each user (and the
// anonymous refusals, user_id NULL) keeps at most `max_rows_per_user` rows, oldest deleted first.
struct AuditLimits {
  int per_minute = 20;
  int64_t max_rows_per_user = 10'000;
  size_t max_detail_bytes = 2048;          // a longer detail is cut (a reason can quote the request)
  std::function<int64_t()> clock;          // ms since the epoch; empty: the system clock (tests set it)
};

class Audit {
 public:
  explicit Audit(store::Store& store, AuditLimits limits = {});
  // event: "sign_in", "refused", "key_created", "key_revoked", "user_added", "identity_linked".
  // user: the Concierge user, or "" for a refusal before anyone was identified. detail: JSON
  // without secrets. Returns whether a row was written (false: rate-limited).
  bool record(const std::string& user, const std::string& event, const Json& detail);
  // The user's rows ("" : the anonymous refusals), newest first: [{time, event, detail}].
  Json list(const std::string& user, size_t limit = 1000);

 private:
  int64_t now() const;
  struct Window {
    int64_t start_ms = 0;
    int recorded = 0;
    int64_t suppressed = 0;
  };
  store::Store& store_;
  AuditLimits limits_;
  std::mutex m_;
  std::map<std::pair<std::string, std::string>, Window> windows_;  // (user, event)
};

}  // namespace concierge::access
