#pragma once
// MCP protocol revisions and what each one's wire format allows.
#include <optional>
#include <string_view>
#include <vector>

#include "common/json.hpp"

namespace concierge {

enum class Revision { V2024_11_05, V2025_03_26, V2025_06_18, V2025_11_25, V2026_07_28 };

inline constexpr Revision kLatestLegacy = Revision::V2025_11_25;
inline constexpr Revision kLatest = Revision::V2026_07_28;

std::optional<Revision> parse_revision(std::string_view s);
std::string_view to_string(Revision r);
// Every supported revision, newest first (server/discover, -32022 data).
const std::vector<std::string>& supported_revisions();
inline bool is_modern(Revision r) { return r >= Revision::V2026_07_28; }

// Downgrades: remove what a revision does not define, so a client of that revision sees only
// fields its schema knows. Objects are edited in place.
void adapt_implementation(Json& impl, Revision r);
void adapt_tool(Json& tool, Revision r);
void adapt_prompt(Json& prompt, Revision r);
void adapt_resource(Json& resource, Revision r);  // also resource templates
void adapt_content(Json& content_blocks, Revision r);  // an array of content blocks
void adapt_annotations(Json& annotations, Revision r);
void adapt_capabilities(Json& caps, Revision r);

}  // namespace concierge
