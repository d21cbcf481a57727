#pragma once
// The one layout every page of the server shares: a small accessible HTML document (lang, a
// title, one h1, labelled fields), no JavaScript, one inline <style> that the
// Content-Security-Policy allows by its hash, and the security headers every page carries.
#include <string>
#include <string_view>

#include "common/text.hpp"
#include "server/http.hpp"

namespace concierge::web {

using concierge::html_escape;  // common/text.hpp

struct Page {
  int status = 200;
  std::string title;  // plain text: escaped here; also the h1
  std::string body;   // HTML under the h1, escaped by whoever built it
  // Extra origins a form on the page may post to, beyond 'self' (CSP form-action: Chromium
  // applies it to the redirect that answers the post too). "" adds none.
  std::string form_origin;
};

// The page as an HttpReply: text/html, Content-Security-Policy (default-src 'none', the style
// by hash, form-action, frame-ancestors 'none'), X-Frame-Options DENY, Cache-Control no-store,
// Referrer-Policy same-origin, X-Content-Type-Options nosniff.
HttpReply render(const Page& page);

// The same headers on any other reply of the pages (a redirect, a protocol error page).
void add_security_headers(HttpReply& reply, const std::string& form_origin = "");

// A 303 See Other to `location` (after a POST: the browser GETs it), with the headers.
HttpReply see_other(const std::string& location);

// The origin (scheme://host[:port]) of an http(s) URL when it is safe inside a CSP source list,
// else "".
std::string csp_origin(const std::string& url);

}  // namespace concierge::web
