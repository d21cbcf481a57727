#include "access/authenticator.hpp"

#include <openssl/sha.h>

#include "common/text.hpp"

namespace concierge::access {

namespace {
std::string digest(std::string_view token) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof md);
}
}  // namespace

StoreAuthenticator::StoreAuthenticator(store::Store& store, AuthenticatorOptions options)
    : options_(std::move(options)), keys_(store), identities_(store), audit_(store) {}

void StoreAuthenticator::set_audience(const std::string& audience) {
  if (!options_.issuer) return;
  auto o = *options_.issuer;
  o.audience = audience;
  issuer_ = std::make_unique<IssuerVerifier>(o);
}

Authenticator::Result StoreAuthenticator::authenticate(std::string_view token) {
  // Keys have their own short cache in KeyStore (a revocation must take effect within a second).
  if (KeyStore::looks_like_key(token)) {
    Result r;
    auto v = keys_.verify(token);
    if (auto* p = std::get_if<Principal>(&v)) r.principal = std::move(*p);
    else r.denied = {"invalid_token", "API key " + std::get<std::string>(v)};
    return r;
  }
  const auto now = std::chrono::steady_clock::now();
  const std::string key = digest(token);
  {
    std::lock_guard l(m_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      if (it->second.until > now) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        return {it->second.principal, {}};
      }
      lru_.erase(it->second.lru);
      cache_.erase(it);
    }
  }
  int64_t expires_at = 0;
  Result r = verify(token, expires_at);
  if (!r.principal) return r;
  // The first sight of a token (since start, or since it left the cache) is a sign-in.
  audit_.record(r.principal->user, "sign_in", Json{{"via", r.principal->via}, {"subject", r.principal->subject}});
  // An introspected token is believed no longer than the introspection cache allows: the issuer
  // may revoke it, which a JWT's signature can't tell.
  auto until = now + (r.principal->via == "introspection" ? std::min<std::chrono::seconds>(options_.token_cache, options_.issuer->introspection_cache)
                                                         : options_.token_cache);
  if (expires_at > 0) {
    const int64_t wall = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    until = std::min(until, now + std::chrono::seconds(std::max<int64_t>(0, expires_at - wall)));
  }
  std::lock_guard l(m_);
  if (cache_.count(key)) return r;  // another thread verified it meanwhile
  if (cache_.size() >= options_.cache_entries && !lru_.empty()) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  cache_.emplace(key, Cached{*r.principal, until, lru_.begin()});
  return r;
}

// An issuer token (API keys never get here).
Authenticator::Result StoreAuthenticator::verify(std::string_view token, int64_t& expires_at) {
  Result r;
  if (!options_.issuer) {
    r.denied = {"invalid_token", "not an API key (this server takes API keys only)"};
    return r;
  }
  if (!issuer_) {
    r.denied = {"invalid_token", "the server is still starting"};
    return r;
  }
  auto v = issuer_->verify(token);
  if (auto* why = std::get_if<std::string>(&v)) {
    r.denied = {"invalid_token", *why};
    return r;
  }
  auto& t = std::get<VerifiedToken>(v);
  auto user = identities_.user_for(t.issuer, t.subject, options_.require_provisioned);
  if (!user) {
    r.denied = {"invalid_token", "no Concierge user is linked to this identity (--auth-require-provisioned)"};
    return r;
  }
  r.principal = Principal{*user, t.scopes, t.via, t.issuer + " " + t.subject};
  expires_at = t.expires_at;
  return r;
}

void StoreAuthenticator::refused(const std::string& user, int status, const std::string& reason) {
  audit_.record(user, "refused", Json{{"status", status}, {"reason", snippet(reason, 200)}});
}

}  // namespace concierge::access
