#include "server/schema.hpp"

#include <stdexcept>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace concierge {

struct CompiledSchema::Impl {
  Json document;  // valijson keeps references into the parsed document's values
  valijson::Schema schema;
};

CompiledSchema::CompiledSchema(const Json& schema) : impl_(std::make_unique<Impl>()) {
  impl_->document = schema;
  // Our schemas are written in the subset draft-07 and 2020-12 share; valijson knows draft-07,
  // so the dialect marker is dropped rather than refused.
  impl_->document.erase("$schema");
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(impl_->document);
    parser.populateSchema(adapter, impl_->schema);
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("invalid JSON Schema: ") + e.what());
  }
}

CompiledSchema::~CompiledSchema() = default;

namespace {
// valijson reports a context like ["<root>", "[text]", "[0]"]; render it as "text[0]".
std::string field_path(const std::vector<std::string>& context) {
  std::string out;
  for (size_t i = 1; i < context.size(); ++i) {
    std::string part = context[i];
    if (part.size() >= 2 && part.front() == '[' && part.back() == ']') part = part.substr(1, part.size() - 2);
    bool index = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    if (index) out += "[" + part + "]";
    else out += (out.empty() ? "" : ".") + part;
  }
  return out;
}
}  // namespace

std::optional<std::string> CompiledSchema::validate(const Json& instance) const {
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(instance);
  if (validator.validate(impl_->schema, target, &results)) return std::nullopt;
  // The deepest error is the most specific one ("text: ..." rather than "object invalid").
  valijson::ValidationResults::Error err, best;
  size_t best_depth = 0;
  bool any = false;
  while (results.popError(err)) {
    if (!any || err.context.size() > best_depth) { best = err; best_depth = err.context.size(); any = true; }
  }
  std::string path = field_path(best.context);
  std::string desc = best.description;
  if (desc.find("'type' constraint") != std::string::npos) {
    // Say what was expected and what came, e.g. "text: expected string, got integer".
    const Json* value = &instance;
    const Json* schema = &impl_->document;
    for (size_t i = 1; i < best.context.size() && value && schema; ++i) {
      std::string part = best.context[i];
      if (part.size() >= 2 && part.front() == '[') part = part.substr(1, part.size() - 2);
      if (value->is_object() && value->contains(part)) {
        value = &(*value)[part];
        auto props = schema->find("properties");
        schema = (props != schema->end() && props->contains(part)) ? &(*props)[part] : nullptr;
      } else if (value->is_array() && !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
        size_t idx = std::stoul(part);
        value = idx < value->size() ? &(*value)[idx] : nullptr;
        auto items = schema->find("items");
        schema = items != schema->end() ? &*items : nullptr;
      } else {
        value = nullptr;
      }
    }
    if (value && schema && schema->contains("type")) {
      const Json& t = (*schema)["type"];
      std::string want = t.is_string() ? t.get<std::string>() : dump(t);
      return (path.empty() ? std::string("(root)") : path) + ": expected " + want + ", got " + json_kind(*value);
    }
  }
  // A missing required property is reported on its parent; name the property itself.
  static const std::string kMissing = "Missing required property '";
  if (auto p = desc.find(kMissing); p != std::string::npos) {
    auto end = desc.find('\'', p + kMissing.size());
    std::string prop = desc.substr(p + kMissing.size(), end - p - kMissing.size());
    path = path.empty() ? prop : path + "." + prop;
    return path + ": required property is missing";
  }
  return (path.empty() ? std::string("(root)") : path) + ": " + desc;
}

}  // namespace concierge
