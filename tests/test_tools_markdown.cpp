// The tool catalogue's Markdown (`concierge tools --markdown`, docs/tools.md): each piece on
// schemas written here, then the catalogue of the tools this binary registers.
#include <catch2/catch.hpp>

#include "support/app_fixture.hpp"
#include "tools/markdown.hpp"

using namespace concierge;
using namespace concierge::tools;

namespace {

CatalogueEntry sample_entry() {
  ToolDefinition d;
  d.name = "notes_add";
  d.title = "Add a note";
  d.description = "Keeps a note.";
  d.hints = {.read_only = false, .destructive = false};
  d.task_support = TaskSupport::Optional;
  d.input_schema = Json::parse(R"({"type": "object", "required": ["text"], "properties": {
      "text": {"type": "string", "minLength": 1, "maxLength": 200, "description": "The note | its text."},
      "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
      "at": {"type": "string"}}})");
  d.output_schema = Json::parse(R"({"type": "object", "required": ["count"], "properties": {
      "count": {"type": "integer"}, "warning": {"type": "string", "description": "Why not."}}})");
  return {"notes", "notes:write", d};
}

}  // namespace

TEST_CASE("a property's type in words", "[tools_markdown]") {
  CHECK(schema_type(Json::parse(R"({"type": "string"})")) == "string");
  CHECK(schema_type(Json::parse(R"({"type": ["string", "null"]})")) == "string or null");
  CHECK(schema_type(Json::parse(R"({"type": "array", "items": {"type": "integer"}})")) == "array of integer");
  CHECK(schema_type(Json::parse(R"({"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}})")) ==
        "array of string or object");
  CHECK(schema_type(Json::parse(R"({"type": "array"})")) == "array");
  CHECK(schema_type(Json::parse(R"({"enum": [1, 2]})")) == "enum");
  CHECK(schema_type(Json::object()) == "any");
}

TEST_CASE("a property's limits, as the schema keywords say them", "[tools_markdown]") {
  CHECK(schema_limits(Json::parse(R"({"type": "string"})")).empty());
  CHECK(schema_limits(Json::parse(R"({"type": "string", "minLength": 1, "maxLength": 100})")) == "minLength 1; maxLength 100");
  CHECK(schema_limits(Json::parse(R"({"type": "integer", "minimum": 1, "maximum": 250})")) == "minimum 1; maximum 250");
  CHECK(schema_limits(Json::parse(R"({"enum": ["a", "b"]})")) == "one of `a`, `b`");
  CHECK(schema_limits(Json::parse(R"({"type": "string", "pattern": "^[a-z]+$"})")) == "pattern `^[a-z]+$`");
  CHECK(schema_limits(Json::parse(R"({"type": "array", "maxItems": 20, "uniqueItems": true,
                                      "items": {"type": "string", "maxLength": 320}})")) ==
        "maxItems 20; unique items; each item: maxLength 320");
  CHECK(schema_limits(Json::parse(R"({"anyOf": [{"type": "boolean"}, {"type": "string", "maxLength": 10}]})")) ==
        "string: maxLength 10");
}

TEST_CASE("annotations and table cells", "[tools_markdown]") {
  CHECK(annotations_line({}) == "none");
  CHECK(annotations_line({.read_only = true, .idempotent = false}) == "readOnlyHint: true, idempotentHint: false");
  CHECK(annotations_line({.read_only = true, .destructive = false, .idempotent = true, .open_world = true}) ==
        "readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true");
  CHECK(table_cell("a | b\nc") == "a \\| b c");
  CHECK(table_cell("") == "—");
}

TEST_CASE("one tool's section: heading, scope, annotations, arguments (required first), output", "[tools_markdown]") {
  const auto md = tool_markdown(sample_entry());
  CHECK(md.rfind("### `notes_add` — Add a note\n\nKeeps a note.\n\n", 0) == 0);
  CHECK(md.find("- Scope (HTTP with authentication): `notes:write`\n") != std::string::npos);
  CHECK(md.find("- Annotations: readOnlyHint: false, destructiveHint: false\n") != std::string::npos);
  CHECK(md.find("- Runs as a task: optional\n") != std::string::npos);
  const auto text = md.find("| `text` | string | yes | minLength 1; maxLength 200 | The note \\| its text. |\n");
  const auto at = md.find("| `at` | string | no | — | — |\n");
  const auto color = md.find("| `color` | string | no | one of `red`, `blue` | Default: `red`. |\n");
  REQUIRE(text != std::string::npos);
  REQUIRE(at != std::string::npos);
  REQUIRE(color != std::string::npos);
  CHECK(text < at);  // required first, then by name
  CHECK(at < color);
  CHECK(md.find("| `count` | integer | yes | — |\n") != std::string::npos);
  CHECK(md.find("| `warning` | string | no | Why not. |\n") != std::string::npos);

  auto bare = sample_entry();
  bare.scope.clear();
  bare.def.input_schema = Json::parse(R"({"type": "object"})");
  bare.def.output_schema = nullptr;
  bare.def.task_support = TaskSupport::Forbidden;
  const auto plain = tool_markdown(bare);
  CHECK(plain.find("- Scope (HTTP with authentication): none beyond signing in\n") != std::string::npos);
  CHECK(plain.find("Runs as a task") == std::string::npos);
  CHECK(plain.find("No arguments.\n") != std::string::npos);
  CHECK(plain.find("Output: text content only (no structured output).\n") != std::string::npos);
}

TEST_CASE("the page: general tools first, then each domain, with the counts", "[tools_markdown]") {
  auto general = sample_entry();
  general.domain = "";
  general.def.name = "echo_back";
  const auto page = tools_markdown({general, sample_entry()});
  CHECK(page.rfind("# Tools\n", 0) == 0);
  CHECK(page.find("2 tools: general 1, notes 1.\n") != std::string::npos);
  const auto g = page.find("\n## General\n");
  const auto n = page.find("\n## notes\n");
  REQUIRE(g != std::string::npos);
  REQUIRE(n != std::string::npos);
  CHECK(g < page.find("### `echo_back`"));
  CHECK(page.find("### `echo_back`") < n);
  CHECK(n < page.find("### `notes_add`"));
  CHECK(page.back() == '\n');
  CHECK(page.substr(page.size() - 2) != "\n\n");
}

TEST_CASE("the catalogue of this binary's tools: every one, sorted, with its scope", "[tools_markdown]") {
  test::AppFixture f;
  const auto entries = catalogue(f.app);
  REQUIRE(entries.size() == registered_tools().size());
  for (size_t i = 1; i < entries.size(); ++i) {
    INFO(entries[i].def.name);
    CHECK(std::tie(entries[i - 1].domain, entries[i - 1].def.name) < std::tie(entries[i].domain, entries[i].def.name));
  }
  auto find = [&](const std::string& name) -> const CatalogueEntry& {
    for (auto& e : entries)
      if (e.def.name == name) return e;
    FAIL("no " << name);
    throw;
  };
  CHECK(find("echo").domain.empty());
  CHECK(find("echo").scope.empty());
  CHECK(find("calendar_list_events").domain == "calendar");
  CHECK(find("calendar_list_events").scope == "calendar:read");
  CHECK(find("calendar_create_event").scope == "calendar:write");
  // The page names each of them once.
  const auto page = tools_markdown(entries);
  for (auto& e : entries) {
    const auto heading = "### `" + e.def.name + "`";
    CHECK(page.find(heading) != std::string::npos);
    CHECK(page.find(heading) == page.rfind(heading));
  }
}
