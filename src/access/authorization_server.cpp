#include "access/authorization_server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>

#include "common/base64.hpp"
#include "common/json_parse.hpp"
#include "common/log_text.hpp"
#include "server/access.hpp"

namespace concierge::access {

namespace {

constexpr size_t kMaxRegistrationDepth = 8;  // metadata nests a level or two

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

HttpReply json_reply(int status, const Json& body) {
  // RFC 7591 §3.2: registration answers, like token answers, are never cached.
  return HttpReply{status, "application/json", dump(body), {{"Cache-Control", "no-store"}, {"Pragma", "no-cache"}}};
}

HttpReply oauth_error(int status, const std::string& error, const std::string& description) {
  return json_reply(status, Json{{"error", error}, {"error_description", description}});
}

// scheme, authority and the rest of an absolute URL; nullopt when it has no "scheme://".
struct UrlParts {
  std::string scheme, authority, host, rest;
};
std::optional<UrlParts> split_url(const std::string& url) {
  auto sep = url.find("://");
  if (sep == std::string::npos || sep == 0) return std::nullopt;
  UrlParts u;
  u.scheme = lower(url.substr(0, sep));
  if (u.scheme.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789+-.") != std::string::npos) return std::nullopt;
  auto end = url.find_first_of("/?#", sep + 3);
  u.authority = url.substr(sep + 3, end == std::string::npos ? std::string::npos : end - sep - 3);
  u.rest = end == std::string::npos ? "" : url.substr(end);
  std::string hostport = u.authority.substr(u.authority.find('@') == std::string::npos ? 0 : u.authority.find('@') + 1);
  std::string port;
  if (!hostport.empty() && hostport.front() == '[') {
    auto close = hostport.find(']');
    if (close == std::string::npos) return std::nullopt;
    u.host = hostport.substr(0, close + 1);
    port = hostport.substr(close + 1);
  } else {
    auto colon = hostport.find(':');
    u.host = hostport.substr(0, colon);
    port = colon == std::string::npos ? "" : hostport.substr(colon);
  }
  if (!port.empty() && (port.front() != ':' || port.size() > 6 || port.find_first_not_of("0123456789", 1) != std::string::npos))
    return std::nullopt;
  u.host = lower(u.host);
  return u;
}

// The issuer for a public URL: its origin (lowercase, the default port dropped).
std::string issuer_of(const std::string& public_url) {
  auto u = split_url(public_url);
  if (!u || (u->scheme != "https" && u->scheme != "http") || u->host.empty() || u->authority.find('@') != std::string::npos)
    throw std::invalid_argument("--public-url: '" + public_url + "' is not an absolute http(s) URL; the issuer is its origin");
  std::string authority = lower(u->authority);
  std::string default_port = u->scheme == "https" ? ":443" : ":80";
  if (authority.size() > default_port.size() && authority.ends_with(default_port)) authority.resize(authority.size() - default_port.size());
  return u->scheme + "://" + authority;
}

std::vector<std::string> split_spaces(const std::string& s) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < s.size();) {
    auto end = std::min(s.find(' ', pos), s.size());
    if (end > pos) out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

}  // namespace

std::optional<std::string> redirect_uri_problem(const std::string& uri) {
  for (unsigned char c : uri)
    if (c <= 0x20 || c >= 0x7F) return "has a space or a character outside printable ASCII";
  if (uri.find('#') != std::string::npos) return "has a fragment (RFC 6749 §3.1.2)";
  auto u = split_url(uri);
  if (!u) return "is not an absolute URL";
  if (u->authority.find('@') != std::string::npos) return "carries user info";
  if (u->host.empty() || u->host == "[]") return "has no host";
  if (u->scheme == "https") return std::nullopt;
  if (u->scheme == "http") {
    if (u->host == "localhost" || u->host == "127.0.0.1" || u->host == "[::1]") return std::nullopt;
    return "is http on a host that is not loopback: use https, or http on 127.0.0.1, [::1] or localhost";
  }
  return "has scheme '" + u->scheme + "': only https, or http on a loopback host";
}

std::variant<RegisteredClient, RegistrationError> check_registration(const Json& m, const RegistrationLimits& limits) {
  auto bad = [](const std::string& description) { return RegistrationError{"invalid_client_metadata", description}; };
  if (!m.is_object()) return bad("the request body must be a JSON object of client metadata");
  // An optional string member, bounded; nullopt after writing `error` when it is not one.
  std::optional<RegistrationError> error;
  auto text = [&](const char* name, size_t max) -> std::string {
    auto it = m.find(name);
    if (it == m.end() || it->is_null()) return {};
    if (!it->is_string()) error = bad(std::string(name) + ": must be a string");
    else if (it->get<std::string>().size() > max) error = bad(std::string(name) + ": longer than " + std::to_string(max) + " characters");
    else return it->get<std::string>();
    return {};
  };
  // An optional array of strings, each one of `allowed`; `fallback` when absent.
  auto list = [&](const char* name, const std::set<std::string>& allowed, std::vector<std::string> fallback) {
    auto it = m.find(name);
    if (it == m.end() || it->is_null()) return fallback;
    std::vector<std::string> out;
    if (!it->is_array() || it->size() > allowed.size()) {
      error = bad(std::string(name) + ": must be an array of at most " + std::to_string(allowed.size()) + " strings");
      return out;
    }
    for (const auto& v : *it) {
      if (!v.is_string() || !allowed.count(v.get<std::string>())) {
        std::string known;
        for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
        error = bad(std::string(name) + ": " + log_safe(v.is_string() ? v.get<std::string>() : v.dump(), 100) + " is not supported (" + known + ")");
        return out;
      }
      if (std::find(out.begin(), out.end(), v.get<std::string>()) == out.end()) out.push_back(v.get<std::string>());
    }
    return out;
  };

  RegisteredClient c;
  std::string method = text("token_endpoint_auth_method", 100);
  if (error) return *error;
  if (!method.empty() && method != "none")
    return bad("token_endpoint_auth_method: '" + log_safe(method, 100) + "' is not supported: only public clients (\"none\") may register");

  auto uris = m.find("redirect_uris");
  if (uris == m.end() || !uris->is_array() || uris->empty())
    return RegistrationError{"invalid_redirect_uri", "redirect_uris: required, a non-empty array of URLs"};
  if (uris->size() > limits.max_redirect_uris)
    return RegistrationError{"invalid_redirect_uri", "redirect_uris: at most " + std::to_string(limits.max_redirect_uris) + " are accepted"};
  for (size_t i = 0; i < uris->size(); ++i) {
    const std::string at = "redirect_uris[" + std::to_string(i) + "]: ";
    const auto& u = (*uris)[i];
    if (!u.is_string()) return RegistrationError{"invalid_redirect_uri", at + "must be a string"};
    const std::string uri = u.get<std::string>();
    if (uri.size() > limits.max_uri_length)
      return RegistrationError{"invalid_redirect_uri", at + "longer than " + std::to_string(limits.max_uri_length) + " characters"};
    if (auto why = redirect_uri_problem(uri)) return RegistrationError{"invalid_redirect_uri", at + log_safe(uri, 200) + " " + *why};
    if (std::find(c.redirect_uris.begin(), c.redirect_uris.end(), uri) == c.redirect_uris.end()) c.redirect_uris.push_back(uri);
  }

  c.grant_types = list("grant_types", {"authorization_code", "refresh_token"}, {"authorization_code"});
  if (error) return *error;
  c.response_types = list("response_types", {"code"}, {"code"});
  if (error) return *error;
  // The code flow is the only one: a client must be able to use it.
  if (std::find(c.grant_types.begin(), c.grant_types.end(), "authorization_code") == c.grant_types.end())
    return bad("grant_types: must include authorization_code (the only flow there is)");
  if (c.response_types.empty()) return bad("response_types: must include code");

  c.scope = text("scope", 1000);
  if (error) return *error;
  const auto& known = all_scopes();
  for (const auto& s : split_spaces(c.scope))
    if (std::find(known.begin(), known.end(), s) == known.end())
      return bad("scope: '" + log_safe(s, 100) + "' is not a scope of this server (see scopes_supported in the metadata)");

  c.client_name = text("client_name", limits.max_name_length);
  if (error) return *error;
  for (auto [name, field] : {std::pair{"client_uri", &c.client_uri}, std::pair{"logo_uri", &c.logo_uri}}) {
    *field = text(name, limits.max_uri_length);
    if (error) return *error;
    auto u = split_url(*field);
    if (!field->empty() && (!u || u->scheme != "https" || u->host.empty() || field->find_first_of(" \t\r\n") != std::string::npos))
      return bad(std::string(name) + ": must be an https URL");
  }
  return c;
}

Json RegisteredClient::metadata() const {
  Json j{{"redirect_uris", redirect_uris},
         {"token_endpoint_auth_method", "none"},
         {"grant_types", grant_types},
         {"response_types", response_types}};
  if (!client_name.empty()) j["client_name"] = client_name;
  if (!scope.empty()) j["scope"] = scope;
  if (!client_uri.empty()) j["client_uri"] = client_uri;
  if (!logo_uri.empty()) j["logo_uri"] = logo_uri;
  return j;
}

// ---- ClientStore ------------------------------------------------------------------------------

namespace {
RegisteredClient client_from_row(SQLite::Statement& q) {
  Json m = Json::parse(q.getColumn(1).getString());
  RegisteredClient c;
  c.client_id = q.getColumn(0).getString();
  c.redirect_uris = m.value("redirect_uris", std::vector<std::string>{});
  c.grant_types = m.value("grant_types", std::vector<std::string>{});
  c.response_types = m.value("response_types", std::vector<std::string>{});
  c.client_name = m.value("client_name", "");
  c.scope = m.value("scope", "");
  c.client_uri = m.value("client_uri", "");
  c.logo_uri = m.value("logo_uri", "");
  c.issued_at = q.getColumn(2).getInt64() / 1000;
  if (!q.getColumn(3).isNull()) c.last_used_ms = q.getColumn(3).getInt64();
  return c;
}
constexpr const char* kClientColumns = "SELECT client_id, metadata, registered_ms, last_used_ms FROM oauth_clients";
}  // namespace

void ClientStore::add(const RegisteredClient& c, const std::string& registered_from) {
  store_.write([&](SQLite::Database& db) {
    SQLite::Statement ins(db, "INSERT INTO oauth_clients (client_id, client_name, redirect_uris, metadata, registered_ms, registered_from) "
                              "VALUES (?,?,?,?,?,?)");
    ins.bind(1, c.client_id);
    if (c.client_name.empty()) ins.bind(2);
    else ins.bind(2, c.client_name);
    ins.bind(3, dump(Json(c.redirect_uris)));
    ins.bind(4, dump(c.metadata()));
    ins.bind(5, c.issued_at * 1000);
    ins.bind(6, registered_from);
    ins.exec();
  });
}

std::optional<RegisteredClient> ClientStore::find(const std::string& client_id) {
  return store_.read([&](SQLite::Database& db) -> std::optional<RegisteredClient> {
    SQLite::Statement q(db, std::string(kClientColumns) + " WHERE client_id = ?");
    q.bind(1, client_id);
    if (!q.executeStep()) return std::nullopt;
    return client_from_row(q);
  });
}

std::vector<RegisteredClient> ClientStore::list() {
  return store_.read([&](SQLite::Database& db) {
    std::vector<RegisteredClient> out;
    SQLite::Statement q(db, std::string(kClientColumns) + " ORDER BY registered_ms, client_id");
    while (q.executeStep()) out.push_back(client_from_row(q));
    return out;
  });
}

bool ClientStore::remove(const std::string& client_id) {
  return store_.write([&](SQLite::Database& db) {
    SQLite::Statement del(db, "DELETE FROM oauth_clients WHERE client_id = ?");
    del.bind(1, client_id);
    return del.exec() > 0;
  });
}

size_t ClientStore::count() {
  return store_.read([](SQLite::Database& db) { return size_t(db.execAndGet("SELECT COUNT(*) FROM oauth_clients").getInt64()); });
}

// ---- AuthorizationServer ----------------------------------------------------------------------

AuthorizationServer::AuthorizationServer(store::Store& store, SigningKey key, AuthorizationServerOptions options)
    : key_(std::move(key)),
      options_(std::move(options)),
      issuer_(issuer_of(options_.public_url)),
      clients_(store),
      registrations_(options_.registrations_per_window, options_.registration_window) {}

Json AuthorizationServer::metadata() const {
  return Json{{"issuer", issuer_},
              {"authorization_endpoint", issuer_ + "/authorize"},
              {"token_endpoint", issuer_ + "/token"},
              {"registration_endpoint", issuer_ + "/register"},
              {"revocation_endpoint", issuer_ + "/revoke"},
              {"jwks_uri", issuer_ + "/jwks"},
              {"scopes_supported", all_scopes()},
              {"response_types_supported", Json::array({"code"})},
              {"response_modes_supported", Json::array({"query"})},
              {"grant_types_supported", Json::array({"authorization_code", "refresh_token"})},
              {"code_challenge_methods_supported", Json::array({"S256"})},
              {"token_endpoint_auth_methods_supported", Json::array({"none"})},
              {"revocation_endpoint_auth_methods_supported", Json::array({"none"})},
              {"client_id_metadata_document_supported", true},
              {"authorization_response_iss_parameter_supported", true}};
}

HttpReply AuthorizationServer::register_client(const HttpRequest& req, RateLimiter::Clock::time_point now) {
  // Every attempt counts, refused ones too: the limit bounds the work and the probing.
  auto verdict = registrations_.hit(client_key(req.peer), now);
  if (!verdict.allowed) {
    spdlog::warn("client registration from {} refused: more than {} in {} s", log_safe(req.peer, 64), registrations_.limit(),
                 registrations_.window().count());
    HttpReply r = oauth_error(429, "temporarily_unavailable",
                              "too many registrations from this address; retry in " + std::to_string(verdict.retry_after.count()) + " s");
    r.headers.emplace_back("Retry-After", std::to_string(verdict.retry_after.count()));
    return r;
  }
  std::string ctype = lower(req.header("Content-Type"));
  if (ctype.substr(0, ctype.find(';')) != "application/json")
    return oauth_error(400, "invalid_client_metadata", "Content-Type: must be application/json (RFC 7591 §3.1)");
  if (req.body.size() > options_.limits.max_body_bytes)
    return oauth_error(400, "invalid_client_metadata", "the request body is over " + std::to_string(options_.limits.max_body_bytes) + " bytes");
  Json body;
  try {
    body = parse_json(req.body, kMaxRegistrationDepth);
  } catch (const std::exception&) {
    return oauth_error(400, "invalid_client_metadata", "the request body is not JSON");
  }
  auto checked = check_registration(body, options_.limits);
  if (auto* e = std::get_if<RegistrationError>(&checked)) {
    spdlog::info("client registration from {} refused: {}", log_safe(req.peer, 64), log_safe(e->description, 300));
    return oauth_error(400, e->error, e->description);
  }
  if (clients_.count() >= options_.max_clients) {
    spdlog::error("client registration refused: {} clients are registered already", options_.max_clients);
    return oauth_error(503, "temporarily_unavailable", "the server holds as many registered clients as it keeps; try later");
  }
  RegisteredClient c = std::get<RegisteredClient>(std::move(checked));
  c.client_id = base64url_encode(random_bytes(18));  // 144 bits: not guessable, and never a URL (CIMD ids are)
  c.issued_at = unix_seconds();
  clients_.add(c, req.peer);
  spdlog::info("registered OAuth client {} ({}) from {}", c.client_id, log_safe(c.client_name, 100), log_safe(req.peer, 64));
  Json answer = c.metadata();
  answer["client_id"] = c.client_id;
  answer["client_id_issued_at"] = c.issued_at;
  return json_reply(201, answer);
}

std::vector<HttpRoute> authorization_routes(std::shared_ptr<AuthorizationServer> server) {
  auto cached_json = [](const Json& body) {
    return HttpReply{200, "application/json", dump(body), {{"Cache-Control", "max-age=300"}}};
  };
  std::vector<HttpRoute> routes;
  routes.push_back(HttpRoute{"GET", "/.well-known/oauth-authorization-server",
                             [server, cached_json](const HttpRequest&) { return cached_json(server->metadata()); }, true});
  routes.push_back(HttpRoute{"GET", "/jwks", [server, cached_json](const HttpRequest&) { return cached_json(server->signing_key().jwks()); }, true});
  HttpRoute reg{"POST", "/register", [server](const HttpRequest& r) { return server->register_client(r); }, true};
  reg.max_body_bytes = server->options().limits.max_body_bytes;
  routes.push_back(std::move(reg));
  return routes;
}

}  // namespace concierge::access
