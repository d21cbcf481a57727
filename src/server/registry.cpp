#include "server/registry.hpp"

#include <algorithm>
#include <cctype>

namespace concierge {

ToolResult ToolResult::text(std::string text, Json structured) {
  ToolResult r;
  r.content.push_back(Json{{"type", "text"}, {"text", std::move(text)}});
  r.structured = std::move(structured);
  return r;
}

ToolResult ToolResult::error(std::string message) {
  ToolResult r = text(std::move(message));
  r.is_error = true;
  return r;
}

ToolResult ToolResult::deferred(std::function<ToolResult(RequestContext&)> rest) {
  ToolResult r;
  r.continuation = std::move(rest);
  return r;
}

namespace {
Json hints_json(const ToolHints& h) {
  Json a = Json::object();
  if (h.read_only) a["readOnlyHint"] = *h.read_only;
  if (h.destructive) a["destructiveHint"] = *h.destructive;
  if (h.idempotent) a["idempotentHint"] = *h.idempotent;
  if (h.open_world) a["openWorldHint"] = *h.open_world;
  return a;
}
}  // namespace

void ToolRegistry::add(ToolDefinition def) {
  if (def.name.empty()) throw std::invalid_argument("tool without a name");
  if (tools_.count(def.name)) throw std::invalid_argument("duplicate tool: " + def.name);
  if (!def.handler) throw std::invalid_argument("tool without a handler: " + def.name);
  if (!def.input_schema.is_object() || def.input_schema.value("type", "") != "object")
    throw std::invalid_argument("tool " + def.name + ": inputSchema must be an object schema");
  auto t = std::make_unique<RegisteredTool>();
  try {
    t->input = std::make_unique<CompiledSchema>(def.input_schema);
    if (!def.output_schema.is_null()) t->output = std::make_unique<CompiledSchema>(def.output_schema);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("tool " + def.name + ": " + e.what());
  }
  Json w{{"name", def.name}, {"inputSchema", def.input_schema}};
  if (!def.title.empty()) w["title"] = def.title;
  if (!def.description.empty()) w["description"] = def.description;
  if (!def.output_schema.is_null()) w["outputSchema"] = def.output_schema;
  if (auto a = hints_json(def.hints); !a.empty()) {
    if (!def.title.empty()) a["title"] = def.title;
    w["annotations"] = std::move(a);
  }
  if (def.icons.is_array()) w["icons"] = def.icons;
  // 2025-11-25 only (adapt_tool drops it elsewhere); absent means forbidden.
  if (def.task_support != TaskSupport::Forbidden)
    w["execution"] = Json{{"taskSupport", def.task_support == TaskSupport::Required ? "required" : "optional"}};
  t->wire = std::move(w);
  t->def = std::move(def);
  auto* raw = t.get();
  tools_.emplace(raw->def.name, std::move(t));
  sorted_.clear();
  for (auto& [_, v] : tools_) sorted_.push_back(v.get());
}

const RegisteredTool* ToolRegistry::find(std::string_view name) const {
  auto it = tools_.find(name);
  return it == tools_.end() ? nullptr : it->second.get();
}

std::vector<std::string> prefix_matches(const std::vector<std::string>& values, const std::string& value) {
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const std::string p = lower(value);
  std::vector<std::string> out;
  for (const auto& v : values)
    if (lower(v).rfind(p, 0) == 0) out.push_back(v);
  return out;
}

Completer complete_from(std::vector<std::string> values) {
  return [values = std::move(values)](const std::string& prefix, const Json&, RequestContext&) {
    return prefix_matches(values, prefix);
  };
}

UriTemplate::UriTemplate(std::string tmpl) {
  std::string lit;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{') {
      auto end = tmpl.find('}', i);
      if (end == std::string::npos) throw std::invalid_argument("unterminated expression in URI template: " + tmpl);
      std::string var = tmpl.substr(i + 1, end - i - 1);
      if (var.empty() || !std::all_of(var.begin(), var.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }))
        throw std::invalid_argument("unsupported URI template expression {" + var + "} in " + tmpl);
      literals_.push_back(std::move(lit));
      lit.clear();
      vars_.push_back(std::move(var));
      i = end;
    } else {
      lit += tmpl[i];
    }
  }
  literals_.push_back(std::move(lit));
}

std::optional<std::map<std::string, std::string>> UriTemplate::match(std::string_view uri) const {
  // Level 1: a variable takes the text up to the next literal and never spans a '/'.
  std::map<std::string, std::string> out;
  size_t pos = 0;
  if (uri.substr(0, literals_[0].size()) != literals_[0]) return std::nullopt;
  pos = literals_[0].size();
  for (size_t i = 0; i < vars_.size(); ++i) {
    const std::string& next = literals_[i + 1];
    size_t end;
    if (next.empty()) {
      end = (i + 1 == vars_.size()) ? uri.size() : uri.find('/', pos);
      if (end == std::string_view::npos) end = uri.size();
    } else {
      end = uri.find(next, pos);
      if (end == std::string_view::npos) return std::nullopt;
    }
    std::string_view value = uri.substr(pos, end - pos);
    if (value.empty() || value.find('/') != std::string_view::npos) return std::nullopt;
    out[vars_[i]] = std::string(value);
    pos = end + next.size();
  }
  if (pos != uri.size()) return std::nullopt;
  return out;
}

void ResourceRegistry::add(ResourceDefinition def) {
  if (find(def.uri)) throw std::invalid_argument("duplicate resource: " + def.uri);
  if (!def.read) throw std::invalid_argument("resource without a reader: " + def.uri);
  resources_.push_back(std::move(def));
}

void ResourceRegistry::add_template(ResourceTemplateDefinition def) {
  if (!def.read) throw std::invalid_argument("resource template without a reader: " + def.uri_template);
  compiled_.emplace_back(def.uri_template);
  templates_.push_back(std::move(def));
}

const ResourceDefinition* ResourceRegistry::find(std::string_view uri) const {
  for (const auto& r : resources_)
    if (r.uri == uri) return &r;
  return nullptr;
}

const ResourceTemplateDefinition* ResourceRegistry::match(std::string_view uri, std::map<std::string, std::string>& vars) const {
  for (size_t i = 0; i < templates_.size(); ++i)
    if (auto m = compiled_[i].match(uri)) {
      vars = std::move(*m);
      return &templates_[i];
    }
  return nullptr;
}

const ResourceTemplateDefinition* ResourceRegistry::find_template(std::string_view uri_template) const {
  for (const auto& t : templates_)
    if (t.uri_template == uri_template) return &t;
  return nullptr;
}

void PromptRegistry::add(PromptDefinition def) {
  if (find(def.name)) throw std::invalid_argument("duplicate prompt: " + def.name);
  if (!def.render) throw std::invalid_argument("prompt without a renderer: " + def.name);
  prompts_.push_back(std::move(def));
  std::sort(prompts_.begin(), prompts_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
}

const PromptDefinition* PromptRegistry::find(std::string_view name) const {
  for (const auto& p : prompts_)
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace concierge
