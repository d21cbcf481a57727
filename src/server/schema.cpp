#include "server/schema.hpp"

#include <cmath>
#include <regex>
#include <set>
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

// How a failure is phrased. valijson decides whether an instance is valid and where the deepest
// error is; its own words ("Expected number greater than or equal to 1.000000") are written for
// schema authors. So the message is derived from the schema node at that path instead: the first
// keyword the value there fails, in the schema's own terms (its numbers as written, its enum
// values, its property names). valijson's description is kept only as a fallback for a keyword
// this file does not phrase. Size keywords (maxLength, maxItems, maxProperties) are checked
// before valijson runs, because valijson evaluates every keyword: an over-long string would still
// reach std::regex (which recurses per character and overflows the stack on ~100 KB) and an
// over-long array would still be compared pairwise for uniqueItems.
namespace {

// A string longer than this is not handed to std::regex even when its schema sets no maxLength.
constexpr size_t kMaxPatternInput = 1024;

struct Problem {
  std::string path;  // "attendees[0].email"; empty: the instance itself
  std::string message;
};

bool identifier(const std::string& key) {
  if (key.empty() || key.size() > 64) return false;
  return std::all_of(key.begin(), key.end(), [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-' || c == '$'; });
}

// A key as it appears in a path: plain when it looks like a name, else quoted (and cut short):
// the key comes from the client, and the message must stay one readable line.
std::string key_part(const std::string& key) {
  if (identifier(key)) return key;
  std::string shown = key.size() > 64 ? key.substr(0, 64) : key;
  std::string q = Json(shown).dump(-1, ' ', false, Json::error_handler_t::replace);
  return "[" + (key.size() > 64 ? q.substr(0, q.size() - 1) + "...\"" : q) + "]";
}

std::string join_key(const std::string& path, const std::string& key) {
  std::string part = key_part(key);
  if (path.empty() || part.front() == '[') return path + part;
  return path + "." + part;
}
std::string join_index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

bool type_matches(const std::string& type, const Json& v) {
  if (type == "string") return v.is_string();
  if (type == "integer") return v.is_number_integer();
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "null") return v.is_null();
  return false;
}

// The node's "type" as a list; empty when it sets none.
std::vector<std::string> types_of(const Json& node) {
  std::vector<std::string> out;
  auto t = node.find("type");
  if (t == node.end()) return out;
  if (t->is_string()) out.push_back(*t);
  if (t->is_array())
    for (const auto& x : *t)
      if (x.is_string()) out.push_back(x);
  return out;
}

bool accepts_type(const Json& node, const Json& v) {
  auto types = types_of(node);
  return types.empty() || std::any_of(types.begin(), types.end(), [&](const std::string& t) { return type_matches(t, v); });
}

std::string with_article(const std::string& kind) {
  if (kind == "null") return "null";
  bool vowel = !kind.empty() && std::string("aeiou").find(kind[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + kind;
}

std::string alternatives(const std::vector<std::string>& words, const char* last = " or ") {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) out += (i == 0 ? "" : i + 1 == words.size() ? last : ", ") + words[i];
  return out;
}

std::string plural(size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// Code points, as JSON Schema counts string length.
size_t length_of(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

size_t size_keyword(const Json& node, const char* keyword) {
  auto k = node.find(keyword);
  if (k == node.end() || !k->is_number()) return SIZE_MAX;
  double d = k->get<double>();
  return d < 0 ? 0 : static_cast<size_t>(d);
}

// A number as the schema wrote it (1, not 1.000000).
std::string number_text(const Json& n) { return n.dump(); }

// The node itself, then the branches of its anyOf/oneOf/allOf: the schemas a value is held to.
std::vector<const Json*> branches(const Json& node) {
  std::vector<const Json*> out{&node};
  for (const char* k : {"allOf", "anyOf", "oneOf"})
    if (auto b = node.find(k); b != node.end() && b->is_array())
      for (const auto& x : *b)
        if (x.is_object()) out.push_back(&x);
  return out;
}

// The anyOf/oneOf branch a value was most likely meant for: the first whose type accepts it.
const Json* chosen_branch(const Json& node, const Json& v) {
  for (const char* k : {"anyOf", "oneOf"})
    if (auto b = node.find(k); b != node.end() && b->is_array())
      for (const auto& x : *b)
        if (x.is_object() && accepts_type(x, v)) return &x;
  return nullptr;
}

// The subschema s itself gives value[key] or item i, or null.
const Json* own_property(const Json& s, const std::string& key) {
  if (auto p = s.find("properties"); p != s.end() && p->is_object())
    if (auto x = p->find(key); x != p->end() && x->is_object()) return &*x;
  if (auto a = s.find("additionalProperties"); a != s.end() && a->is_object()) return &*a;
  return nullptr;
}
const Json* own_item(const Json& s, size_t i) {
  auto items = s.find("items");
  if (items == s.end()) return nullptr;
  if (items->is_object()) return &*items;
  if (items->is_array()) {
    if (i < items->size() && (*items)[i].is_object()) return &(*items)[i];
    if (auto a = s.find("additionalItems"); a != s.end() && a->is_object()) return &*a;
  }
  return nullptr;
}

// The same, searching the node's branches that accept the container too.
const Json* property_schema(const Json& node, const Json& object, const std::string& key) {
  for (const Json* s : branches(node))
    if (accepts_type(*s, object))
      if (const Json* x = own_property(*s, key)) return x;
  return nullptr;
}
const Json* item_schema(const Json& node, const Json& array, size_t i) {
  for (const Json* s : branches(node))
    if (accepts_type(*s, array))
      if (const Json* x = own_item(*s, i)) return x;
  return nullptr;
}

// Size limits, checked over the whole instance before valijson sees it (see above). Recursion
// follows the schema, so its depth is the schema's, whatever the instance's.
// NaN and the infinities: nlohmann writes them as null, so a value that passed as a number would
// reach the client as something else. JSON has no such numbers; only a tool's output can hold them.
std::optional<Problem> non_finite(const Json& v, const std::string& path) {
  if (v.is_number_float() && !std::isfinite(v.get<double>())) return Problem{path, "must be a finite number, not " + std::to_string(v.get<double>())};
  if (v.is_object()) {
    for (const auto& [k, x] : v.items())
      if (auto p = non_finite(x, join_key(path, k))) return p;
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i)
      if (auto p = non_finite(v[i], join_index(path, i))) return p;
  }
  return std::nullopt;
}

std::optional<Problem> too_big(const Json& node, const Json& v, const std::string& path) {
  for (const Json* s : branches(node)) {
    if (v.is_string()) {
      size_t max = size_keyword(*s, "maxLength");
      if (s->contains("pattern")) max = std::min(max, kMaxPatternInput);
      if (max != SIZE_MAX && length_of(v.get_ref<const std::string&>()) > max)
        return Problem{path, "must be at most " + plural(max, "character", "characters") + " (got " +
                                 std::to_string(length_of(v.get_ref<const std::string&>())) + ")"};
    }
    if (v.is_array() && accepts_type(*s, v))
      if (size_t max = size_keyword(*s, "maxItems"); v.size() > max)
        return Problem{path, "must have at most " + plural(max, "item", "items") + " (got " + std::to_string(v.size()) + ")"};
    if (v.is_object() && accepts_type(*s, v))
      if (size_t max = size_keyword(*s, "maxProperties"); v.size() > max)
        return Problem{path, "must have at most " + plural(max, "property", "properties") + " (got " + std::to_string(v.size()) + ")"};
  }
  if (v.is_object()) {
    for (const auto& [k, x] : v.items())
      if (const Json* s = property_schema(node, v, k))
        if (auto p = too_big(*s, x, join_key(path, k))) return p;
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i)
      if (const Json* s = item_schema(node, v, i))
        if (auto p = too_big(*s, v[i], join_index(path, i))) return p;
  }
  return std::nullopt;
}

std::optional<Problem> explain(const Json& node, const Json& v, const std::string& path);

std::optional<Problem> explain_type(const Json& node, const Json& v, const std::string& path) {
  std::vector<std::string> wanted = types_of(node);
  bool ok = accepts_type(node, v);
  // Under anyOf/oneOf whose branches all say a type, a value none of them accepts is a type error.
  bool typed_branches = false;
  for (const char* k : {"anyOf", "oneOf"})
    if (auto b = node.find(k); b != node.end() && b->is_array() && !b->empty()) {
      typed_branches = std::all_of(b->begin(), b->end(), [](const Json& x) { return x.is_object() && !types_of(x).empty(); });
      if (!typed_branches) continue;
      if (!chosen_branch(node, v)) ok = false;
      for (const auto& x : *b)
        for (auto& t : types_of(x))
          if (std::find(wanted.begin(), wanted.end(), t) == wanted.end()) wanted.push_back(t);
    }
  if (ok || wanted.empty()) return std::nullopt;
  std::vector<std::string> named;
  for (auto& t : wanted) named.push_back(with_article(t));
  return Problem{path, "must be " + alternatives(named) + ", not " + with_article(json_kind(v))};
}

std::optional<Problem> explain_value(const Json& node, const Json& v, const std::string& path) {
  if (auto e = node.find("enum"); e != node.end() && e->is_array() && std::find(e->begin(), e->end(), v) == e->end()) {
    std::vector<std::string> values;
    for (const auto& x : *e) values.push_back(x.dump());
    return Problem{path, values.size() == 1 ? "must be " + values[0] : "must be one of " + alternatives(values, ", ")};
  }
  if (auto c = node.find("const"); c != node.end() && *c != v) return Problem{path, "must be " + c->dump()};
  if (v.is_number()) {
    double x = v.get<double>();
    auto bound = [&](const char* keyword, auto fails, const char* phrase) -> std::optional<Problem> {
      auto b = node.find(keyword);
      if (b == node.end() || !b->is_number() || !fails(x, b->get<double>())) return std::nullopt;
      return Problem{path, std::string(phrase) + number_text(*b)};
    };
    if (auto p = bound("minimum", std::less<double>(), "must be at least ")) return p;
    if (auto p = bound("maximum", std::greater<double>(), "must be at most ")) return p;
    if (auto p = bound("exclusiveMinimum", std::less_equal<double>(), "must be greater than ")) return p;
    if (auto p = bound("exclusiveMaximum", std::greater_equal<double>(), "must be less than ")) return p;
    if (auto m = node.find("multipleOf"); m != node.end() && m->is_number() && m->get<double>() > 0) {
      double q = x / m->get<double>();
      if (std::abs(q - std::round(q)) > 1e-9) return Problem{path, "must be a multiple of " + number_text(*m)};
    }
  }
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    size_t n = length_of(s);
    if (size_t min = size_keyword(node, "minLength"); min != SIZE_MAX && n < min)
      return Problem{path, min == 1 ? "must not be empty" : "must be at least " + plural(min, "character", "characters")};
    if (auto p = node.find("pattern"); p != node.end() && p->is_string()) {
      bool matches = false;
      try {
        matches = std::regex_search(s, std::regex(p->get<std::string>()));  // s is bounded: see too_big
      } catch (const std::regex_error&) {
        matches = true;  // valijson compiled it; leave the verdict to its message
      }
      if (!matches) {
        std::string hint = node.value("description", "");
        while (!hint.empty() && (hint.back() == '.' || hint.back() == ' ')) hint.pop_back();
        return Problem{path, "must match the pattern " + p->get<std::string>() +
                                 (!hint.empty() && hint.size() <= 80 ? " (" + hint + ")" : "")};
      }
    }
  }
  if (v.is_array()) {
    if (size_t min = size_keyword(node, "minItems"); min != SIZE_MAX && v.size() < min)
      return Problem{path, min == 1 ? "must not be empty" : "must have at least " + plural(min, "item", "items")};
    if (node.value("uniqueItems", false)) {
      std::map<Json, size_t> seen;
      for (size_t i = 0; i < v.size(); ++i)
        if (auto [at, fresh] = seen.emplace(v[i], i); !fresh)
          return Problem{join_index(path, i), "repeats " + join_index(path, at->second) + "; items must be unique"};
    }
  }
  return std::nullopt;
}

std::optional<Problem> explain_object(const Json& node, const Json& v, const std::string& path) {
  if (node.value("additionalProperties", Json(true)) == Json(false) && !node.contains("patternProperties")) {
    const Json props = node.value("properties", Json::object());
    for (const auto& [k, _] : v.items()) {
      if (props.contains(k)) continue;
      std::vector<std::string> known;
      for (const auto& [name, _s] : props.items()) known.push_back(name);
      std::string what = path.empty() ? "unknown argument" : "unknown property";
      if (!known.empty()) what += " (known: " + alternatives(known, ", ") + ")";
      return Problem{join_key(path, k), what};
    }
  }
  if (auto r = node.find("required"); r != node.end() && r->is_array())
    for (const auto& name : *r)
      if (name.is_string() && !v.contains(name.get<std::string>())) return Problem{join_key(path, name), "is required"};
  if (size_t min = size_keyword(node, "minProperties"); min != SIZE_MAX && v.size() < min)
    return Problem{path, path.empty() ? "give at least " + plural(min, "argument", "arguments")
                                      : "must have at least " + plural(min, "property", "properties")};
  return std::nullopt;
}

// The first thing wrong with v under node, searching below it too; nullopt when nothing this
// file knows how to phrase is wrong. Recursion follows the schema (bounded by its depth).
std::optional<Problem> explain(const Json& node, const Json& v, const std::string& path) {
  if (auto p = explain_type(node, v, path)) return p;
  if (auto p = explain_value(node, v, path)) return p;
  if (v.is_object())
    if (auto p = explain_object(node, v, path)) return p;
  // allOf: every branch applies; anyOf/oneOf: the one the value was meant for.
  if (auto all = node.find("allOf"); all != node.end() && all->is_array())
    for (const auto& b : *all)
      if (b.is_object())
        if (auto p = explain(b, v, path)) return p;
  if (const Json* b = chosen_branch(node, v))
    if (auto p = explain(*b, v, path)) return p;
  if (v.is_object()) {
    for (const auto& [k, x] : v.items())
      if (const Json* s = own_property(node, k))
        if (auto p = explain(*s, x, join_key(path, k))) return p;
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i)
      if (const Json* s = own_item(node, i))
        if (auto p = explain(*s, v[i], join_index(path, i))) return p;
  }
  return std::nullopt;
}

std::string unbracket(const std::string& part) {
  return part.size() >= 2 && part.front() == '[' && part.back() == ']' ? part.substr(1, part.size() - 2) : part;
}

}  // namespace

std::optional<std::string> CompiledSchema::validate(const Json& instance) const {
  // The instance itself at fault is named as tools/call names it (an output schema's instance
  // fails at its root only when it isn't an object, which the tool's code rules out).
  const std::string root = "arguments";
  auto render = [&](const Problem& p) { return (p.path.empty() ? root : p.path) + ": " + p.message; };
  if (auto p = non_finite(instance, "")) return render(*p);
  if (auto p = too_big(impl_->document, instance, "")) return render(*p);

  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(instance);
  if (validator.validate(impl_->schema, target, &results)) return std::nullopt;

  // The deepest error is the most specific one (valijson also reports each failing parent).
  valijson::ValidationResults::Error err, best;
  bool any = false;
  while (results.popError(err))
    if (!any || err.context.size() > best.context.size()) best = err, any = true;

  // Follow its context (["<root>", "[attendees]", "[0]"]) down the instance and the schema
  // together, so a key that looks like an index stays a key.
  const Json* value = &instance;
  const Json* node = &impl_->document;
  std::string path;
  for (size_t i = 1; i < best.context.size(); ++i) {
    std::string part = unbracket(best.context[i]);
    if (value->is_object() && value->contains(part)) {
      const Json* next = property_schema(*node, *value, part);
      if (!next) break;
      node = next, value = &(*value)[part], path = join_key(path, part);
    } else if (value->is_array() && !part.empty() && part.size() < 10 && std::all_of(part.begin(), part.end(), ::isdigit) &&
               std::stoul(part) < value->size()) {
      size_t idx = std::stoul(part);
      const Json* next = item_schema(*node, *value, idx);
      if (!next) break;
      node = next, value = &(*value)[idx], path = join_index(path, idx);
    } else {
      break;
    }
  }
  if (auto p = explain(*node, *value, path)) return render(*p);
  // Not found at the deepest error (a keyword phrased nowhere above): the whole instance, then
  // valijson's words under the path it gave.
  if (auto p = explain(impl_->document, instance, "")) return render(*p);
  return render(Problem{path, best.description});
}

}  // namespace concierge
