#include "providers/registry.hpp"
#include "providers/status.hpp"
#include "resources/resource.hpp"

namespace concierge::resources {

// Per domain: the provider in use, the accounts connected and their health, the last error and
// when it happened (OAuth adapters add token expiry, breaker state and budget in `details`).
ResourceDefinition services(App& app) {
  return ResourceDefinition{
      .uri = kServicesUri,
      .name = "services",
      .title = "Service status",
      .description = "For " + providers::join_and(providers::domains()) +
                     ": the provider in use, connected accounts, health, and the last error with its time.",
      .mime_type = "application/json",
      .icons = nullptr,
      .read = [&app](RequestContext& ctx) { return json_contents(kServicesUri, app.status.to_json(ctx.user())); },
      .ttl_ms = 0,
      // No scope: which of the caller's own accounts are connected and healthy, none of their
      // content; a client holding any domain's scope needs it to explain a failing call.
      .scope = ""};
}

}  // namespace concierge::resources
