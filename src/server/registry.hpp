#pragma once
// Declarations of tools, resources and prompts, and the registries that hold them.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/error.hpp"  // ToolError, FieldError: what a tool throws for an isError result
#include "server/context.hpp"
#include "common/json.hpp"
#include "server/schema.hpp"

namespace concierge {

// ---- Tools ----------------------------------------------------------------------------------

// Behaviour hints, as the client sees them (annotations).
struct ToolHints {
  std::optional<bool> read_only, destructive, idempotent, open_world;
};

// What a tool returns. A tool with an outputSchema fills `structured`.
struct ToolResult {
  Json content = Json::array();
  Json structured;
  bool is_error = false;
  std::function<ToolResult(RequestContext&)> continuation;  // set by deferred()

  static ToolResult text(std::string text, Json structured = nullptr);
  static ToolResult error(std::string message);
  // "The rest may run as a task": the handler has done its synchronous part (validation,
  // multi-round-trip input through ctx.input) and returns the remaining work. For a tool with
  // defers_task set (see ToolDefinition) and a 2026-07-28 client that declared the tasks
  // extension on this request, `rest` becomes a task and the call answers with a
  // CreateTaskResult; otherwise `rest` runs at once, with the same context, and its result is the
  // call's. `rest` must own what it uses (capture by value): the handler's frame is gone by then.
  static ToolResult deferred(std::function<ToolResult(RequestContext&)> rest);
};

using ToolHandler = std::function<ToolResult(const Json& arguments, RequestContext& ctx)>;

// Whether a call may run as a task (2025-11-25 tasks utility; 2026-07-28 tasks extension; see
// server/tasks.hpp). Optional: a 2025-11-25 client may ask for one (params.task); a 2026-07-28
// client that declares the extension gets one. Required: as Optional, and a call that can't be a
// task is refused. A task's body runs on the worker pool with a context of its own: ctx.input()
// parks the task until the client answers (tasks/update, or tasks/result in 2025-11-25), and
// ctx.cancel() fires on tasks/cancel. An isError result completes the task; an rpc::Error thrown
// by the body fails it.
enum class TaskSupport { Forbidden, Optional, Required };

struct ToolDefinition {
  std::string name;
  std::string title;
  std::string description;
  Json input_schema;          // required
  Json output_schema;         // null: no structured output
  ToolHints hints;
  Json icons;                 // null or an array of Icon
  ToolHandler handler;
  TaskSupport task_support = TaskSupport::Forbidden;
  // false: a task runs the whole handler. true: the handler always runs in the request (so it
  // can use multi-round-trip input first) and only what it returns as ToolResult::deferred
  // becomes the task (2026-07-28); in a 2025-11-25 task the whole handler still runs as the task.
  bool defers_task = false;
  // Completes in milliseconds and never asks the client for input (no ctx.input): the call may
  // run on the transport's own thread where that thread is dedicated to the request anyway
  // (HTTP), saving two thread hand-offs per call. Anything slower stays on the worker pool,
  // where streaming progress and cancellation on disconnect work.
  bool quick = false;
  // The scope a caller needs to see and call it (HTTP with authentication); empty: any
  // authenticated caller. Builtin domain tools get <domain>:read or <domain>:write when empty.
  std::string scope;
};

struct RegisteredTool {
  ToolDefinition def;
  std::unique_ptr<CompiledSchema> input, output;
  Json wire;  // the Tool object of the newest revision; older ones are adapted from it
};

class ToolRegistry {
 public:
  // Throws std::invalid_argument for a duplicate name or a schema that does not compile.
  void add(ToolDefinition def);
  const RegisteredTool* find(std::string_view name) const;
  // Sorted by name: a deterministic order lets clients cache the list.
  const std::vector<const RegisteredTool*>& list() const { return sorted_; }
  bool empty() const { return tools_.empty(); }

 private:
  std::map<std::string, std::unique_ptr<RegisteredTool>, std::less<>> tools_;
  std::vector<const RegisteredTool*> sorted_;
};

// ---- Completion -----------------------------------------------------------------------------

// Candidate values for an argument given its partial value and the other arguments so far; the
// request's context says whose values (the user's history, say).
using Completer =
    std::function<std::vector<std::string>(const std::string& value, const Json& context_arguments, RequestContext& ctx)>;

// Prefix match, case-insensitive, in the given order.
std::vector<std::string> prefix_matches(const std::vector<std::string>& values, const std::string& value);

// Completer over a fixed set: prefix match, case-insensitive.
Completer complete_from(std::vector<std::string> values);

// ---- Resources ------------------------------------------------------------------------------

// Reads return the `contents` array of a ReadResourceResult.
using ResourceReader = std::function<Json(RequestContext& ctx)>;
using TemplateReader = std::function<Json(const std::string& uri, const std::map<std::string, std::string>& vars, RequestContext& ctx)>;

struct ResourceDefinition {
  std::string uri, name, title, description, mime_type;
  Json icons;
  ResourceReader read;
  int ttl_ms = 0;  // caching hint for resources/read (2026-07-28)
  std::string scope;  // needed to list, read or subscribe (see ToolDefinition::scope)
};

struct ResourceTemplateDefinition {
  std::string uri_template, name, title, description, mime_type;
  Json icons;
  TemplateReader read;  // return null for "no such resource"
  std::map<std::string, Completer> complete;  // per template variable
  int ttl_ms = 0;
  std::string scope;  // as ResourceDefinition::scope
};

// A level-1 RFC 6570 template ({var} expressions), matched against concrete URIs.
class UriTemplate {
 public:
  explicit UriTemplate(std::string tmpl);
  std::optional<std::map<std::string, std::string>> match(std::string_view uri) const;
  const std::vector<std::string>& variables() const { return vars_; }

 private:
  std::vector<std::string> literals_;  // literals_[i] precedes vars_[i]; one more literal at the end
  std::vector<std::string> vars_;
};

class ResourceRegistry {
 public:
  void add(ResourceDefinition def);
  void add_template(ResourceTemplateDefinition def);
  const std::vector<ResourceDefinition>& resources() const { return resources_; }
  const std::vector<ResourceTemplateDefinition>& templates() const { return templates_; }
  const ResourceDefinition* find(std::string_view uri) const;
  // The template that matches uri, with its variables.
  const ResourceTemplateDefinition* match(std::string_view uri, std::map<std::string, std::string>& vars) const;
  const ResourceTemplateDefinition* find_template(std::string_view uri_template) const;
  bool empty() const { return resources_.empty() && templates_.empty(); }

 private:
  std::vector<ResourceDefinition> resources_;
  std::vector<ResourceTemplateDefinition> templates_;
  std::vector<UriTemplate> compiled_;
};

// ---- Prompts --------------------------------------------------------------------------------

struct PromptArgument {
  std::string name, title, description;
  bool required = false;
  Completer complete;
};

// Returns a GetPromptResult body: {description?, messages}.
using PromptRenderer = std::function<Json(const std::map<std::string, std::string>& args, RequestContext& ctx)>;

struct PromptDefinition {
  std::string name, title, description;
  std::vector<PromptArgument> arguments;
  Json icons;
  PromptRenderer render;
  std::vector<std::string> scopes;  // every scope its content needs (see ToolDefinition::scope)
};

class PromptRegistry {
 public:
  void add(PromptDefinition def);
  const PromptDefinition* find(std::string_view name) const;
  const std::vector<PromptDefinition>& list() const { return prompts_; }
  bool empty() const { return prompts_.empty(); }

 private:
  std::vector<PromptDefinition> prompts_;
};

}  // namespace concierge
