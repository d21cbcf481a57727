#include "providers/http/client.hpp"
#include "common/json_parse.hpp"

#include "providers/http/transfer.hpp"
#include "providers/http/url.hpp"

#include <algorithm>
#include <cmath>
#include <curl/curl.h>
#include <random>
#include <strings.h>
#include <thread>

namespace concierge::providers::http {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

class SystemClock : public Clock {
 public:
  SteadyTime now() override { return std::chrono::steady_clock::now(); }
  void sleep_for(Ms d) override { std::this_thread::sleep_for(d); }
  bool wait(Ms d, const CancelToken* cancel) override {
    if (!cancel) {
      sleep_for(d);
      return false;
    }
    return cancel->wait_for(d);
  }
};

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// What a reply may grow to: the body as written (after decompression) and the headers together.
struct Received {
  Response* response;
  size_t limit;
  size_t bytes = 0;
  bool over = false;
  bool take(size_t n) {
    bytes += n;
    over = over || bytes > limit;
    return !over;
  }
};

size_t on_body(char* data, size_t size, size_t n, void* out) {
  auto* r = static_cast<Received*>(out);
  if (!r->take(size * n)) return 0;  // curl stops with CURLE_WRITE_ERROR
  r->response->body.append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* out) {
  auto* r = static_cast<Received*>(out);
  if (!r->take(size * n)) return 0;
  auto& headers = r->response->headers;
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon), value = line.substr(colon + 1);
    for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
    auto trim = [](std::string& s) {
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
    };
    trim(value);
    headers[name] = value;
  } else if (line.rfind("HTTP/", 0) == 0) {
    headers.clear();  // a new response (after 100-continue, redirects)
  }
  return size * n;
}

bool idempotent(const std::string& method) {
  // PROPFIND and REPORT only read (WebDAV/CalDAV), so they are as safe to repeat as GET.
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" || method == "OPTIONS" || method == "PROPFIND" ||
         method == "REPORT";
}

std::optional<Ms> retry_after(const Response& r) {
  auto it = r.headers.find("retry-after");
  if (it == r.headers.end()) return std::nullopt;
  return parse_retry_after(it->second, std::chrono::system_clock::now());
}

std::string mebibytes(size_t n) {
  return n % (1 << 20) == 0 ? std::to_string(n >> 20) + " MiB" : std::to_string(n) + " bytes";
}

std::string seconds(Ms d) { return std::to_string((d.count() + 999) / 1000) + " s"; }

}  // namespace

Clock& Clock::system() {
  static SystemClock c;
  return c;
}

std::string_view to_string(BreakerState s) {
  switch (s) {
    case BreakerState::Closed: return "closed";
    case BreakerState::Open: return "open";
    case BreakerState::HalfOpen: return "half_open";
  }
  return "closed";
}

UpstreamError::UpstreamError(Kind k, std::string s, const std::string& message, long st)
    : std::runtime_error(message), kind(k), service(std::move(s)), status(st) {}

Json Response::json(const std::string& service) const {
  Json j = parse_json(body);
  if (j.is_discarded())
    throw UpstreamError(UpstreamError::Kind::Malformed, service,
                        service + " sent a reply that is not JSON (HTTP " + std::to_string(status) + ", " + std::to_string(body.size()) +
                            " bytes); this is on their side, try again later");
  return j;
}

// An easy handle with the multi handle that drives it (see transfer.hpp) and keeps its
// connections alive between calls.
struct Client::Curl {
  CURL* h = curl_easy_init();
  CURLM* m = curl_multi_init();
  ~Curl() {
    curl_multi_cleanup(m);
    curl_easy_cleanup(h);
  }
};

namespace {
metrics::Counter& upstream_requests() {
  static metrics::Counter& c = metrics::Registry::global().counter(
      "concierge_upstream_requests_total",
      "HTTP requests sent to a service (each attempt), by service and HTTP status, or timeout, network or too_large.",
      {"service", "status"});
  return c;
}
}  // namespace

Client::Client(Policy policy, Clock& clock) : policy_(std::move(policy)), clock_(clock) {
  global_init();
  tokens_ = policy_.burst;
  refilled_ = clock_.now();
  upstream_requests();  // registered before the first scrape, not at the first call
  metrics_ = metrics::Registry::global().add_collector([this](std::vector<metrics::Sample>& out) {
    const BreakerState b = breaker();
    double budget;
    {
      std::lock_guard l(m_);
      const double elapsed = std::chrono::duration<double>(clock_.now() - refilled_).count();
      budget = std::min<double>(policy_.burst, tokens_ + elapsed * policy_.rate_per_second);
    }
    const std::vector<std::pair<std::string, std::string>> labels{{"service", policy_.service}, {"api", policy_.api}};
    out.push_back({"concierge_upstream_breaker_state", "A service's circuit breaker: 0 closed, 1 half-open (one trial call), 2 open.",
                   "gauge", labels, b == BreakerState::Closed ? 0.0 : b == BreakerState::HalfOpen ? 1.0 : 2.0});
    out.push_back({"concierge_upstream_rate_budget", "Calls a service's rate budget allows now without waiting.", "gauge", labels, budget});
  });
}

Client::~Client() = default;

BreakerState Client::breaker() {
  std::lock_guard l(m_);
  if (state_ == BreakerState::Open && clock_.now() >= open_until_) return BreakerState::HalfOpen;
  return state_;
}

Json Client::status() {
  auto b = breaker();
  std::lock_guard l(m_);
  return Json{{"breaker", std::string(to_string(b))}, {"failures_in_a_row", failures_}, {"budget_left", int(tokens_)}};
}

void Client::before_call() {
  std::lock_guard l(m_);
  if (state_ == BreakerState::Closed) return;
  auto now = clock_.now();
  if (state_ == BreakerState::Open && now >= open_until_) state_ = BreakerState::HalfOpen;
  if (state_ == BreakerState::HalfOpen && !trial_in_flight_) {
    trial_in_flight_ = true;  // one call tries; the others keep failing fast until it answers
    return;
  }
  auto left = std::chrono::duration_cast<Ms>(std::max(open_until_ - now, SteadyTime::duration(0)));
  throw UpstreamError(UpstreamError::Kind::BreakerOpen, policy_.service,
                      policy_.service + " failed " + std::to_string(failures_) + " times in a row; Concierge stops calling it for " +
                          seconds(std::max(left, Ms(1000))) + " and then tries again");
}

void Client::record(bool ok) {
  std::lock_guard l(m_);
  trial_in_flight_ = false;
  if (ok) {
    failures_ = 0;
    state_ = BreakerState::Closed;
    return;
  }
  ++failures_;
  if (state_ == BreakerState::HalfOpen || failures_ >= policy_.breaker_threshold) {
    state_ = BreakerState::Open;
    open_until_ = clock_.now() + policy_.breaker_cooldown;
  }
}

void Client::cancelled() {
  throw UpstreamError(UpstreamError::Kind::Cancelled, policy_.service, "the call to " + policy_.service + " was cancelled");
}

void Client::take_budget(const CancelToken* cancel) {
  Ms wait{0};
  {
    std::lock_guard l(m_);
    auto now = clock_.now();
    double elapsed = std::chrono::duration<double>(now - refilled_).count();
    tokens_ = std::min<double>(policy_.burst, tokens_ + elapsed * policy_.rate_per_second);
    refilled_ = now;
    if (tokens_ >= 1) {
      tokens_ -= 1;
      return;
    }
    wait = Ms(int64_t(std::ceil((1 - tokens_) / policy_.rate_per_second * 1000)));
    if (wait > policy_.max_budget_wait)
      throw UpstreamError(UpstreamError::Kind::RateLimited, policy_.service,
                          "the budget of calls to " + policy_.service + " is spent for now; try again in " + seconds(wait));
    tokens_ -= 1;  // reserved: the refill while waiting pays for it
  }
  if (clock_.wait(wait, cancel)) {
    std::lock_guard l(m_);
    tokens_ += 1;  // not spent: the reservation goes back
    cancelled();
  }
}

Ms Client::backoff(int attempt) {
  // Full jitter: uniform in [0, min(max, base * 2^attempt)], so retrying clients spread out.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t cap = std::min<int64_t>(policy_.backoff_max.count(), policy_.backoff_base.count() << std::min(attempt, 20));
  return Ms(std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(cap, 0))(rng));
}

std::optional<Response> Client::perform(const Request& r, const CancelToken* cancel, std::string& error, bool& timed_out, bool& too_large) {
  std::unique_ptr<Curl> c;
  {
    std::lock_guard l(m_);
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!c) c = std::make_unique<Curl>();
  CURL* h = c->h;
  curl_easy_reset(h);  // options go; the connection cache stays
  std::string url = policy_.base_url + r.path;
  for (size_t i = 0; i < r.query.size(); ++i) {
    char* k = curl_easy_escape(h, r.query[i].first.c_str(), int(r.query[i].first.size()));
    char* v = curl_easy_escape(h, r.query[i].second.c_str(), int(r.query[i].second.size()));
    url += (i == 0 && url.find('?') == std::string::npos ? "?" : "&") + std::string(k) + "=" + v;
    curl_free(k);
    curl_free(v);
  }
  Response resp;
  Received received{&resp, policy_.max_response_bytes};
  std::string body = r.json ? r.json->dump() : r.body;
  curl_slist* headers = nullptr;
  // JSON unless the request asks for something else (CalDAV wants XML).
  bool own_accept = std::any_of(r.headers.begin(), r.headers.end(), [](auto& h) { return strcasecmp(h.first.c_str(), "Accept") == 0; });
  if (!own_accept) headers = curl_slist_append(headers, "Accept: application/json");
  if (r.json || !r.content_type.empty())
    headers = curl_slist_append(headers, ("Content-Type: " + (r.json ? std::string("application/json") : r.content_type)).c_str());
  for (auto& [k, v] : r.headers) headers = curl_slist_append(headers, (k + ": " + v).c_str());
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  if (r.method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  if (!body.empty() || r.json) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.size()));
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, long(policy_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, long(policy_.timeout.count()));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);  // the defaults, said out loud: never off
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);       // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(h, CURLOPT_USERAGENT, "concierge/" CONCIERGE_VERSION);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &received);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &received);
  // A declared length past the limit is refused before any of it is read.
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(policy_.max_response_bytes));
  CURLcode rc = perform_cancellable(h, c->m, cancel);
  curl_slist_free_all(headers);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  {
    std::lock_guard l(m_);
    if (idle_.size() < 16) idle_.push_back(std::move(c));
  }
  if (rc == CURLE_ABORTED_BY_CALLBACK) cancelled();
  if (rc != CURLE_OK) {
    timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    too_large = received.over || rc == CURLE_FILESIZE_EXCEEDED;
    error = curl_easy_strerror(rc);  // says what failed, never the URL's query or headers
    return std::nullopt;
  }
  return resp;
}

Response Client::send(const Request& r, const CancelToken* cancel) {
  // The path only extends the base URL: "@host/x" would change where the request (and its
  // Authorization header) goes.
  if (!policy_.base_url.empty() && !r.path.empty() && r.path[0] != '/' && r.path[0] != '?')
    throw UpstreamError(UpstreamError::Kind::Malformed, policy_.service,
                        "a call to " + policy_.service + " was refused: its path does not start with '/'");
  // Keyed by the headers too: two accounts (Authorization) or API versions never share an entry.
  // Only a hash of them is kept, so no token sits in the key.
  const std::string key = r.method + " " + r.path + [&] {
    std::string q, h;
    for (auto& [k, v] : r.query) q += "&" + k + "=" + v;
    for (auto& [k, v] : r.headers) h += k + ":" + v + "\n";
    return q + " #" + std::to_string(std::hash<std::string>{}(h));
  }();
  bool use_cache = r.cacheable && r.method == "GET" && policy_.cache_ttl.count() > 0;
  if (use_cache) {
    std::lock_guard l(m_);
    auto it = cache_.find(key);
    if (it != cache_.end() && clock_.now() < it->second.first) return it->second.second;
  }
  const bool may_repeat = idempotent(r.method);
  std::string last;
  for (int attempt = 0;; ++attempt) {
    if (cancel && cancel->cancelled()) cancelled();
    before_call();
    std::optional<Response> resp;
    std::string error;
    bool timed_out = false, too_large = false;
    try {
      take_budget(cancel);
      resp = perform(r, cancel, error, timed_out, too_large);
      upstream_requests().inc({policy_.service, resp                ? std::to_string(resp->status)
                                                : timed_out ? "timeout"
                                                : too_large ? "too_large"
                                                            : "network"});
    } catch (const UpstreamError& e) {
      // A cancelled call says nothing about the service: a half-open breaker's trial is freed
      // for the next call, and nothing is counted.
      if (e.kind == UpstreamError::Kind::Cancelled) {
        std::lock_guard l(m_);
        trial_in_flight_ = false;
      }
      throw;
    }
    std::optional<Ms> wait;
    bool retryable = false;
    if (!resp) {
      record(false);
      if (too_large)  // not retried: the same call would bring the same flood
        throw UpstreamError(UpstreamError::Kind::TooLarge, policy_.service,
                            policy_.service + " sent a reply larger than " + mebibytes(policy_.max_response_bytes) +
                                " (the limit for one reply from it, decompressed); the call was stopped");
      last = timed_out ? policy_.service + " did not answer within " + seconds(policy_.timeout)
                       : policy_.service + " could not be reached (" + error + ")";
      // A request that was never sent may go again; one that timed out only if repeating is safe.
      retryable = may_repeat || !timed_out;
      if (attempt + 1 >= policy_.max_attempts || !retryable)
        throw UpstreamError(timed_out ? UpstreamError::Kind::Timeout : UpstreamError::Kind::Network, policy_.service,
                            last + (attempt ? " (" + std::to_string(attempt + 1) + " attempts)" : "") + "; try again later");
    } else if (resp->status == 429 || resp->status >= 500) {
      if (resp->status == 429) {  // being told to slow down is not the service failing
        std::lock_guard l(m_);
        trial_in_flight_ = false;
      } else {
        record(false);
      }
      wait = retry_after(*resp);
      last = resp->status == 429 ? policy_.service + " is limiting how often it may be called"
                                 : policy_.service + " answered HTTP " + std::to_string(resp->status);
      retryable = resp->status == 429 || may_repeat;
      if (wait && *wait > policy_.max_retry_after)
        throw UpstreamError(UpstreamError::Kind::RateLimited, policy_.service, last + "; it asks to wait " + seconds(*wait), resp->status);
      if (attempt + 1 >= policy_.max_attempts || !retryable)
        throw UpstreamError(resp->status == 429 ? UpstreamError::Kind::RateLimited : UpstreamError::Kind::Status, policy_.service,
                            last + (attempt ? " (" + std::to_string(attempt + 1) + " attempts)" : "") + "; try again later", resp->status);
    } else {
      record(true);
      if (use_cache) {
        std::lock_guard l(m_);
        if (cache_.size() >= 256) cache_.clear();  // small by design: reads that repeat within seconds
        cache_[key] = {clock_.now() + policy_.cache_ttl, *resp};
      }
      return *resp;
    }
    if (clock_.wait(wait ? *wait : backoff(attempt), cancel)) cancelled();
  }
}

Json Client::get_json(const std::string& path, std::vector<std::pair<std::string, std::string>> query, bool cacheable) {
  Request r;
  r.path = path;
  r.query = std::move(query);
  r.cacheable = cacheable;
  auto resp = send(r);
  if (resp.status >= 400)
    throw UpstreamError(UpstreamError::Kind::Status, policy_.service,
                        policy_.service + " answered HTTP " + std::to_string(resp.status) + " to " + path, resp.status);
  return resp.json(policy_.service);
}

}  // namespace concierge::providers::http
