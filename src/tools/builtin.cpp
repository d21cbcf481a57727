#include <algorithm>
#include <set>
#include <stdexcept>

#include "server/access.hpp"
#include "tools/tool.hpp"

namespace concierge::tools {

namespace {
std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}
bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }
}  // namespace

std::string scope_of(const ToolFactory& factory, const ToolDefinition& def) {
  if (!def.scope.empty() || factory.domain.empty()) return def.scope;
  return factory.domain + (def.hints.read_only == true ? ":read" : ":write");
}

std::vector<std::string> tool_domains() {
  std::set<std::string> all;
  for (auto& f : registered_tools())
    if (!f.domain.empty()) all.insert(f.domain);
  return {all.begin(), all.end()};
}

void register_builtin(ToolRegistry& registry, App* app, const ToolSelection& selection) {
  const auto known = tool_domains();
  for (auto& d : selection.domains)
    if (!contains(known, d)) throw std::invalid_argument("unknown tool domain '" + d + "' (known: " + joined(known) + ")");
  for (auto& f : registered_tools()) {
    if (f.needs_app && !app) continue;
    if (!f.domain.empty() && !selection.domains.empty() && !contains(selection.domains, f.domain)) continue;
    ToolDefinition def = f.make(app);
    // A domain served by an outside service waits on the network: its calls run on the worker
    // pool, where cancellation and progress reach them. Everything else answers from the store.
    const bool outside = !f.domain.empty() && contains(selection.open_world, f.domain);
    if (outside) def.hints.open_world = true;
    def.quick = !outside;
    if (selection.read_only && def.hints.read_only != true) continue;
    def.scope = scope_of(f, def);
    registry.add(std::move(def));  // the registry lists by name, whatever the order here
  }
}

std::vector<std::string> check_tools(App& app, const std::vector<ToolFactory>& factories,
                                     const std::map<std::string_view, std::string_view>& schemas) {
  std::vector<std::string> problems;
  std::set<std::string> names;
  for (auto& f : factories) {
    try {
      auto def = f.make(&app);
      // A scope no token can carry would hide the tool from every authenticated caller.
      if (auto scope = scope_of(f, def); !scope.empty() && !contains(all_scopes(), scope))
        problems.push_back("tool " + def.name + " needs scope " + scope + ", which is not one of the scopes tokens carry (server/access.hpp)");
      names.insert(def.name);
    } catch (const std::exception& e) {
      problems.push_back(std::string("a tool") + (f.domain.empty() ? "" : " of domain " + f.domain) + " can't be made: " + e.what());
    }
  }
  for (auto& [key, _] : schemas) {
    const std::string k(key);
    for (const std::string suffix : {".input", ".output"})
      if (k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          !names.count(k.substr(0, k.size() - suffix.size())))
        problems.push_back("schemas/" + k + ".json belongs to no tool (no registered tool is named " +
                           k.substr(0, k.size() - suffix.size()) + ")");
  }
  return problems;
}

}  // namespace concierge::tools
