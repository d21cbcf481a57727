#pragma once
// Held while a process creates or migrates the database and fills the demo data, so that of
// several processes starting at once on one data directory one does it and the others wait, then
// see the result. A lock file (flock on DIR/concierge.lock) rather than an SQLite transaction:
// the demo fill is many transactions through the providers' API, the WAL switch of a new
// database comes before any transaction can be held, and the kernel drops the lock when its
// process dies, so it is never stale.
#include <chrono>
#include <filesystem>

namespace concierge::store {

class StartLock {
 public:
  // Creates the directory (0700) when missing. Throws std::runtime_error naming the lock file
  // when another process holds it longer than `wait`.
  explicit StartLock(const std::filesystem::path& dir, std::chrono::milliseconds wait = std::chrono::seconds(60));
  ~StartLock();
  StartLock(const StartLock&) = delete;
  StartLock& operator=(const StartLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace concierge::store
