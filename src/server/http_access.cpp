// The HTTP transport as an OAuth 2.1 resource server (MCP authorization; RFC 6750, 9728):
// bearer tokens on every MCP endpoint, the protected-resource metadata, the public URL's Host
// check behind a proxy, and CORS for browser clients. Verifying a token is the Authenticator's
// (server/access.hpp); which scope a request needs is the core's (Server::missing_scope).
#include "server/http_internal.hpp"

namespace concierge {

namespace http_detail {

namespace {
constexpr const char* kMetadataRoot = "/.well-known/oauth-protected-resource";
// What a browser client may send and read (2025-11-25 and 2026-07-28 headers).
constexpr const char* kCorsAllowHeaders =
    "Authorization, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID, Content-Type";
constexpr const char* kCorsExposeHeaders = "Mcp-Session-Id, WWW-Authenticate";

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A value inside a quoted auth-param: RFC 6750 allows %x20-21 / %x23-5B / %x5D-7E.
std::string quotable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) out += (c < 0x20 || c > 0x7E || c == '"' || c == '\\') ? '\'' : static_cast<char>(c);
  return out.substr(0, 300);
}

// host[:port] as compared: lowercase, the scheme's default port dropped.
std::string normal_authority(std::string authority, const std::string& scheme) {
  authority = lower(trim_ows(std::move(authority)));
  std::string default_port = scheme == "https" ? ":443" : ":80";
  if (authority.size() > default_port.size() && authority.compare(authority.size() - default_port.size(), std::string::npos, default_port) == 0)
    authority.erase(authority.size() - default_port.size());
  return authority;
}

std::optional<std::array<uint8_t, 16>> parse_ip(std::string s) {
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  std::array<uint8_t, 16> a{};
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) {  // held as ::ffff:a.b.c.d
    a[10] = a[11] = 0xff;
    std::memcpy(a.data() + 12, &v4, 4);
    return a;
  }
  if (::inet_pton(AF_INET6, s.c_str(), a.data()) == 1) return a;
  return std::nullopt;
}
}  // namespace

std::string regex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::strchr(".^$|()[]{}*+?\\", c)) out += '\\';
    out += c;
  }
  return out;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  std::string s(text);
  int bits = -1;
  if (auto slash = s.find('/'); slash != std::string::npos) {
    std::string n = s.substr(slash + 1);
    if (n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    bits = std::stoi(n);
    s.erase(slash);
  }
  auto ip = parse_ip(s);
  if (!ip) return std::nullopt;
  bool v4 = s.find(':') == std::string::npos;
  int max = v4 ? 32 : 128;
  if (bits < 0) bits = max;
  if (bits > max) return std::nullopt;
  return Cidr{*ip, v4 ? bits + 96 : bits};
}

bool cidr_contains(const Cidr& c, const std::string& ip) {
  auto a = parse_ip(ip);
  if (!a) return false;
  for (int i = 0; i < c.bits; ++i) {
    uint8_t mask = static_cast<uint8_t>(0x80 >> (i % 8));
    if (((*a)[i / 8] & mask) != (c.net[i / 8] & mask)) return false;
  }
  return true;
}

std::optional<PublicUrl> parse_public_url(const std::string& url) {
  auto sep = url.find("://");
  if (sep == std::string::npos) return std::nullopt;
  PublicUrl u;
  u.scheme = lower(url.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
  std::string rest = url.substr(sep + 3);
  if (rest.find_first_of("?#@") != std::string::npos) return std::nullopt;
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!u.path.empty() && u.path.back() == '/') u.path.pop_back();  // the canonical form has none
  u.authority = normal_authority(authority, u.scheme);
  if (u.authority.empty()) return std::nullopt;
  u.host = u.authority;
  if (u.host.front() == '[') u.host = u.host.substr(0, u.host.find(']') + 1);
  else u.host = u.host.substr(0, u.host.find(':'));
  if (u.host.empty() || u.host == "[]") return std::nullopt;
  return u;
}

}  // namespace http_detail

void HttpServer::Impl::check_access() {
  const auto& a = opt.access;
  trusted_proxies.clear();
  for (const auto& text : a.trusted_proxies) {
    auto c = parse_cidr(text);
    if (!c) throw std::runtime_error("--trusted-proxy: '" + text + "' is not an IPv4 or IPv6 address or CIDR (10.0.0.0/8, fd00::/8)");
    trusted_proxies.push_back(*c);
  }
  public_url.reset();
  if (!a.public_url.empty()) {
    public_url = parse_public_url(a.public_url);
    if (!public_url)
      throw std::runtime_error("--public-url: '" + a.public_url + "' is not an absolute http(s) URL without query, fragment or user info");
    // Tokens travel in the clear over http: only where nothing but this machine can see them.
    if (public_url->scheme == "http" && !is_loopback_host(public_url->authority))
      throw std::runtime_error("--public-url: '" + a.public_url + "' must be https (plain http only for a loopback host)");
  }
  if (a.enabled() && !loopback && !public_url)
    throw std::runtime_error("--public-url is required with --auth on a non-loopback bind (" + opt.host +
                             "): it is the resource tokens are issued for, e.g. https://mcp.example.com/mcp");
}

void HttpServer::Impl::publish_resource() {
  std::string origin, path;
  if (public_url) {
    origin = public_url->origin();
    path = public_url->path;
    resource = opt.access.public_url;
    while (!resource.empty() && resource.back() == '/') resource.pop_back();
  } else {
    std::string host = opt.host.find(':') != std::string::npos ? "[" + opt.host + "]" : opt.host;
    origin = "http://" + host + ":" + std::to_string(port);
    path = opt.endpoint;
    resource = origin + path;
  }
  metadata_url = origin + kMetadataRoot + path;  // RFC 9728 §3.1: the well-known part goes first
  if (opt.access.own_authorization_server) opt.access.authorization_servers = {origin};
  metadata_param = "resource_metadata=\"" + metadata_url + "\"";
}

bool HttpServer::Impl::mcp_path(const std::string& path) const {
  return path == opt.endpoint || path == "/sse" || path == "/messages";
}

bool HttpServer::Impl::metadata_path(const std::string& path) const {
  return opt.access.enabled() && path.rfind(kMetadataRoot, 0) == 0;
}

void HttpServer::Impl::setup_access() {
  // Preflights: browsers send them without credentials, so they are answered before any token.
  auto preflight = [](const char* methods) {
    return [methods](const httplib::Request& req, httplib::Response& res) {
      res.status = 204;
      res.set_header("Allow", methods);
      if (!req.has_header("Origin")) return;  // not a CORS preflight: just what is allowed
      res.set_header("Access-Control-Allow-Methods", methods);
      // 2026-07-28 mirrors tool arguments into Mcp-Param-* headers: those asked for are allowed too.
      std::string allowed = kCorsAllowHeaders;
      std::string asked = req.get_header_value("Access-Control-Request-Headers");
      for (size_t pos = 0; pos < asked.size();) {
        size_t end = std::min(asked.find(',', pos), asked.size());
        std::string name = trim_ows(asked.substr(pos, end - pos));
        if (lower(name).rfind("mcp-param-", 0) == 0 && name.find_first_of("\r\n") == std::string::npos) allowed += ", " + name;
        pos = end + 1;
      }
      res.set_header("Access-Control-Allow-Headers", allowed);
      res.set_header("Access-Control-Max-Age", "600");
    };
  };
  http.Options(opt.endpoint, preflight("GET, POST, DELETE, OPTIONS"));
  http.Options("/sse", preflight("GET, OPTIONS"));
  http.Options("/messages", preflight("POST, OPTIONS"));
  if (!opt.access.enabled()) return;

  // RFC 9728 metadata, at the root and with the endpoint's path inserted (and the public URL's,
  // when a proxy maps another path onto ours).
  auto metadata = [this](const httplib::Request&, httplib::Response& res) {
    Json m{{"resource", resource},
           {"scopes_supported", all_scopes()},
           {"bearer_methods_supported", Json::array({"header"})},
           {"resource_name", core.options().title}};
    // Keys-only mode has no authorization server: the member is optional in RFC 9728 §2, and
    // an empty list would promise one.
    if (!opt.access.authorization_servers.empty()) m["authorization_servers"] = opt.access.authorization_servers;
    res.set_header("Cache-Control", "max-age=300");
    res.set_content(dump(m), "application/json");
  };
  std::set<std::string> paths{kMetadataRoot, kMetadataRoot + opt.endpoint};
  if (auto u = parse_public_url(opt.access.public_url)) paths.insert(kMetadataRoot + u->path);
  for (const auto& p : paths) {
    http.Get(regex_escape(p), metadata);
    http.Options(regex_escape(p), preflight("GET, OPTIONS"));
  }
}

bool HttpServer::Impl::check_public_host(const httplib::Request& req, httplib::Response& res) {
  if (req.path == "/healthz" || req.path == "/readyz") return true;  // probes name the machine, not the public URL
  std::string host = req.get_header_value("Host");
  if (req.has_header("X-Forwarded-Host") &&
      std::any_of(trusted_proxies.begin(), trusted_proxies.end(), [&](const Cidr& c) { return cidr_contains(c, req.remote_addr); })) {
    host = req.get_header_value("X-Forwarded-Host");
    host = host.substr(0, host.find(','));  // the first proxy's view: what the client asked for
  }
  if (normal_authority(host, public_url->scheme) == public_url->authority) return true;
  spdlog::warn("refused {} {}: Host {} is not {} (--public-url)", log_safe(req.method, 32), log_safe(req.path, 200),
               log_safe(host, 200), public_url->authority);
  // 421 Misdirected Request: this server does not serve that name.
  res.status = 421;
  res.set_content(error_body(nullptr, rpc::kInvalidRequest,
                             "Misdirected request: Host '" + host + "' is not " + public_url->authority + " (--public-url)"),
                  "application/json");
  unread_body(req, res);
  return false;
}

void HttpServer::Impl::cors(const httplib::Request& req, httplib::Response& res) {
  if (!req.has_header("Origin")) return;
  const HttpRoute* route = route_at(req.path);
  if (metadata_path(req.path) || (route && route->public_route)) {
    res.set_header("Access-Control-Allow-Origin", "*");
  } else if (route) {  // the Origin passed check_origin
    res.set_header("Access-Control-Allow-Origin", req.get_header_value("Origin"));
    res.set_header("Vary", "Origin");
  } else if (mcp_path(req.path)) {  // the Origin passed check_origin: it is allowed
    res.set_header("Access-Control-Allow-Origin", req.get_header_value("Origin"));
    res.set_header("Vary", "Origin");
    res.set_header("Access-Control-Expose-Headers", kCorsExposeHeaders);
  }
}

std::optional<Caller> HttpServer::Impl::authorize(const httplib::Request& req, httplib::Response& res) {
  auto& a = opt.access;
  if (!a.enabled()) return Caller{};
  auto refuse = [&](int status, const std::string& challenge, const std::string& reason, const std::string& user = {}) {
    spdlog::info("refused {} {} ({}): {}", log_safe(req.method, 32), log_safe(req.path, 200), status, log_safe(reason, 300));
    a.authenticator->refused(user, status, reason);
    res.status = status;
    res.set_header("WWW-Authenticate", challenge);
    res.set_content(error_body(nullptr, rpc::kInvalidRequest, (status == 400 ? "Bad Request: " : "Unauthorized: ") + reason),
                    "application/json");
    return std::nullopt;
  };
  const std::string& meta = metadata_param;  // built once at bind: this runs on every request
  // RFC 6750 §2.3: a URI query parameter leaks through logs and Referer; the MCP spec forbids it.
  // The request is malformed (§3.1 invalid_request, 400), whatever else it carries.
  if (req.has_param("access_token"))
    return refuse(400, "Bearer error=\"invalid_request\", error_description=\"access tokens are not accepted in the query string\", " + meta,
                  "access token in the query string (send it in the Authorization header)");
  std::string header = req.get_header_value("Authorization");
  std::string token;
  if (header.size() > 6 && lower(header.substr(0, 7)) == "bearer ") token = trim_ows(header.substr(7));
  if (token.empty()) {
    std::string scopes;
    for (const auto& s : all_scopes()) scopes += (scopes.empty() ? "" : " ") + s;
    return refuse(401, "Bearer " + meta + ", scope=\"" + scopes + "\"",
                  header.empty() ? "no bearer token (send Authorization: Bearer <token>)" : "no bearer token in the Authorization header");
  }
  auto result = a.authenticator->authenticate(token);
  if (!result.principal) {
    std::string reason = result.denied.reason.empty() ? "the token was refused" : result.denied.reason;
    return refuse(401, "Bearer error=\"invalid_token\", error_description=\"" + quotable(reason) + "\", " + meta, reason);
  }
  return Caller{result.principal->user, result.principal->scopes};
}

void HttpServer::Impl::forbid(httplib::Response& res, const Caller& who, const rpc::Error& e, const Json& id) {
  // The challenge names what the operation needs together with what the token already has: a
  // client that re-authorizes with exactly the challenged scopes (the TS SDK does) keeps them.
  std::set<std::string> asked = who.scopes.value_or(std::set<std::string>{});
  for (const auto& s : e.data.value("requiredScopes", std::vector<std::string>{})) asked.insert(s);
  std::string scopes;
  for (const auto& s : all_scopes())  // known scopes only, in the metadata's order
    if (asked.count(s)) scopes += (scopes.empty() ? "" : " ") + s;
  spdlog::info("refused for {}: {}", log_safe(who.user, 100), log_safe(e.what(), 300));
  if (opt.access.authenticator) opt.access.authenticator->refused(who.user, 403, e.what());
  res.status = 403;
  res.set_header("WWW-Authenticate", "Bearer error=\"insufficient_scope\", scope=\"" + scopes + "\", resource_metadata=\"" +
                                         metadata_url + "\", error_description=\"" + quotable(e.what()) + "\"");
  res.set_content(dump(rpc::make_error(id, e.code, e.what(), e.data)), "application/json");
}

}  // namespace concierge
