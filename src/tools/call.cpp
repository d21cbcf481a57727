#include "tools/call.hpp"

#include "store/store.hpp"

namespace concierge::tools {

providers::Call provider_call(App& app, const Json& args, const RequestContext& ctx) {
  providers::Call call(app.store.user_id(ctx.user()));
  if (args.is_object()) call.account = args.value("account", "");
  call.cancel = ctx.cancel();
  // The call lives inside the tool's body, so the context outlives it.
  if (ctx.wants_progress())
    call.progress = [&ctx](double done, std::optional<double> total, std::string_view message) { ctx.progress(done, total, message); };
  return call;
}

}  // namespace concierge::tools
