#pragma once
// How a tool is declared: one file per tool, its schemas in schemas/<name>.input.json and
// (optionally) schemas/<name>.output.json, and a ToolRegistrar in that file (README "Adding a
// tool"). Nothing else names it: register_builtin walks what registered.
// A tool that may run as a task sets task_support (and defers_task, to run multi-round-trip
// input before the task starts) on the definition define() returns; see registry.hpp
// (TaskSupport, ToolResult::deferred) and server/tasks.hpp.
#include "server/registry.hpp"
#include "tools/app.hpp"
#include "tools/embedded_schemas.hpp"

namespace concierge::tools {

struct ToolInfo {
  std::string title;
  std::string description;
  ToolHints hints;
  Json icons;
  // Null: schemas/<name>.input.json and schemas/<name>.output.json, compiled into the binary.
  // A tool outside src/tools (a test's) has no file there and gives its schemas here.
  Json input_schema;
  Json output_schema;
  // The scope a caller needs (ToolDefinition::scope); empty: <domain>:read for a read-only tool
  // of a domain, <domain>:write for any other, nothing for a general tool.
  std::string scope;
};

// Builds a ToolDefinition whose schemas come from schemas/ by the tool's name. Whether it is
// quick (see ToolDefinition::quick) is not the tool's to say: registration derives it.
ToolDefinition define(std::string name, ToolInfo info, ToolHandler handler);

// Registers a tool where it is defined, at namespace scope in its .cpp:
//   const ToolRegistrar registered{"calendar", list_events};
// `domain` is what --tools selects ("" for the general tools, always exposed). The factory takes
// nothing, App* (uses the App when there is one) or App& (needs it: without an App, as in
// `register_builtin(registry)`, the tool is left out).
struct ToolRegistrar {
  ToolRegistrar(std::string domain, ToolDefinition (*make)());
  ToolRegistrar(std::string domain, ToolDefinition (*make)(App*));
  ToolRegistrar(std::string domain, ToolDefinition (*make)(App&));
};

// What the registrars recorded, in no particular order (static initialisation's).
struct ToolFactory {
  std::string domain;
  bool needs_app = false;
  std::function<ToolDefinition(App*)> make;
};
const std::vector<ToolFactory>& registered_tools();

// The scope a registered tool needs: its own, else derived from its domain and readOnlyHint.
std::string scope_of(const ToolFactory& factory, const ToolDefinition& def);

// Which tools a server exposes: `--tools calendar,mail` (empty: every domain) and `--read-only`
// (only tools whose readOnlyHint is true).
struct ToolSelection {
  std::vector<std::string> domains;
  bool read_only = false;
  // Domains served by an outside service (Google, Spotify...): their tools say openWorldHint and
  // run on the worker pool (not quick), where cancellation and progress reach them.
  std::vector<std::string> open_world;
};
// The registered tools' domains, sorted: booking, calendar, mail, music, video.
std::vector<std::string> tool_domains();

// Adds the registered tools to the registry; without an App, only those that need none.
// Throws std::invalid_argument for an unknown domain in the selection.
void register_builtin(ToolRegistry& registry, App* app = nullptr, const ToolSelection& selection = {});

// What is wrong with the registered tools and the embedded schemas, one line each naming the
// file: a tool whose factory throws (its input schema missing, say), a schemas/<name>.input.json
// or .output.json that belongs to no registered tool. Empty when all is well; the build runs it
// (`concierge tools --check`). The App lets the tools that need one be made.
std::vector<std::string> check_tools(App& app, const std::vector<ToolFactory>& factories = registered_tools(),
                                     const std::map<std::string_view, std::string_view>& schemas = embedded_schemas());

}  // namespace concierge::tools
