// The outbound HTTP client against a local fake upstream (cpp-httplib on port 0): retries with
// backoff, Retry-After, timeouts, malformed JSON, the circuit breaker, the rate budget, the cache.
// A fake clock records the waits instead of sleeping them.
#include <atomic>
#include <fstream>
#include <catch2/catch.hpp>
#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "providers/http/client.hpp"
#include "providers/http/url.hpp"

using namespace concierge;
using namespace concierge::providers::http;
using namespace std::chrono_literals;

namespace {

struct FakeClock : Clock {
  std::chrono::steady_clock::time_point t{std::chrono::hours(1000)};
  std::vector<Ms> sleeps;
  std::chrono::steady_clock::time_point now() override { return t; }
  void sleep_for(Ms d) override {
    sleeps.push_back(d);
    t += d;
  }
};

// A fake upstream on loopback; stopped and joined at the end.
struct Upstream {
  httplib::Server server;
  int port = 0;
  std::thread thread;
  std::atomic<int> hits{0};
  template <class Setup>
  explicit Upstream(Setup setup) {
    setup(server, hits);
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~Upstream() {
    server.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

Policy policy(const Upstream& u) {
  Policy p;
  p.service = "Fakeify";
  p.base_url = u.url();
  p.backoff_base = 100ms;
  p.backoff_max = 1000ms;
  return p;
}

}  // namespace

TEST_CASE("http client: 5xx is retried with growing, jittered backoff, then succeeds", "[http_client]") {
  Upstream up([](httplib::Server& s, std::atomic<int>& hits) {
    s.Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
      if (++hits <= 2) res.status = 503;
      else res.set_content(R"({"ok":true})", "application/json");
    });
  });
  FakeClock clock;
  Client c(policy(up), clock);
  Json j = c.get_json("/flaky");
  CHECK(j["ok"] == true);
  CHECK(up.hits == 3);
  REQUIRE(clock.sleeps.size() == 2);
  CHECK(clock.sleeps[0] <= 100ms);  // full jitter within base * 2^attempt
  CHECK(clock.sleeps[1] <= 200ms);
  CHECK(c.breaker() == BreakerState::Closed);
}

TEST_CASE("http client: 429 waits what Retry-After says, too long a wait is reported", "[http_client]") {
  Upstream up([](httplib::Server& s, std::atomic<int>& hits) {
    s.Get("/limited", [&](const httplib::Request&, httplib::Response& res) {
      if (++hits == 1) {
        res.status = 429;
        res.set_header("Retry-After", "2");
      } else {
        res.set_content(R"([1,2,3])", "application/json");
      }
    });
    s.Get("/later", [&](const httplib::Request&, httplib::Response& res) {
      res.status = 429;
      res.set_header("Retry-After", "3600");
    });
  });
  FakeClock clock;
  Client c(policy(up), clock);
  CHECK(c.get_json("/limited").size() == 3);
  CHECK(clock.sleeps == std::vector<Ms>{2000ms});
  try {
    c.get_json("/later");
    FAIL("no error");
  } catch (const UpstreamError& e) {
    CHECK(e.kind == UpstreamError::Kind::RateLimited);
    CHECK_THAT(e.what(), Catch::Contains("Fakeify") && Catch::Contains("3600 s"));
  }
  CHECK(c.breaker() == BreakerState::Closed);  // rate limiting is not failure
}

TEST_CASE("http client: a timeout is retried for reads, then reported, writes are not repeated", "[http_client]") {
  Upstream up([](httplib::Server& s, std::atomic<int>& hits) {
    auto slow = [&](const httplib::Request&, httplib::Response& res) {
      ++hits;
      std::this_thread::sleep_for(300ms);  // the upstream being slow is what is under test
      res.set_content("{}", "application/json");
    };
    s.Get("/slow", slow);
    s.Post("/slow", slow);
    s.Post("/broken", [&](const httplib::Request&, httplib::Response& res) {
      ++hits;
      res.status = 500;
    });
  });
  FakeClock clock;
  auto p = policy(up);
  p.timeout = 100ms;
  p.max_attempts = 2;
  Client c(p, clock);
  try {
    c.get_json("/slow");
    FAIL("no error");
  } catch (const UpstreamError& e) {
    CHECK(e.kind == UpstreamError::Kind::Timeout);
    CHECK_THAT(e.what(), Catch::StartsWith("Fakeify did not answer") && Catch::Contains("2 attempts"));
  }
  CHECK(up.hits == 2);
  up.hits = 0;
  CHECK_THROWS_AS(c.send({.method = "POST", .path = "/slow", .json = Json{{"x", 1}}}), UpstreamError);
  CHECK_THROWS_AS(c.send({.method = "POST", .path = "/broken", .json = Json{{"x", 1}}}), UpstreamError);
  CHECK(up.hits == 2);  // once each: a POST may have taken effect
}

TEST_CASE("http client: malformed JSON and 4xx are clear errors, not retried", "[http_client]") {
  Upstream up([](httplib::Server& s, std::atomic<int>& hits) {
    s.Get("/garbage", [&](const httplib::Request&, httplib::Response& res) {
      ++hits;
      res.set_content("<html>oops", "text/html");
    });
    s.Get("/missing", [&](const httplib::Request&, httplib::Response& res) {
      ++hits;
      res.status = 404;
    });
  });
  FakeClock clock;
  Client c(policy(up), clock);
  CHECK_THROWS_WITH(c.get_json("/garbage"), Catch::StartsWith("Fakeify sent a reply that is not JSON"));
  auto r = c.send({.path = "/missing"});
  CHECK(r.status == 404);
  CHECK(up.hits == 2);
}

TEST_CASE("http client: the breaker opens after failures in a row, fails fast, half-opens, recovers", "[http_client]") {
  std::atomic<bool> healthy{false};
  Upstream up([&](httplib::Server& s, std::atomic<int>& hits) {
    s.Get("/x", [&](const httplib::Request&, httplib::Response& res) {
      ++hits;
      if (healthy) res.set_content("{}", "application/json");
      else res.status = 500;
    });
  });
  FakeClock clock;
  auto p = policy(up);
  p.max_attempts = 1;
  p.breaker_threshold = 3;
  p.breaker_cooldown = 30s;
  Client c(p, clock);
  for (int i = 0; i < 3; ++i) CHECK_THROWS_AS(c.get_json("/x"), UpstreamError);
  CHECK(c.breaker() == BreakerState::Open);
  CHECK(c.status()["breaker"] == "open");
  try {
    c.get_json("/x");
    FAIL("no error");
  } catch (const UpstreamError& e) {
    CHECK(e.kind == UpstreamError::Kind::BreakerOpen);
    CHECK_THAT(e.what(), Catch::Contains("3 times in a row") && Catch::Contains("30 s"));
  }
  CHECK(up.hits == 3);  // the open breaker did not call
  clock.t += 31s;
  CHECK(c.breaker() == BreakerState::HalfOpen);
  CHECK_THROWS_AS(c.get_json("/x"), UpstreamError);  // the trial fails: open again
  CHECK(c.breaker() == BreakerState::Open);
  CHECK(up.hits == 4);
  clock.t += 31s;
  healthy = true;
  CHECK_NOTHROW(c.get_json("/x"));
  CHECK(c.breaker() == BreakerState::Closed);
  CHECK(c.status()["failures_in_a_row"] == 0);
}

TEST_CASE("http client: the rate budget waits a little, refuses a long wait", "[http_client]") {
  Upstream up([](httplib::Server& s, std::atomic<int>&) {
    s.Get("/x", [](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); });
  });
  FakeClock clock;
  auto p = policy(up);
  p.rate_per_second = 2;
  p.burst = 2;
  p.max_budget_wait = 1000ms;
  Client c(p, clock);
  c.get_json("/x");
  c.get_json("/x");
  CHECK(clock.sleeps.empty());
  c.get_json("/x");  // the third within the same instant waits for a token
  REQUIRE(clock.sleeps.size() == 1);
  CHECK(clock.sleeps[0] == 500ms);
  p.rate_per_second = 0.1;
  p.burst = 1;
  Client slow(p, clock);
  slow.get_json("/x");
  CHECK_THROWS_WITH(slow.get_json("/x"), Catch::Contains("budget") && Catch::Contains("Fakeify"));
}

TEST_CASE("http client: cacheable reads are served from the cache until they expire", "[http_client]") {
  Upstream up([](httplib::Server& s, std::atomic<int>& hits) {
    s.Get("/x", [&](const httplib::Request& req, httplib::Response& res) {
      ++hits;
      res.set_content(Json{{"q", req.get_param_value("q")}, {"n", hits.load()}}.dump(), "application/json");
    });
  });
  FakeClock clock;
  auto p = policy(up);
  p.cache_ttl = 5s;
  Client c(p, clock);
  CHECK(c.get_json("/x", {{"q", "a b&c"}}, true)["q"] == "a b&c");  // query values escaped
  CHECK(c.get_json("/x", {{"q", "a b&c"}}, true)["n"] == 1);
  CHECK(c.get_json("/x", {{"q", "other"}}, true)["n"] == 2);
  CHECK(c.get_json("/x", {{"q", "a b&c"}}, false)["n"] == 3);  // not asked to cache
  clock.t += 6s;
  CHECK(c.get_json("/x", {{"q", "a b&c"}}, true)["n"] == 4);
}

TEST_CASE("http client: an unreachable upstream is a clear error after the retries", "[http_client]") {
  FakeClock clock;
  Policy p;
  p.service = "Nowhere";
  {
    // A port that was free a moment ago and has nothing listening: connections are refused.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    p.base_url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  }
  p.max_attempts = 3;
  Client c(p, clock);
  try {
    c.get_json("/x");
    FAIL("no error");
  } catch (const UpstreamError& e) {
    CHECK(e.kind == UpstreamError::Kind::Network);
    CHECK_THAT(e.what(), Catch::StartsWith("Nowhere could not be reached") && Catch::Contains("3 attempts"));
  }
  CHECK(clock.sleeps.size() == 2);
}

// ---- hostile replies: Retry-After, size, decompression, paths -------------------------------

TEST_CASE("http client: Retry-After is delta-seconds or an HTTP-date, clamped, never throws", "[http_client][retry_after]") {
  using std::chrono::seconds;
  // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example) and 30 s before it.
  const auto example = std::chrono::system_clock::time_point(seconds(784111777));
  const auto before = example - seconds(30);
  CHECK(parse_retry_after("120", before) == Ms(120000));
  CHECK(parse_retry_after(" 7\t", before) == Ms(7000));
  CHECK(parse_retry_after("0", before) == Ms(0));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", before) == Ms(30000));
  CHECK(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", before) == Ms(30000));
  CHECK(parse_retry_after("Sun Nov  6 08:49:37 1994", before) == Ms(30000));
  // A date in the past is no wait; a huge or far-future one is the cap, not an overflow.
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", example + seconds(5)) == Ms(0));
  CHECK(parse_retry_after("99999999999999999999999999", before) == kMaxRetryAfter);
  CHECK(parse_retry_after("9223372036854775807", before) == kMaxRetryAfter);
  CHECK(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", before) == kMaxRetryAfter);
  CHECK(parse_retry_after("Mon, 01 Jan 0000 00:00:00 GMT", before) == Ms(0));
  // Anything else is not a Retry-After (the client then backs off as usual).
  for (const char* bad : {"", "-5", "+5", "1.5", "5s", "0x10", "abc", "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:00:00 GMT",
                          "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 GMT trailing", "Sun, 6 Nov 1994 08:49:37 GMT",
                          "06 Nov 1994", "Sun Nov 6 08:49:37 1994"})
    CHECK_FALSE(parse_retry_after(bad, before));
}

TEST_CASE("http client: a huge or garbage Retry-After on a 429 is an error, not an exception escaping", "[http_client][retry_after]") {
  Upstream up([](httplib::Server& s, std::atomic<int>& hits) {
    s.Get("/r", [&](const httplib::Request& req, httplib::Response& res) {
      ++hits;
      res.status = 429;
      res.set_header("Retry-After", req.get_param_value("v"));
    });
  });
  FakeClock clock;
  Client c(policy(up), clock);
  // Once `stoll(v) * 1000`: std::out_of_range, or a negative wait after overflow.
  try {
    c.get_json("/r", {{"v", "99999999999999999999999"}});
    FAIL("no error");
  } catch (const UpstreamError& e) {
    CHECK(e.kind == UpstreamError::Kind::RateLimited);
    CHECK_THAT(e.what(), Catch::Contains("asks to wait 86400 s"));
  }
  CHECK(up.hits == 1);
  // Garbage: the usual backoff, then the 429 reported.
  clock.sleeps.clear();
  CHECK_THROWS_AS(c.get_json("/r", {{"v", "soon"}}), UpstreamError);
  CHECK(clock.sleeps.size() == 3);
  for (auto s : clock.sleeps) CHECK(s <= 1000ms);
}

namespace {

// Serves `total` bytes of 'x' with or without Content-Length, or a gzip body inflating to `total`.
void big_routes(httplib::Server& s, size_t total) {
  s.Get("/sized", [total](const httplib::Request&, httplib::Response& res) { res.set_content(std::string(total, 'x'), "application/octet-stream"); });
  s.Get("/chunked", [total](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/octet-stream", [total, sent = size_t(0)](size_t, httplib::DataSink& sink) mutable {
      std::string chunk(std::min<size_t>(1 << 16, total - sent), 'x');
      sent += chunk.size();
      if (!sink.write(chunk.data(), chunk.size())) return false;
      if (sent == total) sink.done();
      return true;
    });
  });
  // A gzip bomb: `total` zero bytes in well under 1 % of that on the wire.
  auto bomb = std::make_shared<std::string>();
  httplib::detail::gzip_compressor gz;
  const std::string zeros(1 << 20, '\0');
  for (size_t left = total; left > 0;) {
    size_t n = std::min(left, zeros.size());
    left -= n;
    REQUIRE(gz.compress(zeros.data(), n, left == 0, [&](const char* d, size_t k) {
      bomb->append(d, k);
      return true;
    }));
  }
  s.Get("/bomb", [bomb](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Encoding", "gzip");
    res.set_content(*bomb, "application/octet-stream");
  });
}

// A /proc/self/status field in KiB ("VmRSS", "VmHWM": the peak since the last reset).
long status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

}  // namespace

TEST_CASE("http client: a reply past the size limit is cut, with or without its length, and says so", "[http_client][limits]") {
  CHECK(Policy{}.max_response_bytes == size_t(32) << 20);  // the default for every adapter
  Upstream up([](httplib::Server& s, std::atomic<int>&) { big_routes(s, 3 << 20); });
  Policy p = policy(up);
  p.max_response_bytes = 1 << 20;
  Client c(p);
  for (const char* path : {"/sized", "/chunked", "/bomb"}) {
    INFO(path);
    try {
      c.send(Request{.path = path});
      FAIL("no error");
    } catch (const UpstreamError& e) {
      CHECK(e.kind == UpstreamError::Kind::TooLarge);
      CHECK_THAT(e.what(), Catch::StartsWith("Fakeify sent a reply larger than 1 MiB"));
    }
  }
  // Under the limit all is well, the gzip body inflated.
  p.max_response_bytes = 4 << 20;
  Client roomy(p);
  CHECK(roomy.send(Request{.path = "/chunked"}).body.size() == 3u << 20);
  auto inflated = roomy.send(Request{.path = "/bomb"});
  CHECK(inflated.body == std::string(3 << 20, '\0'));
}

TEST_CASE("http client: a gzip bomb inflates no further than the default limit (RSS measured)", "[http_client][limits]") {
  // 512 MiB of zeros in about 500 KB of gzip; the default limit of 32 MiB stops the inflation.
  // Bound: RSS grows by less than 96 MiB (the cut body is at most 32 MiB plus the string's
  // growth); without the limit it grows past 512 MiB.
  Upstream up([](httplib::Server& s, std::atomic<int>&) { big_routes(s, size_t(512) << 20); });
  Policy p = policy(up);
  p.timeout = 60s;
  Client c(p);
  // The peak, not what is left after the reply is freed: "5" resets VmHWM to the current RSS.
  std::ofstream("/proc/self/clear_refs") << "5";
  long before = status_kib("VmRSS");
  REQUIRE(before > 0);
  bool refused = false;
  try {
    c.send(Request{.path = "/bomb"});
  } catch (const UpstreamError& e) {
    refused = true;
    CHECK_THAT(e.what(), Catch::StartsWith("Fakeify sent a reply larger than 32 MiB"));
  }
  long peak = status_kib("VmHWM") - before;
  WARN("RSS before " << before << " KiB; peak growth during the call " << peak << " KiB");
  CHECK(refused);
#if !defined(__SANITIZE_THREAD__)  // TSan's shadow memory grows with what is touched, freed or not
  CHECK(peak < 96 * 1024);
#endif
}

TEST_CASE("http client: a path that would change the host is refused before anything is sent", "[http_client]") {
  Upstream up([](httplib::Server& s, std::atomic<int>& hits) { s.Get(".*", [&](const httplib::Request&, httplib::Response&) { ++hits; }); });
  Client c(policy(up));
  for (const char* path : {"@evil.example/x", "evil.example/x", ".evil.example"}) CHECK_THROWS_AS(c.send(Request{.path = path}), UpstreamError);
  CHECK(up.hits == 0);
  CHECK(c.send(Request{.path = "/fine"}).status == 200);
}

TEST_CASE("urls: references resolve as RFC 3986 says, origins compare scheme, host and port", "[http_client][url]") {
  auto base = parse_url("http://a/b/c/d;p?q");
  REQUIRE(base);
  // RFC 3986 section 5.4's examples.
  for (auto [ref, want] : std::vector<std::pair<std::string, std::string>>{
           {"g", "http://a/b/c/g"}, {"./g", "http://a/b/c/g"}, {"g/", "http://a/b/c/g/"}, {"/g", "http://a/g"}, {"//g", "http://g"},
           {"?y", "http://a/b/c/d;p?y"}, {"g?y", "http://a/b/c/g?y"}, {"#s", "http://a/b/c/d;p?q#s"}, {"", "http://a/b/c/d;p?q"},
           {".", "http://a/b/c/"}, {"..", "http://a/b/"}, {"../g", "http://a/b/g"}, {"../../g", "http://a/g"},
           {"../../../../g", "http://a/g"}, {"/./g", "http://a/g"}, {"g.", "http://a/b/c/g."}, {"g/../h", "http://a/b/c/h"},
           {"g;x=1/../y", "http://a/b/c/y"}, {"http:g", "http:g"}, {"@evil/x", "http://a/b/c/@evil/x"}}) {
    INFO(ref);
    auto r = resolve(*base, ref);
    REQUIRE(r);
    CHECK(r->text() == want);
  }
  auto dav = parse_url("http://127.0.0.1:5232/alice/");
  REQUIRE(dav);
  auto same = [&](const std::string& ref) { auto r = resolve(*dav, ref); return r && same_origin(*r, *dav); };
  CHECK(same("/alice/work/"));
  CHECK(same("work/"));
  CHECK(same("http://127.0.0.1:5232/x"));
  CHECK(same("HTTP://127.0.0.1:5232/x"));
  CHECK(same("@evil.example/x"));  // a path segment, not a host
  CHECK_FALSE(same("http://127.0.0.1:5233/x"));
  CHECK_FALSE(same("https://127.0.0.1:5232/x"));
  CHECK_FALSE(same("//evil.example/x"));
  CHECK_FALSE(same("http://127.0.0.1:5232@evil.example/x"));
  CHECK_FALSE(same("http://evil.example#@127.0.0.1:5232/"));
  CHECK_FALSE(same("/x\r\nHost: evil"));  // control characters: not a URL
  CHECK_FALSE(same("http://[::1/x"));
  CHECK_FALSE(same("http://127.0.0.1:99999999/x"));
  CHECK(same_origin(*parse_url("https://h/x"), *parse_url("https://H:443/y")));
  for (const char* h : {"localhost", "127.0.0.1", "127.1.2.3", "[::1]", "LOCALHOST"}) CHECK(is_loopback_host(h));
  for (const char* h : {"", "127.0.0.1.example.com", "127.1", "1.2.3.4", "localhost.example", "[::2]", "127.0.0.256", "0x7f.0.0.1"})
    CHECK_FALSE(is_loopback_host(h));
}

// Found by fuzzing (fuzz/http_client.cpp): a date in the year 4072 overflowed the conversion to
// the system clock (undefined behaviour; a wrapped, arbitrary wait).
TEST_CASE("http client: a Retry-After date centuries ahead is reported as a long wait", "[http_client]") {
  Upstream up([](httplib::Server& s, std::atomic<int>&) {
    s.Get("/far", [&](const httplib::Request&, httplib::Response& res) {
      res.status = 429;
      res.set_header("Retry-After", "Sun, 06 Nov 4072 08:49:37 GMT");
    });
  });
  FakeClock clock;
  Client c(policy(up), clock);
  try {
    c.get_json("/far");
    FAIL("no error");
  } catch (const UpstreamError& e) {
    CHECK(e.kind == UpstreamError::Kind::RateLimited);
    CHECK_THAT(e.what(), Catch::Contains("86400 s"));
  }
  CHECK(clock.sleeps.empty());
}
