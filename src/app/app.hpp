#pragma once
// The application as one process assembles it: the store and what lives in it, the providers
// (local ones, then the configured services' adapters), and a protocol Server with every tool,
// resource and prompt registered. The binary, the test fixture and the benchmarks all build it
// here, so what tests exercise is what users run.
#include <filesystem>
#include <memory>
#include <string>

#include "access/authorization_server.hpp"
#include "access/web_sessions.hpp"
#include "providers/config.hpp"
#include "providers/connect.hpp"
#include "providers/providers.hpp"
#include "providers/status.hpp"
#include "common/metrics.hpp"
#include "server/core.hpp"
#include "server/http.hpp"
#include "store/change_feed.hpp"
#include "store/history.hpp"
#include "store/preferences.hpp"
#include "store/store.hpp"
#include "tools/app.hpp"
#include "tools/tool.hpp"

namespace concierge::app {

// The store and what lives in it, for one process.
struct AppState {
  AppState(const std::filesystem::path& dir, store::HistoryOptions history_options = {}, const std::string& database_url = "");

  std::filesystem::path dir;  // empty: in memory
  store::Store store;
  store::Preferences preferences{store};
  store::ChangeFeed feed{store};  // to and from other instances on this data directory
  store::History history;
  providers::StatusBoard status{store};
  providers::Providers providers;
  App app{store, preferences, history, status, providers};
  std::unique_ptr<providers::Connections> connections;  // only when a service is used

  // The services' tokens and clients, made on first use.
  providers::Connections& connect();
};

struct StoreOptions {
  std::string data_dir;
  std::string database_url;  // empty: SQLite in the data directory; else postgresql://...
  int retention_days = 90;
  int history_max_mb = store::HistoryOptions{}.max_mb;
  bool in_memory = false;  // no data directory at all (listing the tools)
  bool record_history = true;
  bool demo = false;  // fill empty domains with the demo dataset first
  tools::ToolSelection tools;
};

// Opens (creating or migrating) the store, fills it with the demo dataset when asked, and, given
// a configuration, connects the configured services' adapters ahead of the local providers.
// Throws what the store or the configuration refuses.
std::unique_ptr<AppState> open_app(const StoreOptions& options, const providers::Config* config = nullptr);

// Fills the local user's empty domains with the demo dataset; {domain: added?}.
Json seed_demo(AppState& state);

// The requestState key (server/request_state.hpp): `key_file` (--state-key-file: at least 32
// bytes, trailing whitespace ignored, readable by its owner alone) when given, else
// <dir>/state.key, made 0600 with 32 random bytes when missing; empty (random for this process)
// in memory. Instances sharing a data directory or a key file accept each other's
// multi-round-trip retries. Throws std::invalid_argument naming --state-key-file.
std::string state_key(const std::filesystem::path& dir, const std::string& key_file);

// What the server says of itself in initialize / server/discover.
ServerOptions default_server_options();

// A Server with the built-in tools (as `selection` and the configuration choose: a domain served
// by an outside service is marked open-world), resources and prompts; history recorded when asked.
// Throws std::invalid_argument for an unknown tool domain.
std::unique_ptr<Server> make_server(AppState& state, ServerOptions options, bool record_history, tools::ToolSelection selection,
                                    const providers::Config* config = nullptr);

// `serve --auth builtin`: the authorization server on the store, with the data directory's
// signing key, for `public_url` (--public-url). Throws std::invalid_argument naming --public-url.
std::shared_ptr<access::AuthorizationServer> make_authorization_server(AppState& state, const std::string& public_url,
                                                                      access::AuthorizationServerOptions options = {});

// `serve --auth builtin`: the /connect pages (web/connect.hpp) for the OAuth services the
// configuration uses (with a client id, and no API key standing in), and `server`'s connect URL
// for them (URL elicitation): <origin>/connect/<service>. `origin` is read per request (known
// once bound on loopback); `sessions` and `state` must outlive the routes.
std::vector<HttpRoute> connect_routes(AppState& state, Server& server, const providers::Config& config, access::WebSessions& sessions,
                                      std::function<std::string()> origin);

// Instances on one data directory (README "Running several instances"): resource changes made
// through this process reach the other instances' subscribers, and theirs reach `server`'s, while
// the handle lives (drop it before the server). Once per AppState.
std::shared_ptr<void> share_changes(AppState& state, Server& server);

// /healthz: the database (a write and a read on a fresh connection), the history journal (its
// appends; its backlog), and the services' circuit breakers (open ones reported, not critical:
// the other domains still work). Errors are summarised, not detailed: probes need no token.
std::vector<HealthCheck> health_checks(AppState& state);

// /metrics: the process's gauges and the history journal's backlog, while the handle lives.
metrics::Registry::Handle register_metrics(AppState& state);

}  // namespace concierge::app
