#include "providers/auth/oauth.hpp"

#include "common/base64.hpp"
#include "store/store.hpp"

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <curl/curl.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <optional>
#include <thread>

namespace concierge::providers::auth {

namespace {

std::string form_escape(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.c_str(), int(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

std::string form(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (auto& [k, v] : fields) out += (out.empty() ? "" : "&") + form_escape(k) + "=" + form_escape(v);
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

std::string sha256(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

Pkce Pkce::make() {
  Pkce p;
  p.verifier = base64url_encode(random_bytes(48));  // 64 characters, within RFC 7636's 43-128
  p.challenge = base64url_encode(sha256(p.verifier));
  return p;
}

std::string random_state() { return base64url_encode(random_bytes(24)); }

std::string authorization_url(const OAuthConfig& c, const std::string& redirect_uri, const std::string& state, const Pkce& pkce) {
  return c.authorize_url + (c.authorize_url.find('?') == std::string::npos ? "?" : "&") +
         form({{"response_type", "code"},
               {"client_id", c.client_id},
               {"redirect_uri", redirect_uri},
               {"scope", join(c.scopes, " ")},
               {"state", state},
               {"code_challenge", pkce.challenge},
               {"code_challenge_method", "S256"},
               {"access_type", "offline"},  // Google: a refresh token, not an hour of access
               {"prompt", "consent"}});
}

NeedsReauth::NeedsReauth(const std::string& s, const std::string& a, const std::string& why)
    : std::runtime_error(s + " account '" + a + "' needs signing in again (" + why + "): run `concierge auth login " + s +
                         " --account " + a + "`"),
      service(s),
      account(a) {}

NeedsReauth::NeedsReauth(const std::string& s, const std::string& a, const std::string& why, const std::string& fix)
    : std::runtime_error(s + " account '" + a + "' is not authorized (" + why + "): " + fix), service(s), account(a) {}

OAuthClient::OAuthClient(OAuthConfig config, TokenStore& tokens, http::Policy policy, std::function<Millis()> now)
    : config_(std::move(config)), tokens_(tokens), http_([&] {
        policy.service = config_.service;
        policy.api = "oauth";
        policy.base_url = "";
        return policy;
      }()),
      now_(std::move(now)) {}

Token OAuthClient::grant(const std::vector<std::pair<std::string, std::string>>& fields, const std::string& account, const Token* previous) {
  auto all = fields;
  all.emplace_back("client_id", config_.client_id);
  if (!config_.client_secret.empty()) all.emplace_back("client_secret", config_.client_secret);
  http::Request r{.method = "POST", .path = config_.token_url, .body = form(all), .content_type = "application/x-www-form-urlencoded"};
  auto resp = http_.send(r);
  Json j = resp.json(config_.service);
  if (resp.status >= 400) {
    std::string error = j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : "";
    // A refresh the endpoint refuses (400/401) cannot succeed by trying again: only a new
    // sign-in gives a new grant (e.g. an endpoint that exchanges codes only answers
    // invalid_request), so it is "sign in again", not "unavailable".
    const bool refreshing = previous != nullptr;
    if (error == "invalid_grant" || resp.status == 401 || (refreshing && resp.status == 400))
      throw NeedsReauth(config_.service, account, error.empty() ? "HTTP " + std::to_string(resp.status) : error);
    // error_description may echo what was sent; only the error code is repeated.
    throw http::UpstreamError(http::UpstreamError::Kind::Status, config_.service,
                              config_.service + " refused the token request (" + (error.empty() ? "HTTP " + std::to_string(resp.status) : error) + ")",
                              resp.status);
  }
  Token t;
  t.access_token = j.value("access_token", "");
  if (t.access_token.empty())
    throw http::UpstreamError(http::UpstreamError::Kind::Malformed, config_.service, config_.service + " sent no access token");
  t.token_type = j.value("token_type", "Bearer");
  // A rotated refresh token replaces the old one; without one in the reply, the old one stays.
  t.refresh_token = j.value("refresh_token", previous ? previous->refresh_token : "");
  t.expires_at = j.contains("expires_in") ? now_() + j["expires_in"].get<int64_t>() * 1000 : 0;
  std::string scope = j.value("scope", "");
  if (scope.empty() && previous) t.scopes = previous->scopes;
  else if (scope.empty()) t.scopes = config_.scopes;
  else
    for (size_t at = 0; at < scope.size();) {
      auto sp = scope.find(' ', at);
      t.scopes.push_back(scope.substr(at, sp == std::string::npos ? std::string::npos : sp - at));
      at = sp == std::string::npos ? scope.size() : sp + 1;
    }
  return t;
}

Token OAuthClient::exchange(int64_t user, const std::string& account, const std::string& code, const std::string& redirect_uri,
                            const Pkce& pkce) {
  Token t = grant({{"grant_type", "authorization_code"}, {"code", code}, {"redirect_uri", redirect_uri}, {"code_verifier", pkce.verifier}},
                  account, nullptr);
  tokens_.save(user, config_.service, account, t);
  return t;
}



std::shared_ptr<std::mutex> OAuthClient::lock_for(int64_t user, const std::string& account) {
  std::lock_guard l(locks_m_);
  auto& slot = locks_[std::to_string(user) + "/" + account];
  if (!slot) slot = std::make_shared<std::mutex>();
  return slot;
}

std::string OAuthClient::access_token(int64_t user, const std::string& account, Millis ahead) {
  auto lock = lock_for(user, account);
  // One refresh per account at a time; whoever waited finds the fresh token already stored.
  std::lock_guard l(*lock);
  auto t = tokens_.load(user, config_.service, account);
  if (!t) throw NeedsReauth(config_.service, account, "never signed in");
  if (t->expires_at == 0 || t->expires_at - now_() > ahead) return t->access_token;
  // And across processes (instances behind a balancer, on one data directory or one database):
  // a second one finds the token the first one stored, so a rotated refresh token is spent once.
  auto across = tokens_.store().lock_across("oauth/" + std::to_string(user) + "/" + config_.service + "/" + account);
  t = tokens_.load(user, config_.service, account);  // another process may have refreshed it meanwhile
  if (!t) throw NeedsReauth(config_.service, account, "signed out meanwhile");
  if (t->expires_at == 0 || t->expires_at - now_() > ahead) return t->access_token;
  return refresh_locked(user, account, *t);
}

std::string OAuthClient::refresh_after_rejection(int64_t user, const std::string& account, const std::string& refused) {
  auto lock = lock_for(user, account);
  std::lock_guard l(*lock);
  auto across = tokens_.store().lock_across("oauth/" + std::to_string(user) + "/" + config_.service + "/" + account);
  auto t = tokens_.load(user, config_.service, account);
  if (!t) throw NeedsReauth(config_.service, account, "never signed in");
  if (t->access_token != refused) return t->access_token;  // someone else refreshed meanwhile (here or in another process)
  return refresh_locked(user, account, *t);
}

std::string OAuthClient::refresh_locked(int64_t user, const std::string& account, const Token& t) {
  if (t.refresh_token.empty()) throw NeedsReauth(config_.service, account, "the access expired and there is no refresh token");
  Token fresh = grant({{"grant_type", "refresh_token"}, {"refresh_token", t.refresh_token}}, account, &t);
  tokens_.save(user, config_.service, account, fresh);
  return fresh.access_token;
}

std::string code_from_url(const std::string& url, const std::string& state) {
  auto q = url.find('?');
  std::map<std::string, std::string> params;
  if (q != std::string::npos) {
    std::string query = url.substr(q + 1);
    if (auto hash = query.find('#'); hash != std::string::npos) query.resize(hash);
    for (size_t at = 0; at < query.size();) {
      auto amp = query.find('&', at);
      std::string pair = query.substr(at, amp == std::string::npos ? std::string::npos : amp - at);
      auto eq = pair.find('=');
      int n = 0;
      std::string key = pair.substr(0, eq), value = eq == std::string::npos ? "" : pair.substr(eq + 1);
      for (auto& c : value) c = c == '+' ? ' ' : c;
      char* d = curl_easy_unescape(nullptr, value.c_str(), int(value.size()), &n);
      params[key] = std::string(d, size_t(n));
      curl_free(d);
      at = amp == std::string::npos ? query.size() : amp + 1;
    }
  }
  if (params.count("error")) throw std::runtime_error("the service refused: " + params["error"]);
  if (params["state"] != state) throw std::runtime_error("the redirect's state does not match this sign-in; start again");
  if (params["code"].empty()) throw std::runtime_error("the redirect carries no code");
  return params["code"];
}

struct LoopbackReceiver::Impl {
  httplib::Server server;
  int port = 0;
  std::thread thread;
  std::string state;
  mutable std::mutex m;
  std::condition_variable cv;
  std::optional<std::string> url;
  int ignored = 0;
};

LoopbackReceiver::LoopbackReceiver(std::string state, int port) : impl_(std::make_unique<Impl>()) {
  impl_->state = std::move(state);
  impl_->server.Get("/callback", [this](const httplib::Request& req, httplib::Response& res) {
    // Anything on this machine can reach the port: only the redirect with our state counts.
    if (impl_->state.empty() || req.get_param_value("state") != impl_->state) {
      {
        std::lock_guard l(impl_->m);
        ++impl_->ignored;
      }
      res.status = 400;
      res.set_content("<p>This redirect does not belong to the sign-in in progress (its state does not match), so it was ignored. "
                      "Concierge is still waiting: finish the sign-in from the URL it printed.</p>",
                      "text/html");
      return;
    }
    std::string query;
    for (auto& [k, v] : req.params) query += (query.empty() ? "?" : "&") + form_escape(k) + "=" + form_escape(v);
    {
      std::lock_guard l(impl_->m);
      if (!impl_->url) impl_->url = "/callback" + query;
    }
    impl_->cv.notify_all();
    if (req.has_param("error"))
      res.set_content("<p>The sign-in was refused. You can close this tab; Concierge says what happened.</p>", "text/html");
    else
      res.set_content("<p>Signed in. You can close this tab and return to Concierge.</p>", "text/html");
  });
  // Loopback only; port 0 lets the OS pick a free one (no collisions between sign-ins).
  if (port == 0) impl_->port = impl_->server.bind_to_any_port("127.0.0.1");
  else impl_->port = impl_->server.bind_to_port("127.0.0.1", port) ? port : -1;
  if (impl_->port <= 0)
    throw std::runtime_error("cannot listen on 127.0.0.1" + (port ? ":" + std::to_string(port) : std::string()) + " for the sign-in redirect");
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
}

LoopbackReceiver::~LoopbackReceiver() {
  impl_->server.stop();
  impl_->thread.join();
}

std::string LoopbackReceiver::redirect_uri() const { return "http://127.0.0.1:" + std::to_string(impl_->port) + "/callback"; }

std::string LoopbackReceiver::wait_for_code(std::chrono::milliseconds timeout) {
  auto code = poll_code(timeout);
  if (!code) throw std::runtime_error("no sign-in redirect arrived; on a machine without a browser, paste the redirected URL instead");
  return *code;
}

std::optional<std::string> LoopbackReceiver::poll_code(std::chrono::milliseconds timeout) {
  std::unique_lock l(impl_->m);
  if (!impl_->cv.wait_for(l, timeout, [&] { return impl_->url.has_value(); })) return std::nullopt;
  return code_from_url(*impl_->url, impl_->state);
}

int LoopbackReceiver::ignored() const {
  std::lock_guard l(impl_->m);
  return impl_->ignored;
}

}  // namespace concierge::providers::auth
