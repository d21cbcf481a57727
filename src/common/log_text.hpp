#pragma once
// Text from outside (a client's name, a method, a reason, an error quoting an argument) made safe
// for one log line: control characters become visible escapes, so a "\n" in a client's name
// cannot start a forged line and an ESC cannot drive the terminal that tails the log.
#include <cstddef>
#include <string>
#include <string_view>

namespace concierge {

// C0 controls, DEL, backslash, the C1 controls (U+0080-U+009F, CSI among them) and the Unicode
// line and paragraph separators escaped as \n \r \t \\ \xNN \uNNNN; bytes that are not UTF-8
// as \xNN. Longer input is cut at `max_bytes` (of the input) and says how long it was.
std::string log_safe(std::string_view text, size_t max_bytes = 512);

}  // namespace concierge
