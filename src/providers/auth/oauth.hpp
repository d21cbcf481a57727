#pragma once
// OAuth 2.0 for the services' adapters: authorization code with PKCE (S256) and state, a loopback
// receiver on 127.0.0.1 with a free port for the redirect, the code exchanged for tokens that go
// straight into the sealed token store, access tokens refreshed ahead of expiry (concurrent
// callers for one account share one refresh), rotated refresh tokens saved, and invalid_grant
// (or any refusal of a refresh) turned into "sign in again" with the exact command.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "providers/auth/tokens.hpp"
#include "providers/http/client.hpp"

namespace concierge::providers::auth {

struct OAuthConfig {
  std::string service;  // "google", "spotify"...
  std::string authorize_url, token_url;
  std::string client_id, client_secret;  // the secret may be empty (public clients)
  std::vector<std::string> scopes;
  // For services that match the redirect URI exactly (Cal.com): the loopback port sign-in
  // listens on unless --port says otherwise (0: a free one), and where the user registers it.
  int loopback_port = 0;
  std::string register_redirect_at;
};

struct Pkce {
  std::string verifier, challenge;  // challenge = base64url(sha256(verifier))
  static Pkce make();
};
std::string random_state();
std::string sha256(const std::string& data);

std::string authorization_url(const OAuthConfig& c, const std::string& redirect_uri, const std::string& state, const Pkce& pkce);

// The account's grant is gone (revoked, expired "Testing" app, password changed): only signing in
// again helps, and the message says how.
struct NeedsReauth : std::runtime_error {
  NeedsReauth(const std::string& service, const std::string& account, const std::string& why);
  // With a fix other than `concierge auth login` (an API key to replace).
  NeedsReauth(const std::string& service, const std::string& account, const std::string& why, const std::string& fix);
  std::string service, account;
};

class OAuthClient {
 public:
  OAuthClient(OAuthConfig config, TokenStore& tokens, http::Policy policy = {},
              std::function<Millis()> now = [] { return now_ms(); });
  // The second half of sign-in: the code from the redirect becomes stored tokens.
  Token exchange(int64_t user, const std::string& account, const std::string& code, const std::string& redirect_uri, const Pkce& pkce);
  // A usable access token: the stored one, or a fresh one when it expires within `ahead`.
  std::string access_token(int64_t user, const std::string& account, Millis ahead = 60'000);
  // The service refused `refused` (401) although it had not expired: a new access token from the
  // refresh token, unless another caller already replaced it (then the stored one).
  std::string refresh_after_rejection(int64_t user, const std::string& account, const std::string& refused);
  const OAuthConfig& config() const { return config_; }

 private:
  Token grant(const std::vector<std::pair<std::string, std::string>>& form, const std::string& account, const Token* previous);
  std::shared_ptr<std::mutex> lock_for(int64_t user, const std::string& account);
  std::string refresh_locked(int64_t user, const std::string& account, const Token& t);
  OAuthConfig config_;
  TokenStore& tokens_;
  http::Client http_;
  std::function<Millis()> now_;
  std::mutex locks_m_;
  std::map<std::string, std::shared_ptr<std::mutex>> locks_;  // one per user and account
};

// Receives the browser's redirect on 127.0.0.1 (port 0: a free one), checks state, hands over
// the code. A redirect with another state (a stale tab, or any local program guessing) is answered
// with a page saying it was ignored, and the wait goes on: it cannot end the sign-in. For headless
// machines the user pastes the redirected URL instead (code_from_url).
class LoopbackReceiver {
 public:
  explicit LoopbackReceiver(std::string state, int port = 0);  // port 0: a free one
  ~LoopbackReceiver();
  std::string redirect_uri() const;  // http://127.0.0.1:PORT/callback
  // The code, once the redirect with our state arrives; std::runtime_error on an error from the
  // service, or no redirect within the timeout.
  std::string wait_for_code(std::chrono::milliseconds timeout);
  // The same, but nothing yet within `timeout` is std::nullopt (to watch stdin meanwhile).
  std::optional<std::string> poll_code(std::chrono::milliseconds timeout);
  int ignored() const;  // redirects refused for their state so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "http://127.0.0.1:8765/callback?code=...&state=..." → the code, after checking state.
std::string code_from_url(const std::string& url, const std::string& state);

}  // namespace concierge::providers::auth
