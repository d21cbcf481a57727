#pragma once
// The one tool invoker, used by tools/call answered in the request and by task bodies.
#include "common/json.hpp"
#include "server/context.hpp"
#include "server/registry.hpp"

namespace concierge {

// The handler, after input validation; ToolError and (legacy era) -32021 become isError results.
ToolResult invoke_tool(const RegisteredTool& tool, const Json& arguments, RequestContext& ctx);
// Runs any ToolResult::deferred continuations in this context.
ToolResult finish_tool(ToolResult result, RequestContext& ctx);
// The CallToolResult for ctx's revision; output that fails the output schema is -32603.
Json tool_call_result(const RegisteredTool& tool, ToolResult result, RequestContext& ctx);
// All three: a whole call, as a task body runs it.
Json run_tool(const RegisteredTool& tool, const Json& arguments, RequestContext& ctx);

}  // namespace concierge
