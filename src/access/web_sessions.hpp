#pragma once
// Who is signed in to the server's own pages (sign-in, consent, /connect): a browser session
// cookie issued after a password or a one-time invite link, and the CSRF token every form of
// that session carries. Sessions and invites are stored hashed (SHA-256); passwords with
// argon2id (libsodium).
#include <chrono>
#include <optional>
#include <string>

#include "server/http.hpp"

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

}  // namespace concierge::access
