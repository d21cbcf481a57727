#pragma once
// Which user's resources changed, told to every process on the data directory: instances behind
// one load balancer each hold their own subscribers (subscriptions/listen, resources/subscribe),
// and a change made through one must reach the others'. Rows in one small table, appended by the
// process that made the change and read by the others every poll period; old rows are pruned.
// (One database server shared by several machines would do this with LISTEN/NOTIFY instead.)
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace concierge::store {

class Store;

class ChangeFeed {
 public:
  using Listener = std::function<void(const std::string& user, const std::string& uri)>;
  // In memory (no data directory) nothing is shared and no thread runs.
  explicit ChangeFeed(Store& store, std::chrono::milliseconds poll = std::chrono::milliseconds(250));
  ~ChangeFeed();
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // Tells the other processes (never this one: it has told its own subscribers already).
  // Best effort: a failure is logged, the change itself stands.
  void publish(const std::string& user, const std::string& uri);
  // Called on the feed's thread for every change another process published, until the returned
  // handle goes: once it is gone, no call is running or will start (keep it no longer than what
  // the listener uses).
  [[nodiscard]] std::shared_ptr<void> on_change(Listener listener);

 private:
  void run();
  void poll_once();

  Store& store_;
  const std::chrono::milliseconds poll_;
  const std::string origin_;  // this process, random
  int64_t last_seq_ = 0;
  std::chrono::steady_clock::time_point next_prune_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::mutex listeners_m_;  // held while listeners run, so removing one waits for its call to end
  std::vector<std::pair<uint64_t, Listener>> listeners_;
  uint64_t next_listener_ = 1;
  std::thread thread_;
};

}  // namespace concierge::store
