#pragma once
// OAuth tokens at rest: per user, service and account, sealed with AES-256-GCM. The key comes
// from $CONCIERGE_TOKEN_KEY (64 hex digits) or a key file created 0600 in the data directory; the
// user, service and account are the cipher's associated data, so a sealed token moved to another
// account's row does not open. The database never holds a token in the clear.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "providers/time.hpp"

namespace concierge::store {
class Store;
}

namespace concierge::providers::auth {

struct Token {
  std::string access_token, refresh_token, token_type = "Bearer";
  Millis expires_at = 0;  // 0: unknown
  std::vector<std::string> scopes;
};

class Sealer {
 public:
  explicit Sealer(std::string key);  // 32 bytes
  // The key from $CONCIERGE_TOKEN_KEY, else <data_dir>/token.key (created 0600 when missing).
  static Sealer for_data_dir(const std::filesystem::path& data_dir);
  std::string seal(const std::string& plaintext, const std::string& context) const;  // nonce | ciphertext | tag
  // Throws std::runtime_error when the data was altered, belongs elsewhere, or the key differs.
  std::string open(const std::string& sealed, const std::string& context) const;

 private:
  std::string key_;
};


struct StoredAccount {
  std::string service, account;
  Millis expires_at = 0;
  std::vector<std::string> scopes;
  Millis updated = 0;
};

class TokenStore {
 public:
  TokenStore(store::Store& store, Sealer sealer);
  void save(int64_t user, const std::string& service, const std::string& account, const Token& token);
  std::optional<Token> load(int64_t user, const std::string& service, const std::string& account);
  bool remove(int64_t user, const std::string& service, const std::string& account);
  // What `concierge auth status` shows: no secrets.
  std::vector<StoredAccount> accounts(int64_t user);
  // Every account name any user has signed in to the service with (adapters are set up per name).
  std::vector<std::string> account_names(const std::string& service);
  store::Store& store() { return store_; }

 private:
  store::Store& store_;
  Sealer sealer_;
};

}  // namespace concierge::providers::auth
