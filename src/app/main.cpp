// concierge: the command line.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <iostream>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <date/date.h>
#include <fstream>
#include <sstream>

#include "access/audit.hpp"
#include "access/authenticator.hpp"
#include "access/identities.hpp"
#include "app/access_commands.hpp"
#include "app/app.hpp"
#include "common/log.hpp"
#include "providers/auth/login.hpp"
#include "providers/http/url.hpp"
#include "server/serve.hpp"
#include "server/stdio.hpp"
#include "store/start_lock.hpp"
#include "tools/markdown.hpp"
#include "web/pages.hpp"

using namespace concierge;

// jemalloc's settings, read at start when the binary is linked with it (CMakeLists.txt); an
// unused global otherwise. Every open SSE stream is a thread, and jemalloc's default per-thread
// caches and per-CPU arenas tripled the RSS of 1,000 open streams; two arenas and small caches
// keep its speed without that.
extern "C" {
const char* malloc_conf = "narenas:2,tcache_nslots_small_max:16,tcache_nslots_large:4,dirty_decay_ms:1000,muzzy_decay_ms:0";
}

namespace {

// `serve --auth ...`: who may call over HTTP.
struct AuthOptions {
  std::string mode = "none";  // none, keys, issuer, builtin
  std::string issuer, introspection_url;
  bool require_provisioned = false;
  int token_ttl = 3600;                     // --auth-token-ttl (builtin)
  bool allow_http_client_metadata = false;  // --allow-http-client-metadata (builtin; tests)
};

struct ServeOptions {
  app::StoreOptions store;
  StdioOptions stdio;
  std::string http;  // [HOST:]PORT; empty = stdio
  std::string metrics_addr;  // [HOST:]PORT: /metrics apart, without authentication
  std::string instance;        // starts this instance's session and task ids (load-balancer routing)
  std::string state_key_file;  // requestState key shared by instances; default <data dir>/state.key
  HttpOptions http_options;
  AuthOptions auth;
};

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The Authenticator `--auth` asks for (null for none). Throws std::invalid_argument naming the
// flag at fault.
// `own` is the built-in authorization server (--auth builtin): its tokens are verified with its key.
std::shared_ptr<access::StoreAuthenticator> make_authenticator(const AuthOptions& o, store::Store& store,
                                                               const access::AuthorizationServer* own = nullptr) {
  if (o.mode == "none") return nullptr;
  access::AuthenticatorOptions ao;
  if (own) ao.builtin_key = own->signing_key().public_key();
  ao.require_provisioned = o.require_provisioned;
  if (o.mode == "issuer") {
    if (o.issuer.empty()) throw std::invalid_argument("--auth issuer needs --auth-issuer URL (the authorization server)");
    access::IssuerOptions io;
    io.issuer = o.issuer;
    io.introspection_url = o.introspection_url;
    io.client_id = env_or_empty("CONCIERGE_INTROSPECTION_CLIENT_ID");
    io.client_secret = env_or_empty("CONCIERGE_INTROSPECTION_CLIENT_SECRET");
    io.audience = "https://placeholder.invalid/mcp";  // checked here; the real one is set once bound
    access::IssuerVerifier check(io);                  // refuses a plain-http issuer off loopback, naming the flag
    ao.issuer = io;
  } else if (!o.issuer.empty() || !o.introspection_url.empty()) {
    throw std::invalid_argument("--auth-issuer and --auth-introspection-url need --auth issuer (got --auth " + o.mode + ")");
  }
  return std::make_shared<access::StoreAuthenticator>(store, ao);
}

// --http and --metrics-addr: "[HOST:]PORT" (HOST may be [v6]); the default host is loopback.
// nullopt unless PORT is a whole number from 0 to 65535.
std::optional<std::pair<std::string, int>> host_port(const std::string& text) {
  auto colon = text.rfind(':');
  std::string host = colon == std::string::npos ? "127.0.0.1" : text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty()) return std::nullopt;  // ":9464" would bind every interface by accident
  try {
    size_t used = 0;
    const std::string port = colon == std::string::npos ? text : text.substr(colon + 1);
    int p = std::stoi(port, &used);
    if (used != port.size() || p < 0 || p > 65535) return std::nullopt;
    return std::pair{host, p};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int serve(const ServeOptions& o, const providers::Config& config) {
  StopSignals stop;  // before any thread starts
  std::unique_ptr<app::AppState> state;
  try {
    state = app::open_app(o.store, &config);
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return 1;
  }
  std::unique_ptr<Server> server;
  try {
    ServerOptions so = app::default_server_options();
    so.state_key = app::state_key(state->dir, o.state_key_file);
    if (!o.instance.empty()) so.instance_prefix = o.instance + ".";
    server = app::make_server(*state, std::move(so), o.store.record_history, o.store.tools, &config);
  } catch (const std::invalid_argument& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return 1;
  }
  const auto shared_changes = app::share_changes(*state, *server);  // before the server goes
  const auto app_metrics = app::register_metrics(*state);
  std::unique_ptr<MetricsListener> metrics_listener;
  if (!o.metrics_addr.empty()) {
    auto at = host_port(o.metrics_addr);
    if (!at) {
      spdlog::error("--metrics-addr takes [HOST:]PORT, got '{}'", o.metrics_addr);
      return 2;
    }
    try {
      metrics_listener = std::make_unique<MetricsListener>(at->first, at->second);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
    spdlog::info("metrics on http://{}:{}/metrics", at->first.find(':') != std::string::npos ? "[" + at->first + "]" : at->first,
                 metrics_listener->port());
  }
  if (!o.http.empty()) {
    HttpOptions ho = o.http_options;
    ho.health = [&state] { return app::health_checks(*state); };
    auto at = host_port(o.http);
    if (!at) {
      spdlog::error("--http takes [HOST:]PORT, got '{}'", o.http);
      return 2;
    }
    std::tie(ho.host, ho.port) = *at;
    const std::string shown = ho.host.find(':') != std::string::npos ? "[" + ho.host + "]" : ho.host;
    // Without --public-url (loopback only; the transport refuses it elsewhere) the public URL is
    // the bound address, known after bind.
    auto bound_url = [&](int bound) { return "http://" + shown + ":" + std::to_string(bound) + ho.endpoint; };
    std::shared_ptr<access::AuthorizationServer> as;
    std::shared_ptr<access::StoreAuthenticator> authenticator;
    try {
      if (o.auth.mode == "builtin") {
        access::AuthorizationServerOptions ao;
        ao.access_token_ttl = std::chrono::seconds(o.auth.token_ttl);
        ao.allow_http_client_metadata = o.auth.allow_http_client_metadata;
        const bool derived = ho.access.public_url.empty() && providers::http::is_loopback_host(ho.host);
        as = app::make_authorization_server(*state, derived ? bound_url(ho.port) : ho.access.public_url, ao);
        ho.routes = access::authorization_routes(as);
        // The sign-in, consent and invite pages (src/web/pages.hpp), and their browser sessions.
        access::WebSessionOptions wo;
        wo.secure_cookie = ho.access.public_url.rfind("https://", 0) == 0;
        auto sessions = std::make_shared<access::StoreWebSessions>(state->store, wo);
        for (auto& r : web::page_routes_for(as, sessions)) ho.routes.push_back(std::move(r));
        // /connect: the signed-in person connects services in the browser; tools that need one
        // not connected send them there (URL elicitation).
        auto connect = app::connect_routes(*state, *server, config, *sessions, [as] { return as->issuer(); });
        ho.routes.insert(ho.routes.end(), connect.begin(), connect.end());
        ho.access.own_authorization_server = true;
      } else if (o.auth.token_ttl != 3600 || o.auth.allow_http_client_metadata) {
        throw std::invalid_argument("--auth-token-ttl and --allow-http-client-metadata need --auth builtin (got --auth " + o.auth.mode + ")");
      }
      authenticator = make_authenticator(o.auth, state->store, as.get());
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 2;
    }
    ho.access.authenticator = authenticator;
    if (!o.auth.issuer.empty()) ho.access.authorization_servers = {o.auth.issuer};
    return serve_http_until_stopped(*server, ho, stop, [&](int bound) {
      // Tokens must name this server: the public URL, or on loopback the bound address.
      const std::string public_url = !ho.access.public_url.empty() ? ho.access.public_url : bound_url(bound);
      if (as) as->set_public_url(public_url);
      if (authenticator) authenticator->set_audience(public_url);
      if (as) spdlog::info("authorization server: issuer {}", as->issuer());
      if (authenticator) spdlog::info("HTTP callers authenticate: --auth {}", o.auth.mode);
      spdlog::info("concierge {} listening on http://{}:{}/mcp (legacy HTTP+SSE at /sse)", CONCIERGE_VERSION, shown, bound);
    });
  }
  if (o.auth.mode != "none") {
    spdlog::error("--auth applies to --http: on stdio the caller is the local user who started the server");
    return 2;
  }
  spdlog::info("concierge {} serving MCP on stdio", CONCIERGE_VERSION);
  if (!serve_stdio(*server, STDIN_FILENO, STDOUT_FILENO, stop.fd(), o.stdio)) {
    // A handler ignored cancellation: don't let it hold the process past the grace period.
    spdlog::default_logger()->flush();
    std::_Exit(0);
  }
  return 0;
}

// `concierge auth status`: every signed-in account with its scopes, expiry and state; API keys
// from the environment. No token is printed.
void print_auth_status(std::ostream& out, providers::Connections& c, providers::StatusBoard& status, const providers::Config& config,
                       const std::string& user_name, int64_t user) {
  auto accounts = c.tokens.accounts(user);
  auto board = status.snapshot(user_name);
  auto needs_reauth = [&](const std::string& account) {
    for (auto& d : board)
      for (auto& a : d.accounts)
        if (a.account == account && a.health == providers::Health::NeedsReauth) return true;
    return false;
  };
  const auto now = providers::now_ms();
  for (auto& a : accounts) {
    out << a.service << "\t" << a.account << "\t";
    if (needs_reauth(a.account)) out << "needs sign-in again: concierge auth login " << a.service << " --account " << a.account;
    else if (a.expires_at == 0) out << "signed in";
    else if (a.expires_at > now) out << "signed in, access expires in " << (a.expires_at - now) / 60000 << " min (refreshed automatically)";
    else out << "signed in, access expired (refreshed at the next call)";
    out << "\tscopes:";
    for (auto& s : a.scopes) out << " " << s;
    out << "\n";
  }
  for (auto& [service, s] : config.services)
    if (!s.api_key.empty()) {
      std::string var = "CONCIERGE_" + service + "_API_KEY";
      for (auto& ch : var) ch = char(std::toupper(static_cast<unsigned char>(ch)));
      out << service << "\t(api key)\tfrom " << var << "\n";
    }
  if (accounts.empty()) out << "No account is signed in. Sign in with: concierge auth login <service> [--account NAME]\n";
}


// ---- One function per subcommand ------------------------------------------------------------

// Opens the store for a command that is not serving; logs and returns null when it can't.
std::unique_ptr<app::AppState> open_for_command(const app::StoreOptions& options, const providers::Config* config = nullptr) {
  try {
    return app::open_app(options, config);
  } catch (const std::exception& e) {
    spdlog::error("cannot open the store: {}", e.what());
    return nullptr;
  }
}

enum class AuthAction { Login, Logout, Status };
struct AuthArgs {
  std::string service, account, user;
  bool read_only = false;
  providers::auth::LoginOptions login;
};

// `concierge auth login|logout|status`.
int auth_command(AuthAction action, AuthArgs a, const app::StoreOptions& store_options, providers::Config& config) {
  auto state = open_for_command(store_options);
  if (!state) return 1;
  int64_t user = 0;
  try {
    user = access::known_user(state->store, a.user, "--user");  // a typo must not sign in a user of its own
  } catch (const std::invalid_argument& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  auto& connections = state->connect();
  try {
    switch (action) {
      case AuthAction::Login: {
        a.login.account = a.account;
        a.login.redirect_base = config.services[a.service].redirect_base;
        auto oauth = connections.oauth_client(a.service, config, a.read_only);
        providers::auth::login(*oauth, user, a.login, std::cout, STDIN_FILENO);
        return 0;
      }
      case AuthAction::Logout:
        if (!connections.tokens.remove(user, a.service, a.account)) {
          std::cerr << "no " << a.service << " account '" << a.account << "' is signed in\n";
          return 1;
        }
        std::cout << "Signed out: " << a.service << " account '" << a.account << "' (its tokens are deleted here; "
                  << "revoke the app's access in the service's account settings to end it there too)\n";
        return 0;
      case AuthAction::Status:
        print_auth_status(std::cout, connections, state->status, config, a.user, user);
        return 0;
    }
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
  }
  return 1;
}

// `concierge tools`: the registered tools, as `serve` with the same options would list them.
int tools_command(app::StoreOptions options, const providers::Config& config) {
  options.in_memory = true;  // listing needs no database: create none
  auto state = open_for_command(options, &config);
  if (!state) return 1;
  std::unique_ptr<Server> server;
  try {
    server = app::make_server(*state, app::default_server_options(), false, options.tools);
  } catch (const std::invalid_argument& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  for (const auto* t : server->tools().list()) std::cout << t->def.name << "\t" << t->def.description << "\n";
  return 0;
}

// `concierge tools --check` (hidden; the build runs it after linking): every registered tool can
// be made (its input schema found) and every embedded schema belongs to one. Reads no
// configuration and creates no data: the result depends on the binary alone.
int check_tools_command() {
  app::AppState state{std::filesystem::path()};
  auto problems = tools::check_tools(state.app);
  for (auto& p : problems) std::cerr << "concierge tools --check: " << p << "\n";
  return problems.empty() ? 0 : 1;
}

// `concierge tools --markdown`: the catalogue committed as docs/tools.md. As --check, from the
// binary alone, so the page is the same wherever it is generated.
int markdown_tools_command() {
  app::AppState state{std::filesystem::path()};
  std::cout << tools::tools_markdown(tools::catalogue(state.app));
  return 0;
}

// `concierge demo`.
int demo_command(const app::StoreOptions& options) {
  auto state = open_for_command(options);
  if (!state) return 1;
  store::StartLock lock(state->dir);  // as `serve --demo`: one process fills at a time
  const Json added = app::seed_demo(*state);  // not a temporary in the loop: items() would outlive it
  for (auto& [domain, did] : added.items())
    std::cout << domain << ": " << (did.get<bool>() ? "demo data added" : "already has data, left alone") << "\n";
  return 0;
}

// `concierge history export`: JSON Lines to stdout or a file only the person can read.
int history_export(const app::StoreOptions& options, const std::string& user, const std::string& out_path) {
  auto state = open_for_command(options);
  if (!state) return 1;
  std::ofstream file;
  if (!out_path.empty()) {
    // The person's data: created 0600 (and a file that was there made so), before anything
    // is in it. Not a device such as /dev/stdout: its mode is the system's.
    int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || (S_ISREG(st.st_mode) && ::fchmod(fd, 0600) != 0)) {
      spdlog::error("cannot write {}: {}", out_path, std::strerror(errno));
      if (fd >= 0) ::close(fd);
      return 1;
    }
    ::close(fd);
    file.open(out_path, std::ios::out | std::ios::trunc);
    if (!file) {
      spdlog::error("cannot write {}", out_path);
      return 1;
    }
  }
  std::ostream& out = out_path.empty() ? std::cout : file;
  size_t n = state->history.export_jsonl(user, out);
  // Then the user's audit (sign-ins, refusals, keys), oldest first, one {"audit": {...}} a line.
  const Json audit = access::Audit(state->store).list(user, SIZE_MAX);
  for (auto it = audit.rbegin(); it != audit.rend(); ++it) out << Json{{"audit", *it}}.dump() << '\n';
  out.flush();
  spdlog::info("exported {} calls and {} audit entries", n, audit.size());
  return 0;
}

// `concierge history purge [--before YYYY-MM-DD]`.
int history_purge(const app::StoreOptions& options, const std::string& user, const std::string& purge_before) {
  std::optional<int64_t> before;
  if (!purge_before.empty()) {
    std::istringstream in(purge_before);
    date::sys_days day;
    in >> date::parse("%F", day);
    if (in.fail() || purge_before.size() != 10) {
      spdlog::error("--before takes YYYY-MM-DD, got '{}'", purge_before);
      return 2;
    }
    before = std::chrono::duration_cast<std::chrono::milliseconds>(day.time_since_epoch()).count();
  }
  auto state = open_for_command(options);
  if (!state) return 1;
  size_t n = state->history.purge(user, before);
  std::cout << "purged " << n << " calls" << (before ? " before " + purge_before : std::string()) << "\n";
  return 0;
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"Concierge: an MCP server for your calendar, mail, music, video and bookings", "concierge"};
  app.set_version_flag("--version", std::string("concierge ") + CONCIERGE_VERSION);
  app.require_subcommand(0, 1);
  std::string log_level = "info", log_format = "text";
  app.add_option("--log-level", log_level, "stderr log level: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--log-format", log_format,
                 "stderr log lines: text, or json (one object a line: time, level, message, and the request's id, user, method, "
                 "tool, duration and traceparent)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  ServeOptions serve_options;
  app::StoreOptions& store_options = serve_options.store;
  // Accepted before or after the subcommand (fallthrough): `concierge --data-dir D serve` or
  // `concierge serve --data-dir D`.
  app.fallthrough();
  app.add_option("--data-dir", store_options.data_dir,
                 "Where the database lives (default: $CONCIERGE_DATA_DIR, else $XDG_DATA_HOME/concierge, else "
                 "~/.local/share/concierge)");
  app.add_option("--database", store_options.database_url,
                 "A PostgreSQL database shared by several instances (postgresql://user@host/db; also "
                 "$CONCIERGE_DATABASE_URL). Default: SQLite in the data directory")
      ->envname("CONCIERGE_DATABASE_URL")
      ->check([](const std::string& v) -> std::string {
        if (v.empty() || v.rfind("postgresql://", 0) == 0 || v.rfind("postgres://", 0) == 0) return "";
        return "expected a postgresql:// URL";
      });

  std::string tool_domains;
  std::string known_domains;  // as the tools registered them
  for (auto& d : tools::tool_domains()) known_domains += (known_domains.empty() ? "" : ",") + d;
  app.add_option("--tools", tool_domains, "Expose only these domains' tools: " + known_domains);
  app.add_flag("--read-only", store_options.tools.read_only, "Expose only tools that change nothing");

  auto* serve_cmd = app.add_subcommand("serve", "Serve MCP (stdio by default)");
  serve_cmd->add_flag("--demo", store_options.demo, "Fill empty domains with a small invented dataset first");
  serve_cmd->add_flag("!--no-history", store_options.record_history, "Do not record tool calls in the command history");
  serve_cmd->add_option("--history-retention-days", store_options.retention_days,
                        "Delete history older than this many days (0 keeps everything)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve_cmd->add_option("--history-max-mb", store_options.history_max_mb,
                        "Keep the history under this many MiB, oldest calls removed first (0: no cap)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve_cmd->add_option("--max-message-bytes", serve_options.stdio.max_message_bytes, "Largest message accepted on stdio")
      ->capture_default_str();
  serve_cmd->add_option("--http", serve_options.http,
                        "Serve Streamable HTTP at [HOST:]PORT/mcp (default host 127.0.0.1; port 0 picks a free one)");
  serve_cmd->add_option("--metrics-addr", serve_options.metrics_addr,
                        "Also serve /metrics (Prometheus) at [HOST:]PORT, without authentication: bind it where only the scraper "
                        "reaches. /metrics on --http is there too, behind --auth");
  // Who may call over HTTP (README "Remote access").
  AuthOptions& auth = serve_options.auth;
  serve_cmd->add_option("--instance", serve_options.instance,
                        "This instance's name among several behind one load balancer (letters, digits, - and _, at most 32): "
                        "every session and task id starts with NAME. so the balancer can route their requests to it "
                        "(deploy/nginx/concierge.conf)")
      ->check([](const std::string& v) -> std::string {
        const bool ok = !v.empty() && v.size() <= 32 && std::all_of(v.begin(), v.end(), [](unsigned char c) {
          return std::isalnum(c) || c == '-' || c == '_';
        });
        return ok ? "" : "--instance takes letters, digits, - and _ (1 to 32), got '" + v + "'";
      });
  serve_cmd->add_option("--state-key-file", serve_options.state_key_file,
                        "Key (32 bytes or more, mode 0600) signing multi-round-trip requestState; instances behind one load "
                        "balancer need the same one (default: <data dir>/state.key, made when missing)");
  serve_cmd->add_option("--auth", auth.mode,
                        "HTTP callers: none (loopback only), keys (API keys from `concierge keys create`), issuer (an "
                        "OAuth authorization server's access tokens, and API keys), builtin (Concierge as its own authorization server; "
                        "browser sign-in, and API keys)")
      ->check(CLI::IsMember({"none", "keys", "issuer", "builtin"}))
      ->capture_default_str();
  serve_cmd->add_option("--auth-issuer", auth.issuer,
                        "The authorization server whose access tokens are accepted (implies --auth issuer); https, or http on loopback");
  serve_cmd->add_option("--auth-introspection-url", auth.introspection_url,
                        "RFC 7662 introspection endpoint for opaque tokens (client id and secret from "
                        "CONCIERGE_INTROSPECTION_CLIENT_ID and CONCIERGE_INTROSPECTION_CLIENT_SECRET)");
  serve_cmd->add_option("--auth-token-ttl", auth.token_ttl, "--auth builtin: access token lifetime in seconds (at most an hour)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  serve_cmd->add_flag("--allow-http-client-metadata", auth.allow_http_client_metadata,
                      "--auth builtin: accept Client ID Metadata Document URLs over plain http on loopback (tests)");
  serve_cmd->add_flag("--auth-require-provisioned", auth.require_provisioned,
                      "Refuse tokens whose identity no `concierge users link` names (default: a user is made on first sight)");
  serve_cmd->add_option("--public-url", serve_options.http_options.access.public_url,
                        "The MCP endpoint's public URL (https://mcp.example.com/mcp): the tokens' audience, the metadata's resource "
                        "and the Host requests must name");
  serve_cmd->add_option("--trusted-proxy", serve_options.http_options.access.trusted_proxies,
                        "A proxy (CIDR) whose X-Forwarded-Proto/-Host/-For are believed (repeatable)");
  serve_cmd->add_flag("--allow-unauthenticated", serve_options.http_options.allow_unauthenticated,
                      "Serve a non-loopback address without --auth: anyone who reaches the port is the local user");
  serve_cmd->add_flag("--allow-remote", serve_options.http_options.allow_unauthenticated,
                      "Old name of --allow-unauthenticated")
      ->group("");
  serve_cmd->add_option("--max-body-bytes", serve_options.http_options.max_body_bytes,
                        "Largest HTTP request body, counted as read (chunked too) and after inflating gzip/deflate/br; beyond: 413")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 32))
      ->capture_default_str();
  int idle_seconds = 1800;
  serve_cmd->add_option("--session-idle-seconds", idle_seconds,
                        "An HTTP session with no open stream expires after this long idle, unfinished requests or not")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  // HTTP limits: beyond each, its status and a JSON-RPC error naming the flag.
  HttpOptions& ho = serve_options.http_options;
  ho.max_connections = default_max_connections();
  serve_cmd->add_option("--max-connections", ho.max_connections,
                        "Open HTTP connections at most (default sized for this machine); beyond: 503 with Retry-After. "
                        "SSE streams get seven eighths, the rest is kept for requests")
      ->check(CLI::Range(size_t{2}, size_t{1} << 20))
      ->capture_default_str();
  serve_cmd->add_option("--max-header-bytes", ho.max_header_bytes, "Largest HTTP request head (request line and headers); beyond: 431")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 24))
      ->capture_default_str();
  serve_cmd->add_option("--max-headers", ho.max_headers, "Most HTTP header lines in a request; beyond: 431")
      ->check(CLI::Range(size_t{8}, size_t{100000}))
      ->capture_default_str();
  double header_timeout = ho.header_timeout.count() / 1000.0, body_timeout = ho.body_timeout.count() / 1000.0,
         worker_idle = ho.worker_idle.count() / 1000.0;
  serve_cmd->add_option("--header-timeout", header_timeout, "Seconds a client has to send a request head; slower ones get 408 and are dropped")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  serve_cmd->add_option("--body-timeout", body_timeout, "Seconds a client has to send a request body; slower ones get 408 and are dropped")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  serve_cmd->add_option("--max-sessions", ho.max_sessions,
                        "HTTP sessions at most; the least recently used one without an open stream is evicted for a new one")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24))
      ->capture_default_str();
  serve_cmd->add_option("--max-replay-events", ho.events_per_session,
                        "Events an HTTP SSE stream keeps for Last-Event-ID resumption, oldest dropped; a resume past them gets a fresh stream")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24))
      ->capture_default_str();
  serve_cmd->add_option("--max-replay-bytes", ho.replay_bytes, "Bytes an HTTP SSE stream keeps for resumption (and for a client reading slowly), oldest dropped")
      ->check(CLI::Range(size_t{0}, size_t{1} << 32))
      ->capture_default_str();
  serve_cmd->add_option("--worker-idle-seconds", worker_idle, "HTTP threads beyond the base pool exit after idling this long")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  serve_cmd->add_option("--allowed-origin", serve_options.http_options.allowed_origins,
                        "An Origin allowed besides the loopback ones (repeatable)");
  auto* tools_cmd = app.add_subcommand("tools", "List the registered tools");
  bool check_tools = false;
  tools_cmd->add_flag("--check", check_tools, "Check the tools against the embedded schemas")->group("");  // for the build
  bool markdown_tools = false;
  tools_cmd->add_flag("--markdown", markdown_tools, "Print the tool catalogue as Markdown (docs/tools.md)");
  auto* demo_cmd = app.add_subcommand("demo", "Fill empty domains with a small invented dataset (the current week)");
  auto* config_cmd = app.add_subcommand("config", "Where the configuration file is, and what is in effect");
  config_cmd->require_subcommand(1);
  auto* config_path_cmd = config_cmd->add_subcommand("path", "Print the configuration file's path");
  auto* config_show_cmd = config_cmd->add_subcommand("show", "Print the configuration in effect (file and environment; secrets as (set))");

  // Signing in to the services (OAuth with PKCE; tokens sealed in the data directory).
  auto* auth_cmd = app.add_subcommand("auth", "Sign in to services; list and remove signed-in accounts");
  auth_cmd->require_subcommand(1);
  std::string auth_service, auth_account = "default", auth_user = "local";
  providers::auth::LoginOptions login_options;
  bool auth_read_only = false;
  int auth_timeout_s = 300;
  std::string services_list;
  for (auto& s : providers::oauth_services()) services_list += (services_list.empty() ? "" : ", ") + s;
  auto* login_cmd = auth_cmd->add_subcommand("login", "Sign in to a service (" + services_list + ") in a browser");
  login_cmd->add_option("service", auth_service, "The service")->required()->check(CLI::IsMember(providers::oauth_services()));
  login_cmd->add_option("--account", auth_account, "A name for this account, to use several side by side")->capture_default_str();
  login_cmd->add_flag("--read-only", auth_read_only, "Ask only for read-only access");
  login_cmd->add_option("--port", login_options.port, "Listen for the redirect on this 127.0.0.1 port (default: a free one)");
  login_cmd->add_option("--timeout", auth_timeout_s, "Give up after this many seconds")->capture_default_str();
  auto* auth_status_cmd = auth_cmd->add_subcommand("status", "The signed-in accounts: scopes, expiry, state");
  auto* logout_cmd = auth_cmd->add_subcommand("logout", "Forget an account's tokens");
  logout_cmd->add_option("service", auth_service, "The service")->required()->check(CLI::IsMember(providers::oauth_services()));
  logout_cmd->add_option("--account", auth_account, "Which account")->capture_default_str();
  for (auto* c : {login_cmd, auth_status_cmd, logout_cmd}) c->add_option("--user", auth_user, "Whose accounts")->capture_default_str();

  // A person can take or erase their data.
  auto* history_cmd = app.add_subcommand("history", "Export or purge the command history");
  history_cmd->require_subcommand(1);
  std::string history_user = "local", history_out, purge_before;
  history_cmd->add_option("--user", history_user, "Whose history")->capture_default_str();
  auto* export_cmd = history_cmd->add_subcommand("export", "Write the history as JSON Lines, oldest first, then the audit ({\"audit\": ...} lines)");
  export_cmd->add_option("-o,--output", history_out, "File to write (default: stdout)");
  auto* purge_cmd = history_cmd->add_subcommand("purge", "Delete the history (all of it, or before a date)");
  purge_cmd->add_option("--before", purge_before, "Delete calls before this day, YYYY-MM-DD (UTC)");

  app::AccessCommands access_commands(app);  // `users`, `keys`

  CLI11_PARSE(app, argc, argv);
  logging::setup(log_level, log_format);
  for (size_t at = 0; !tool_domains.empty() && at != std::string::npos;) {
    auto comma = tool_domains.find(',', at);
    auto d = tool_domains.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (!d.empty()) store_options.tools.domains.push_back(d);
    at = comma == std::string::npos ? comma : comma + 1;
  }

  if (*tools_cmd && check_tools) return check_tools_command();
  if (*tools_cmd && markdown_tools) return markdown_tools_command();
  if (auto rc = access_commands.run(store_options)) return *rc;  // no configuration needed
  if (*config_path_cmd) {
    std::cout << providers::Config::default_path().string() << "\n";
    return 0;
  }
  // The configuration is read before anything starts: a mistake in it stops here, named.
  providers::Config config;
  try {
    config = providers::Config::load();
  } catch (const std::exception& e) {
    spdlog::error("configuration: {}", e.what());
    return 2;
  }
  if (*config_show_cmd) {
    std::cout << config.redacted().dump(2) << "\n";
    return 0;
  }

  if (*auth_cmd) {
    AuthArgs a{.service = auth_service, .account = auth_account, .user = auth_user, .read_only = auth_read_only, .login = login_options};
    a.login.timeout = std::chrono::seconds(auth_timeout_s);
    const AuthAction action = *login_cmd ? AuthAction::Login : *logout_cmd ? AuthAction::Logout : AuthAction::Status;
    return auth_command(action, a, store_options, config);
  }
  if (*tools_cmd) return tools_command(store_options, config);
  if (*demo_cmd) return demo_command(store_options);
  if (*export_cmd) return history_export(store_options, history_user, history_out);
  if (*purge_cmd) return history_purge(store_options, history_user, purge_before);
  if (*serve_cmd) {
    if (!auth.issuer.empty() && auth.mode == "none") auth.mode = "issuer";  // --auth-issuer implies it
    serve_options.http_options.session_idle_timeout = std::chrono::seconds(idle_seconds);
    auto ms = [](double seconds) { return std::chrono::milliseconds(static_cast<long long>(seconds * 1000)); };
    ho.header_timeout = ms(header_timeout);
    ho.body_timeout = ms(body_timeout);
    ho.worker_idle = ms(worker_idle);
    return serve(serve_options, config);
  }
  std::cout << app.help();
  return 0;
}

// The one boundary for what nothing below caught (an SQLite error from a busy or broken
// database, say): a clear line on stderr and a non-zero exit, never std::terminate's abort.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "concierge: %s\n", e.what());
    return 1;
  }
}
