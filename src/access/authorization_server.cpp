#include "access/authorization_server.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>

#include "access/cimd.hpp"
#include "access/scopes.hpp"
#include "common/text.hpp"
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
  for (const auto& s : scope_list(c.scope))
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
RegisteredClient client_from_row(sql::Statement& q) {
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
  store_.write([&](sql::Database& db) {
    sql::Statement ins(db, "INSERT INTO oauth_clients (client_id, client_name, redirect_uris, metadata, registered_ms, registered_from) "
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
  return store_.read([&](sql::Database& db) -> std::optional<RegisteredClient> {
    sql::Statement q(db, std::string(kClientColumns) + " WHERE client_id = ?");
    q.bind(1, client_id);
    if (!q.executeStep()) return std::nullopt;
    return client_from_row(q);
  });
}

std::vector<RegisteredClient> ClientStore::list() {
  return store_.read([&](sql::Database& db) {
    std::vector<RegisteredClient> out;
    sql::Statement q(db, std::string(kClientColumns) + " ORDER BY registered_ms, client_id");
    while (q.executeStep()) out.push_back(client_from_row(q));
    return out;
  });
}

bool ClientStore::remove(const std::string& client_id) {
  return store_.write([&](sql::Database& db) {
    sql::Statement del(db, "DELETE FROM oauth_clients WHERE client_id = ?");
    del.bind(1, client_id);
    return del.exec() > 0;
  });
}

void ClientStore::touch(const std::string& client_id) {
  store_.write([&](sql::Database& db) {
    sql::Statement u(db, "UPDATE oauth_clients SET last_used_ms = ? WHERE client_id = ?");
    u.bind(1, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    u.bind(2, client_id);
    u.exec();
  });
}

size_t ClientStore::count() {
  return store_.read([](sql::Database& db) { return size_t(db.execAndGet("SELECT COUNT(*) FROM oauth_clients").getInt64()); });
}

// ---- AuthorizationServer ----------------------------------------------------------------------

AuthorizationServer::AuthorizationServer(store::Store& store, SigningKey key, AuthorizationServerOptions options)
    : key_(std::move(key)),
      options_(std::move(options)),
      issuer_(issuer_of(options_.public_url)),
      clients_(store),
      grants_(store),
      registrations_(options_.registrations_per_window, options_.registration_window),
      token_requests_(options_.token_requests_per_window, options_.token_window) {
  if (options_.access_token_ttl.count() < 1 || options_.access_token_ttl > std::chrono::hours(1))
    throw std::invalid_argument("--auth-token-ttl: must be between 1 and 3600 seconds");
  ClientDocumentOptions d;
  d.allow_http_loopback = options_.allow_http_client_metadata;
  documents_ = std::make_unique<ClientDocuments>(d);
}

AuthorizationServer::~AuthorizationServer() = default;

void AuthorizationServer::set_public_url(const std::string& public_url) {
  issuer_ = issuer_of(public_url);
  options_.public_url = public_url;
}

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

// ---- The authorization endpoint, the token endpoint, revocation --------------------------------

namespace {

std::string url_escape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out += char(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// application/x-www-form-urlencoded pairs; nullopt when a %-escape is malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> form_decode(const std::string& body) {
  auto unescape = [](std::string_view s) -> std::optional<std::string> {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') out += ' ';
      else if (s[i] != '%') out += s[i];
      else {
        if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) || !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
          return std::nullopt;
        out += char(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      }
    }
    return out;
  };
  std::vector<std::pair<std::string, std::string>> out;
  std::string_view rest = body;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto k = unescape(pair.substr(0, eq));
    auto v = unescape(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!k || !v) return std::nullopt;
    out.emplace_back(std::move(*k), std::move(*v));
  }
  return out;
}

// Request parameters: the query, plus a posted form's pairs.
struct Params {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string get(const std::string& name) const {
    for (const auto& [k, v] : pairs)
      if (k == name) return v;
    return {};
  }
  bool has(const std::string& name) const {
    return std::any_of(pairs.begin(), pairs.end(), [&](const auto& p) { return p.first == name; });
  }
  // RFC 6749 §3.1, §3.2: parameters sent more than once are an error.
  std::optional<std::string> repeated(std::initializer_list<const char*> names) const {
    for (const char* n : names)
      if (std::count_if(pairs.begin(), pairs.end(), [&](const auto& p) { return p.first == n; }) > 1) return std::string(n);
    return std::nullopt;
  }
};

bool is_form(const HttpRequest& r) {
  std::string ctype = lower(r.header("Content-Type"));
  ctype = ctype.substr(0, ctype.find(';'));
  while (!ctype.empty() && ctype.back() == ' ') ctype.pop_back();
  return ctype == "application/x-www-form-urlencoded";
}


// An error that can't go back to the client (RFC 6749 §4.1.2.1: unknown client, redirect_uri
// not the client's): shown to the person, never redirected.
HttpReply error_page(const std::string& problem) {
  std::string body =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorization request refused</title></head>\n"
      "<body><main><h1>This sign-in request can't continue</h1>\n<p>" +
      html_escape(problem) +
      "</p>\n<p>Go back to the application you came from and try connecting again; if this persists, tell its developer.</p>"
      "</main></body></html>\n";
  return HttpReply{400, "text/html; charset=utf-8", body,
                   {{"Cache-Control", "no-store"},
                    {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
                    {"X-Frame-Options", "DENY"},
                    {"Referrer-Policy", "no-referrer"}}};
}

// The client's redirect_uri with `params` added to its query (it may have one already).
HttpReply redirect_to(const std::string& redirect_uri, const std::vector<std::pair<std::string, std::string>>& params) {
  std::string location = redirect_uri;
  char sep = redirect_uri.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : params) {
    location += sep + url_escape(k) + "=" + url_escape(v);
    sep = '&';
  }
  return HttpReply{302, "text/plain", "", {{"Location", location}, {"Cache-Control", "no-store"}, {"Referrer-Policy", "no-referrer"}}};
}

std::string s256(const std::string& verifier) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), md);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(md), sizeof md));
}

// RFC 7636 §4.1: 43-128 unreserved characters (a challenge, being base64url, is in that set too).
bool pkce_text(const std::string& s) {
  if (s.size() < 43 || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~'; });
}

bool equal_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string without_trailing_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

// The authority without user info: host and port, as the person would recognise it.
std::string AuthorizationRequest::redirect_host() const {
  size_t scheme = redirect_uri.find("://");
  if (scheme == std::string::npos) return redirect_uri;
  std::string authority = redirect_uri.substr(scheme + 3, redirect_uri.find_first_of("/?#", scheme + 3) - (scheme + 3));
  if (auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  return authority;
}

std::variant<RegisteredClient, std::string> AuthorizationServer::find_client(const std::string& client_id) {
  if (client_id.empty()) return std::string("client_id: missing");
  if (is_client_document_url(client_id)) return documents_->client(client_id);
  if (auto c = clients_.find(client_id)) return *c;
  return "client_id: '" + log_safe(client_id, 100) + "' is not a client registered here";
}

std::variant<AuthorizationRequest, HttpReply> AuthorizationServer::check_authorization(const HttpRequest& req) {
  Params p{req.query};
  if (req.method == "POST" && is_form(req)) {
    auto form = form_decode(req.body);
    if (!form) return error_page("The request's form is malformed.");
    p.pairs.insert(p.pairs.end(), form->begin(), form->end());
  }
  // First the client and its redirect_uri: until both are trusted, nothing goes back by redirect.
  if (auto name = p.repeated({"client_id", "redirect_uri"})) return error_page(*name + ": sent more than once.");
  const std::string client_id = p.get("client_id");
  auto found = find_client(client_id);
  if (auto* why = std::get_if<std::string>(&found)) {
    spdlog::info("authorization request refused: {}", *why);
    return error_page("The application is not known to this server (" + *why + ").");
  }
  auto& client = std::get<RegisteredClient>(found);
  const std::string redirect_uri = p.get("redirect_uri");
  if (redirect_uri.empty()) return error_page("redirect_uri: missing (required: the address to send you back to).");
  if (std::find(client.redirect_uris.begin(), client.redirect_uris.end(), redirect_uri) == client.redirect_uris.end()) {
    spdlog::warn("authorization request for client {} refused: redirect_uri {} is not one of its own", log_safe(client_id, 200),
                 log_safe(redirect_uri, 200));
    return error_page("redirect_uri: not an address this application registered; you are not sent there.");
  }

  AuthorizationRequest ar;
  ar.client_id = client_id;
  ar.client_name = client.client_name.empty() ? client_id : client.client_name;
  ar.redirect_uri = redirect_uri;
  ar.state = p.get("state");
  auto fail = [&](const std::string& error, const std::string& description) -> HttpReply {
    std::vector<std::pair<std::string, std::string>> q{{"error", error}, {"error_description", description}};
    if (p.has("state")) q.emplace_back("state", ar.state);
    q.emplace_back("iss", issuer_);
    return redirect_to(redirect_uri, q);
  };
  if (auto name = p.repeated({"response_type", "state", "scope", "code_challenge", "code_challenge_method", "resource"}))
    return fail("invalid_request", *name + ": sent more than once");
  if (p.get("response_type") != "code") return fail("unsupported_response_type", "response_type: only code (the authorization code flow)");
  // PKCE is required, and only S256: `plain` would hand the verifier to whoever sees the request.
  if (p.get("code_challenge_method") != "S256")
    return fail("invalid_request", "code_challenge_method: S256 is required (PKCE; plain is not accepted)");
  ar.code_challenge = p.get("code_challenge");
  if (!pkce_text(ar.code_challenge) || ar.code_challenge.size() != 43)
    return fail("invalid_request", "code_challenge: must be the base64url SHA-256 of the code verifier (43 characters)");
  if (p.has("resource")) {
    ar.resource = p.get("resource");
    if (without_trailing_slash(ar.resource) != without_trailing_slash(options_.public_url))
      return fail("invalid_target", "resource: this server issues tokens for " + options_.public_url + " only");
  }
  const auto& known = all_scopes();
  for (const auto& s : scope_list(p.get("scope"))) {
    if (std::find(known.begin(), known.end(), s) == known.end())
      return fail("invalid_scope", "scope: '" + log_safe(s, 100) + "' is not a scope of this server");
    if (std::find(ar.scopes.begin(), ar.scopes.end(), s) == ar.scopes.end()) ar.scopes.push_back(s);
  }
  // None named: what the client registered, else everything (the person can untick).
  if (ar.scopes.empty()) ar.scopes = client.scope.empty() ? known : scope_list(client.scope);
  return ar;
}

HttpReply AuthorizationServer::approve(const AuthorizationRequest& ar, const Decision& d) {
  Grant g;
  for (const auto& s : d.granted)
    if (std::find(ar.scopes.begin(), ar.scopes.end(), s) != ar.scopes.end() &&
        std::find(g.scopes.begin(), g.scopes.end(), s) == g.scopes.end())
      g.scopes.push_back(s);
  if (g.scopes.empty() || d.user.empty()) return deny(ar);
  g.grant_id = base64url_encode(random_bytes(18));
  g.client_id = ar.client_id;
  g.user = d.user;
  g.resource = without_trailing_slash(options_.public_url);
  g.redirect_uri = ar.redirect_uri;
  g.code_challenge = ar.code_challenge;
  std::string code = grants_.create(g, options_.code_ttl);
  spdlog::info("user {} authorized client {} for {}", log_safe(d.user, 64), log_safe(ar.client_id, 200), scope_param(g.scopes));
  std::vector<std::pair<std::string, std::string>> q{{"code", code}};
  if (!ar.state.empty()) q.emplace_back("state", ar.state);
  q.emplace_back("iss", issuer_);
  return redirect_to(ar.redirect_uri, q);
}

HttpReply AuthorizationServer::deny(const AuthorizationRequest& ar) {
  std::vector<std::pair<std::string, std::string>> q{{"error", "access_denied"}, {"error_description", "the person declined"}};
  if (!ar.state.empty()) q.emplace_back("state", ar.state);
  q.emplace_back("iss", issuer_);
  return redirect_to(ar.redirect_uri, q);
}

std::string AuthorizationServer::access_token(const Grant& g, const std::vector<std::string>& scopes) const {
  const int64_t now = unix_seconds();
  return key_.sign(Json{{"iss", issuer_},
                        {"aud", g.resource},
                        {"sub", g.user},
                        {"client_id", g.client_id},
                        {"scope", scope_param(scopes)},
                        {"gid", g.grant_id},
                        {"jti", base64url_encode(random_bytes(12))},
                        {"iat", now},
                        {"exp", now + options_.access_token_ttl.count()}});
}

// The form of a /token or /revoke request, within the rate limit per address; else the refusal.
std::variant<std::vector<std::pair<std::string, std::string>>, HttpReply> AuthorizationServer::read_form(const HttpRequest& req,
                                                                                                       RateLimiter::Clock::time_point now) {
  auto verdict = token_requests_.hit(client_key(req.peer), now);
  if (!verdict.allowed) {
    HttpReply r = oauth_error(429, "slow_down", "too many requests from this address; retry in " + std::to_string(verdict.retry_after.count()) + " s");
    r.headers.emplace_back("Retry-After", std::to_string(verdict.retry_after.count()));
    return r;
  }
  if (!is_form(req)) return oauth_error(400, "invalid_request", "Content-Type: must be application/x-www-form-urlencoded (RFC 6749 §3.2)");
  if (req.body.size() > options_.max_form_bytes) return oauth_error(400, "invalid_request", "the request body is too large");
  auto form = form_decode(req.body);
  if (!form) return oauth_error(400, "invalid_request", "the form is malformed");
  return std::move(*form);
}

HttpReply AuthorizationServer::token(const HttpRequest& req, RateLimiter::Clock::time_point now) {
  auto read = read_form(req, now);
  if (auto* refusal = std::get_if<HttpReply>(&read)) return *refusal;
  Params p{std::get<std::vector<std::pair<std::string, std::string>>>(std::move(read))};
  if (auto name = p.repeated({"grant_type", "code", "redirect_uri", "client_id", "code_verifier", "refresh_token", "scope", "resource"}))
    return oauth_error(400, "invalid_request", *name + ": sent more than once");
  const std::string grant_type = p.get("grant_type");
  const std::string client_id = p.get("client_id");
  if (grant_type != "authorization_code" && grant_type != "refresh_token")
    return oauth_error(400, "unsupported_grant_type", "grant_type: authorization_code or refresh_token");
  // Public clients identify themselves with client_id (RFC 6749 §3.2.1); nothing else to check.
  if (client_id.empty()) return oauth_error(401, "invalid_client", "client_id: missing");
  if (p.has("resource") && without_trailing_slash(p.get("resource")) != without_trailing_slash(options_.public_url))
    return oauth_error(400, "invalid_target", "resource: this server issues tokens for " + options_.public_url + " only");

  Redeemed r;
  std::vector<std::string> scopes;
  std::string error = "invalid_grant";
  if (grant_type == "authorization_code") {
    const std::string code = p.get("code"), redirect_uri = p.get("redirect_uri"), verifier = p.get("code_verifier");
    if (code.empty()) return oauth_error(400, "invalid_request", "code: missing");
    if (verifier.empty()) return oauth_error(400, "invalid_request", "code_verifier: missing (PKCE is required)");
    if (!pkce_text(verifier)) return oauth_error(400, "invalid_request", "code_verifier: 43-128 unreserved characters (RFC 7636 §4.1)");
    r = grants_.redeem_code(
        code,
        [&](const Grant& g) -> std::optional<std::string> {
          if (g.client_id != client_id) return "the code was issued to another client";
          if (g.redirect_uri != redirect_uri) return "redirect_uri: not the one the code was issued for";
          if (!equal_secret(s256(verifier), g.code_challenge)) return "code_verifier: does not match the code_challenge";
          return std::nullopt;
        },
        options_.refresh_token_ttl);
    scopes = r.grant.scopes;
  } else {
    const std::string refresh = p.get("refresh_token");
    if (refresh.empty()) return oauth_error(400, "invalid_request", "refresh_token: missing");
    r = grants_.rotate_refresh(
        refresh,
        [&](const Grant& g) -> std::optional<std::string> {
          if (g.client_id != client_id) return "the refresh token was issued to another client";
          // RFC 6749 §6: a narrower scope for this access token; the family keeps what was granted.
          scopes = g.scopes;
          if (p.has("scope")) {
            scopes.clear();
            for (const auto& s : scope_list(p.get("scope"))) {
              if (std::find(g.scopes.begin(), g.scopes.end(), s) == g.scopes.end()) {
                error = "invalid_scope";
                return "scope: '" + log_safe(s, 100) + "' was not granted";
              }
              scopes.push_back(s);
            }
            if (scopes.empty()) {
              error = "invalid_scope";
              return std::string("scope: empty");
            }
          }
          return std::nullopt;
        },
        options_.refresh_token_ttl);
  }
  switch (r.outcome) {
    case Redemption::Ok: break;
    case Redemption::Unknown: return oauth_error(400, "invalid_grant", grant_type == "authorization_code" ? "code: unknown" : "refresh_token: unknown");
    case Redemption::Expired: return oauth_error(400, "invalid_grant", grant_type == "authorization_code" ? "code: expired" : "refresh_token: expired");
    case Redemption::Revoked: return oauth_error(400, "invalid_grant", "the grant was revoked");
    case Redemption::Reused:
      spdlog::warn("client {}: a {} was presented again; grant {} of user {} revoked with every token it issued", log_safe(client_id, 200),
                   grant_type == "authorization_code" ? "used authorization code" : "rotated refresh token", r.grant.grant_id,
                   log_safe(r.grant.user, 64));
      return oauth_error(400, "invalid_grant",
                         grant_type == "authorization_code" ? "code: already used; the tokens it issued are revoked"
                                                            : "refresh_token: already used; its family of tokens is revoked");
    case Redemption::Refused: return oauth_error(400, error, r.refused);
  }
  clients_.touch(r.grant.client_id);
  return json_reply(200, Json{{"access_token", access_token(r.grant, scopes)},
                              {"token_type", "Bearer"},
                              {"expires_in", options_.access_token_ttl.count()},
                              {"refresh_token", r.refresh_token},
                              {"scope", scope_param(scopes)}});
}

HttpReply AuthorizationServer::revoke(const HttpRequest& req, RateLimiter::Clock::time_point now) {
  auto read = read_form(req, now);
  if (auto* refusal = std::get_if<HttpReply>(&read)) return *refusal;
  Params p{std::get<std::vector<std::pair<std::string, std::string>>>(std::move(read))};
  const std::string token = p.get("token"), client_id = p.get("client_id");
  if (token.empty()) return oauth_error(400, "invalid_request", "token: missing");
  // Holding the token is what proves the right to revoke it (a public client has no secret); a
  // client_id, when sent, must be the token's client, else nothing happens (RFC 7009 §2.1).
  std::string grant_id;
  if (looks_like_jwt(token)) {
    // An access token revokes its grant too: the client wants this authorization gone, and the
    // refresh token would only mint more (RFC 7009 §2.1 allows it).
    auto jws = parse_jws(token);
    if (auto* j = std::get_if<Jws>(&jws); j && j->kid == key_.kid() && signature_verifies(*j, key_.public_key()) &&
                                          j->claims.value("iss", "") == issuer_ && j->claims.contains("gid") && j->claims["gid"].is_string()) {
      if (client_id.empty() || j->claims.value("client_id", "") == client_id) grant_id = j->claims["gid"].get<std::string>();
    }
  } else if (auto g = grants_.grant_of_refresh(token)) {
    if (client_id.empty() || g->client_id == client_id) grant_id = g->grant_id;
  }
  if (!grant_id.empty() && grants_.revoke(grant_id, "revoked by the client")) spdlog::info("grant {} revoked at the client's request", grant_id);
  return HttpReply{200, "application/json", "{}", {{"Cache-Control", "no-store"}}};
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
  // Not a structured binding: clang 14 (the fuzz and TSan builds) can't capture one in a lambda.
  for (const auto& route : {std::pair{"/token", &AuthorizationServer::token}, std::pair{"/revoke", &AuthorizationServer::revoke}}) {
    const auto endpoint = route.second;
    HttpRoute r{"POST", route.first, [server, endpoint](const HttpRequest& req) { return ((*server).*endpoint)(req, RateLimiter::Clock::now()); }, true};
    r.max_body_bytes = server->options().max_form_bytes;
    routes.push_back(std::move(r));
  }
  return routes;
}

}  // namespace concierge::access
