#pragma once
// One account's calls to one service, as adapters make them: the Authorization header added, a
// 401 answered by one refresh and one retry, and every way a call can fail turned into a tool
// error that says what happened and what to do. Adapters decode their API's own error bodies
// (Spotify's NO_ACTIVE_DEVICE, Google's reasons) through `decode`; the rest is said here.
#include <functional>
#include <memory>
#include <string>

#include "providers/auth/credentials.hpp"
#include "providers/call.hpp"
#include "providers/error.hpp"
#include "providers/http/client.hpp"

namespace concierge::providers::http {

// The service is unreachable, over budget, or broken: a tool error whose field is "account".
struct Unavailable : Error {
  Unavailable(const std::string& message) : Error("", message) {}
};

// An API-specific error body -> an exception (a providers::Error naming the field at fault) or
// nothing (then the generic message is used). Called for every status >= 400 except a 401 that a
// refresh cured.
using Decoder = std::function<void(const Response& response, const Request& request)>;

class ServiceApi {
 public:
  // `name` is how messages call the service ("Spotify", "Google Calendar").
  ServiceApi(std::shared_ptr<Client> client, std::shared_ptr<auth::Credentials> credentials, std::string name,
             Decoder decode = nullptr);

  // The answer, whatever its status (>= 400 already passed through `decode`, which may throw).
  // Throws providers::Error for an account needing sign-in (field "account") and Unavailable for
  // timeouts, network failures, an open breaker or a spent budget; providers::Cancelled when the
  // call's client cancelled (the transfer is stopped and its connection closed).
  Response send(const Call& call, Request request);
  // A 2xx answer's JSON (null for an empty body); any other status throws: `decode`'s error, else
  // a generic one quoting the service's own message (never the request's headers).
  Json call(const Call& call, Request request);

  Client& client() { return *client_; }
  auth::Credentials& credentials() { return *credentials_; }
  const std::string& name() const { return name_; }

 private:
  [[noreturn]] void fail(const Response& r, const Request& req);
  std::shared_ptr<Client> client_;
  std::shared_ptr<auth::Credentials> credentials_;
  std::string name_;
  Decoder decode_;
};

// The message a JSON error body carries, in the shapes the services use:
// {"error": {"message": ...}} (Google, Spotify), {"error": "..."}, {"message": ...} (Cal.com).
std::string error_message(const Response& r);

}  // namespace concierge::providers::http
