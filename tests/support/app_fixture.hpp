#pragma once
// A server as the binary builds it (app/app.hpp: tools, resources, prompts, history recording)
// on a store in a fresh temporary data directory, removed at the end.
#include <filesystem>
#include <string>

#include "app/app.hpp"
#include "prompts/prompt.hpp"
#include "resources/resource.hpp"
#include "support/temp_dir.hpp"
#include "support/test_database.hpp"

namespace concierge::test {

struct AppFixture {
  TempDir dir;
  std::filesystem::path data = dir.path / "data";
  std::unique_ptr<app::AppState> state = std::make_unique<app::AppState>(data, store::HistoryOptions{}, database_url(data));
  store::Store& store = state->store;
  store::Preferences& preferences = state->preferences;
  store::History& history = state->history;
  providers::StatusBoard& status = state->status;
  providers::Providers& providers = state->providers;
  App& app = state->app;
  std::unique_ptr<Server> server;

  explicit AppFixture(bool record_history = true, ServerOptions options = {}, tools::ToolSelection selection = {})
      : server(app::make_server(*state, std::move(options), record_history, std::move(selection))) {}
  ~AppFixture() { server.reset(); }  // before the store it records into
};

}  // namespace concierge::test
