// Routes a higher layer serves over the transport (HttpOptions::routes): the transport reads the
// body under the route's limit, applies its Host and Origin rules (public routes are open to every
// origin, like the RFC 9728 metadata), and hands the handler a plain request. It never looks at
// what a route is for.
#include "server/http_internal.hpp"

namespace concierge {

namespace http_detail {
namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Paths the transport answers itself: a route there would shadow it (or be shadowed).
bool reserved_path(const HttpOptions& o, const std::string& path) {
  return path == o.endpoint || path == "/sse" || path == "/messages" || path == "/healthz" ||
         path == "/readyz" || path == "/metrics" ||
         path.rfind("/.well-known/oauth-protected-resource", 0) == 0;
}

void check_routes(const HttpOptions& o) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& r : o.routes) {
    std::string what = "HTTP route " + r.method + " " + r.path;
    if (r.method != "GET" && r.method != "POST" && r.method != "PUT" && r.method != "PATCH" && r.method != "DELETE")
      throw std::invalid_argument(what + ": the method must be GET, POST, PUT, PATCH or DELETE");
    if (r.path.empty() || r.path.front() != '/') throw std::invalid_argument(what + ": the path must start with /");
    if (reserved_path(o, r.path)) throw std::invalid_argument(what + ": the transport serves that path itself");
    if (!r.handler) throw std::invalid_argument(what + ": no handler");
    if (!seen.emplace(r.method, r.path).second) throw std::invalid_argument(what + ": registered twice");
  }
}

}  // namespace
}  // namespace http_detail

using namespace http_detail;

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (same_name(k, name)) return v;
  return {};
}

std::string HttpRequest::param(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return {};
}

bool HttpRequest::has_param(std::string_view name) const {
  return std::any_of(query.begin(), query.end(), [&](const auto& p) { return p.first == name; });
}

const HttpRoute* HttpServer::Impl::route_at(const std::string& path) const {
  for (const auto& r : opt.routes)
    if (r.path == path) return &r;
  return nullptr;
}

std::string HttpServer::Impl::route_methods(const std::string& path) const {
  std::string out;
  for (const auto& r : opt.routes)
    if (r.path == path) out += (out.empty() ? "" : ", ") + r.method;
  const HttpRoute* r = route_at(path);
  if (r && r->public_route) out += ", OPTIONS";
  return out;
}

std::string HttpServer::Impl::peer_address(const httplib::Request& req) const {
  bool via_proxy = req.has_header("X-Forwarded-For") &&
                   std::any_of(trusted_proxies.begin(), trusted_proxies.end(), [&](const Cidr& c) { return cidr_contains(c, req.remote_addr); });
  if (!via_proxy) return req.remote_addr;
  // The last entry is the one the trusted proxy appended; earlier ones are the client's word.
  std::string list = req.get_header_value("X-Forwarded-For");
  auto comma = list.rfind(',');
  std::string last = trim_ows(comma == std::string::npos ? list : list.substr(comma + 1));
  return parse_cidr(last) ? last : req.remote_addr;
}

void HttpServer::Impl::setup_routes() {
  check_routes(opt);
  auto serve = [this](const HttpRoute& route, const httplib::Request& req, httplib::Response& res, std::string body) {
    HttpRequest in;
    in.method = req.method;
    in.path = req.path;
    for (const auto& [k, v] : req.params) in.query.emplace_back(k, v);
    for (const auto& [k, v] : req.headers) in.headers.emplace_back(k, v);
    in.body = std::move(body);
    in.peer = peer_address(req);
    HttpReply out = route.handler(in);
    res.status = out.status;
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    res.set_content(std::move(out.body), out.content_type);
  };
  std::set<std::string> paths;
  for (const auto& route : opt.routes) {
    paths.insert(route.path);
    const std::string pattern = regex_escape(route.path);
    if (route.method == "GET") {
      http.Get(pattern, [&route, serve](const httplib::Request& req, httplib::Response& res) { serve(route, req, res, {}); });
      continue;
    }
    auto with_body = [this, &route, serve](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
      if (auto body = read_body(req, res, reader, route.max_body_bytes)) serve(route, req, res, std::move(*body));
    };
    if (route.method == "POST") http.Post(pattern, with_body);
    else if (route.method == "PUT") http.Put(pattern, with_body);
    else if (route.method == "PATCH") http.Patch(pattern, with_body);
    else http.Delete(pattern, with_body);
  }
  for (const auto& path : paths) {
    const std::string pattern = regex_escape(path);
    const std::string allow = route_methods(path);
    // GET has no catch-all: a path served by other methods answers 405 itself.
    if (allow.find("GET") == std::string::npos)
      http.Get(pattern, [allow](const httplib::Request&, httplib::Response& res) {
        res.status = 405;
        res.set_header("Allow", allow);
        res.set_content(error_body(nullptr, rpc::kInvalidRequest, "Method not allowed"), "application/json");
      });
    // Preflights for public routes (browsers send them without credentials).
    if (route_at(path)->public_route)
      http.Options(pattern, [allow](const httplib::Request& req, httplib::Response& res) {
        res.status = 204;
        res.set_header("Allow", allow);
        if (!req.has_header("Origin")) return;
        res.set_header("Access-Control-Allow-Methods", allow);
        res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
        res.set_header("Access-Control-Max-Age", "600");
      });
  }
}

}  // namespace concierge
