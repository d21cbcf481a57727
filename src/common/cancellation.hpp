#pragma once
// A shared cancellation flag a handler can poll or sleep on.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace concierge {

// Thrown by work that stopped because its token fired: nobody waits for its answer, so the
// core ends the request without a reply (and history records it as cancelled).
struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("cancelled") {}
};

class CancelToken {
 public:
  CancelToken() : s_(std::make_shared<State>()) {}
  void cancel() const {
    { std::lock_guard l(s_->m); s_->cancelled = true; }
    s_->cv.notify_all();
  }
  bool cancelled() const { std::lock_guard l(s_->m); return s_->cancelled; }
  // Sleeps up to d; returns true if cancelled meanwhile.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    std::unique_lock l(s_->m);
    return s_->cv.wait_for(l, d, [&] { return s_->cancelled; });
  }

 private:
  struct State {
    std::mutex m;
    std::condition_variable cv;
    bool cancelled = false;
  };
  std::shared_ptr<State> s_;
};

}  // namespace concierge
