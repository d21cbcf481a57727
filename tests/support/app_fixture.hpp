#pragma once
// A server as the binary builds it (tools, resources, prompts, history recording) on a store in
// a fresh temporary data directory, removed at the end.
#include <filesystem>
#include <string>

#include "prompts/prompt.hpp"
#include "providers/providers.hpp"
#include "providers/status.hpp"
#include "resources/resource.hpp"
#include "server/core.hpp"
#include "store/app.hpp"
#include "store/history.hpp"
#include "store/preferences.hpp"
#include "store/store.hpp"
#include "tools/tool.hpp"
#include "support/temp_dir.hpp"

namespace concierge::test {

struct AppFixture {
  TempDir dir;
  std::filesystem::path data = dir.path / "data";
  store::Store store{data};
  store::Preferences preferences{store};
  store::History history{store};
  providers::StatusBoard status{store};
  providers::Providers providers;
  App app{store, preferences, history, status, providers};
  std::unique_ptr<Server> server;

  explicit AppFixture(bool record_history = true, ServerOptions options = {}, tools::ToolSelection selection = {}) {
    providers::add_local(providers, store, &status);
    server = std::make_unique<Server>(std::move(options));
    tools::register_builtin(server->tools(), &app, selection);
    resources::register_builtin(*server, app);
    prompts::register_builtin(server->prompts(), app);
    if (record_history) resources::record_calls(*server, app);
  }
  ~AppFixture() { server.reset(); }  // before the store it records into
};

}  // namespace concierge::test
