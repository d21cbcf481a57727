#pragma once
// The mail domain: what any mail provider can do. Tools in src/tools/mail/ use only this.
#include <cstdint>

namespace concierge::providers::mail {

class MailProvider {
 public:
  virtual ~MailProvider() = default;
};

}  // namespace concierge::providers::mail
