#pragma once
// Integrity-protected requestState for multi-round-trip requests (2026-07-28): the client echoes
// it back unchanged, so it is signed with a server key and bound to the user, the request and
// a short expiry.
#include <chrono>
#include <optional>
#include <string>

#include "common/base64.hpp"
#include "common/json.hpp"

namespace concierge {

class RequestStateSealer {
 public:
  explicit RequestStateSealer(std::string key, std::chrono::seconds ttl = std::chrono::minutes(10));
  // `binding` names what the state may be used for (user, method, digest of the parameters).
  std::string seal(const Json& payload, const std::string& binding) const;
  // The payload, or an error message saying why the state is refused.
  struct Opened {
    Json payload;
    std::string error;
  };
  Opened open(std::string_view token, const std::string& binding) const;

 private:
  std::string mac(std::string_view data) const;
  std::string key_;
  std::chrono::seconds ttl_;
};

// A digest of the request's salient parameters (everything but _meta and the MRTR fields).
std::string request_digest(const std::string& method, const Json& params);

}  // namespace concierge
