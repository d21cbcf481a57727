#pragma once
// How a tool is declared: one file per tool, its schemas in schemas/<name>.input.json and
// (optionally) schemas/<name>.output.json, and one registration line in tools/builtin.cpp.
// A tool that may run as a task sets task_support (and defers_task, to run multi-round-trip
// input before the task starts) on the definition define() returns; see registry.hpp
// (TaskSupport, ToolResult::deferred) and server/tasks.hpp.
#include "server/registry.hpp"
#include "store/app.hpp"

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

// Adds every built-in tool to the registry; without an App, only those that need no store.
void register_builtin(ToolRegistry& registry, App* app = nullptr);

}  // namespace concierge::tools
