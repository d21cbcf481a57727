#pragma once
#include <map>
#include <string>
#include <string_view>

namespace concierge {
// schemas/<name>.json compiled into the binary, by <name> (e.g. "echo.input").
const std::map<std::string_view, std::string_view>& embedded_schemas();
}  // namespace concierge
