#include "tools/tool.hpp"

namespace concierge::tools {

// Returns its input: a connectivity check for clients, and the benchmarks' unit of work.
ToolDefinition echo() {
  return define("echo",
                {.title = "Echo",
                 .description = "Returns the given text unchanged.",
                 .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
                [](const Json& args, RequestContext&) { return ToolResult::text(args["text"].get<std::string>()); });
}

const ToolRegistrar registered{"", echo};

}  // namespace concierge::tools
