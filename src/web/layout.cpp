#include "web/layout.hpp"

#include <algorithm>

#include "common/base64.hpp"
#include "providers/auth/oauth.hpp"

namespace concierge::web {

namespace {

// Inline, so a page is one request; allowed by its hash (no 'unsafe-inline').
constexpr std::string_view kStyle =
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f5f7;color:#1d1d1f}"
    "main{max-width:28rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px #0002}"
    "h1{font-size:1.4rem;margin-top:0}label{display:block;margin:.75rem 0 .25rem;font-weight:600}"
    "input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #888;border-radius:6px}"
    "fieldset{border:1px solid #ccc;border-radius:6px;margin:1rem 0}fieldset label{font-weight:400;display:flex;gap:.5rem}"
    "button{font:inherit;padding:.5rem 1.25rem;margin:1rem .5rem 0 0;border-radius:6px;border:1px solid #0a58ca;background:#0b5ed7;color:#fff}"
    "button.secondary{background:#fff;color:#0b5ed7}.error{color:#b00020;font-weight:600}"
    "code{background:#eee;padding:0 .25rem;border-radius:4px}:focus-visible{outline:3px solid #f90;outline-offset:2px}"
    "li{margin:.75rem 0}li form{display:inline}li button{margin:0 0 0 .5rem;padding:.25rem .9rem}"
    "a.button{display:inline-block;margin-left:.5rem;padding:.25rem .9rem;border-radius:6px;background:#0b5ed7;color:#fff;text-decoration:none}";

std::string base64_std(std::string_view bytes) {
  std::string s = base64url_encode(bytes);
  std::replace(s.begin(), s.end(), '-', '+');
  std::replace(s.begin(), s.end(), '_', '/');
  while (s.size() % 4) s += '=';
  return s;
}

const std::string& style_hash() {
  static const std::string h = "'sha256-" + base64_std(providers::auth::sha256(std::string(kStyle))) + "'";
  return h;
}

}  // namespace


std::string csp_origin(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return {};
  const std::string s = url.substr(0, scheme);
  if (s != "http" && s != "https") return {};
  std::string origin = url.substr(0, url.find_first_of("/?#", scheme + 3));
  if (origin.size() == scheme + 3) return {};
  // Nothing that would end the source or the directive (space, ; ,) or quote it.
  bool plain = std::all_of(origin.begin() + static_cast<long>(scheme) + 3, origin.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
  return plain ? origin : std::string();
}

void add_security_headers(HttpReply& reply, const std::string& form_origin) {
  std::string form_action = "'self'" + (form_origin.empty() ? std::string() : " " + form_origin);
  reply.headers.emplace_back("Content-Security-Policy", "default-src 'none'; style-src " + style_hash() + "; form-action " + form_action +
                                                            "; frame-ancestors 'none'; base-uri 'none'");
  reply.headers.emplace_back("X-Frame-Options", "DENY");
  reply.headers.emplace_back("Cache-Control", "no-store");
  // Not no-referrer: under it browsers send `Origin: null` with a form's POST, which the
  // transport's Origin check (rightly) refuses. same-origin sends nothing to other sites.
  reply.headers.emplace_back("Referrer-Policy", "same-origin");
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
}

HttpReply render(const Page& page) {
  HttpReply r;
  r.status = page.status;
  r.content_type = "text/html; charset=utf-8";
  const std::string title = html_escape(page.title);
  r.body = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
           title + " - Concierge</title>\n<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n<main>\n<h1>" + title + "</h1>\n" +
           page.body + "\n</main>\n</body>\n</html>\n";
  add_security_headers(r, page.form_origin);
  return r;
}

HttpReply see_other(const std::string& location) {
  HttpReply r;
  r.status = 303;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("Location", location);
  add_security_headers(r);
  return r;
}

}  // namespace concierge::web
