#pragma once
// `concierge auth login`: the browser half of OAuth sign-in. The URL to open is printed; the
// redirect comes back to a listener on 127.0.0.1 (a free port unless one is given), or — on a
// machine without a browser, or with a redirect base for a remote host — the user pastes the
// URL the browser landed on (or just the code). Whichever comes first wins; state is checked.
#include <chrono>
#include <iosfwd>
#include <string>

#include "providers/auth/oauth.hpp"

namespace concierge::providers::auth {

struct LoginOptions {
  std::string account = "default";
  std::string redirect_base;  // e.g. https://host.example/concierge: the redirect goes to <base>/callback
  int port = 0;               // the loopback listener's port (0: the service's own, else a free one)
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
};

// Prints the instructions on `out`, reads pasted input from `in_fd` (-1: none), stores the
// tokens and returns them. Throws std::runtime_error (state mismatch, refusal, timeout) or
// NeedsReauth (the code was refused).
Token login(OAuthClient& client, int64_t user, const LoginOptions& options, std::ostream& out, int in_fd);

}  // namespace concierge::providers::auth
