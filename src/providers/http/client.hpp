#pragma once
// Outbound HTTP toward the services the adapters speak to (Google, Spotify, Cal.com...), on
// libcurl: connections kept and reused, timeouts, TLS verification on, JSON in and out, retries
// with exponential backoff and full jitter on 429/5xx/timeouts/connection failures honouring
// Retry-After, a circuit breaker and a rate budget per service, and a small TTL cache for reads.
// The base URL is configuration, so tests point a client at a local fake.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cancellation.hpp"
#include "common/json.hpp"
#include "common/metrics.hpp"

namespace concierge::providers::http {

using Ms = std::chrono::milliseconds;

// Time as the client sees it: the tests' fake one moves only when told, so backoff, Retry-After,
// breaker cool-downs and cache expiry are checked without waiting.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() = 0;
  virtual void sleep_for(Ms d) = 0;
  // Sleeps up to d, waking early when `cancel` fires; true if it did. The fake clocks keep
  // this default (their sleep moves time at once); the system clock waits on the token.
  virtual bool wait(Ms d, const CancelToken* cancel) {
    if (cancel && cancel->cancelled()) return true;
    sleep_for(d);
    return cancel && cancel->cancelled();
  }
  static Clock& system();
};

struct Policy {
  std::string service = "upstream";  // in messages: "Spotify did not answer in time"
  std::string api;                   // which of the service's APIs (/metrics' `api` label): "gmail", "oauth"
  std::string base_url;              // "https://api.spotify.com/v1"
  Ms connect_timeout{5000}, timeout{15000};
  int max_attempts = 4;               // first try included
  Ms backoff_base{250}, backoff_max{8000};
  Ms max_retry_after{60000};          // a longer Retry-After is reported, not waited for
  int breaker_threshold = 5;          // failures in a row that open the breaker
  Ms breaker_cooldown{30000};         // open this long, then one trial call
  double rate_per_second = 10;        // the budget: tokens per second...
  int burst = 20;                     // ...and how many may be saved up
  Ms max_budget_wait{2000};           // wait this long for the budget at most, else refuse
  Ms cache_ttl{0};                    // reads marked cacheable are kept this long (0: never)
  // A reply's body as it arrives after decompression (a small gzip can inflate to gigabytes), and
  // its headers, are cut here: the call fails naming the service and the limit.
  size_t max_response_bytes = size_t(32) << 20;
};

struct Request {
  std::string method = "GET";
  std::string path;  // appended to the base URL
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<Json> json;  // sent as application/json
  std::string body;          // or a body as it is...
  std::string content_type;  // ...with its type
  bool cacheable = false;
};

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  // The body as JSON; UpstreamError (Malformed) when it isn't.
  Json json(const std::string& service) const;
};

class UpstreamError : public std::runtime_error {
 public:
  // Cancelled: the caller gave up; not the service failing (no breaker charge, no retry).
  enum class Kind { Timeout, Network, Status, Malformed, BreakerOpen, RateLimited, TooLarge, Cancelled };
  UpstreamError(Kind kind, std::string service, const std::string& message, long status = 0);
  Kind kind;
  std::string service;
  long status;
};

enum class BreakerState { Closed, Open, HalfOpen };
std::string_view to_string(BreakerState s);

class Client {
 public:
  explicit Client(Policy policy, Clock& clock = Clock::system());
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // 2xx-4xx answers come back as they are (the adapter knows what a 404 means); what is worth
  // another try is retried; what stays broken becomes an UpstreamError that says what happened.
  // A cancelled token stops the call within ~100 ms wherever it is (transfer, backoff, budget
  // wait): the transfer's connection is closed and UpstreamError Kind::Cancelled thrown.
  Response send(const Request& request, const CancelToken* cancel = nullptr);
  Json get_json(const std::string& path, std::vector<std::pair<std::string, std::string>> query = {}, bool cacheable = false);

  BreakerState breaker();
  // For concierge://services: breaker state, failures in a row, budget left.
  Json status();
  const Policy& policy() const { return policy_; }

 private:
  struct Curl;
  std::optional<Response> perform(const Request& r, const CancelToken* cancel, std::string& error, bool& timed_out, bool& too_large);
  void take_budget(const CancelToken* cancel);
  [[noreturn]] void cancelled();
  void before_call();
  void record(bool ok);
  Ms backoff(int attempt);

  Policy policy_;
  Clock& clock_;
  std::mutex m_;
  std::vector<std::unique_ptr<Curl>> idle_;  // easy handles keep their connections alive
  // breaker
  int failures_ = 0;
  BreakerState state_ = BreakerState::Closed;
  std::chrono::steady_clock::time_point open_until_{};
  bool trial_in_flight_ = false;
  // budget
  double tokens_;
  std::chrono::steady_clock::time_point refilled_;
  // cache
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, Response>> cache_;
  // Last: the breaker and budget gauges stop being read before the rest goes.
  metrics::Registry::Handle metrics_;
};

}  // namespace concierge::providers::http
