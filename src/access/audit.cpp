#include "access/audit.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <date/date.h>
#include <set>

#include "access/identities.hpp"

namespace concierge::access {

namespace {

// From the command line, one per run: never rate-limited.
const std::set<std::string>& administrative() {
  static const std::set<std::string> v{"key_created", "key_revoked", "user_added", "identity_linked"};
  return v;
}

std::string utc(int64_t ms) {
  return date::format("%FT%TZ", std::chrono::time_point_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::time_point(std::chrono::milliseconds(ms))));
}

}  // namespace

Audit::Audit(store::Store& store, AuditLimits limits) : store_(store), limits_(std::move(limits)) {}

int64_t Audit::now() const {
  if (limits_.clock) return limits_.clock();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool Audit::record(const std::string& user, const std::string& event, const Json& detail) {
  const int64_t t = now();
  int64_t suppressed = 0;
  // Decided before any database work: a flood costs a map lookup per request, no write.
  if (!administrative().count(event)) {
    std::lock_guard l(m_);
    // Old windows go when the map is large (a user per subject: it grows with the users).
    if (windows_.size() > 10'000)
      std::erase_if(windows_, [&](auto& e) { return t - e.second.start_ms >= 60'000 && e.second.suppressed == 0; });
    Window& w = windows_[{user, event}];
    if (t - w.start_ms >= 60'000) {
      w.start_ms = t;
      w.recorded = 0;
    }
    if (w.recorded >= limits_.per_minute) {
      ++w.suppressed;
      return false;
    }
    ++w.recorded;
    suppressed = w.suppressed;
    w.suppressed = 0;
  }

  Json d = detail.is_object() ? detail : Json{{"value", detail}};
  if (suppressed) d["suppressed"] = suppressed;  // the same event, not recorded since the last row
  std::optional<int64_t> uid = user.empty() ? std::nullopt : find_user(store_, user);
  if (!user.empty() && !uid) d["user"] = user;  // not a user (any more): kept with the anonymous rows
  std::string text = d.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > limits_.max_detail_bytes)
    text = Json{{"truncated", true}, {"originalBytes", text.size()}, {"prefix", text.substr(0, limits_.max_detail_bytes / 2)}}.dump(
        -1, ' ', false, Json::error_handler_t::replace);

  store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    sql::Statement ins(db, "INSERT INTO audit (user_id, time_ms, event, detail) VALUES (?, ?, ?, ?)");
    if (uid) ins.bind(1, *uid);
    else ins.bind(1);
    ins.bind(2, t);
    ins.bind(3, event);
    ins.bind(4, text);
    ins.exec();
    // The per-user cap: what is beyond the newest max_rows_per_user goes (index audit_user).
    sql::Statement trim(db, "DELETE FROM audit WHERE user_id IS NOT DISTINCT FROM ?1 AND id <= "
                               "(SELECT id FROM audit WHERE user_id IS NOT DISTINCT FROM ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)");
    if (uid) trim.bind(1, *uid);
    else trim.bind(1);
    trim.bind(2, limits_.max_rows_per_user);
    trim.exec();
    tx.commit();
  });
  return true;
}

Json Audit::list(const std::string& user, size_t limit) {
  Json out = Json::array();
  std::optional<int64_t> uid;
  if (!user.empty()) {
    uid = find_user(store_, user);
    if (!uid) return out;
  }
  return store_.read([&](sql::Database& db) {
    sql::Statement q(db, "SELECT time_ms, event, detail FROM audit WHERE user_id IS NOT DISTINCT FROM ? ORDER BY id DESC LIMIT ?");
    if (uid) q.bind(1, *uid);
    else q.bind(1);
    q.bind(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
    while (q.executeStep()) {
      Json detail = Json::parse(q.getColumn(2).getString(), nullptr, false);
      out.push_back(Json{{"time", utc(q.getColumn(0).getInt64())},
                         {"event", q.getColumn(1).getString()},
                         {"detail", detail.is_discarded() ? Json() : detail}});
    }
    return out;
  });
}

}  // namespace concierge::access
