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
}  // namespace

ToolDefinition define(std::string name, ToolInfo info, ToolHandler handler) {
  ToolDefinition d;
  d.input_schema = schema(name + ".input", true);
  d.output_schema = schema(name + ".output", false);
  d.name = std::move(name);
  d.title = std::move(info.title);
  d.description = std::move(info.description);
  d.hints = info.hints;
  d.icons = std::move(info.icons);
  d.handler = std::move(handler);
  d.quick = info.quick;
  return d;
}

}  // namespace concierge::tools
