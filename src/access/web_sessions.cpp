#include "access/web_sessions.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <stdexcept>

#include "access/identities.hpp"
#include "common/base64.hpp"
#include "common/text.hpp"
#include "providers/auth/oauth.hpp"

namespace concierge::access {

namespace {

constexpr size_t kTokenChars = 43;              // 32 random bytes in base64url
constexpr int64_t kSessionsPerUser = 20;        // the oldest beyond go: the table can't grow per sign-in
constexpr std::chrono::seconds kSignInCookieAge{3600};  // time to fill in the sign-in form

std::string new_token() { return base64url_encode(random_bytes(32)); }

bool well_formed_token(std::string_view t) {
  return t.size() == kTokenChars && std::all_of(t.begin(), t.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
         });
}

std::string hashed(const std::string& token) { return providers::auth::sha256(token); }

// A session's CSRF token: derived from its cookie (which only that browser holds), so nothing
// more is stored, and it dies with the session.
std::string csrf_of(const std::string& token) { return base64url_encode(providers::auth::sha256("concierge csrf\n" + token)); }

bool same(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string form_field(const HttpRequest& r, std::string_view name) {
  for (auto& [k, v] : parse_form(r.body))
    if (k == name) return v;
  return {};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string form_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out += ' ';
    else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else out += s[i];
  }
  return out;
}

void blob(sql::Statement& s, int at, const std::string& bytes) { s.bind(at, bytes.data(), static_cast<int>(bytes.size())); }

// A new row of web_sessions or invites (`table`: one of those two names) keyed by the token's
// hash; the table's expired rows go first, so neither grows with time.
void insert_token(sql::Database& db, const std::string& table, const std::string& token, int64_t user_id, int64_t now, int64_t expires) {
  sql::Statement gone(db, "DELETE FROM " + table + " WHERE expires_ms <= ?");
  gone.bind(1, now);
  gone.exec();
  sql::Statement ins(db, "INSERT INTO " + table + " (hash, user_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)");
  blob(ins, 1, hashed(token));
  ins.bind(2, user_id);
  ins.bind(3, now);
  ins.bind(4, expires);
  ins.exec();
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_form(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t at = 0; at <= body.size();) {
    size_t amp = body.find('&', at);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view pair = body.substr(at, amp - at);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      out.emplace_back(form_unescape(pair.substr(0, eq)), eq == std::string_view::npos ? std::string() : form_unescape(pair.substr(eq + 1)));
    }
    at = amp + 1;
  }
  return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  static const char* digits = "0123456789ABCDEF";
  auto escape = [](const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += digits[c >> 4];
        out += digits[c & 15];
      }
    }
    return out;
  };
  std::string out;
  for (auto& [k, v] : fields) out += (out.empty() ? "" : "&") + escape(k) + "=" + escape(v);
  return out;
}

std::string cookie_value(const HttpRequest& request, std::string_view name) {
  // Every Cookie header (HTTP/2 proxies may split them), "a=1; b=2".
  for (auto& [k, v] : request.headers) {
    if (k.size() != 6 || lower(k) != "cookie") continue;
    for (size_t at = 0; at < v.size();) {
      size_t semi = v.find(';', at);
      if (semi == std::string::npos) semi = v.size();
      std::string_view part(v.data() + at, semi - at);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=')
        return std::string(part.substr(name.size() + 1));
      at = semi + 1;
    }
  }
  return {};
}

StoreWebSessions::StoreWebSessions(store::Store& store, WebSessionOptions options)
    : store_(store),
      options_(std::move(options)),
      passwords_(store),
      audit_(store),
      per_user_(options_.failures_per_user, options_.failure_window),
      per_address_(options_.failures_per_address, options_.failure_window) {}

int64_t StoreWebSessions::now_ms() const {
  if (options_.wall_ms) return options_.wall_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string StoreWebSessions::cookie(const std::string& name, const std::string& value, std::chrono::seconds max_age) const {
  return name + "=" + value + "; Path=/; Max-Age=" + std::to_string(max_age.count()) + "; HttpOnly; SameSite=Lax" +
         (options_.secure_cookie ? "; Secure" : "");
}

std::optional<WebSession> StoreWebSessions::session_of(const HttpRequest& request) {
  const std::string token = cookie_value(request, kSessionCookie);
  if (!well_formed_token(token)) return std::nullopt;
  auto user = store_.read([&](sql::Database& db) -> std::optional<std::string> {
    sql::Statement q(db, "SELECT u.name FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ? AND s.expires_ms > ?");
    blob(q, 1, hashed(token));
    q.bind(2, now_ms());
    if (!q.executeStep()) return std::nullopt;
    return q.getColumn(0).getString();
  });
  if (!user) return std::nullopt;
  return WebSession{*user, csrf_of(token)};
}

bool StoreWebSessions::csrf_ok(const HttpRequest& request) {
  auto s = session_of(request);
  return s && same(form_field(request, "csrf"), s->csrf);
}

std::string StoreWebSessions::sign_in_path(const std::string& next) const { return "/signin?" + form_encode({{"next", next}}); }

StoreWebSessions::SignInToken StoreWebSessions::sign_in_token(const HttpRequest& request) const {
  std::string have = cookie_value(request, kSignInCookie);
  if (well_formed_token(have)) return {have, ""};
  std::string fresh = new_token();
  return {fresh, cookie(kSignInCookie, fresh, kSignInCookieAge)};
}

bool StoreWebSessions::sign_in_csrf_ok(const HttpRequest& request) const {
  const std::string have = cookie_value(request, kSignInCookie);
  return well_formed_token(have) && same(form_field(request, "csrf"), have);
}

std::optional<SignInRefused> StoreWebSessions::limited(const std::string& user, const std::string& peer) {
  const auto now = options_.clock ? options_.clock() : RateLimiter::Clock::now();
  auto u = user.empty() ? RateLimiter::Verdict{} : per_user_.peek(user, now);
  auto a = per_address_.peek(client_key(peer), now);
  if (u.allowed && a.allowed) return std::nullopt;
  return SignInRefused{429, "Too many failed sign-ins; try again later.", std::max(u.retry_after, a.retry_after)};
}

void StoreWebSessions::failed(const std::string& user, const std::string& peer, const std::string& via, const std::string& reason) {
  const auto now = options_.clock ? options_.clock() : RateLimiter::Clock::now();
  if (!user.empty()) per_user_.hit(user, now);
  per_address_.hit(client_key(peer), now);
  // A name that is not a user goes in as given (cut): the audit keeps it with the anonymous rows.
  audit_.record(valid_user_name(user) ? user : "", "refused", Json{{"via", via}, {"reason", reason}, {"peer", peer}});
}

SignedIn StoreWebSessions::start(int64_t user_id, const std::string& user, const std::string& peer, const std::string& via) {
  const std::string token = new_token();
  const int64_t now = now_ms();
  store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    insert_token(db, "web_sessions", token, user_id, now, now + std::chrono::duration_cast<std::chrono::milliseconds>(options_.lifetime).count());
    sql::Statement trim(db, "DELETE FROM web_sessions WHERE user_id = ?1 AND hash NOT IN "
                               "(SELECT hash FROM web_sessions WHERE user_id = ?1 ORDER BY created_ms DESC LIMIT ?2)");
    trim.bind(1, user_id);
    trim.bind(2, kSessionsPerUser);
    trim.exec();
    tx.commit();
  });
  audit_.record(user, "sign_in", Json{{"via", via}, {"peer", peer}});
  return SignedIn{cookie(kSessionCookie, token, options_.lifetime), WebSession{user, csrf_of(token)}};
}

std::variant<SignedIn, SignInRefused> StoreWebSessions::sign_in(const std::string& user, std::string_view password, const std::string& peer) {
  if (auto refused = limited(user, peer)) {
    audit_.record(valid_user_name(user) ? user : "", "refused", Json{{"via", "password"}, {"reason", "rate-limited"}, {"peer", peer}});
    return *refused;
  }
  struct Slot {
    std::atomic<int>& n;
    ~Slot() { --n; }
  } slot{checking_};
  if (++checking_ > options_.max_concurrent_checks)
    return SignInRefused{503, "The server is busy signing others in; try again in a moment.", std::chrono::seconds(1)};
  // Checked even for an unknown name (against a dummy hash): the time taken tells nothing.
  auto uid = valid_user_name(user) && passwords_.check(user, password) ? find_user(store_, user) : std::nullopt;
  if (!uid) {
    failed(user, peer, "password", "wrong user name or password");
    return SignInRefused{401, "Wrong user name or password.", {}};
  }
  return start(*uid, user, peer, "password");
}

std::optional<std::string> StoreWebSessions::invite_user(const std::string& token) {
  if (!well_formed_token(token)) return std::nullopt;
  return store_.read([&](sql::Database& db) -> std::optional<std::string> {
    sql::Statement q(db, "SELECT u.name FROM invites i JOIN users u ON u.id = i.user_id "
                            "WHERE i.hash = ? AND i.used_ms IS NULL AND i.expires_ms > ?");
    blob(q, 1, hashed(token));
    q.bind(2, now_ms());
    if (!q.executeStep()) return std::nullopt;
    return q.getColumn(0).getString();
  });
}

std::variant<SignedIn, SignInRefused> StoreWebSessions::redeem_invite(const std::string& token, const std::string& peer) {
  if (auto refused = limited("", peer)) return *refused;
  const int64_t now = now_ms();
  // Claimed in one transaction: of two browsers opening the same link, one gets the session.
  auto claimed = !well_formed_token(token) ? std::nullopt : store_.write([&](sql::Database& db) -> std::optional<std::pair<int64_t, std::string>> {
    sql::Transaction tx(db);
    sql::Statement q(db, "SELECT i.user_id, u.name FROM invites i JOIN users u ON u.id = i.user_id "
                            "WHERE i.hash = ? AND i.used_ms IS NULL AND i.expires_ms > ?");
    blob(q, 1, hashed(token));
    q.bind(2, now);
    if (!q.executeStep()) return std::nullopt;
    std::pair<int64_t, std::string> who{q.getColumn(0).getInt64(), q.getColumn(1).getString()};
    q.reset();
    sql::Statement use(db, "UPDATE invites SET used_ms = ? WHERE hash = ?");
    use.bind(1, now);
    blob(use, 2, hashed(token));
    use.exec();
    tx.commit();
    return who;
  });
  if (!claimed) {
    failed("", peer, "invite", "unknown, used or expired invite link");
    return SignInRefused{401, "This sign-in link is not valid: it was used already, has expired, or was mistyped.", {}};
  }
  return start(claimed->first, claimed->second, peer, "invite");
}

std::string StoreWebSessions::sign_out(const HttpRequest& request) {
  const std::string token = cookie_value(request, kSessionCookie);
  if (well_formed_token(token))
    store_.write([&](sql::Database& db) {
      sql::Statement del(db, "DELETE FROM web_sessions WHERE hash = ?");
      blob(del, 1, hashed(token));
      del.exec();
    });
  return cookie(kSessionCookie, "", std::chrono::seconds(0));
}

std::string create_invite(store::Store& store, const std::string& user, int hours) {
  const int64_t uid = known_user(store, user, "name");
  if (hours < 1 || hours > 720) throw std::invalid_argument("--expires-hours: must be 1 to 720, got " + std::to_string(hours));
  const std::string token = new_token();
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  store.write([&](sql::Database& db) { insert_token(db, "invites", token, uid, now, now + int64_t(hours) * 3'600'000); });
  return token;
}

}  // namespace concierge::access
