// The mail search language (providers/mail/query.hpp): a query string as a tool argument gives
// it, parsed into terms and then into SQL. Anything but a ToolError naming `query` is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "providers/mail/query.hpp"
#include "server/registry.hpp"

using namespace concierge;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const date::time_zone* tz = date::locate_zone("Europe/Berlin");
  std::string query(reinterpret_cast<const char*>(data), size);
  try {
    auto terms = providers::mail::parse_query(query);
    auto sql = providers::mail::to_sql(terms, tz);
    if (sql.where.empty()) __builtin_trap();  // "1" when there is no term
  } catch (const ToolError&) {
  }
  return 0;
}
