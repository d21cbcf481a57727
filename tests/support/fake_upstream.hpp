#pragma once
// An in-process stand-in for a REST service (Google, Spotify, Cal.com): an httplib server on
// 127.0.0.1, port 0, its own OAuth token endpoint, and faults to inject before the next calls
// (429 with Retry-After, 500, a stall past the client's timeout, malformed JSON, 401 for an
// expired token). Adapter tests register the API's routes on `server`.
// Every token belongs to the account it was issued for (sign_in, a refresh keeps it), so a fake
// can serve each account its own data (`account_of`), refuse accounts it does not hold
// (`accounts`: 401, as a token of a user the service does not know), and a test can see whose
// token each call carried (`callers`). Bodies must say what they are (Content-Type, 400
// otherwise, as the JSON APIs refuse an unparsable body) and a client that accepts no JSON is
// answered 406, as HTTP has it (RFC 9110, 12.5.1).
#include <atomic>
#include <catch2/catch.hpp>
#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <httplib.h>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "providers/auth/credentials.hpp"
#include "providers/auth/oauth.hpp"
#include "providers/auth/tokens.hpp"
#include "providers/http/client.hpp"
#include "common/base64.hpp"
#include "common/json.hpp"

namespace concierge::test {

struct Fault {
  enum Kind { Status429, Status500, Stall, Malformed, Expired } kind;
  int retry_after_s = 1;
};

// What every fake service shares: an httplib server on 127.0.0.1 (port 0) and the faults queued
// for its next API calls. A derived fake registers its routes, then calls start(); its destructor
// calls stop() first, so no handler runs on its members while they are destroyed.
struct LoopbackFake {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex m;
  std::deque<Fault> faults;  // taken one per API call, first in first out

  void start() {
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  void stop() {
    server.stop();
    if (thread.joinable()) thread.join();
  }
  ~LoopbackFake() { stop(); }
  // A client policy for tests: short timeouts and backoff so faults cost milliseconds.
  static providers::http::Policy fast_policy(const std::string& service, const std::string& base_url) {
    providers::http::Policy p;
    p.service = service;
    p.base_url = base_url;
    p.timeout = std::chrono::milliseconds(300);
    p.connect_timeout = std::chrono::milliseconds(300);
    p.backoff_base = std::chrono::milliseconds(1);
    p.backoff_max = std::chrono::milliseconds(5);
    p.max_retry_after = std::chrono::milliseconds(5000);
    p.rate_per_second = 1000;
    p.burst = 1000;
    return p;
  }
  std::string url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(port) + path; }
  void inject(Fault f) {
    std::lock_guard l(m);
    faults.push_back(f);
  }
  std::optional<Fault> next_fault() {
    std::lock_guard l(m);
    if (faults.empty()) return std::nullopt;
    Fault f = faults.front();
    faults.pop_front();
    return f;
  }
  // Answers a 429, 500 or malformed fault the way the service does (`error` writes its error
  // body, `malformed` is a cut-off success body); a stall only waits. True when `res` is the
  // answer. Expired is the fake's own: it knows its tokens.
  static bool answer_fault(const Fault& f, httplib::Response& res, const std::function<void(httplib::Response&, int)>& error,
                           const std::string& malformed) {
    switch (f.kind) {
      case Fault::Status429:
        error(res, 429);
        res.status = 429;
        res.set_header("Retry-After", std::to_string(f.retry_after_s));
        return true;
      case Fault::Status500:
        error(res, 500);
        res.status = 500;
        return true;
      case Fault::Stall:
        std::this_thread::sleep_for(std::chrono::milliseconds(600));  // past a test client's 300 ms timeout
        return false;
      case Fault::Malformed:
        res.status = 200;
        res.set_content(malformed, "application/json");
        return true;
      case Fault::Expired:
        return false;
    }
    return false;
  }
};

struct FakeUpstream : LoopbackFake {
  std::set<std::string> live_access;  // access tokens the API accepts
  std::set<std::string> live_refresh;
  std::atomic<int> issued{0}, refreshes{0}, api_calls{0};
  std::atomic<bool> revoked{false};
  std::vector<std::string> seen_tokens;  // every token issued (to grep logs and history for)
  std::map<std::string, std::string> owner;  // token -> the account it was issued for
  std::set<std::string> accounts;            // the accounts this service holds (empty: any)
  std::vector<std::string> callers;          // the account whose token each API call carried
  std::set<std::string> body_types{"application/json"};  // what a request body may be
  std::map<std::string, std::pair<std::string, std::string>> codes;  // code -> PKCE challenge, redirect_uri
  std::vector<std::multimap<std::string, std::string>> authorize_requests;  // the authorize step's query
  std::vector<std::string> revocations;                               // tokens revoked (RFC 7009)
  int code_count = 0;

  FakeUpstream() {
    server.Post("/oauth/token", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      auto fail = [&](const char* e) {
        res.status = 400;
        res.set_content(Json{{"error", e}}.dump(), "application/json");
      };
      auto grant = req.get_param_value("grant_type");
      std::string account = "default";
      if (grant == "authorization_code" && codes.count(req.get_param_value("code"))) {
        // A code from the authorize step: single use, and only with its PKCE verifier.
        auto it = codes.find(req.get_param_value("code"));
        auto [challenge, redirect_uri] = it->second;
        codes.erase(it);
        auto verifier = req.get_param_value("code_verifier");
        if (base64url_encode(providers::auth::sha256(verifier)) != challenge || req.get_param_value("redirect_uri") != redirect_uri)
          return fail("invalid_grant");
      } else if (grant == "refresh_token") {
        ++refreshes;
        auto rt = req.get_param_value("refresh_token");
        if (revoked || !live_refresh.count(rt)) return fail("invalid_grant");
        live_refresh.erase(rt);
        account = owner[rt];
      } else if (grant != "authorization_code") {
        return fail("unsupported_grant_type");
      }
      auto [access, refresh] = issue_locked(account);
      res.set_content(Json{{"access_token", access}, {"refresh_token", refresh}, {"expires_in", 3600}, {"token_type", "Bearer"}}.dump(),
                      "application/json");
    });
    // The person's consent, granted at once: a redirect back with a code bound to the PKCE
    // challenge and redirect_uri (a test follows the Location header: no browser needed).
    server.Get("/oauth/authorize", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      std::string code = "fake-code-" + std::to_string(++code_count) + "-z3";
      codes[code] = {req.get_param_value("code_challenge"), req.get_param_value("redirect_uri")};
      authorize_requests.push_back(req.params);
      std::string uri = req.get_param_value("redirect_uri");
      res.status = 302;
      res.set_header("Location", uri + (uri.find('?') == std::string::npos ? "?" : "&") + "code=" + code +
                                     "&state=" + httplib::detail::encode_query_param(req.get_param_value("state")));
    });
    // RFC 7009: the token (and, for a refresh token, its grant) is dead from now on.
    server.Post("/oauth/revoke", [this](const httplib::Request& req, httplib::Response&) {
      std::lock_guard l(m);
      auto t = req.get_param_value("token");
      revocations.push_back(t);
      live_refresh.erase(t);
      live_access.erase(t);
    });
    // Every API route passes here first: faults, then the bearer check.
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.path.rfind("/oauth/", 0) == 0) return httplib::Server::HandlerResponse::Unhandled;
      ++api_calls;
      auto f = next_fault();
      if (f && answer_fault(*f, res, [](httplib::Response& r, int status) {
            r.set_content(Json{{"error", {{"status", status}, {"message", status == 429 ? "API rate limit exceeded" : "Internal error"}}}}.dump(),
                          "application/json");
          }, "{\"items\": ["))
        return httplib::Server::HandlerResponse::Handled;
      if (f && f->kind == Fault::Expired) {
        std::lock_guard l(m);
        live_access.clear();  // every access token dies before its expiry
      }
      if (!authorized(req)) {
        res.status = 401;
        res.set_content(Json{{"error", {{"status", 401}, {"message", "The access token expired"}}}}.dump(), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }
      {
        std::lock_guard l(m);
        callers.push_back(owner[bearer(req)]);
      }
      if (auto refused = content_refused(req)) {
        res.status = refused->first;
        res.set_content(Json{{"error", {{"code", refused->first}, {"status", refused->first}, {"message", refused->second}}}}.dump(),
                        "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    start();
  }
  ~FakeUpstream() { stop(); }
  static std::string bearer(const httplib::Request& req) {
    auto h = req.get_header_value("Authorization");
    return h.rfind("Bearer ", 0) == 0 ? h.substr(7) : "";
  }
  bool authorized(const httplib::Request& req) {
    std::string t = bearer(req);
    std::lock_guard l(m);
    return live_access.count(t) && (accounts.empty() || accounts.count(owner[t]));
  }
  // The account whose token the request carries ("" for none).
  std::string account_of(const httplib::Request& req) {
    std::string t = bearer(req);
    std::lock_guard l(m);
    auto it = owner.find(t);
    return it == owner.end() ? "" : it->second;
  }
  int calls_by(const std::string& account) {
    std::lock_guard l(m);
    return int(std::count(callers.begin(), callers.end(), account));
  }
  // A body whose type the API does not take: 400; a client that accepts no JSON: 406.
  std::optional<std::pair<int, std::string>> content_refused(const httplib::Request& req) {
    if (!req.body.empty()) {
      std::string type = req.get_header_value("Content-Type");
      type = type.substr(0, type.find(';'));
      while (!type.empty() && type.back() == ' ') type.pop_back();
      std::lock_guard l(m);
      if (!body_types.count(type)) return std::make_pair(400, "Unsupported content type '" + type + "' for the request body");
    }
    if (req.has_header("Accept")) {
      std::string accept = req.get_header_value("Accept");
      bool json = false;
      for (const char* ok : {"application/json", "*/*", "application/*"}) json = json || accept.find(ok) != std::string::npos;
      if (!json) return std::make_pair(406, "Only application/json responses are available, not '" + accept + "'");
    }
    return std::nullopt;
  }
  std::pair<std::string, std::string> issue(const std::string& account = "default") {
    std::lock_guard l(m);
    return issue_locked(account);
  }
  // Seeds `tokens` with a signed-in account, as `concierge auth login` leaves it.
  void sign_in(providers::auth::TokenStore& tokens, int64_t user, const std::string& service, const std::string& account) {
    auto [access, refresh] = issue(account);
    providers::auth::Token t;
    t.access_token = access;
    t.refresh_token = refresh;
    t.expires_at = providers::now_ms() + 3600'000;
    tokens.save(user, service, account, t);
  }
  providers::auth::OAuthConfig oauth(const std::string& service) const {
    return {service, url("/oauth/authorize"), url("/oauth/token"), "test-client", "", {}};
  }
  providers::http::Policy policy(const std::string& service) const { return fast_policy(service, url()); }

 private:
  std::pair<std::string, std::string> issue_locked(const std::string& account) {
    int n = ++issued;
    std::string access = "fake-access-" + std::to_string(n) + "-x9", refresh = "fake-refresh-" + std::to_string(n) + "-y7";
    live_access.insert(access);
    live_refresh.insert(refresh);
    owner[access] = owner[refresh] = account;
    seen_tokens.push_back(access);
    seen_tokens.push_back(refresh);
    return {access, refresh};
  }
};

}  // namespace concierge::test
