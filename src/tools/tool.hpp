#pragma once
// How a tool is declared: one file per tool, its schemas in schemas/<name>.input.json and
// (optionally) schemas/<name>.output.json, and one registration line in tools/builtin.cpp.
// A tool that may run as a task sets task_support (and defers_task, to run multi-round-trip
// input before the task starts) on the definition define() returns; see registry.hpp
// (TaskSupport, ToolResult::deferred) and server/tasks.hpp.
#include "server/registry.hpp"
#include "tools/app.hpp"

namespace concierge::tools {

struct ToolInfo {
  std::string title;
  std::string description;
  ToolHints hints;
  Json icons;
  bool quick = false;  // see ToolDefinition::quick: milliseconds, never asks the client anything
};

// Builds a ToolDefinition whose schemas come from schemas/ by the tool's name.
ToolDefinition define(std::string name, ToolInfo info, ToolHandler handler);

// The tools, one function per file. Those that keep state take the App (store, preferences...).
ToolDefinition echo();
ToolDefinition get_current_time(App* app);  // null: no preferences, the system's zone
ToolDefinition preferences_update(App& app);

// Each domain's tools (src/tools/<domain>/register.cpp); their names start with the domain.
std::vector<ToolDefinition> calendar_tools(App& app);
std::vector<ToolDefinition> mail_tools(App& app);
std::vector<ToolDefinition> music_tools(App& app);
std::vector<ToolDefinition> video_tools(App& app);
std::vector<ToolDefinition> booking_tools(App& app);

// Which tools a server exposes: `--tools calendar,mail` (empty: every domain) and `--read-only`
// (only tools whose readOnlyHint is true).
struct ToolSelection {
  std::vector<std::string> domains;
  bool read_only = false;
  // Domains served by an outside service (Google, Spotify...): their tools say openWorldHint.
  std::vector<std::string> open_world;
};
const std::vector<std::string>& tool_domains();  // calendar, mail, music, video, booking

// Adds the built-in tools to the registry; without an App, only those that need no store.
// Throws std::invalid_argument for an unknown domain in the selection.
void register_builtin(ToolRegistry& registry, App* app = nullptr, const ToolSelection& selection = {});

}  // namespace concierge::tools
