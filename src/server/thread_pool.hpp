#pragma once
// A worker pool that grows when every worker is busy, so a slow handler never queues a fast one
// behind it (up to max_threads; workers then stay for the life of the pool).
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace concierge {

class ThreadPool {
 public:
  ThreadPool(size_t min_threads, size_t max_threads);
  ~ThreadPool();
  void submit(std::function<void()> job);
  // Waits until no job is queued or running, or until the deadline; true if idle.
  bool wait_idle(std::chrono::milliseconds timeout);
  size_t threads() const;

 private:
  void worker();
  mutable std::mutex m_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  size_t min_, max_, idle_ = 0, running_ = 0, live_ = 0;
  bool stop_ = false;
};

}  // namespace concierge
