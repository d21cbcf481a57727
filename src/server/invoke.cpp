// Running a tool: one invoker for calls answered in the request (methods.cpp) and task bodies
// (tasks.cpp). Input validation first; ToolError (FieldError...) and, in the legacy era, a missing
// client capability become isError results the model can act on; the result is checked against
// the output schema and shaped for the request's revision.
#include "server/invoke.hpp"

#include <spdlog/spdlog.h>

#include "common/base64.hpp"
#include "server/core.hpp"
#include "server/jsonrpc.hpp"
#include "server/revision.hpp"

namespace concierge {

namespace {

bool declares_url_elicitation(const RequestContext& ctx) {
  auto e = ctx.client_capabilities().find("elicitation");
  return e != ctx.client_capabilities().end() && e->is_object() && e->contains("url");
}

// A service the caller has not connected (or must connect again), with a connect page on this
// server: a 2025-11-25 client that takes URL-mode elicitation gets -32042 URLElicitationRequired,
// a 2026-07-28 one an input request (the retry's answer means the person came back: if the
// service is still not connected, the tool error says so), any other the URL in the tool error.
ToolResult needs_connection(const NeedsConnection& e, RequestContext& ctx) {
  auto url = ctx.server().connect_url(ctx.user(), e.service);
  if (!url) return ToolResult::error(e.what());
  const std::string message = "Connect your " + e.service + " account to Concierge in the browser, then try again.";
  const std::string in_error = std::string(e.what()) + "; or connect it in the browser: " + *url;
  if (!declares_url_elicitation(ctx)) return ToolResult::error(in_error);
  if (ctx.revision() == Revision::V2025_11_25 && !ctx.is_detached()) {
    std::string id = base64url_encode(random_bytes(18));
    if (auto& s = ctx.session()) {
      std::lock_guard l(s->m);
      s->url_elicitations[e.service] = id;
    }
    throw rpc::Error(rpc::kUrlElicitationRequired, "This request requires connecting " + e.service + " in the browser",
                     Json{{"elicitations", Json::array({Json{{"mode", "url"}, {"elicitationId", id}, {"url", *url}, {"message", message}}})}});
  }
  if (ctx.modern()) {
    ctx.input("connect_" + e.service, "elicitation/create", Json{{"mode", "url"}, {"message", message}, {"url", *url}});
    return ToolResult::error(std::string(e.what()) + "; it is still not connected: " + *url);
  }
  return ToolResult::error(in_error);
}

// Failures the model should see and can act on become isError results; protocol errors pass.
template <class F>
ToolResult guarded(F&& run, RequestContext& ctx) {
  try {
    return run();
  } catch (const NeedsConnection& e) {
    return needs_connection(e, ctx);
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
