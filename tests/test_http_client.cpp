// The outbound HTTP client against a local fake upstream (cpp-httplib on port 0): retries with
// backoff, Retry-After, timeouts, malformed JSON, the circuit breaker, the rate budget, the cache.
// A fake clock records the waits instead of sleeping them.
#include <atomic>
#include <catch2/catch.hpp>
#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "providers/http/client.hpp"

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
