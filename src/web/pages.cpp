#include "web/pages.hpp"

#include <algorithm>
#include <set>

#include "web/layout.hpp"

namespace concierge::web {

namespace {

using access::StoreWebSessions;
using Fields = std::vector<std::pair<std::string, std::string>>;

// Fields of the consent form that are not the authorization request's own pairs. The request's
// `scope` travels as requested_scope: `scope` is the checkboxes' name.
constexpr const char* kRequestedScope = "requested_scope";
bool form_own(const std::string& name) { return name == "csrf" || name == "scope" || name == "decision" || name == kRequestedScope; }

std::string field(const Fields& f, std::string_view name) {
  for (auto& [k, v] : f)
    if (k == name) return v;
  return {};
}

std::string hidden(const std::string& name, const std::string& value) {
  return "<input type=\"hidden\" name=\"" + html_escape(name) + "\" value=\"" + html_escape(value) + "\">\n";
}

// Where a sign-in may send the browser next: a path on this server, never another site
// ("//evil", "/\evil" are other sites to a browser).
std::string safe_next(const std::string& next) {
  if (next.empty() || next.front() != '/' || next.size() > 4096) return "/signin";
  if (next.size() > 1 && (next[1] == '/' || next[1] == '\\')) return "/signin";
  if (std::any_of(next.begin(), next.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\'; }))
    return "/signin";
  return next;
}

// "calendar:read" -> "See your calendar"; the scope itself is shown beside it.
std::string scope_words(const std::string& scope) {
  const auto colon = scope.find(':');
  if (colon == std::string::npos) return scope;
  const std::string what = scope.substr(0, colon), how = scope.substr(colon + 1);
  if (how == "read") return "See your " + what;
  if (how == "write") return "Change your " + what;
  if (how == "send") return "Send " + what + " as you";
  return scope;
}

HttpReply with_cookies(HttpReply r, std::initializer_list<std::string> cookies) {
  for (auto& c : cookies)
    if (!c.empty()) r.headers.emplace_back("Set-Cookie", c);
  return r;
}

HttpReply forbidden() {
  return render(Page{403, "Form expired",
                     "<p class=\"error\" role=\"alert\">This form has expired or did not come from this server's page.</p>\n"
                     "<p>Go back, reload the page and try again.</p>"});
}

HttpReply sign_in_page(int status, const std::string& csrf, const std::string& next, const std::string& user, const std::string& error) {
  std::string b;
  if (!error.empty()) b += "<p class=\"error\" role=\"alert\">" + html_escape(error) + "</p>\n";
  b += "<form method=\"post\" action=\"/signin\">\n" + hidden("csrf", csrf) + hidden("next", next) +
       "<label for=\"user\">User name</label>\n"
       "<input id=\"user\" name=\"user\" type=\"text\" autocomplete=\"username\" autocapitalize=\"none\" required value=\"" +
       html_escape(user) +
       "\">\n"
       "<label for=\"password\">Password</label>\n"
       "<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n"
       "<button type=\"submit\">Sign in</button>\n</form>";
  return render(Page{status, "Sign in to Concierge", b});
}

HttpReply signed_in_page(const access::WebSession& s) {
  std::string b = "<p>You are signed in as <strong>" + html_escape(s.user) + "</strong>.</p>\n";
  b += "<form method=\"post\" action=\"/signout\">\n" + hidden("csrf", s.csrf) + "<button type=\"submit\" class=\"secondary\">Sign out</button>\n</form>";
  return render(Page{200, "Signed in", b});
}

HttpReply consent_page(int status, const access::AuthorizationRequest& ar, const HttpRequest& request, const access::WebSession& s,
                       const std::string& error) {
  const std::string client = ar.client_name.empty() ? ar.client_id : ar.client_name;
  std::string b;
  if (!error.empty()) b += "<p class=\"error\" role=\"alert\">" + html_escape(error) + "</p>\n";
  b += "<p><strong>" + html_escape(client) + "</strong> wants to use Concierge as <strong>" + html_escape(s.user) +
       "</strong>.</p>\n<p>When you decide, you go back to <strong>" + html_escape(ar.redirect_host()) + "</strong>.</p>\n" +
       "<form method=\"post\" action=\"/authorize/consent\">\n" + hidden("csrf", s.csrf);
  for (auto& [k, v] : request.query) {
    if (k == "scope") b += hidden(kRequestedScope, v);
    else if (!form_own(k)) b += hidden(k, v);
  }
  b += "<fieldset>\n<legend>It asks to:</legend>\n";
  for (size_t i = 0; i < ar.scopes.size(); ++i) {
    const std::string id = "scope-" + std::to_string(i), scope = html_escape(ar.scopes[i]);
    b += "<label for=\"" + id + "\"><input type=\"checkbox\" id=\"" + id + "\" name=\"scope\" value=\"" + scope + "\" checked> " +
         html_escape(scope_words(ar.scopes[i])) + " <code>" + scope + "</code></label>\n";
  }
  b += "</fieldset>\n<p>Untick what you don't want to allow.</p>\n"
       "<button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\n"
       "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button>\n</form>";
  return render(Page{status, "Allow access?", b, csp_origin(ar.redirect_uri)});
}

// The protocol side's reply, with the pages' headers when it is a page of its own.
HttpReply passed_on(HttpReply r) {
  add_security_headers(r);
  return r;
}

class Pages {
 public:
  Pages(std::shared_ptr<AuthorizationEndpoint> endpoint, std::shared_ptr<StoreWebSessions> sessions)
      : endpoint_(std::move(endpoint)), sessions_(std::move(sessions)) {}

  HttpReply authorize(const HttpRequest& r) {
    auto checked = endpoint_->check(r);
    if (auto* reply = std::get_if<HttpReply>(&checked)) return passed_on(std::move(*reply));
    auto session = sessions_->session_of(r);
    if (!session) {
      HttpReply to = see_other(sessions_->sign_in_path("/authorize?" + access::form_encode(r.query)));
      to.status = 302;
      return to;
    }
    return consent_page(200, std::get<access::AuthorizationRequest>(checked), r, *session, "");
  }

  HttpReply consent(const HttpRequest& r) {
    if (!sessions_->csrf_ok(r)) return forbidden();
    auto session = sessions_->session_of(r);
    if (!session) return forbidden();
    const Fields f = access::parse_form(r.body);
    // The request as GET /authorize had it, checked again: nothing was kept between the two.
    HttpRequest again = r;
    again.method = "GET";
    again.path = "/authorize";
    again.body.clear();
    again.query.clear();
    for (auto& [k, v] : f) {
      if (k == kRequestedScope) again.query.emplace_back("scope", v);
      else if (!form_own(k)) again.query.emplace_back(k, v);
    }
    auto checked = endpoint_->check(again);
    if (auto* reply = std::get_if<HttpReply>(&checked)) return passed_on(std::move(*reply));
    const auto& ar = std::get<access::AuthorizationRequest>(checked);
    const std::string decision = field(f, "decision");
    if (decision == "deny") return passed_on(endpoint_->deny(ar));
    if (decision != "approve") return consent_page(400, ar, again, *session, "Choose Allow or Deny.");
    // Only scopes the request asked for, in its order, once each.
    std::set<std::string> ticked;
    for (auto& [k, v] : f)
      if (k == "scope") ticked.insert(v);
    access::Decision d{session->user, {}};
    for (auto& s : ar.scopes)
      if (ticked.count(s)) d.granted.push_back(s);
    // Allowing nothing is no grant at all: asked again rather than taken as a refusal, which the
    // person can choose with Deny.
    if (d.granted.empty()) return consent_page(400, ar, again, *session, "Tick at least one permission to allow, or choose Deny.");
    return passed_on(endpoint_->approve(ar, d));
  }

  HttpReply sign_in_form(const HttpRequest& r) {
    const std::string next = safe_next(r.has_param("next") ? r.param("next") : "/signin");
    if (auto s = sessions_->session_of(r)) return next == "/signin" ? signed_in_page(*s) : see_other(next);
    auto token = sessions_->sign_in_token(r);
    return with_cookies(sign_in_page(200, token.csrf, next, "", ""), {token.set_cookie});
  }

  HttpReply sign_in(const HttpRequest& r) {
    if (!sessions_->sign_in_csrf_ok(r)) return forbidden();
    const Fields f = access::parse_form(r.body);
    const std::string user = field(f, "user"), next = safe_next(field(f, "next"));
    auto result = sessions_->sign_in(user, field(f, "password"), r.peer);
    if (auto* refused = std::get_if<access::SignInRefused>(&result)) {
      HttpReply page = sign_in_page(refused->status, sessions_->sign_in_token(r).csrf, next, user, refused->message);
      if (refused->status != 401) page.headers.emplace_back("Retry-After", std::to_string(refused->retry_after.count()));
      return page;
    }
    return with_cookies(see_other(next), {std::get<access::SignedIn>(result).set_cookie});
  }

  HttpReply invite_form(const HttpRequest& r) {
    const std::string token = r.param("token");
    auto user = sessions_->invite_user(token);
    if (!user) return invalid_invite();
    auto csrf = sessions_->sign_in_token(r);
    std::string b = "<p>This link signs you in as <strong>" + html_escape(*user) + "</strong>. It works once.</p>\n" +
                    "<form method=\"post\" action=\"/invite\">\n" + hidden("csrf", csrf.csrf) + hidden("token", token) +
                    "<button type=\"submit\">Sign in as " + html_escape(*user) + "</button>\n</form>";
    return with_cookies(render(Page{200, "Sign in with a link", b}), {csrf.set_cookie});
  }

  HttpReply invite(const HttpRequest& r) {
    if (!sessions_->sign_in_csrf_ok(r)) return forbidden();
    auto result = sessions_->redeem_invite(field(access::parse_form(r.body), "token"), r.peer);
    if (auto* refused = std::get_if<access::SignInRefused>(&result)) {
      if (refused->status != 429) return invalid_invite();
      HttpReply page = render(Page{429, "Too many attempts", "<p class=\"error\" role=\"alert\">" + html_escape(refused->message) + "</p>"});
      page.headers.emplace_back("Retry-After", std::to_string(refused->retry_after.count()));
      return page;
    }
    return with_cookies(see_other("/signin"), {std::get<access::SignedIn>(result).set_cookie});
  }

  HttpReply sign_out(const HttpRequest& r) {
    if (!sessions_->csrf_ok(r)) return forbidden();
    return with_cookies(see_other("/signin"), {sessions_->sign_out(r)});
  }

 private:
  static HttpReply invalid_invite() {
    return render(Page{401, "Link not valid",
                       "<p class=\"error\" role=\"alert\">This sign-in link was used already, has expired, or was mistyped.</p>\n"
                       "<p>Ask for a new one (<code>concierge users invite</code>), or <a href=\"/signin\">sign in with a password</a>.</p>"});
  }

  std::shared_ptr<AuthorizationEndpoint> endpoint_;
  std::shared_ptr<StoreWebSessions> sessions_;
};

}  // namespace

std::vector<HttpRoute> page_routes(std::shared_ptr<AuthorizationEndpoint> endpoint, std::shared_ptr<access::StoreWebSessions> sessions) {
  auto pages = std::make_shared<Pages>(std::move(endpoint), std::move(sessions));
  auto route = [&](const char* method, const char* path, HttpReply (Pages::*f)(const HttpRequest&)) {
    HttpRoute r{method, path, [pages, f](const HttpRequest& req) { return ((*pages).*f)(req); }};
    r.max_body_bytes = 32 * 1024;  // a form: the consent form's request pairs are the largest
    return r;
  };
  return {route("GET", "/authorize", &Pages::authorize),      route("POST", "/authorize/consent", &Pages::consent),
          route("GET", "/signin", &Pages::sign_in_form),      route("POST", "/signin", &Pages::sign_in),
          route("GET", "/invite", &Pages::invite_form),       route("POST", "/invite", &Pages::invite),
          route("POST", "/signout", &Pages::sign_out)};
}

}  // namespace concierge::web
