#pragma once
// `concierge users ...` (also passwords and invite links for the sign-in pages), `concierge keys ...` and
// `concierge clients ...`: who may call over HTTP, from the command line.
// main.cpp adds them to its CLI11 app before parsing and runs them after.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "app/app.hpp"

namespace concierge::app {

class AccessCommands {
 public:
  explicit AccessCommands(CLI::App& app);
  // The exit code when one of these commands was chosen, else nullopt. stdout carries only the
  // result (a new key alone on its line); everything else goes to stderr.
  std::optional<int> run(const StoreOptions& options);

 private:
  CLI::App *users_add_, *users_list_, *users_link_, *users_passwd_, *users_invite_, *keys_create_, *keys_list_, *keys_revoke_,
      *clients_list_, *clients_revoke_;
  std::string name_, issuer_, subject_, user_, scopes_, id_, public_url_;
  bool password_stdin_ = false;
  int expires_hours_ = 24;
  CLI::Option* scopes_opt_;  // given at all: `--scopes ""` is an error, not every scope
  int expires_days_ = 0;
};

}  // namespace concierge::app
