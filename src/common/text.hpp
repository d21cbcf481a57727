#pragma once
// Small text helpers every layer uses.
#include <string>
#include <string_view>

namespace concierge {

// ASCII case folding (protocol keywords, header names, hosts): never locale-dependent.
std::string lower(std::string_view s);
std::string upper(std::string_view s);

}  // namespace concierge
