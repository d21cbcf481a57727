#pragma once
// The user's preferences: typed keys with defaults and validation, stored per user.
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/json.hpp"

namespace concierge::store {

class Store;

// A refused value; the message starts with the key ("time_zone: unknown IANA time zone ...").
struct PreferenceError : std::runtime_error {
  std::string field;
  PreferenceError(std::string field, const std::string& message);
};

class Preferences {
 public:
  explicit Preferences(Store& store);

  // Every key, defaults filled in.
  Json get(const std::string& user);
  // Partial update: every key is checked first (unknown key, wrong type, bad value ->
  // PreferenceError, nothing written), then all are written in one transaction. Returns the
  // full new preferences; listeners hear of an update that changed something.
  Json update(const std::string& user, const Json& patch);
  std::string time_zone(const std::string& user);
  void on_change(std::function<void(const std::string& user)> listener);

  // The keys, in the order get() lists them.
  static const std::vector<std::string>& keys();
  // $CONCIERGE_TIME_ZONE when it names a zone, else the system's zone, else "UTC".
  static std::string system_time_zone();

 private:
  Store& store_;
  std::mutex listeners_m_;
  std::vector<std::function<void(const std::string&)>> listeners_;
};

}  // namespace concierge::store
