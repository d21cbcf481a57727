#include "tools/markdown.hpp"

#include <algorithm>
#include <set>

namespace concierge::tools {

namespace {

std::string code(const std::string& s) { return "`" + s + "`"; }

std::string joined(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// A schema value as the reader would type it: strings bare, the rest as JSON.
std::string literal(const Json& v) { return v.is_string() ? v.get<std::string>() : dump(v); }

std::string task_words(TaskSupport t) {
  return t == TaskSupport::Required ? "required" : t == TaskSupport::Optional ? "optional" : "";
}

std::set<std::string> required_of(const Json& schema) {
  std::set<std::string> out;
  if (auto it = schema.find("required"); it != schema.end() && it->is_array())
    for (auto& r : *it)
      if (r.is_string()) out.insert(r.get<std::string>());
  return out;
}

const Json& properties_of(const Json& schema) {
  static const Json none = Json::object();
  if (!schema.is_object()) return none;
  auto it = schema.find("properties");
  return it != schema.end() && it->is_object() ? *it : none;
}

// Required names first, then the others; each group by name (the properties' map order).
std::vector<std::string> property_order(const Json& schema) {
  const auto required = required_of(schema);
  std::vector<std::string> names;
  for (auto& [name, _] : properties_of(schema).items())
    if (required.count(name)) names.push_back(name);
  for (auto& [name, _] : properties_of(schema).items())
    if (!required.count(name)) names.push_back(name);
  return names;
}

std::string description_cell(const Json& prop) {
  std::string text = json_string(prop, "description");
  if (prop.is_object() && prop.contains("default"))
    text = "Default: " + code(literal(prop["default"])) + "." + (text.empty() ? "" : " " + text);
  return table_cell(text);
}

// A table of an object schema's properties, one row each, required ones first; empty when it has
// none. With `limits`, a column of what the server enforces (the arguments' table).
std::string properties_table(const Json& schema, const std::string& name_header, const std::string& required_header,
                             bool limits) {
  const auto names = property_order(schema);
  if (names.empty()) return "";
  const auto required = required_of(schema);
  std::string out = "| " + name_header + " | Type | " + required_header + (limits ? " | Limits" : "") + " | Description |\n" +
                    (limits ? "| --- | --- | --- | --- | --- |\n" : "| --- | --- | --- | --- |\n");
  for (auto& name : names) {
    const Json& p = properties_of(schema)[name];
    out += "| " + code(name) + " | " + table_cell(schema_type(p)) + " | " + (required.count(name) ? "yes" : "no") + " | " +
           (limits ? table_cell(schema_limits(p)) + " | " : "") + description_cell(p) + " |\n";
  }
  return out;
}

}  // namespace

std::vector<CatalogueEntry> catalogue(App& app, const std::vector<ToolFactory>& factories) {
  std::vector<CatalogueEntry> out;
  for (auto& f : factories) {
    auto def = f.make(&app);
    auto scope = scope_of(f, def);
    out.push_back({f.domain, std::move(scope), std::move(def)});
  }
  std::sort(out.begin(), out.end(), [](const CatalogueEntry& a, const CatalogueEntry& b) {
    return std::tie(a.domain, a.def.name) < std::tie(b.domain, b.def.name);
  });
  return out;
}

std::string schema_type(const Json& schema) {
  if (!schema.is_object()) return "any";
  for (const char* key : {"anyOf", "oneOf"})
    if (auto it = schema.find(key); it != schema.end() && it->is_array()) {
      std::vector<std::string> alternatives;
      for (auto& s : *it) alternatives.push_back(schema_type(s));
      return joined(alternatives, " or ");
    }
  auto type = schema.find("type");
  if (type == schema.end()) return schema.contains("enum") ? "enum" : "any";
  if (type->is_array()) {
    std::vector<std::string> types;
    for (auto& t : *type) types.push_back(literal(t));
    return joined(types, " or ");
  }
  const std::string t = literal(*type);
  if (t == "array" && schema.contains("items")) return "array of " + schema_type(schema["items"]);
  return t;
}

std::string schema_limits(const Json& schema) {
  if (!schema.is_object()) return "";
  std::vector<std::string> parts;
  for (const char* key : {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "minLength", "maxLength",
                          "minItems", "maxItems", "minProperties", "maxProperties"})
    if (auto it = schema.find(key); it != schema.end()) parts.push_back(std::string(key) + " " + literal(*it));
  if (schema.value("uniqueItems", false)) parts.push_back("unique items");
  if (auto it = schema.find("enum"); it != schema.end() && it->is_array()) {
    std::vector<std::string> values;
    for (auto& v : *it) values.push_back(code(literal(v)));
    parts.push_back("one of " + joined(values, ", "));
  }
  if (auto it = schema.find("const"); it != schema.end()) parts.push_back("exactly " + code(literal(*it)));
  if (auto it = schema.find("pattern"); it != schema.end()) parts.push_back("pattern " + code(literal(*it)));
  if (auto it = schema.find("format"); it != schema.end()) parts.push_back("format " + literal(*it));
  // Each alternative's own limits, named by its type ("string: maxLength 10").
  for (const char* key : {"anyOf", "oneOf"})
    if (auto it = schema.find(key); it != schema.end() && it->is_array())
      for (auto& branch : *it)
        if (auto limits = schema_limits(branch); !limits.empty()) parts.push_back(schema_type(branch) + ": " + limits);
  // An array's limits on each item (an email address's length, say) matter as much as its own.
  if (auto it = schema.find("items"); it != schema.end())
    if (auto items = schema_limits(*it); !items.empty()) parts.push_back("each item: " + items);
  return joined(parts, "; ");
}

std::string annotations_line(const ToolHints& hints) {
  std::vector<std::string> parts;
  auto add = [&](const char* name, const std::optional<bool>& v) {
    if (v) parts.push_back(std::string(name) + ": " + (*v ? "true" : "false"));
  };
  add("readOnlyHint", hints.read_only);
  add("destructiveHint", hints.destructive);
  add("idempotentHint", hints.idempotent);
  add("openWorldHint", hints.open_world);
  return parts.empty() ? "none" : joined(parts, ", ");
}

std::string table_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out.empty() ? "—" : out;
}

std::string tool_markdown(const CatalogueEntry& entry) {
  const auto& d = entry.def;
  std::string out = "### " + code(d.name) + (d.title.empty() ? "" : " — " + d.title) + "\n\n";
  if (!d.description.empty()) out += d.description + "\n\n";
  out += "- Scope (HTTP with authentication): " + (entry.scope.empty() ? "none beyond signing in" : code(entry.scope)) + "\n";
  out += "- Annotations: " + annotations_line(d.hints) + "\n";
  if (auto t = task_words(d.task_support); !t.empty()) out += "- Runs as a task: " + t + "\n";
  out += "\n";

  const auto args = properties_table(d.input_schema, "Argument", "Required", true);
  out += args.empty() ? "No arguments.\n\n" : args + "\n";
  const auto fields = properties_table(d.output_schema, "Field", "Always present", false);
  out += fields.empty() ? "Output: text content only (no structured output).\n\n" : "Output (structuredContent):\n\n" + fields + "\n";
  return out;
}

std::string tools_markdown(const std::vector<CatalogueEntry>& entries) {
  std::string out =
      "# Tools\n\n"
      "<!-- Generated by `concierge tools --markdown`; edit the tools and their schemas, not this file. -->\n\n"
      "Every tool the server registers, from the binary itself (its definitions and schemas/). "
      "Regenerate after changing a tool or a schema:\n\n"
      "```sh\nbuild/concierge tools --markdown > docs/tools.md\n```\n\n"
      "A test (`docs_tools_in_sync`) fails while this file and the binary disagree.\n\n"
      "- `serve --tools DOMAIN,...` exposes only those domains' tools (the general ones always); "
      "`--read-only` only those with readOnlyHint true.\n"
      "- Scopes apply over HTTP with authentication on: a token without the scope neither sees nor "
      "calls the tool.\n"
      "- openWorldHint: the server adds it (true) to the tools of a domain served by an outside "
      "service (Google, Spotify...); the annotations below are the tools' own.\n"
      "- Defaults are in the descriptions; a limit is a JSON Schema keyword the server enforces "
      "before the tool runs.\n\n";
  std::vector<std::string> domains;
  for (auto& e : entries)
    if (domains.empty() || domains.back() != e.domain) domains.push_back(e.domain);
  out += std::to_string(entries.size()) + " tools:";
  for (auto& domain : domains) {
    const auto n = std::count_if(entries.begin(), entries.end(), [&](auto& e) { return e.domain == domain; });
    out += std::string(&domain == &domains.front() ? " " : ", ") + (domain.empty() ? "general" : domain) + " " +
           std::to_string(n);
  }
  out += ".\n";
  for (auto& domain : domains) {
    out += "\n## " + (domain.empty() ? std::string("General") : domain) + "\n\n";
    out += domain.empty() ? "Always exposed, whatever `--tools` selects.\n\n"
                          : "Exposed unless `--tools` leaves out " + code(domain) + ".\n\n";
    for (auto& e : entries)
      if (e.domain == domain) out += tool_markdown(e);
  }
  // One trailing newline: the page ends where its last table does.
  while (out.size() > 1 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') out.pop_back();
  return out;
}

}  // namespace concierge::tools
