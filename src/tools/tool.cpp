#include "tools/tool.hpp"

#include "tools/embedded_schemas.hpp"

namespace concierge::tools {

namespace {
Json schema(const std::string& key, bool required) {
  const auto& all = embedded_schemas();
  auto it = all.find(key);
  if (it == all.end()) {
    if (required) throw std::invalid_argument("missing schema file schemas/" + key + ".json");
    return nullptr;
  }
  return Json::parse(it->second);
}

// Constructed on first use: registrars run during static initialisation, in any order.
std::vector<ToolFactory>& factories() {
  static std::vector<ToolFactory> all;
  return all;
}
}  // namespace

ToolDefinition define(std::string name, ToolInfo info, ToolHandler handler) {
  ToolDefinition d;
  d.input_schema = info.input_schema.is_null() ? schema(name + ".input", true) : std::move(info.input_schema);
  d.output_schema = info.output_schema.is_null() ? schema(name + ".output", false) : std::move(info.output_schema);
  d.name = std::move(name);
  d.title = std::move(info.title);
  d.description = std::move(info.description);
  d.hints = info.hints;
  d.icons = std::move(info.icons);
  d.handler = std::move(handler);
  d.scope = std::move(info.scope);
  return d;
}

ToolRegistrar::ToolRegistrar(std::string domain, ToolDefinition (*make)()) {
  factories().push_back({std::move(domain), false, [make](App*) { return make(); }});
}
ToolRegistrar::ToolRegistrar(std::string domain, ToolDefinition (*make)(App*)) {
  factories().push_back({std::move(domain), false, make});
}
ToolRegistrar::ToolRegistrar(std::string domain, ToolDefinition (*make)(App&)) {
  factories().push_back({std::move(domain), true, [make](App* app) { return make(*app); }});
}

const std::vector<ToolFactory>& registered_tools() { return factories(); }

}  // namespace concierge::tools
