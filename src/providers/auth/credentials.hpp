#pragma once
// How an adapter proves who it calls for: one account of one service, per user. OAuth accounts
// hand out access tokens from the sealed store (refreshed ahead of expiry); API-key services
// (Cal.com) hand out their key. Adapters never see where the secret came from.
#include <cstdint>
#include <memory>
#include <string>

#include "providers/auth/oauth.hpp"

namespace concierge::providers::auth {

class Credentials {
 public:
  virtual ~Credentials() = default;
  // The Authorization header value for the user's next call ("Bearer ...").
  // Throws NeedsReauth when the account has no usable grant.
  virtual std::string authorization(int64_t user) = 0;
  // The service refused `refused` with 401: a new value to retry with once, or NeedsReauth.
  virtual std::string refresh(int64_t user, const std::string& refused) = 0;
  virtual std::string account() const = 0;
};

// One OAuth account ("work", "personal"...) through the service's OAuthClient.
class OAuthCredentials : public Credentials {
 public:
  OAuthCredentials(std::shared_ptr<OAuthClient> oauth, std::string service, std::string account)
      : oauth_(std::move(oauth)), service_(std::move(service)), account_(std::move(account)) {}
  std::string authorization(int64_t user) override { return "Bearer " + oauth_->access_token(user, account_); }
  std::string refresh(int64_t user, const std::string& refused) override {
    const std::string prefix = "Bearer ";
    return prefix + oauth_->refresh_after_rejection(user, account_, refused.substr(refused.rfind(' ') + 1));
  }
  std::string account() const override { return account_; }

 private:
  std::shared_ptr<OAuthClient> oauth_;
  std::string service_, account_;
};

// A fixed key (Cal.com API keys, a test's token). A 401 means the key itself is wrong.
class StaticCredentials : public Credentials {
 public:
  StaticCredentials(std::string service, std::string account, std::string header_value, std::string fix)
      : service_(std::move(service)), account_(std::move(account)), value_(std::move(header_value)), fix_(std::move(fix)) {}
  std::string authorization(int64_t) override { return value_; }
  std::string refresh(int64_t, const std::string&) override { throw NeedsReauth(service_, account_, "the key was refused", fix_); }
  std::string account() const override { return account_; }

 private:
  std::string service_, account_, value_, fix_;
};

}  // namespace concierge::providers::auth
