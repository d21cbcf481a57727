#pragma once
// The sign-in and consent pages of the built-in authorization server (`--auth builtin`):
//   GET  /authorize          the OAuth authorization endpoint: checked by the protocol side; not
//                            signed in -> 302 to /signin?next=...; signed in -> the consent page
//   POST /authorize/consent  Allow (with the scopes left ticked) or Deny; the request's pairs
//                            come back as hidden fields and are checked again (no pending state)
//   GET  /signin, POST /signin   user name and password
//   GET  /invite?token=T, POST /invite   a one-time link from `concierge users invite`: the GET
//                            only asks to confirm (a link preview must not use it up)
//   POST /signout
// Every form carries a CSRF token; every page the security headers of web/layout.hpp.
#include <memory>
#include <variant>
#include <vector>

#include "access/authorize.hpp"
#include "access/web_sessions.hpp"
#include "server/http.hpp"

namespace concierge::web {

// The authorization endpoint's protocol half, as the pages use it (the built-in authorization
// server implements it; tests use a fake).
struct AuthorizationEndpoint {
  virtual ~AuthorizationEndpoint() = default;
  // The request (GET /authorize's query) checked, or the reply it gets instead: a redirect with
  // an error to a trusted redirect_uri, or an error page when the redirect can't be trusted.
  virtual std::variant<access::AuthorizationRequest, HttpReply> check(const HttpRequest& request) = 0;
  virtual HttpReply approve(const access::AuthorizationRequest& request, const access::Decision& decision) = 0;
  virtual HttpReply deny(const access::AuthorizationRequest& request) = 0;
};

// A server with the contract's check_authorization / approve / deny (the built-in
// AuthorizationServer) as the endpoint.
template <class Server>
class EndpointOf : public AuthorizationEndpoint {
 public:
  explicit EndpointOf(std::shared_ptr<Server> server) : server_(std::move(server)) {}
  std::variant<access::AuthorizationRequest, HttpReply> check(const HttpRequest& r) override { return server_->check_authorization(r); }
  HttpReply approve(const access::AuthorizationRequest& r, const access::Decision& d) override { return server_->approve(r, d); }
  HttpReply deny(const access::AuthorizationRequest& r) override { return server_->deny(r); }

 private:
  std::shared_ptr<Server> server_;
};

std::vector<HttpRoute> page_routes(std::shared_ptr<AuthorizationEndpoint> endpoint, std::shared_ptr<access::StoreWebSessions> sessions);

}  // namespace concierge::web

namespace concierge::web {

// page_routes for anything with check_authorization / approve / deny (the built-in
// AuthorizationServer).
template <class Server>
std::vector<HttpRoute> page_routes_for(std::shared_ptr<Server> server, std::shared_ptr<access::StoreWebSessions> sessions) {
  return page_routes(std::make_shared<EndpointOf<Server>>(std::move(server)), std::move(sessions));
}

}  // namespace concierge::web
