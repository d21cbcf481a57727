#include "providers/http/service.hpp"
#include "common/json_parse.hpp"

namespace concierge::providers::http {

std::string error_message(const Response& r) {
  Json j = parse_json(r.body);
  if (j.is_discarded()) return "";
  auto text = [](const Json& v) -> std::string { return v.is_string() ? v.get<std::string>() : ""; };
  if (j.is_object()) {
    if (j.contains("error")) {
      const Json& e = j["error"];
      if (e.is_string()) {
        std::string d = j.contains("error_description") ? text(j["error_description"]) : "";
        return d.empty() ? e.get<std::string>() : e.get<std::string>() + ": " + d;
      }
      if (e.is_object()) {
        if (auto m = text(e.value("message", Json())); !m.empty()) return m;
        if (auto m = text(e.value("code", Json())); !m.empty()) return m;
      }
    }
    if (auto m = text(j.value("message", Json())); !m.empty()) return m;
  }
  return "";
}

ServiceApi::ServiceApi(std::shared_ptr<Client> client, std::shared_ptr<auth::Credentials> credentials, std::string name, Decoder decode)
    : client_(std::move(client)), credentials_(std::move(credentials)), name_(std::move(name)), decode_(std::move(decode)) {}

Response ServiceApi::send(const Call& call, Request request) {
  try {
    call.throw_if_cancelled();
    std::string auth = credentials_->authorization(call.user);
    request.headers.emplace_back("Authorization", auth);
    Response r = client_->send(request, &call.cancel);
    if (r.status == 401) {
      // An access token can die before its expiry (revoked, rotated elsewhere): one refresh,
      // one retry; a second 401 means the grant itself is gone.
      request.headers.back().second = credentials_->refresh(call.user, auth);
      r = client_->send(request, &call.cancel);
      if (r.status == 401)
        throw auth::NeedsReauth(client_->policy().service, credentials_->account(), name_ + " refused a freshly refreshed token");
    }
    if (r.status >= 400 && decode_) decode_(r, request);
    return r;
  } catch (const auth::NeedsReauth& e) {
    throw NeedsConnection(e.service, e.what());
  } catch (const UpstreamError& e) {
    if (e.kind == UpstreamError::Kind::Cancelled) throw Cancelled();
    throw Unavailable(e.what());
  }
}

Json ServiceApi::call(const Call& call, Request request) {
  Response r = send(call, request);
  if (r.status >= 300) fail(r, request);
  if (r.body.empty()) return nullptr;
  try {
    return r.json(client_->policy().service);
  } catch (const UpstreamError& e) {
    throw Unavailable(e.what());
  }
}

void ServiceApi::fail(const Response& r, const Request& req) {
  std::string said = error_message(r);
  if (said.size() > 300) said = said.substr(0, 300) + "...";
  std::string what = name_ + " refused " + req.method + " " + req.path + " (HTTP " + std::to_string(r.status) + (said.empty() ? "" : ": " + said) + ")";
  if (r.status == 404) throw NotFound("", what);
  if (r.status == 403) throw Error("account", what + "; the account may lack a permission: sign in again with the needed scopes");
  if (r.status == 409 || r.status == 412) throw Conflict("", what);
  if (r.status == 429) throw Unavailable(what + "; over the service's rate limit, try again later");
  if (r.status >= 500) throw Unavailable(what + "; the service is failing, try again later");
  throw Error("", what);
}

}  // namespace concierge::providers::http
