#include "server/revision.hpp"

#include <array>
#include <utility>

namespace concierge {
namespace {
constexpr std::array<std::pair<std::string_view, Revision>, 5> kNames{{
    {"2024-11-05", Revision::V2024_11_05},
    {"2025-03-26", Revision::V2025_03_26},
    {"2025-06-18", Revision::V2025_06_18},
    {"2025-11-25", Revision::V2025_11_25},
    {"2026-07-28", Revision::V2026_07_28},
}};

struct Since {
  const char* key;
  Revision first;
};

void strip(Json& obj, Revision r, std::initializer_list<Since> fields) {
  if (!obj.is_object()) return;
  for (const auto& f : fields)
    if (r < f.first) obj.erase(f.key);
}
}  // namespace

std::optional<Revision> parse_revision(std::string_view s) {
  for (auto& [name, rev] : kNames)
    if (name == s) return rev;
  return std::nullopt;
}

std::string_view to_string(Revision r) {
  for (auto& [name, rev] : kNames)
    if (rev == r) return name;
  return "?";
}

const std::vector<std::string>& supported_revisions() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> out;
    for (auto it = kNames.rbegin(); it != kNames.rend(); ++it) out.emplace_back(it->first);
    return out;
  }();
  return v;
}

void adapt_implementation(Json& impl, Revision r) {
  strip(impl, r, {{"title", Revision::V2025_06_18},
                  {"icons", Revision::V2025_11_25},
                  {"websiteUrl", Revision::V2025_11_25},
                  {"description", Revision::V2025_11_25}});
}

void adapt_tool(Json& tool, Revision r) {
  strip(tool, r, {{"annotations", Revision::V2025_03_26},
                  {"title", Revision::V2025_06_18},
                  {"outputSchema", Revision::V2025_06_18},
                  {"_meta", Revision::V2025_06_18},
                  {"icons", Revision::V2025_11_25}});
  if (r != Revision::V2025_11_25) tool.erase("execution");  // tasks, 2025-11-25 only
  // Where a Tool has a title of its own (2025-06-18 on), annotations.title only repeats it: the
  // spec's display order is title, then annotations.title, then name.
  if (r >= Revision::V2025_06_18)
    if (auto a = tool.find("annotations"); a != tool.end()) a->erase("title");
}

void adapt_prompt(Json& prompt, Revision r) {
  strip(prompt, r, {{"title", Revision::V2025_06_18},
                    {"_meta", Revision::V2025_06_18},
                    {"icons", Revision::V2025_11_25}});
  if (auto a = prompt.find("arguments"); a != prompt.end())
    for (auto& arg : *a) strip(arg, r, {{"title", Revision::V2025_06_18}});
}

void adapt_resource(Json& resource, Revision r) {
  strip(resource, r, {{"title", Revision::V2025_06_18},
                      {"_meta", Revision::V2025_06_18},
                      {"icons", Revision::V2025_11_25}});
  if (auto a = resource.find("annotations"); a != resource.end()) adapt_annotations(*a, r);
}

void adapt_annotations(Json& annotations, Revision r) {
  strip(annotations, r, {{"lastModified", Revision::V2025_06_18}});
}

void adapt_content(Json& blocks, Revision r) {
  if (!blocks.is_array()) return;
  for (auto& b : blocks) {
    strip(b, r, {{"_meta", Revision::V2025_06_18}});
    if (auto a = b.find("annotations"); a != b.end()) adapt_annotations(*a, r);
    if (auto res = b.find("resource"); res != b.end()) strip(*res, r, {{"_meta", Revision::V2025_06_18}});
    const auto type = b.value("type", "");
    // Block types a revision lacks become text a client of that revision can show.
    if (type == "audio" && r < Revision::V2025_03_26) {
      b = Json{{"type", "text"}, {"text", "[audio: " + b.value("mimeType", "audio") + "]"}};
    } else if (type == "resource_link" && r < Revision::V2025_06_18) {
      b = Json{{"type", "text"}, {"text", b.value("uri", "")}};
    } else if (type == "resource_link") {
      adapt_resource(b, r);
    }
  }
}

void adapt_capabilities(Json& caps, Revision r) {
  strip(caps, r, {{"completions", Revision::V2025_03_26}});
  if (r != Revision::V2025_11_25) caps.erase("tasks");
  if (!is_modern(r)) caps.erase("extensions");
}

}  // namespace concierge
