#pragma once
// The server's log lines captured during tests (most recent last).
#include <string>
#include <vector>

namespace concierge::test {
std::vector<std::string> captured_logs();
}
