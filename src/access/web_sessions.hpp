#pragma once
// Who is signed in to the server's own pages (sign-in, consent, /connect): a browser session
// cookie issued after a password or a one-time invite link, and the CSRF token every form of
// that session carries. Sessions and invites are stored hashed (SHA-256); passwords with
// argon2id (libsodium).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "access/audit.hpp"
#include "access/passwords.hpp"
#include "access/rate_limit.hpp"
#include "server/http.hpp"
#include "store/store.hpp"

namespace concierge::access {

struct WebSession {
  std::string user;  // the user's name
  std::string csrf;  // the value every form of this session posts as `csrf`
};

class WebSessions {
 public:
  virtual ~WebSessions() = default;
  // The session the request's cookie names, when it is valid and unexpired.
  virtual std::optional<WebSession> session_of(const HttpRequest& request) = 0;
  // Whether a POSTed form carries this session's CSRF token (field `csrf`), compared in constant
  // time. A form without a session, or without the field, is refused.
  virtual bool csrf_ok(const HttpRequest& request) = 0;
  // Where an unsigned-in browser goes to sign in, then back to `next` (a path on this server).
  virtual std::string sign_in_path(const std::string& next) const = 0;
};

// ---- The implementation: sessions in the store (migration 8 of issue 17) -----------------------

constexpr const char* kSessionCookie = "concierge_session";
// Before anyone is signed in, the sign-in and invite forms' CSRF token is bound to this cookie
// (double submit): a page elsewhere can't read it, so it can't sign a browser in as someone else.
constexpr const char* kSignInCookie = "concierge_signin";

struct WebSessionOptions {
  bool secure_cookie = false;                     // the public URL is https
  std::chrono::seconds lifetime{12 * 3600};
  // Failed sign-ins (wrong password, unknown user, used or unknown invite) per typed user name
  // and per client address (client_key) in `failure_window`; past either, 429 without checking.
  size_t failures_per_user = 10;
  size_t failures_per_address = 30;
  std::chrono::seconds failure_window{15 * 60};
  // Password checks at once (each argon2id check takes ~64 MiB for a fraction of a second);
  // beyond, 503 at once: a burst of sign-ins can't take the server's memory.
  int max_concurrent_checks = 4;
  std::function<RateLimiter::Clock::time_point()> clock;  // the rate limits' time; empty: steady_clock
  std::function<int64_t()> wall_ms;                       // expiry (ms since the epoch); empty: system clock
};

// Why a sign-in did not start a session: 401 (wrong user or password, unusable link), 429
// (rate-limited) or 503 (too many checks at once), with a message for the page and, for 429 and
// 503, when to retry.
struct SignInRefused {
  int status = 401;
  std::string message;
  std::chrono::seconds retry_after{0};
};

// A new session: what the browser is to store (a Set-Cookie value) and the session itself.
struct SignedIn {
  std::string set_cookie;
  WebSession session;
};

class StoreWebSessions : public WebSessions {
 public:
  explicit StoreWebSessions(store::Store& store, WebSessionOptions options = {});

  std::optional<WebSession> session_of(const HttpRequest& request) override;
  bool csrf_ok(const HttpRequest& request) override;
  std::string sign_in_path(const std::string& next) const override;

  // A password sign-in from `peer`. Audited either way (never the password).
  std::variant<SignedIn, SignInRefused> sign_in(const std::string& user, std::string_view password, const std::string& peer);
  // A one-time invite link's token, redeemed once.
  std::variant<SignedIn, SignInRefused> redeem_invite(const std::string& token, const std::string& peer);
  // Whose invite the token is, when it is still usable (for the page that asks to confirm).
  std::optional<std::string> invite_user(const std::string& token);
  // Ends the request's session; the Set-Cookie value that clears the cookie.
  std::string sign_out(const HttpRequest& request);

  // The pre-session CSRF token of the sign-in forms: the request's kSignInCookie when it has a
  // well-formed one, else a new one (set_cookie then says what to store).
  struct SignInToken {
    std::string csrf, set_cookie;  // set_cookie "" when the browser has it already
  };
  SignInToken sign_in_token(const HttpRequest& request) const;
  // Whether the posted form's csrf equals the request's kSignInCookie (constant time).
  bool sign_in_csrf_ok(const HttpRequest& request) const;

  const WebSessionOptions& options() const { return options_; }

 private:
  int64_t now_ms() const;
  std::string cookie(const std::string& name, const std::string& value, std::chrono::seconds max_age) const;
  std::optional<SignInRefused> limited(const std::string& user, const std::string& peer);
  void failed(const std::string& user, const std::string& peer, const std::string& via, const std::string& reason);
  SignedIn start(int64_t user_id, const std::string& user, const std::string& peer, const std::string& via);

  store::Store& store_;
  WebSessionOptions options_;
  Passwords passwords_;
  Audit audit_;
  RateLimiter per_user_, per_address_;
  std::atomic<int> checking_{0};
};

// `concierge users invite`: a one-time sign-in token for the user, valid `hours`. Throws
// std::invalid_argument "name: ..." for an unknown user, "--expires-hours: ..." out of 1-720.
std::string create_invite(store::Store& store, const std::string& user, int hours);

// A form's fields (application/x-www-form-urlencoded: '+' is a space, %XX a byte), in order.
// Malformed escapes are kept as they are.
std::vector<std::pair<std::string, std::string>> parse_form(std::string_view body);
// The reverse: unreserved characters (RFC 3986) as they are, every other byte %XX.
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
// The value of a cookie in a Cookie header ("" when absent).
std::string cookie_value(const HttpRequest& request, std::string_view name);

}  // namespace concierge::access
