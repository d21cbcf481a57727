#pragma once
// The provider call a tool makes for a request: the user, the `account` argument, the client's
// cancellation, and progress forwarded to the client when it asked for progress.
#include "common/json.hpp"
#include "providers/call.hpp"
#include "server/context.hpp"
#include "tools/app.hpp"

namespace concierge::tools {

providers::Call provider_call(App& app, const Json& args, const RequestContext& ctx);

}  // namespace concierge::tools
