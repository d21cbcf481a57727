#pragma once
// Small text helpers every layer uses.
#include <cstddef>
#include <string>
#include <string_view>

namespace concierge {

// ASCII case folding (protocol keywords, header names, hosts): never locale-dependent.
std::string lower(std::string_view s);
std::string upper(std::string_view s);

// The start of a text for a one-line preview: runs of whitespace become one space, cut after
// about max_bytes, never inside a UTF-8 sequence.
std::string snippet(std::string_view text, size_t max_bytes = 160);

// Text as HTML, also inside double-quoted attributes: & < > " ' escaped.
std::string html_escape(std::string_view text);

}  // namespace concierge
