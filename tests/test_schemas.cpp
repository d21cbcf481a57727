// The tool schemas as tools/list serves them: self-contained (the shared definitions in
// schemas/defs.json are resolved at build time, and several clients can't follow a $ref),
// every input property described (the model sees nothing else), and no construct the common
// clients reject (a type list other than [T, "null"]: the AI SDK passes it on to Gemini, which
// refuses the whole request).
#include <catch2/catch.hpp>

#include "support/app_fixture.hpp"
#include "support/harness.hpp"

using namespace concierge;
using namespace concierge::test;

namespace {

// Every tool of every tools/list page.
Json served_tools(Server& server) {
  Client c(server);
  c.initialize("2025-11-25");
  Json tools = Json::array();
  Json params = Json::object();
  for (int id = 1;; ++id) {
    Json r = c.request(id, "tools/list", params);
    REQUIRE(r.contains("result"));
    for (const auto& t : r["result"]["tools"]) tools.push_back(t);
    if (!r["result"].contains("nextCursor")) return tools;
    params = Json{{"cursor", r["result"]["nextCursor"]}};
  }
}

// What is wrong with one schema, as "<path>: <problem>" lines; `input` also asks for descriptions.
void check(const Json& node, const std::string& path, bool input, std::vector<std::string>& problems) {
  if (node.is_array()) {
    for (const auto& x : node) check(x, path, input, problems);
    return;
  }
  if (!node.is_object()) return;
  if (node.contains("$ref")) problems.push_back(path + ": $ref");
  if (auto t = node.find("type"); t != node.end() && t->is_array() && !(t->size() == 2 && t->back() == "null"))
    problems.push_back(path + ": type list " + t->dump());
  for (const auto& [key, value] : node.items()) {
    if (key == "properties" && value.is_object()) {
      for (const auto& [name, sub] : value.items()) {
        std::string at = path + "." + name;
        if (input && (!sub.is_object() || sub.value("description", "").empty())) problems.push_back(at + ": no description");
        check(sub, at, input, problems);
      }
    } else if (key == "items" || key == "additionalProperties") {
      check(value, path + "[]", input, problems);
    } else if (key == "anyOf" || key == "oneOf" || key == "allOf") {
      check(value, path, input, problems);
    }
  }
}

}  // namespace

TEST_CASE("schemas: served self-contained, every input property described", "[schema][tools]") {
  AppFixture f;
  Json tools = served_tools(*f.server);
  CHECK(tools.size() == f.server->tools().list().size());
  size_t properties = 0;
  for (const auto& t : tools) {
    INFO(t["name"]);
    std::vector<std::string> problems;
    check(t["inputSchema"], t["name"].get<std::string>(), true, problems);
    if (t.contains("outputSchema")) check(t["outputSchema"], t["name"].get<std::string>() + "->", false, problems);
    CHECK(problems == std::vector<std::string>{});
    properties += t["inputSchema"].value("properties", Json::object()).size();
  }
  CHECK(properties > 100);  // the walk saw the real schemas
}
