// Routes a higher layer serves over the HTTP transport (HttpOptions::routes, src/server/http.hpp):
// what a handler is given (query, headers, body, peer), what it answers passes through, bodies are
// bounded by the route's limit, other methods on its path are 405, public routes are open to
// every Origin (CORS *, preflights) and the others follow the MCP endpoint's Origin rules, the
// public URL's Host check applies, a throwing handler is a 500, and routes that would shadow the
// transport's own paths are refused. An HttpServer on 127.0.0.1:<any port>, run() on a thread.
#include <catch2/catch.hpp>
#include <atomic>
#include <mutex>

#include "server/http.hpp"
#include "support/harness.hpp"
#include "support/http_client.hpp"
#include "support/serving_http.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::test::http;

namespace {

// The routes under test: an echo of what the handler was given (GET and POST), a public one, a
// private one, one that throws, one with a 16-byte body limit. Counts handler calls.
struct Routes {
  std::atomic<int> calls{0};
  std::mutex m;
  HttpRequest last;

  HttpReply echo(const HttpRequest& r) {
    ++calls;
    {
      std::lock_guard l(m);
      last = r;
    }
    Json query = Json::object();
    for (const auto& [k, v] : r.query) query[k] = v;
    HttpReply out;
    out.status = 201;
    out.headers.emplace_back("Cache-Control", "no-store");
    out.body = dump(Json{{"method", r.method}, {"path", r.path}, {"query", query}, {"body", r.body}, {"peer", r.peer},
                         {"x_test", r.header("x-TEST")}});
    return out;
  }

  std::vector<HttpRoute> all() {
    auto handler = [this](const HttpRequest& r) { return echo(r); };
    std::vector<HttpRoute> v;
    v.push_back(HttpRoute{"GET", "/echo", handler, true});
    v.push_back(HttpRoute{"POST", "/echo", handler, true});
    v.push_back(HttpRoute{"POST", "/private", handler, false});
    v.push_back(HttpRoute{"GET", "/page", [this](const HttpRequest&) {
                            ++calls;
                            return HttpReply{200, "text/html; charset=utf-8", "<p>hi</p>", {}};
                          }, false});
    v.push_back(HttpRoute{"GET", "/boom", [](const HttpRequest&) -> HttpReply { throw std::runtime_error("handler failed"); }, true});
    HttpRoute small{"POST", "/small", handler, true};
    small.max_body_bytes = 16;
    v.push_back(small);
    return v;
  }
};

// Routes must exist before the server that serves them: members in that order.
class RoutedServer {
 public:
  explicit RoutedServer(HttpOptions options = {}) : core_(builtin_server()), http_(*core_, with_routes(std::move(options))) {}
  int port() const { return http_.port(); }
  Routes routes;

 private:
  HttpOptions with_routes(HttpOptions o) {
    o.routes = routes.all();
    return o;
  }
  std::unique_ptr<Server> core_;
  ServingHttp http_;
};

Reply call(int port, const std::string& method, const std::string& path, httplib::Headers headers = {}, std::string body = {}) {
  if (!body.empty() && !headers.count("Content-Type")) headers.emplace("Content-Type", "application/json");
  return request(port, Request{method, path, std::move(headers), std::move(body)});
}

}  // namespace

TEST_CASE("http routes: a handler gets the query, headers, body and peer, and its reply passes through", "[http][routes]") {
  RoutedServer s;
  Reply g = call(s.port(), "GET", "/echo?a=1&b=two%20words", {{"X-Test", "yes"}});
  INFO(g.describe());
  REQUIRE(g.status == 201);
  CHECK(g.header("Cache-Control") == "no-store");
  CHECK(g.is_json());
  Json j = g.json();
  CHECK(j["method"] == "GET");
  CHECK(j["path"] == "/echo");
  CHECK(j["query"] == Json{{"a", "1"}, {"b", "two words"}});
  CHECK(j["x_test"] == "yes");
  CHECK(j["peer"] == "127.0.0.1");

  Reply p = call(s.port(), "POST", "/echo", {}, R"({"x":1})");
  INFO(p.describe());
  REQUIRE(p.status == 201);
  CHECK(p.json()["body"] == R"({"x":1})");

  Reply page = call(s.port(), "GET", "/page");
  CHECK(page.status == 200);
  CHECK(page.content_type() == "text/html; charset=utf-8");
  CHECK(page.body == "<p>hi</p>");

  // The transport's own endpoints are untouched beside them.
  CHECK(call(s.port(), "GET", "/healthz").status == 200);
  CHECK(call(s.port(), "POST", "/elsewhere", {}, "{}").status == 404);
}

TEST_CASE("http routes: a body over the route's limit is 413 and the handler is not called", "[http][routes]") {
  RoutedServer s;
  CHECK(call(s.port(), "POST", "/small", {}, std::string(16, 'x')).status == 201);
  Reply big = call(s.port(), "POST", "/small", {}, std::string(17, 'x'));
  INFO(big.describe());
  CHECK(big.status == 413);
  CHECK(big.body.find("16 bytes (this endpoint's limit)") != std::string::npos);
  CHECK(s.routes.calls == 1);

  // Chunked, where no Content-Length announces it: cut as it is read.
  RawHttp raw;
  REQUIRE(raw.start(s.port(), "POST", "/small", {{"Content-Type", "application/json"}, {"Transfer-Encoding", "chunked"}},
                    "40\r\n" + std::string(64, 'y') + "\r\n0\r\n\r\n"));
  REQUIRE(raw.wait_head());
  CHECK(raw.status() == 413);
  CHECK(s.routes.calls == 1);
}

TEST_CASE("http routes: another method on a route's path is 405 with Allow", "[http][routes]") {
  RoutedServer s;
  Reply get = call(s.port(), "GET", "/private");
  CHECK(get.status == 405);
  CHECK(get.header("Allow") == "POST");
  Reply put = call(s.port(), "PUT", "/echo", {}, "{}");
  CHECK(put.status == 405);
  CHECK(put.header("Allow") == "GET, POST, OPTIONS");
  CHECK(s.routes.calls == 0);
}

TEST_CASE("http routes: public routes are open to any Origin, others follow the MCP endpoint's Origin rules", "[http][routes][security]") {
  RoutedServer s;
  const std::string evil = "https://evil.example.com";
  Reply pub = call(s.port(), "POST", "/echo", {{"Origin", evil}}, "{}");
  CHECK(pub.status == 201);
  CHECK(pub.header("Access-Control-Allow-Origin") == "*");

  Reply pre = call(s.port(), "OPTIONS", "/echo", {{"Origin", evil}, {"Access-Control-Request-Method", "POST"}});
  CHECK(pre.status == 204);
  CHECK(pre.header("Access-Control-Allow-Methods") == "GET, POST, OPTIONS");
  CHECK(pre.header("Access-Control-Allow-Headers").find("Content-Type") != std::string::npos);

  int before = s.routes.calls;
  Reply priv = call(s.port(), "POST", "/private", {{"Origin", evil}}, "{}");
  CHECK(priv.status == 403);
  CHECK(s.routes.calls == before);
  CHECK(call(s.port(), "GET", "/page", {{"Origin", evil}}).status == 403);

  const std::string local = "http://localhost:" + std::to_string(s.port());
  Reply ok = call(s.port(), "POST", "/private", {{"Origin", local}}, "{}");
  CHECK(ok.status == 201);
  CHECK(ok.header("Access-Control-Allow-Origin") == local);
  // Not public: no preflight is answered for it.
  CHECK(call(s.port(), "OPTIONS", "/private", {{"Origin", local}}).status != 204);
}

TEST_CASE("http routes: behind --public-url the Host must be the public one, and its origin may post to private routes", "[http][routes][security]") {
  HttpOptions o;
  o.access.public_url = "https://mcp.example.com/mcp";
  RoutedServer s(o);
  Reply wrong = call(s.port(), "GET", "/echo");  // Host: 127.0.0.1:<port>
  CHECK(wrong.status == 421);
  CHECK(s.routes.calls == 0);
  Reply own = call(s.port(), "POST", "/private", {{"Host", "mcp.example.com"}, {"Origin", "https://mcp.example.com"}}, "{}");
  INFO(own.describe());
  CHECK(own.status == 201);
  // Another origin is still refused there.
  CHECK(call(s.port(), "POST", "/private", {{"Host", "mcp.example.com"}, {"Origin", "https://other.example.com"}}, "{}").status == 403);
}

TEST_CASE("http routes: the peer is what a trusted proxy saw, never what the client claims", "[http][routes]") {
  SECTION("untrusted: the socket's peer") {
    RoutedServer s;
    Reply r = call(s.port(), "GET", "/echo", {{"X-Forwarded-For", "203.0.113.9"}});
    CHECK(r.json()["peer"] == "127.0.0.1");
  }
  SECTION("a trusted proxy: the address it appended") {
    HttpOptions o;
    o.access.trusted_proxies = {"127.0.0.1"};
    RoutedServer s(o);
    Reply r = call(s.port(), "GET", "/echo", {{"X-Forwarded-For", "198.51.100.1, 203.0.113.9"}});
    CHECK(r.json()["peer"] == "203.0.113.9");
    Reply junk = call(s.port(), "GET", "/echo", {{"X-Forwarded-For", "not-an-address"}});
    CHECK(junk.json()["peer"] == "127.0.0.1");
  }
}

TEST_CASE("http routes: a throwing handler is a 500 and the server goes on", "[http][routes]") {
  RoutedServer s;
  Reply r = call(s.port(), "GET", "/boom");
  CHECK(r.status == 500);
  CHECK(r.body.find("handler failed") == std::string::npos);  // the reason goes to the log only
  CHECK(call(s.port(), "GET", "/echo").status == 201);
}

TEST_CASE("http routes: a route on the transport's own paths, twice, or malformed is refused", "[http][routes]") {
  auto server = builtin_server();
  auto ok = [](const HttpRequest&) { return HttpReply{}; };
  auto refused = [&](HttpRoute r, const std::string& why) {
    HttpOptions o;
    o.routes = {std::move(r)};
    if (why == "twice") o.routes.push_back(o.routes.front());
    try {
      HttpServer h(*server, o);
      FAIL("accepted a route: " << why);
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find(why) != std::string::npos);
    }
  };
  refused(HttpRoute{"POST", "/mcp", ok}, "serves that path itself");
  refused(HttpRoute{"GET", "/healthz", ok}, "serves that path itself");
  refused(HttpRoute{"GET", "/.well-known/oauth-protected-resource", ok}, "serves that path itself");
  refused(HttpRoute{"GET", "/x", ok}, "twice");
  refused(HttpRoute{"HEAD", "/x", ok}, "the method must be");
  refused(HttpRoute{"GET", "x", ok}, "must start with /");
  refused(HttpRoute{"GET", "/x", nullptr}, "no handler");
}
