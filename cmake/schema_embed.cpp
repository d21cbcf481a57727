// Build-time tool (not part of the server): reads the tool schemas, resolves their shared
// definitions, checks them and writes the C++ file that compiles them into the binary.
//
//   schema_embed <file listing schemas/*.json, one path a line> <output .cpp>
//
// schemas/defs.json holds definitions shared between schemas. A schema uses one with
// {"$ref": "defs.json#/account"}; keys beside the "$ref" replace the definition's (how a tool
// tailors a shared property's description). "${domain}" in any string becomes the schema
// file's name up to its first '_' (calendar_list_events.input.json: "calendar"). What is
// embedded is self-contained: no "$ref" is left, since several clients can't follow one.
//
// The build fails, naming the file and the property, when a file isn't JSON, a reference
// doesn't resolve, an input property (at any depth) has no description, an output schema has
// no input schema (it would match no tool), or a shared definition is used by no schema.
//
// It lives in cmake/ rather than src/ because it runs on the build machine and links nothing
// of the server; src/ is globbed into the server's libraries.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Json = nlohmann::json;

const std::string kDefsFile = "defs.json";
const std::string kRefPrefix = kDefsFile + "#/";
const std::string kDelimiter = "__schema__";  // of the raw string literals written out

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure(path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string base_name(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

Json parse(const std::string& path) {
  try {
    return Json::parse(read(path));
  } catch (const Json::exception& e) {
    throw Failure(path + ": not JSON (" + e.what() + ")");
  }
}

// Resolves the references of one schema file against the shared definitions.
class Resolver {
 public:
  Resolver(const Json& defs, std::string file, std::set<std::string>& used)
      : defs_(defs), file_(std::move(file)), used_(used) {
    std::string name = base_name(file_);
    if (auto cut = name.find('_'); cut != std::string::npos) domain_ = name.substr(0, cut);
  }

  Json resolve(const Json& node, const std::string& where) {
    if (node.is_array()) {
      Json out = Json::array();
      for (size_t i = 0; i < node.size(); ++i) out.push_back(resolve(node[i], where + "/" + std::to_string(i)));
      return out;
    }
    if (node.is_string()) return substitute(node.get<std::string>(), where);
    if (!node.is_object()) return node;
    Json out = Json::object();
    if (auto ref = node.find("$ref"); ref != node.end()) out = definition(*ref, where);
    for (const auto& [key, value] : node.items())
      if (key != "$ref") out[key] = resolve(value, where + "/" + key);
    return out;
  }

 private:
  Json definition(const Json& ref, const std::string& where) {
    if (!ref.is_string() || ref.get<std::string>().rfind(kRefPrefix, 0) != 0)
      throw Failure(file_ + ": " + where + ": $ref must be \"" + kRefPrefix + "<name>\", not " + ref.dump());
    const std::string name = ref.get<std::string>().substr(kRefPrefix.size());
    auto def = defs_.find(name);
    if (name.empty() || name[0] == '$' || def == defs_.end())
      throw Failure(file_ + ": " + where + ": $ref " + ref.dump() + " names no definition in schemas/" + kDefsFile);
    if (!def->is_object()) throw Failure("schemas/" + kDefsFile + ": definition '" + name + "' is not a schema object");
    if (!active_.insert(name).second) throw Failure(file_ + ": " + where + ": definition '" + name + "' refers to itself");
    used_.insert(name);
    Json out = resolve(*def, kRefPrefix + name);
    active_.erase(name);
    return out;
  }

  Json substitute(std::string s, const std::string& where) {
    static const std::string marker = "${domain}";
    for (size_t at = s.find(marker); at != std::string::npos; at = s.find(marker, at)) {
      if (domain_.empty()) throw Failure(file_ + ": " + where + ": ${domain} needs a file name <domain>_<tool>");
      s.replace(at, marker.size(), domain_);
      at += domain_.size();
    }
    return s;
  }

  const Json& defs_;
  std::string file_, domain_;
  std::set<std::string>& used_;
  std::set<std::string> active_;  // definitions being expanded: a cycle would never end
};

// Every property, at any depth, says what it is for: the model sees nothing else.
void check_descriptions(const Json& node, const std::string& path, const std::string& file) {
  if (!node.is_object()) return;
  auto under = [&](const char* key, const std::string& sub) {
    if (auto x = node.find(key); x != node.end()) check_descriptions(*x, sub, file);
  };
  for (const char* key : {"properties", "patternProperties"})
    if (auto props = node.find(key); props != node.end() && props->is_object())
      for (const auto& [name, sub] : props->items()) {
        std::string at = path.empty() ? name : path + "." + name;
        auto d = sub.is_object() ? sub.find("description") : sub.end();
        if (!sub.is_object() || d == sub.end() || !d->is_string() || d->get<std::string>().empty())
          throw Failure(file + ": property " + at + " has no description");
        check_descriptions(sub, at, file);
      }
  if (auto items = node.find("items"); items != node.end() && items->is_array())
    for (const auto& item : *items) check_descriptions(item, path + "[]", file);
  else
    under("items", path + "[]");
  under("additionalProperties", path + "{}");
  under("not", path);
  for (const char* key : {"anyOf", "oneOf", "allOf"})
    if (auto branches = node.find(key); branches != node.end() && branches->is_array())
      for (const auto& b : *branches) check_descriptions(b, path, file);
}

std::string generate(const std::map<std::string, std::string>& schemas) {
  std::string out =
      "// Generated by cmake/schema_embed.cpp from schemas/*.json: edit those, not this.\n"
      "#include \"tools/embedded_schemas.hpp\"\n\n"
      "namespace concierge {\n"
      "const std::map<std::string_view, std::string_view>& embedded_schemas() {\n"
      "  static const std::map<std::string_view, std::string_view> m = {\n";
  for (const auto& [name, text] : schemas)
    out += "    {\"" + name + "\", R\"" + kDelimiter + "(" + text + ")" + kDelimiter + "\"},\n";
  out += "  };\n  return m;\n}\n}  // namespace concierge\n";
  return out;
}

void run(const std::string& list_file, const std::string& out_file) {
  std::vector<std::string> files;
  std::istringstream list(read(list_file));
  for (std::string line; std::getline(list, line);)
    if (!line.empty()) files.push_back(line);

  Json defs = Json::object();
  std::map<std::string, std::string> inputs, outputs;  // <tool> -> path
  for (const auto& path : files) {
    std::string name = base_name(path);
    if (name == kDefsFile) defs = parse(path);
    else if (ends_with(name, ".input.json")) inputs[name.substr(0, name.size() - 11)] = path;
    else if (ends_with(name, ".output.json")) outputs[name.substr(0, name.size() - 12)] = path;
    else throw Failure(path + ": a schema file is <tool>.input.json, <tool>.output.json or " + kDefsFile);
  }
  if (!defs.is_object()) throw Failure("schemas/" + kDefsFile + ": must be an object of definitions by name");
  for (const auto& [tool, path] : outputs)
    if (!inputs.count(tool))
      throw Failure(path + ": an output schema that matches no tool (there is no schemas/" + tool + ".input.json)");

  std::set<std::string> used;
  std::map<std::string, std::string> embedded;  // "<tool>.input" -> resolved JSON text
  auto add = [&](const std::string& path, const std::string& key, bool input) {
    Json schema = Resolver(defs, path, used).resolve(parse(path), "");
    if (!schema.is_object() || schema.value("type", "") != "object")
      throw Failure(path + ": a tool schema is an object schema (\"type\": \"object\")");
    if (input) check_descriptions(schema, "", path);
    std::string text = schema.dump();
    if (text.find(")" + kDelimiter + "\"") != std::string::npos) throw Failure(path + ": contains )" + kDelimiter + "\"");
    embedded[key] = text;
  };
  for (const auto& [tool, path] : inputs) add(path, tool + ".input", true);
  for (const auto& [tool, path] : outputs) add(path, tool + ".output", false);
  for (const auto& [name, _] : defs.items())
    if (name[0] != '$' && !used.count(name))
      throw Failure("schemas/" + kDefsFile + ": definition '" + name + "' is used by no schema");

  // Written only when it changes, so an unchanged result recompiles nothing.
  std::string text = generate(embedded);
  std::ifstream existing(out_file, std::ios::binary);
  if (existing) {
    std::ostringstream old;
    old << existing.rdbuf();
    if (old.str() == text) return;
  }
  // Renamed into place: a failed run must not leave a half-written file newer than its inputs.
  const std::string tmp = out_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw Failure(tmp + ": cannot be written");
  }
  if (std::rename(tmp.c_str(), out_file.c_str()) != 0) throw Failure(out_file + ": cannot be written");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: schema_embed <schema list file> <output .cpp>\n";
    return 2;
  }
  try {
    run(argv[1], argv[2]);
  } catch (const std::exception& e) {
    std::cerr << "schema_embed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
