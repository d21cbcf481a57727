// http::Client stops a cancelled call wherever it is: during the transfer (the connection is
// closed), in a retry's backoff, and while waiting for the rate budget. Each returns well within
// a second of the cancellation, throws Kind::Cancelled, and charges the breaker nothing.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <condition_variable>
#include <future>

#include "providers/http/client.hpp"
#include "support/stall_server.hpp"

using namespace concierge;
using namespace concierge::providers::http;
using namespace concierge::test;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

// The system clock, telling the test when the client starts a wait (backoff or budget).
struct SignallingClock : Clock {
  std::mutex m;
  std::condition_variable cv;
  int waits = 0;
  SteadyClock::time_point now() override { return Clock::system().now(); }
  void sleep_for(Ms d) override { Clock::system().sleep_for(d); }
  bool wait(Ms d, const CancelToken* cancel) override {
    {
      std::lock_guard l(m);
      ++waits;
    }
    cv.notify_all();
    return Clock::system().wait(d, cancel);
  }
  bool wait_started(std::chrono::milliseconds d) {
    std::unique_lock l(m);
    return cv.wait_for(l, d, [&] { return waits > 0; });
  }
};

// Runs `send` on another thread, cancels once `ready` says the call is where the test wants it,
// and returns how long the call took to end after the cancellation.
template <class Ready>
double cancel_when(Client& c, const Request& r, Ready ready) {
  CancelToken cancel;
  auto call = std::async(std::launch::async, [&] {
    try {
      c.send(r, &cancel);
      FAIL("the call was not cancelled");
    } catch (const UpstreamError& e) {
      CHECK(e.kind == UpstreamError::Kind::Cancelled);
    }
  });
  REQUIRE(ready());
  auto at = SteadyClock::now();
  cancel.cancel();
  call.get();
  return std::chrono::duration<double>(SteadyClock::now() - at).count();
}

Policy slow_policy(const std::string& base_url) {
  Policy p;
  p.service = "Fakeify";
  p.base_url = base_url;
  p.timeout = 20s;
  return p;
}

}  // namespace

TEST_CASE("http client: a cancellation during the transfer closes the connection at once", "[http_client][cancel]") {
  StallServer stall;
  Client c(slow_policy(stall.url("")));
  double took = cancel_when(c, Request{.path = "/stalls"}, [&] { return stall.wait_requests(1, 10s); });
  CHECK(took < 1.0);
  CHECK(stall.wait_closed(1, 5s));  // the upstream sees the call end
  CHECK(c.status()["failures_in_a_row"] == 0);
  CHECK(c.breaker() == BreakerState::Closed);
}

TEST_CASE("http client: a cancellation during a retry's backoff ends the wait", "[http_client][cancel]") {
  httplib::Server server;
  std::atomic<int> hits{0};
  server.Get("/busy", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    res.status = 429;
    res.set_header("Retry-After", "10");  // a long wait the cancellation cuts short
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  SignallingClock clock;
  {
    Client c(slow_policy("http://127.0.0.1:" + std::to_string(port)), clock);
    double took = cancel_when(c, Request{.path = "/busy"}, [&] { return clock.wait_started(10s); });
    CHECK(took < 1.0);
    CHECK(hits == 1);  // not retried after the cancellation
    CHECK(c.status()["failures_in_a_row"] == 0);
  }
  server.stop();
  t.join();
}

TEST_CASE("http client: a cancellation while waiting for the rate budget ends the wait", "[http_client][cancel]") {
  httplib::Server server;
  std::atomic<int> hits{0};
  server.Get("/ok", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    res.set_content("{}", "application/json");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  SignallingClock clock;
  {
    Policy p = slow_policy("http://127.0.0.1:" + std::to_string(port));
    p.rate_per_second = 0.2;  // the second call waits 5 s for its token
    p.burst = 1;
    p.max_budget_wait = 10s;
    Client c(p, clock);
    CHECK(c.send(Request{.path = "/ok"}).status == 200);
    double took = cancel_when(c, Request{.path = "/ok"}, [&] { return clock.wait_started(10s); });
    CHECK(took < 1.0);
    CHECK(hits == 1);  // the cancelled call never went out
    CHECK(c.status()["failures_in_a_row"] == 0);
  }
  server.stop();
  t.join();
}
