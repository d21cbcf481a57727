// An IMAP server's stream as the adapter reads it (providers/mail/imap_wire.hpp): responses,
// SEARCH and FETCH data, BODYSTRUCTURE, response codes and their UID sets. A stream that can't
// be read throws a std::exception (the adapter reports the server's fault); crashes, hangs and
// unbounded memory are bugs.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "providers/mail/imap_wire.hpp"

using namespace concierge::providers::mail::imap;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string stream(reinterpret_cast<const char*>(data), size);
  try {
    auto rs = parse_responses(stream);
    (void)search_uids(rs);
    for (auto& [uid, items] : fetch_items(rs))
      if (auto bs = items.find("BODYSTRUCTURE"); bs != items.end()) (void)has_attachment(bs->second);
    for (auto& r : rs) {
      (void)r.status();
      (void)response_code(r.text, "UIDVALIDITY");
      if (auto copy = response_code(r.text, "COPYUID"); copy.size() == 3) {  // as mail_modify reads it
        (void)expand_set(copy[1]);
        (void)expand_set(copy[2]);
      }
    }
  } catch (const std::exception&) {
  }
  return 0;
}
