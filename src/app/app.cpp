#include "app/app.hpp"
#include "common/private_file.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "prompts/prompt.hpp"
#include "providers/auth/tokens.hpp"
#include "providers/registry.hpp"
#include "common/base64.hpp"
#include "resources/resource.hpp"
#include "store/start_lock.hpp"
#include "web/connect.hpp"

namespace concierge::app {

AppState::AppState(const std::filesystem::path& d, store::HistoryOptions h, const std::string& database_url)
    : dir(d), store(d, database_url), history(store, h) {
  providers::add_local(providers, store, &status);
}

providers::Connections& AppState::connect() {
  if (!connections) connections = std::make_unique<providers::Connections>(store, dir);
  return *connections;
}

// The demo dataset is the stdio/HTTP user's ("local": there are no other users before auth).
Json seed_demo(AppState& state) {
  const std::string user = "local";
  return providers::seed_demo(state.providers, state.store.user_id(user), state.preferences.time_zone(user));
}

std::unique_ptr<AppState> open_app(const StoreOptions& o, const providers::Config* config) {
  auto dir = o.in_memory ? std::filesystem::path() : store::resolve_data_dir(o.data_dir);
  std::unique_ptr<AppState> state;
  {
    // Creating or migrating the database and the demo fill: one process at a time (store.hpp).
    std::optional<store::StartLock> lock;
    if (!o.in_memory) lock.emplace(dir);
    try {
      state = std::make_unique<AppState>(dir, store::HistoryOptions{.retention_days = o.retention_days, .max_mb = o.history_max_mb},
                                         o.database_url);
    } catch (const std::exception& e) {
      if (o.database_url.empty()) throw;
      throw std::runtime_error(std::string("--database ") + e.what());  // the store's message starts with the URL, its password hidden
    }
    // The start lock is this data directory's; instances on other machines sharing a PostgreSQL
    // database take turns at the demo fill through the database.
    std::shared_ptr<void> across;
    if (o.demo && state->store.engine() == sql::Engine::postgres) across = state->store.lock_across("demo fill");
    if (o.demo) spdlog::info("demo data: {}", seed_demo(*state).dump());
  }
  spdlog::debug("data directory {}, database {}", o.in_memory ? "(none: in memory)" : dir.string(), state->store.describe());
  // The configured services' adapters, ahead of the local providers.
  if (config && std::any_of(config->providers.begin(), config->providers.end(), [](auto& p) { return p.second != "local"; }))
    providers::connect(state->providers, state->connect(), *config, &state->status);
  return state;
}

std::shared_ptr<void> share_changes(AppState& state, Server& server) {
  state.preferences.on_change([&feed = state.feed](const std::string& user) { feed.publish(user, resources::kPreferencesUri); });
  return state.feed.on_change([&server](const std::string& user, const std::string& uri) { server.notify_resource_updated(uri, user); });
}

std::vector<HealthCheck> health_checks(AppState& state) {
  std::vector<HealthCheck> out;
  HealthCheck db{.name = "database"};
  const auto started = std::chrono::steady_clock::now();
  try {
    state.store.probe();
  } catch (const std::exception& e) {
    db.ok = false;
    db.detail["error"] = e.what();  // the system's or SQLite's words ("Permission denied"), no path
    spdlog::warn("health: the database failed its write and read: {}", e.what());
  }
  db.detail["ms"] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  out.push_back(std::move(db));

  const auto j = state.history.journal_state();
  HealthCheck journal{.name = "history_journal", .ok = !j.append_failing};
  journal.detail = Json{{"backlog", j.backlog}, {"ingest_failing", j.ingest_failing}};
  if (!j.error.empty()) spdlog::warn("health: history journal: {}", j.error);
  out.push_back(std::move(journal));

  HealthCheck breakers{.name = "breakers", .critical = false};
  Json open = Json::array();
  for (auto& s : metrics::Registry::global().collect())
    if (s.name == "concierge_upstream_breaker_state" && s.value == 2) {
      std::string who;
      for (auto& [k, v] : s.labels) who += (who.empty() ? "" : "/") + v;
      open.push_back(who);
    }
  breakers.ok = open.empty();
  breakers.detail["open"] = std::move(open);
  out.push_back(std::move(breakers));
  return out;
}

metrics::Registry::Handle register_metrics(AppState& state) {
  return metrics::Registry::global().add_collector([&state](std::vector<metrics::Sample>& out) {
    metrics::collect_process(out);
    out.push_back({"concierge_history_journal_backlog", "Tool calls journaled and not yet moved into the database.", "gauge", {},
                   double(state.history.journal_state().backlog)});
  });
}

std::string state_key(const std::filesystem::path& dir, const std::string& key_file) {
  constexpr size_t kMin = 32, kMax = 4096;
  if (!key_file.empty()) {
    const std::string flag = "--state-key-file " + key_file;
    struct stat st {};
    if (::stat(key_file.c_str(), &st) != 0) throw std::invalid_argument(flag + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw std::invalid_argument(flag + ": not a regular file");
    // Anyone who reads it can forge the state a retry carries (answers a user never gave).
    if (st.st_mode & 077) throw std::invalid_argument(flag + ": readable by others than its owner (chmod 600 it)");
    if (st.st_size > static_cast<off_t>(kMax)) throw std::invalid_argument(flag + ": larger than " + std::to_string(kMax) + " bytes");
    std::ifstream in(key_file, std::ios::binary);
    std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) throw std::invalid_argument(flag + ": cannot be read");
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    if (key.size() < kMin)
      throw std::invalid_argument(flag + ": holds " + std::to_string(key.size()) + " bytes, at least " + std::to_string(kMin) +
                                  " are needed (openssl rand -hex 32 makes one)");
    return key;
  }
  if (dir.empty()) return {};
  const auto path = dir / "state.key";
  std::string key = create_private_file(path, random_bytes(kMin), "the requestState key");
  if (key.size() < kMin) throw std::runtime_error(path.string() + " is not a requestState key (32 bytes or more)");
  return key;
}

ServerOptions default_server_options() {
  ServerOptions options;
  options.instructions =
      "Concierge manages the user's calendar, mail, music, video and bookings. Times are RFC 3339 with "
      "offset; ask before anything destructive. The user's preferences are in concierge://preferences and what was "
      "done for them in concierge://history.";
  return options;
}

std::unique_ptr<Server> make_server(AppState& state, ServerOptions options, bool record_history, tools::ToolSelection selection,
                                    const providers::Config* config) {
  if (config)
    for (auto& [domain, provider] : config->providers)
      if (provider != "local") selection.open_world.push_back(domain);
  auto server = std::make_unique<Server>(std::move(options));
  tools::register_builtin(server->tools(), &state.app, selection);
  resources::register_builtin(*server, state.app);
  prompts::register_builtin(server->prompts(), state.app);
  if (record_history) resources::record_calls(*server, state.app);
  return server;
}

std::shared_ptr<access::AuthorizationServer> make_authorization_server(AppState& state, const std::string& public_url,
                                                                      access::AuthorizationServerOptions o) {
  if (public_url.empty())
    throw std::invalid_argument("--public-url: required with --auth builtin (the issuer is its origin, e.g. https://mcp.example.com/mcp)");
  o.public_url = public_url;
  return std::make_shared<access::AuthorizationServer>(state.store, access::SigningKey::for_data_dir(state.dir), o);
}

std::vector<HttpRoute> connect_routes(AppState& state, Server& server, const providers::Config& config, access::WebSessions& sessions,
                                      std::function<std::string()> origin) {
  std::vector<std::string> services;
  for (const auto& a : providers::registered_adapters()) {
    auto p = config.providers.find(a.domain);
    if (!a.oauth || p == config.providers.end() || p->second != a.provider) continue;
    auto s = config.services.find(a.sign_in);
    if (s == config.services.end() || s->second.client_id.empty() || !s->second.api_key.empty()) continue;
    if (std::find(services.begin(), services.end(), a.sign_in) == services.end()) services.push_back(a.sign_in);
  }
  server.set_connect_url([services, origin](const std::string&, const std::string& service) -> std::optional<std::string> {
    if (std::find(services.begin(), services.end(), service) == services.end()) return std::nullopt;
    return web::connect_url(origin(), service);
  });
  web::ConnectOptions o;
  o.origin = std::move(origin);
  o.services = services;
  auto& connections = state.connect();
  o.tokens = &connections.tokens;
  o.oauth = [&connections, &config](const std::string& service) { return connections.oauth_client(service, config); };
  o.connected = [&server](const std::string& user, const std::string& service) { server.connection_completed(user, service); };
  return web::connect_routes(sessions, std::move(o));
}

}  // namespace concierge::app
