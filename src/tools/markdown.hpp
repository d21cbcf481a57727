#pragma once
// The tool catalogue as Markdown: `concierge tools --markdown`, committed as docs/tools.md (a test
// fails when that file and the binary disagree). Rendered from the registered tools' definitions
// and schemas alone, so the page says what the server would list, never what someone remembered.
#include <string>
#include <vector>

#include "tools/tool.hpp"

namespace concierge::tools {

// One tool as the catalogue shows it: the domain that registered it ("" for the general tools)
// and the scope a caller needs when authentication is on (scope_of).
struct CatalogueEntry {
  std::string domain;
  std::string scope;
  ToolDefinition def;
};

// Every registered tool, made with the App (as `tools --check` does), sorted by domain ("" first)
// and then by name. Independent of configuration: no --tools selection, no outside services.
std::vector<CatalogueEntry> catalogue(App& app, const std::vector<ToolFactory>& factories = registered_tools());

// A property schema's type in words: "string", "array of string", "string or object".
std::string schema_type(const Json& schema);
// Its limits as the schema keywords say them, "; "-separated: "minLength 1; maxLength 100",
// "one of `a`, `b`", "pattern `^x$`", an alternative's ("string: maxLength 10") and each array
// item's ("each item: maxLength 320"). Empty when it has none.
std::string schema_limits(const Json& schema);
// The annotations the tool sets, e.g. "readOnlyHint: true, destructiveHint: false"; "none" if none.
std::string annotations_line(const ToolHints& hints);
// Text for one table cell: '|' escaped, line breaks as spaces; "—" for an empty one.
std::string table_cell(const std::string& text);

// One tool's section (a "###" heading, its fields, the arguments and output tables).
std::string tool_markdown(const CatalogueEntry& entry);
// The whole page: a preamble, then one "##" section per domain in the entries' order.
std::string tools_markdown(const std::vector<CatalogueEntry>& entries);

}  // namespace concierge::tools
