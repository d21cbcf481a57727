#include "server/thread_pool.hpp"

namespace concierge {

ThreadPool::ThreadPool(size_t min_threads, size_t max_threads)
    : min_(std::max<size_t>(1, min_threads)), max_(std::max(min_threads, max_threads)) {
  std::lock_guard l(m_);
  for (size_t i = 0; i < min_; ++i) { threads_.emplace_back([this] { worker(); }); ++live_; }
}

ThreadPool::~ThreadPool() {
  { std::lock_guard l(m_); stop_ = true; }
  cv_.notify_all();
  for (auto& t : threads_) if (t.joinable()) t.join();
}

void ThreadPool::submit(std::function<void()> job) {
  std::lock_guard l(m_);
  queue_.push_back(std::move(job));
  if (idle_ < queue_.size() && live_ < max_) {
    threads_.emplace_back([this] { worker(); });
    ++live_;
  }
  cv_.notify_one();
}

void ThreadPool::worker() {
  std::unique_lock l(m_);
  for (;;) {
    ++idle_;
    cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
    --idle_;
    if (stop_ && queue_.empty()) break;
    auto job = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    l.unlock();
    job();
    job = nullptr;  // release captures outside the lock
    l.lock();
    --running_;
    if (running_ == 0 && queue_.empty()) idle_cv_.notify_all();
  }
  --live_;
}

bool ThreadPool::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock l(m_);
  return idle_cv_.wait_for(l, timeout, [&] { return running_ == 0 && queue_.empty(); });
}

size_t ThreadPool::threads() const {
  std::lock_guard l(m_);
  return live_;
}

}  // namespace concierge
