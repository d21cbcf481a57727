#pragma once
// Validation of wire messages against the OFFICIAL MCP JSON schemas (tests/spec/<rev>/schema.json,
// copied from modelcontextprotocol/modelcontextprotocol schema/<rev>/schema.json).
//
//   const auto& spec = concierge::test::SpecSchema::get("2025-06-18");
//   spec.validate(message, "JSONRPCMessage");   // "" when valid, else "path: description" lines
//   spec.undeclared(result, "ListToolsResult");  // strict mode: properties the revision lacks
//
// How a definition is compiled: valijson validates a whole document, so the document is the
// schema file itself with `"$ref": "#/definitions/<Name>"` (or `#/$defs/<Name>`) added at its
// root and `$schema` removed. valijson resolves the reference as a plain JSON pointer into the
// same document, so `#/$defs/...` works exactly like `#/definitions/...`. Each (revision,
// definition) is compiled once and cached.
//
// Dialects. 2024-11-05 .. 2025-06-18 are draft-07, which valijson implements. 2025-11-25 and
// 2026-07-28 declare draft 2020-12, which valijson (1.0) does not know; they are parsed as
// draft-07. That is sound for these files because the only keywords they use are
//   $ref $defs properties required type const enum anyOf allOf items additionalProperties
//   minimum maximum maxItems format description
// and every one of them means the same in both dialects here:
//   * `$defs` is only ever reached through `$ref` JSON pointers (no `$anchor`/`$id` lookups).
//   * `$ref` never has sibling keywords other than `description` (checked: in draft-07 siblings
//     of `$ref` are ignored, in 2020-12 they apply; with no siblings the two agree).
//   * `items` always holds one schema (2020-12 `prefixItems` is not used); no
//     `unevaluatedProperties`, `$dynamicRef`, `dependentSchemas` or `$anchor` appear.
//   * `format` is an annotation by default in 2020-12. valijson checks only date, time and
//     date-time and accepts every other format; the schemas use only uri, uri-template and byte,
//     so no format is asserted (a malformed URI would not be caught, in any revision).
// Limitation: if a future schema starts using prefixItems / unevaluatedProperties / $dynamicRef
// this validator would silently ignore them; SpecSchema's constructor refuses such a file
// (kUnsupportedKeywords) so that cannot happen unnoticed.
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "common/json.hpp"

#ifndef CONCIERGE_SPEC_DIR
#error "CONCIERGE_SPEC_DIR must name the directory holding <rev>/schema.json"
#endif

namespace concierge::test {

class SpecSchema {
 public:
  // Keywords of 2020-12 that draft-07 valijson would ignore; none may appear in a schema file.
  static constexpr const char* kUnsupportedKeywords[] = {"prefixItems", "unevaluatedProperties", "unevaluatedItems",
                                                         "$dynamicRef", "$dynamicAnchor", "$anchor", "dependentSchemas",
                                                         "dependentRequired", "$recursiveRef"};

  // One loaded revision, cached for the life of the process.
  static const SpecSchema& get(const std::string& revision) {
    static std::mutex m;
    static std::map<std::string, std::unique_ptr<SpecSchema>> all;
    std::lock_guard l(m);
    auto& slot = all[revision];
    if (!slot) slot.reset(new SpecSchema(revision));
    return *slot;
  }

  const std::string& revision() const { return revision_; }
  // "definitions" (draft-07 revisions) or "$defs" (2020-12 revisions).
  const std::string& defs_key() const { return defs_key_; }
  bool has(const std::string& definition) const { return doc_[defs_key_].contains(definition); }
  const Json& definition(const std::string& name) const { return doc_[defs_key_].at(name); }

  // "" when instance is valid as `definition`; otherwise one "path: description" line per error.
  std::string validate(const Json& instance, const std::string& definition) const {
    if (!has(definition)) return "(no definition " + definition + " in MCP " + revision_ + ")";
    return validate_at(instance, "/" + defs_key_ + "/" + escape(definition));
  }

  // Strict mode: every property of instance (recursively) that the revision's definition does
  // not declare. Each entry is "path.to.property". See walk() for what is treated as open.
  std::vector<std::string> undeclared(const Json& instance, const std::string& definition) const {
    std::vector<std::string> out;
    if (!has(definition)) {
      out.push_back("(no definition " + definition + " in MCP " + revision_ + ")");
      return out;
    }
    walk(instance, "/" + defs_key_ + "/" + escape(definition), definition, out, false, 0);
    return out;
  }

  // Validates against the schema node at a JSON pointer into the schema file.
  std::string validate_at(const Json& instance, const std::string& pointer) const {
    const valijson::Schema& schema = compiled(pointer);
    valijson::Validator validator(valijson::Validator::kStrongTypes);
    valijson::ValidationResults results;
    valijson::adapters::NlohmannJsonAdapter target(instance);
    bool ok;
    try {
      ok = validator.validate(schema, target, &results);
    } catch (const std::exception& e) {
      // valijson 1.0 reads a `format` target with asString() without checking its type first;
      // a non-string there throws instead of failing. Report it as the failure it is.
      return std::string("(validator threw: ") + e.what() + ")";
    }
    if (ok) return "";
    std::ostringstream os;
    valijson::ValidationResults::Error err;
    size_t n = 0;
    while (results.popError(err)) {
      if (++n > 40) { os << "... more errors\n"; break; }
      std::string path;
      for (size_t i = 1; i < err.context.size(); ++i) {
        std::string part = err.context[i];
        if (part.size() >= 2 && part.front() == '[' && part.back() == ']') part = part.substr(1, part.size() - 2);
        bool index = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
        path += index ? "[" + part + "]" : (path.empty() ? "" : ".") + part;
      }
      os << (path.empty() ? "(root)" : path) << ": " << err.description << "\n";
    }
    return os.str();
  }

  static std::string escape(const std::string& key) {
    std::string out;
    for (char c : key) {
      if (c == '~') out += "~0";
      else if (c == '/') out += "~1";
      else out += c;
    }
    return out;
  }

 private:
  explicit SpecSchema(std::string revision) : revision_(std::move(revision)) {
    const std::string path = std::string(CONCIERGE_SPEC_DIR) + "/" + revision_ + "/schema.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    doc_ = Json::parse(in);
    std::string dialect = doc_.value("$schema", "");
    doc_.erase("$schema");  // valijson knows draft-07 only; see the header comment
    defs_key_ = doc_.contains("$defs") ? "$defs" : "definitions";
    if (!doc_.contains(defs_key_)) throw std::runtime_error(path + ": no definitions");
    if (dialect.find("2020-12") != std::string::npos) check_keywords(doc_, path);
  }

  static void check_keywords(const Json& node, const std::string& path) {
    if (node.is_object()) {
      for (auto& [k, v] : node.items()) {
        for (const char* bad : kUnsupportedKeywords)
          if (k == bad) throw std::runtime_error(path + ": uses " + k + ", which valijson (draft-07) ignores");
        if (k == "items" && v.is_array()) throw std::runtime_error(path + ": array-form items");
        check_keywords(v, path);
      }
    } else if (node.is_array()) {
      for (auto& v : node) check_keywords(v, path);
    }
  }

  struct Compiled {
    Json document;  // kept alive alongside the schema parsed from it
    valijson::Schema schema;
  };

  const valijson::Schema& compiled(const std::string& pointer) const {
    std::lock_guard l(m_);
    auto& slot = cache_[pointer];
    if (!slot) {
      auto c = std::make_unique<Compiled>();
      c->document = doc_;
      c->document["$ref"] = "#" + pointer;
      valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
      valijson::adapters::NlohmannJsonAdapter adapter(c->document);
      parser.populateSchema(adapter, c->schema);
      slot = std::move(c);
    }
    return slot->schema;
  }

  // ---- strict mode --------------------------------------------------------------------------

  // Keys whose values are open by design: JSON Schemas carried as data, tool output, extension
  // points and client capability bags. Their contents are not checked for undeclared properties.
  static bool open_key(const std::string& key) {
    static const std::set<std::string> keys{"inputSchema", "outputSchema", "structuredContent", "requestedSchema",
                                            "experimental", "extensions", "data"};
    return keys.count(key) > 0;
  }

  const Json* at(const std::string& pointer) const {
    try {
      return &doc_.at(Json::json_pointer(pointer));
    } catch (const std::exception&) {
      return nullptr;
    }
  }

  // Follows $ref chains; returns the pointer of the node that has no $ref.
  std::string resolve(std::string pointer) const {
    for (int i = 0; i < 32; ++i) {
      const Json* n = at(pointer);
      if (!n || !n->is_object() || !n->contains("$ref")) return pointer;
      std::string ref = (*n)["$ref"].get<std::string>();
      if (ref.empty() || ref[0] != '#') return pointer;
      pointer = ref.substr(1);
    }
    return pointer;
  }

  // The node at pointer and, recursively, its allOf branches (all resolved).
  void gather(const std::string& pointer, std::vector<std::string>& out, int depth = 0) const {
    if (depth > 16) return;
    std::string p = resolve(pointer);
    out.push_back(p);
    const Json* n = at(p);
    if (n && n->is_object())
      if (auto a = n->find("allOf"); a != n->end() && a->is_array())
        for (size_t i = 0; i < a->size(); ++i) gather(p + "/allOf/" + std::to_string(i), out, depth + 1);
  }

  // The anyOf branch an instance belongs to: for tagged unions (content blocks, references) the
  // branch whose `type` const equals the instance's `type`; otherwise the first branch the
  // instance validates against. Empty when none fits (validation reports that case).
  std::string choose(const Json& instance, const std::string& anyof_pointer) const {
    const Json* branches = at(anyof_pointer);
    if (!branches || !branches->is_array()) return "";
    if (instance.is_object() && instance.contains("type") && instance["type"].is_string()) {
      for (size_t i = 0; i < branches->size(); ++i) {
        std::string b = resolve(anyof_pointer + "/" + std::to_string(i));
        const Json* n = at(b);
        if (!n || !n->is_object()) continue;
        auto props = n->find("properties");
        if (props == n->end() || !props->contains("type")) continue;
        const Json& t = (*props)["type"];
        if (t.contains("const") && t["const"] == instance["type"]) return b;
      }
    }
    for (size_t i = 0; i < branches->size(); ++i) {
      std::string b = anyof_pointer + "/" + std::to_string(i);
      if (validate_at(instance, b).empty()) return resolve(b);
    }
    return "";
  }

  // Walks instance alongside the schema node at pointer. For every object whose schema declares
  // `properties`, a property of the instance that no (allOf-merged) schema declares is reported,
  // unless the schema leaves the object open: `additionalProperties` true or `{}` (an open map:
  // e.g. Result, logging/completions capabilities), or a non-empty schema, in which case the
  // extra properties are map entries and are walked against that schema instead. `_meta`
  // objects are open too (any key is allowed), but their declared keys (e.g.
  // io.modelcontextprotocol/serverInfo) are still walked.
  void walk(const Json& instance, const std::string& pointer, const std::string& path, std::vector<std::string>& out,
            bool lenient, int depth) const {
    if (depth > 48) return;
    std::vector<std::string> nodes;
    gather(pointer, nodes);
    for (const auto& p : nodes) {
      if (p.size() >= 19 && p.compare(p.size() - 19, 19, "/ClientCapabilities") == 0) return;  // client's bag
    }
    for (const auto& p : nodes) {
      const Json* n = at(p);
      if (n && n->is_object() && n->contains("anyOf")) {
        std::string b = choose(instance, p + "/anyOf");
        if (!b.empty()) walk(instance, b, path, out, lenient, depth + 1);
      }
    }
    if (instance.is_object()) {
      std::map<std::string, std::string> declared;  // key -> pointer of its schema
      bool has_properties = false, open = lenient;
      std::string map_values;  // pointer of an additionalProperties schema
      for (const auto& p : nodes) {
        const Json* n = at(p);
        if (!n || !n->is_object()) continue;
        if (auto props = n->find("properties"); props != n->end() && props->is_object()) {
          has_properties = true;
          for (auto& [k, _] : props->items()) declared.emplace(k, p + "/properties/" + escape(k));
        }
        if (auto ap = n->find("additionalProperties"); ap != n->end()) {
          if (ap->is_boolean()) open = open || ap->get<bool>();
          else if (ap->is_object() && ap->empty()) open = true;
          else if (ap->is_object()) { open = true; map_values = p + "/additionalProperties"; }
        }
      }
      for (auto& [k, v] : instance.items()) {
        std::string child = path + "." + k;
        auto d = declared.find(k);
        if (d != declared.end()) {
          if (open_key(k)) continue;
          walk(v, d->second, child, out, /*lenient=*/k == "_meta", depth + 1);
        } else if (!map_values.empty()) {
          walk(v, map_values, child, out, false, depth + 1);
        } else if (has_properties && !open) {
          out.push_back(child);
        }
      }
    } else if (instance.is_array()) {
      for (const auto& p : nodes) {
        const Json* n = at(p);
        if (!n || !n->is_object()) continue;
        auto items = n->find("items");
        if (items == n->end() || !items->is_object()) continue;
        for (size_t i = 0; i < instance.size(); ++i)
          walk(instance[i], p + "/items", path + "[" + std::to_string(i) + "]", out, false, depth + 1);
        break;
      }
    }
  }

  std::string revision_;
  std::string defs_key_;
  Json doc_;
  mutable std::mutex m_;
  mutable std::map<std::string, std::unique_ptr<Compiled>> cache_;
};

}  // namespace concierge::test
