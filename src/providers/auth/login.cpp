#include "providers/auth/login.hpp"

#include <optional>
#include <ostream>
#include <poll.h>
#include <unistd.h>

namespace concierge::providers::auth {

namespace {

// One line typed or pasted on `fd`, once complete; "" at EOF (then fd is given up).
struct LineReader {
  int fd;
  std::string buf;
  std::optional<std::string> poll_line() {
    if (fd < 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, 0) > 0) {
      char c[512];
      ssize_t n = ::read(fd, c, sizeof c);
      if (n <= 0) {
        fd = -1;
        break;
      }
      buf.append(c, size_t(n));
      if (buf.find('\n') != std::string::npos) break;
    }
    auto nl = buf.find('\n');
    if (nl == std::string::npos) return std::nullopt;
    std::string line = buf.substr(0, nl);
    buf.erase(0, nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    while (!line.empty() && line.front() == ' ') line.erase(line.begin());
    return line;
  }
};

std::string trim_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

Token login(OAuthClient& client, int64_t user, const LoginOptions& o, std::ostream& out, int in_fd) {
  const auto& config = client.config();
  if (config.client_id.empty()) {
    std::string env = config.service;
    for (auto& c : env) c = char(std::toupper(static_cast<unsigned char>(c)));
    throw std::runtime_error("no OAuth client id for " + config.service + ": set CONCIERGE_" + env + "_CLIENT_ID (and _CLIENT_SECRET if the app has one)");
  }
  Pkce pkce = Pkce::make();
  std::string state = random_state();
  std::optional<LoopbackReceiver> receiver;
  std::string redirect_uri;
  if (o.redirect_base.empty()) {
    receiver.emplace(state, o.port ? o.port : config.loopback_port);
    redirect_uri = receiver->redirect_uri();
  } else {
    redirect_uri = trim_slash(o.redirect_base) + "/callback";
  }
  if (!config.register_redirect_at.empty())
    out << config.service << " accepts only the redirect URI registered for the OAuth client, exactly: register\n\n  " << redirect_uri
        << "\n\nas its redirect URI (" << config.register_redirect_at << ").\n\n";
  out << "Sign in to " << config.service << " (account '" << o.account << "') by opening this URL in a browser:\n\n  "
      << authorization_url(config, redirect_uri, state, pkce) << "\n\n";
  if (receiver)
    out << "Waiting for the browser to come back to " << redirect_uri
        << ".\nOn a machine without a browser, open the URL elsewhere and paste the address you land on here.\n";
  else
    out << "After approving, paste the address the browser lands on (" << redirect_uri << "?code=...) here.\n";
  out.flush();

  LineReader stdin_lines{in_fd, {}};
  std::optional<std::string> code;
  auto deadline = std::chrono::steady_clock::now() + o.timeout;
  while (!code) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("sign-in timed out: no redirect arrived and nothing was pasted");
    if (receiver) code = receiver->poll_code(std::chrono::milliseconds(100));
    else if (stdin_lines.fd < 0) throw std::runtime_error("nothing was pasted (standard input closed)");
    else ::poll(nullptr, 0, 100);
    if (code) break;
    if (auto line = stdin_lines.poll_line(); line && !line->empty()) {
      // A whole URL is checked against state; a bare code is taken as typed.
      code = line->find("code=") != std::string::npos ? code_from_url(*line, state) : *line;
    }
  }
  Token t = client.exchange(user, o.account, *code, redirect_uri, pkce);
  out << "Signed in: " << config.service << " account '" << o.account << "'";
  if (!t.scopes.empty()) {
    out << " with";
    for (auto& s : t.scopes) out << " " << s;
  }
  out << ".\n";
  return t;
}

}  // namespace concierge::providers::auth
