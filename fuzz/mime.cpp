// RFC 5322 / MIME messages (providers/mail/mime.hpp) as a mailbox hands them over: parsed for
// reading and indexing, then their first line as an address a tool argument would give.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "providers/mail/mime.hpp"
#include "server/registry.hpp"

using namespace concierge;
namespace mail = concierge::providers::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string raw(reinterpret_cast<const char*>(data), size);
  try {
    mail::MimeMessage m = mail::parse(raw);
    // What we read must survive being written again (replies and forwards quote it).
    for (auto& a : m.attachments) a.data.assign(a.size % 64, 'x');
    (void)mail::build(m);
  } catch (const std::runtime_error&) {  // "not an RFC 5322 message"
  }
  try {
    (void)mail::format_address(mail::parse_address(raw.substr(0, raw.find('\n')), "to"));
  } catch (const ToolError&) {
  }
  return 0;
}
