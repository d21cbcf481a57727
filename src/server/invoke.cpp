// Running a tool: one invoker for calls answered in the request (methods.cpp) and task bodies
// (tasks.cpp). Input validation first; ToolError (FieldError...) and, in the legacy era, a missing
// client capability become isError results the model can act on; the result is checked against
// the output schema and shaped for the request's revision.
#include "server/invoke.hpp"

#include <spdlog/spdlog.h>

#include "server/jsonrpc.hpp"
#include "server/revision.hpp"

namespace concierge {

namespace {
// Failures the model should see and can act on become isError results; protocol errors pass.
template <class F>
ToolResult guarded(F&& run, RequestContext& ctx) {
  try {
    return run();
  } catch (const ToolError& e) {
    return ToolResult::error(e.what());
  } catch (const rpc::Error& e) {
    if (e.code != rpc::kMissingRequiredClientCapability || ctx.modern()) throw;
    return ToolResult::error(e.what());  // legacy: the client simply can't do what this tool needs
  }
}
}  // namespace

ToolResult invoke_tool(const RegisteredTool& tool, const Json& args, RequestContext& ctx) {
  // A tool error, not a protocol error: the model sees it and can correct its call. It starts
  // with the argument at fault ("max_results: must be at least 1"), like the handlers' own.
  if (auto problem = tool.input->validate(args)) return ToolResult::error(*problem);
  return guarded([&] { return tool.def.handler(args, ctx); }, ctx);
}

ToolResult finish_tool(ToolResult result, RequestContext& ctx) {
  while (result.continuation) {
    auto rest = std::exchange(result.continuation, nullptr);
    result = guarded([&] { return rest(ctx); }, ctx);
  }
  return result;
}

Json tool_call_result(const RegisteredTool& tool, ToolResult result, RequestContext& ctx) {
  const std::string& name = tool.def.name;
  if (!result.is_error && tool.output) {
    if (result.structured.is_null()) {
      spdlog::error("tool {} returned no structured content for its outputSchema", name);
      throw rpc::Error(rpc::kInternalError, "Internal error: tool " + name + " returned no structured content");
    }
    if (auto problem = tool.output->validate(result.structured)) {
      spdlog::error("tool {} returned output that fails its outputSchema: {}", name, *problem);
      throw rpc::Error(rpc::kInternalError, "Internal error: tool " + name + " returned invalid output (" + *problem + ")");
    }
  }
  if (result.content.empty() && !result.structured.is_null())
    result.content.push_back(Json{{"type", "text"}, {"text", dump(result.structured)}});
  Json r{{"content", std::move(result.content)}};
  adapt_content(r["content"], ctx.revision());
  if (result.is_error) r["isError"] = true;
  if (!result.structured.is_null() && ctx.revision() >= Revision::V2025_06_18)
    r["structuredContent"] = std::move(result.structured);
  return r;
}

Json run_tool(const RegisteredTool& tool, const Json& arguments, RequestContext& ctx) {
  return tool_call_result(tool, finish_tool(invoke_tool(tool, arguments, ctx), ctx), ctx);
}

}  // namespace concierge
