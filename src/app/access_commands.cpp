#include "app/access_commands.hpp"

#include <chrono>
#include <date/date.h>
#include <iostream>
#include <map>
#include <stdexcept>

#include "access/authorization_server.hpp"
#include "access/grants.hpp"
#include "access/identities.hpp"
#include "access/keys.hpp"
#include "access/passwords.hpp"
#include "access/web_sessions.hpp"
#include "access/scopes.hpp"
#include "store/store.hpp"

namespace concierge::app {

namespace {

std::string utc(std::optional<int64_t> ms, const char* none = "-") {
  if (!ms) return none;
  return date::format("%FT%TZ", std::chrono::time_point_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::time_point(std::chrono::milliseconds(*ms))));
}

// The password from stdin: its first line, without the line break. Never echoed, in errors either.
std::string read_password(std::istream& in) {
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) throw std::invalid_argument("--password-stdin: no password on stdin");
  if (line.size() < access::kMinPasswordBytes)
    throw std::invalid_argument("--password-stdin: the password is too short (at least " + std::to_string(access::kMinPasswordBytes) +
                                " characters)");
  if (line.size() > access::kMaxPasswordBytes)
    throw std::invalid_argument("--password-stdin: the password is too long (at most " + std::to_string(access::kMaxPasswordBytes) + " bytes)");
  return line;
}

// scheme://host[:port] of an http(s) URL.
std::string origin_of(const std::string& url) {
  size_t scheme = url.find("://");
  std::string s = scheme == std::string::npos ? "" : url.substr(0, scheme);
  if (s != "http" && s != "https") throw std::invalid_argument("--public-url: an http(s) URL, got '" + url + "'");
  size_t end = url.find_first_of("/?#", scheme + 3);
  std::string origin = url.substr(0, end);
  if (origin.size() == scheme + 3) throw std::invalid_argument("--public-url: no host in '" + url + "'");
  return origin;
}

}  // namespace

AccessCommands::AccessCommands(CLI::App& app) {
  auto* users = app.add_subcommand("users", "Concierge users (each with their own data, keys and accounts)");
  users->require_subcommand(1);
  users_add_ = users->add_subcommand("add", "Add a user (provisioned: may sign in under --auth-require-provisioned)");
  users_add_->add_option("name", name_, "The user's name: 1-64 of A-Z a-z 0-9 . _ @ -")->required();
  users_list_ = users->add_subcommand("list", "The users, their keys and the identities that map to them");
  users_link_ = users->add_subcommand("link", "Map an issuer's subject (a token's iss and sub) to a user, ahead of its first sign-in");
  users_link_->add_option("name", name_, "The user")->required();
  users_link_->add_option("--issuer", issuer_, "The issuer URL, as tokens carry it in `iss`")->required();
  users_link_->add_option("--subject", subject_, "The subject, as tokens carry it in `sub`")->required();
  users_passwd_ = users->add_subcommand("passwd", "Set the password a user signs in with on the server's pages (--auth builtin)");
  users_passwd_->add_option("name", name_, "The user")->required();
  users_passwd_->add_flag("--password-stdin", password_stdin_, "Read the password from stdin (one line; at least 8 characters)")->required();
  users_invite_ = users->add_subcommand("invite", "Print a one-time sign-in link for a user (--auth builtin); only the link goes to stdout");
  users_invite_->add_option("name", name_, "The user")->required();
  users_invite_->add_option("--public-url", public_url_, "The server's --public-url (the link is on its origin); without it, the link's path");
  users_invite_->add_option("--expires-hours", expires_hours_, "The link stops working after this many hours")->capture_default_str();

  auto* keys = app.add_subcommand("keys", "API keys for scripts and simple clients (Authorization: Bearer KEY)");
  keys->require_subcommand(1);
  keys_create_ = keys->add_subcommand("create", "Create a key; it is printed once, alone on its line, and only its hash is kept");
  keys_create_->add_option("--user", user_, "Whose key")->required();
  scopes_opt_ = keys_create_->add_option("--scopes", scopes_, "Space-separated scopes (default: every scope)");
  keys_create_->add_option("--expires-days", expires_days_, "The key stops working after this many days (default: never)")
      ->check(CLI::Range(1, 36500));
  keys_list_ = keys->add_subcommand("list", "The keys: id, user, scopes, created, expires, revoked, last used (never the key)");
  keys_list_->add_option("--user", user_, "Only this user's keys");
  keys_revoke_ = keys->add_subcommand("revoke", "Revoke a key at once");
  keys_revoke_->add_option("id", id_, "The key's id (keys list)")->required();

  auto* clients = app.add_subcommand("clients", "OAuth clients of the built-in authorization server (serve --auth builtin)");
  clients->require_subcommand(1);
  clients_list_ = clients->add_subcommand("list", "The clients: id, name, redirect hosts, users who authorized them, last used");
  clients_revoke_ = clients->add_subcommand("revoke", "Remove a client: every grant and token it holds stops working at once");
  clients_revoke_->add_option("id", id_, "The client's id (clients list)")->required();
}

namespace {

std::string host_of(const std::string& uri) {
  auto sep = uri.find("://");
  if (sep == std::string::npos) return uri;
  auto end = uri.find_first_of("/?#", sep + 3);
  return uri.substr(sep + 3, end == std::string::npos ? std::string::npos : end - sep - 3);
}

// Registered clients and those only known by their grants (metadata document URLs), by id.
int clients_list(store::Store& store) {
  struct Row {
    std::string name, hosts, users = "-";
    std::optional<int64_t> last_used_ms;
  };
  std::map<std::string, Row> rows;
  for (auto& c : access::ClientStore(store).list()) {
    Row& r = rows[c.client_id];
    r.name = c.client_name.empty() ? "-" : c.client_name;
    for (auto& u : c.redirect_uris) {
      std::string h = host_of(u);
      if (r.hosts.find(h) == std::string::npos) r.hosts += (r.hosts.empty() ? "" : ",") + h;
    }
    r.last_used_ms = c.last_used_ms;
  }
  for (auto& u : access::GrantStore(store).uses()) {
    // A metadata-document client is known by its grants alone: gone once they are all revoked.
    if (!rows.count(u.client_id) && u.live_grants == 0) continue;
    Row& r = rows[u.client_id];
    if (r.name.empty()) {
      r.name = "(metadata document)";
      r.hosts = host_of(u.client_id);
    }
    if (!u.users.empty()) {
      r.users.clear();
      for (auto& name : u.users) r.users += (r.users.empty() ? "" : ",") + name;
    }
    if (u.last_used_ms && (!r.last_used_ms || *r.last_used_ms < *u.last_used_ms)) r.last_used_ms = u.last_used_ms;
  }
  std::cout << "ID\tNAME\tREDIRECT HOSTS\tUSERS\tLAST USED\n";
  for (auto& [id, r] : rows)
    std::cout << id << "\t" << r.name << "\t" << (r.hosts.empty() ? "-" : r.hosts) << "\t" << r.users << "\t" << utc(r.last_used_ms, "never") << "\n";
  return 0;
}

}  // namespace

std::optional<int> AccessCommands::run(const StoreOptions& options) {
  if (!*users_add_ && !*users_list_ && !*users_link_ && !*users_passwd_ && !*users_invite_ && !*keys_create_ && !*keys_list_ &&
      !*keys_revoke_ && !*clients_list_ && !*clients_revoke_)
    return std::nullopt;
  std::unique_ptr<store::Store> store;
  try {
    store = std::make_unique<store::Store>(store::resolve_data_dir(options.data_dir), options.database_url);
  } catch (const std::exception& e) {
    std::cerr << "concierge: cannot open the store: " << e.what() << "\n";
    return 1;
  }
  try {
    if (*users_add_) {
      access::Identities(*store).add_user(name_);
      std::cerr << "added user " << name_ << "\n";
      return 0;
    }
    if (*users_link_) {
      access::Identities(*store).link(name_, issuer_, subject_);
      std::cerr << "linked " << issuer_ << " " << subject_ << " to user " << name_ << "\n";
      return 0;
    }
    if (*users_passwd_) {
      access::known_user(*store, name_, "name");
      std::string password = read_password(std::cin);
      access::Passwords(*store).set(name_, password);
      std::cerr << "password set for user " << name_ << "\n";
      return 0;
    }
    if (*users_invite_) {
      std::string origin = public_url_.empty() ? std::string() : origin_of(public_url_);
      std::string link = origin + "/invite?token=" + access::create_invite(*store, name_, expires_hours_);
      std::cerr << "a sign-in link for " << name_ << ", usable once within " << expires_hours_ << " hours"
                << (origin.empty() ? " (the path on the server: put its address before it, or pass --public-url)" : "") << ":\n";
      std::cout << link << std::endl;
      return 0;
    }
    if (*users_list_) {
      for (auto& u : access::Identities(*store).users()) {
        std::cout << u.name << "\tcreated " << utc(u.created_ms) << "\t" << (u.provisioned ? "provisioned" : "first sign-in")
                  << "\tkeys " << u.keys << "\tidentities";
        if (u.identities.empty()) std::cout << " -";
        for (size_t i = 0; i < u.identities.size(); ++i) std::cout << (i ? ", " : " ") << u.identities[i];
        std::cout << "\n";
      }
      return 0;
    }
    if (*clients_list_) return clients_list(*store);
    if (*clients_revoke_) {
      // The grants first: a token checked in between finds them revoked either way.
      size_t grants = access::GrantStore(*store).revoke_client(id_, "client revoked by the administrator");
      bool registered = access::ClientStore(*store).remove(id_);
      if (!registered && grants == 0) {
        std::cerr << "concierge: id: no client '" << id_ << "' with live grants (see concierge clients list)\n";
        return 1;
      }
      std::cerr << "revoked client " << id_ << ": " << grants << " grant(s) and every token they issued"
                << (registered ? "; its registration is removed" : "") << "\n";
      return 0;
    }
    access::KeyStore keys(*store);
    if (*keys_create_) {
      std::optional<std::set<std::string>> scopes;
      if (scopes_opt_->count() > 0) scopes = access::parse_scope_list(scopes_);
      std::optional<int> days;
      if (expires_days_ > 0) days = expires_days_;
      auto created = keys.create(user_, scopes, days);
      std::cerr << "key " << created.id << " for " << user_ << " (scopes: " << (scopes ? access::join_scopes(*scopes) : "all")
                << "; expires: " << (days ? std::to_string(*days) + " days" : std::string("never"))
                << "). It is shown this once: store it now.\n";
      std::cout << created.key << std::endl;
      return 0;
    }
    if (*keys_list_) {
      std::cout << "ID\tUSER\tSCOPES\tCREATED\tEXPIRES\tREVOKED\tLAST USED\n";
      for (auto& k : keys.list(user_))
        std::cout << k.id << "\t" << k.user << "\t" << (k.every_scope ? "all" : access::join_scopes(k.scopes)) << "\t" << utc(k.created_ms)
                  << "\t" << utc(k.expires_ms, "never") << "\t" << utc(k.revoked_ms) << "\t" << utc(k.last_used_ms, "never") << "\n";
      return 0;
    }
    if (*keys_revoke_) {
      // A key pasted where its id belongs is not echoed: error output is no place for a secret.
      if (access::KeyStore::looks_like_key(id_)) {
        std::cerr << "concierge: id: that is a key; give its id (concierge keys list), the part between ck_ and the next _\n";
        return 2;
      }
      if (!keys.revoke(id_)) {
        std::cerr << "concierge: id: no key '" << id_ << "' (see concierge keys list)\n";
        return 1;
      }
      std::cerr << "revoked key " << id_ << "\n";
      return 0;
    }
  } catch (const std::invalid_argument& e) {
    std::cerr << "concierge: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "concierge: " << e.what() << "\n";
    return 1;
  }
  return std::nullopt;
}

}  // namespace concierge::app
