#include "web/connect.hpp"

#include <algorithm>
#include <curl/curl.h>
#include <mutex>
#include <optional>
#include <spdlog/spdlog.h>

#include "providers/http/client.hpp"
#include "store/store.hpp"
#include "web/layout.hpp"

namespace concierge::web {

namespace {

using providers::auth::OAuthClient;
using providers::auth::Pkce;
using Clock = std::chrono::steady_clock;

std::string html(const std::string& s) { return html_escape(s); }

// The pages' shared layout and headers (layout.hpp): not framed, not cached, a Referer only to
// this origin (the callback's URL carries the code; it goes nowhere else).
HttpReply page(int status, const std::string& title, const std::string& body) {
  Page p;
  p.status = status;
  p.title = title;
  p.body = body;
  return render(p);
}

HttpReply redirect(const std::string& location, int status = 302) {
  HttpReply r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("Location", location);
  add_security_headers(r);
  return r;
}

std::string display_name(const std::string& service) {
  static const std::map<std::string, std::string> names{
      {"google", "Google (Calendar, Gmail, YouTube)"}, {"spotify", "Spotify"}, {"calcom", "Cal.com"}};
  auto it = names.find(service);
  return it == names.end() ? service : it->second;
}

// An OAuth flow started from /connect/<service> and not yet back at the callback.
struct Pending {
  std::string user, service, redirect_uri;
  Pkce pkce;
  Clock::time_point expires;
  uint64_t started = 0;  // the order flows began in (expiries tie under a fixed clock)
};

struct Connector {
  access::WebSessions& sessions;
  ConnectOptions o;
  std::mutex m;
  std::map<std::string, Pending> pending;  // by state
  uint64_t started = 0;
  std::mutex oauth_m;                      // Connections::oauth_client is not thread-safe

  Connector(access::WebSessions& s, ConnectOptions options) : sessions(s), o(std::move(options)) {}

  std::shared_ptr<OAuthClient> oauth(const std::string& service) {
    std::lock_guard l(oauth_m);
    return o.oauth(service);
  }
  int64_t user_id(const std::string& user) { return o.tokens->store().user_id(user); }

  // Expired flows go; a user's oldest beyond their share goes. False when every slot is taken.
  bool make_room_locked(const std::string& user) {
    auto now = o.now();
    std::erase_if(pending, [&](const auto& p) { return p.second.expires <= now; });
    std::vector<std::map<std::string, Pending>::iterator> mine;
    for (auto it = pending.begin(); it != pending.end(); ++it)
      if (it->second.user == user) mine.push_back(it);
    std::sort(mine.begin(), mine.end(), [](auto a, auto b) { return a->second.started < b->second.started; });
    for (size_t i = 0; i + o.max_pending_per_user <= mine.size(); ++i) pending.erase(mine[i]);
    return pending.size() < o.max_pending;
  }

  HttpReply list(const HttpRequest& req) {
    auto s = sessions.session_of(req);
    if (!s) return redirect(sessions.sign_in_path("/connect"));
    auto accounts = o.tokens->accounts(user_id(s->user));
    std::string items;
    for (const auto& service : o.services) {
      bool connected = std::any_of(accounts.begin(), accounts.end(), [&](const auto& a) { return a.service == service; });
      items += "<li><strong>" + html(display_name(service)) + "</strong>: ";
      if (connected)
        items += "connected. <form method=\"post\" action=\"/connect/" + html(service) + "/disconnect\">"
                 "<input type=\"hidden\" name=\"csrf\" value=\"" + html(s->csrf) + "\">"
                 "<button type=\"submit\">Disconnect</button></form>";
      else
        items += "not connected. <a class=\"button\" href=\"/connect/" + html(service) + "\">Connect</a>";
      items += "</li>\n";
    }
    if (items.empty()) items = "<li>This server offers no services to connect.</li>";
    return page(200, "Your services",
                "<p>Signed in as <strong>" + html(s->user) + "</strong>. Connected services are used only for your own requests.</p>\n"
                "<ul>\n" + items + "</ul>");
  }

  HttpReply start(const std::string& service, const HttpRequest& req) {
    auto s = sessions.session_of(req);
    if (!s) return redirect(sessions.sign_in_path("/connect/" + service));
    std::shared_ptr<OAuthClient> client;
    try {
      client = oauth(service);
    } catch (const std::exception& e) {
      return page(404, "Not available", "<p>" + html(e.what()) + "</p>");
    }
    if (!client || client->config().client_id.empty())
      return page(503, "Not available", "<p>" + html(display_name(service)) +
                                            " is not set up on this server (it has no OAuth client id). Ask its administrator.</p>");
    Pending p{s->user, service, o.origin() + "/oauth/callback/" + service, Pkce::make(), o.now() + o.pending_ttl};
    std::string state = providers::auth::random_state();
    std::string url = providers::auth::authorization_url(client->config(), p.redirect_uri, state, p.pkce);
    {
      std::lock_guard l(m);
      if (!make_room_locked(s->user))
        return page(503, "Try again later", "<p>Too many connections are in progress on this server. Try again in a few minutes.</p>");
      p.started = ++started;
      pending.emplace(state, std::move(p));
    }
    return redirect(url);
  }

  HttpReply callback(const std::string& service, const HttpRequest& req) {
    const std::string again = "<p><a href=\"/connect\">Start again from your services</a>.</p>";
    auto s = sessions.session_of(req);
    if (!s) return page(403, "Not signed in", "<p>Sign in to Concierge in this browser, then connect the service again.</p>" + again);
    std::optional<Pending> p;
    {
      std::lock_guard l(m);
      auto it = pending.find(req.param("state"));
      // Single use: whatever happens next, this state is spent.
      if (it != pending.end()) {
        if (it->second.expires > o.now()) p = std::move(it->second);
        pending.erase(it);
      }
    }
    if (!p || p->service != service)
      return page(400, "Connection not recognised", "<p>This connection attempt is unknown or has expired.</p>" + again);
    if (p->user != s->user)
      return page(403, "Another user's connection", "<p>This connection was started by another user of this browser. Nothing was connected.</p>" + again);
    if (req.has_param("error"))
      return page(400, "Not connected", "<p>" + html(display_name(service)) + " refused: " + html(req.param("error")) + ".</p>" + again);
    std::string code = req.param("code");
    if (code.empty()) return page(400, "Not connected", "<p>The service sent no authorization code.</p>" + again);
    try {
      oauth(service)->exchange(user_id(p->user), o.account, code, p->redirect_uri, p->pkce);
    } catch (const std::exception& e) {
      // The token endpoint's refusals name only its error code (oauth.cpp): no secret here.
      spdlog::warn("connecting {} for user {} failed: {}", service, p->user, e.what());
      return page(502, "Not connected", "<p>" + html(display_name(service)) + " did not complete the connection: " + html(e.what()) + "</p>" + again);
    }
    spdlog::info("user {} connected {} in the browser", p->user, service);
    if (o.connected) o.connected(p->user, service);
    return page(200, "Connected", "<p>" + html(display_name(service)) +
                                      " is connected. You can close this page and return to the chat.</p><p><a href=\"/connect\">Your services</a></p>");
  }

  HttpReply disconnect(const std::string& service, const HttpRequest& req) {
    auto s = sessions.session_of(req);
    if (!s) return redirect(sessions.sign_in_path("/connect"), 303);
    if (!sessions.csrf_ok(req)) return page(403, "Refused", "<p>This form has expired. Go back to <a href=\"/connect\">your services</a> and try again.</p>");
    int64_t user = user_id(s->user);
    for (const auto& a : o.tokens->accounts(user)) {
      if (a.service != service) continue;
      auto token = o.tokens->load(user, service, a.account);
      o.tokens->remove(user, service, a.account);
      if (token) revoke(service, *token);
    }
    spdlog::info("user {} disconnected {} in the browser", s->user, service);
    return redirect("/connect", 303);
  }

  // Best effort: the tokens are gone here whatever the service answers (RFC 7009: revoking the
  // refresh token ends the grant).
  void revoke(const std::string& service, const providers::auth::Token& t) {
    auto it = o.revocation_urls.find(service);
    if (it == o.revocation_urls.end()) return;
    const std::string& token = t.refresh_token.empty() ? t.access_token : t.refresh_token;
    try {
      auto policy = o.revocation_policy;
      policy.service = service;
      policy.base_url = "";
      policy.max_attempts = 1;
      providers::http::Client client(policy);
      char* e = curl_easy_escape(nullptr, token.c_str(), int(token.size()));
      std::string body = "token=" + std::string(e ? e : "");
      curl_free(e);
      auto r = client.send({.method = "POST", .path = it->second, .body = body, .content_type = "application/x-www-form-urlencoded"});
      if (r.status >= 300) spdlog::warn("{} did not revoke a disconnected grant (HTTP {})", service, r.status);
    } catch (const std::exception& e) {
      spdlog::warn("{} did not revoke a disconnected grant: {}", service, e.what());
    }
  }
};

}  // namespace

std::string connect_url(const std::string& origin, const std::string& service) { return origin + "/connect/" + service; }

std::vector<HttpRoute> connect_routes(access::WebSessions& sessions, ConnectOptions options) {
  auto c = std::make_shared<Connector>(sessions, std::move(options));
  std::vector<HttpRoute> routes;
  routes.push_back({"GET", "/connect", [c](const HttpRequest& r) { return c->list(r); }});
  for (const auto& s : c->o.services) {
    routes.push_back({"GET", "/connect/" + s, [c, s](const HttpRequest& r) { return c->start(s, r); }});
    routes.push_back({"GET", "/oauth/callback/" + s, [c, s](const HttpRequest& r) { return c->callback(s, r); }});
    routes.push_back({"POST", "/connect/" + s + "/disconnect", [c, s](const HttpRequest& r) { return c->disconnect(s, r); }});
  }
  return routes;
}

}  // namespace concierge::web
