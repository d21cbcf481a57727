#include "access/authenticator.hpp"

#include <openssl/sha.h>

#include "access/scopes.hpp"
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
    : options_(std::move(options)), keys_(store), identities_(store), audit_(store), grants_(store) {}

void StoreAuthenticator::set_audience(const std::string& audience) {
  if (options_.builtin_key) {
    // The issuer is the public URL's origin (authorization_server.cpp says the same).
    auto sep = audience.find("://");
    auto end = sep == std::string::npos ? std::string::npos : audience.find('/', sep + 3);
    std::string origin = audience.substr(0, end);
    for (size_t i = 0; i < origin.size(); ++i) origin[i] = char(std::tolower(static_cast<unsigned char>(origin[i])));
    if (origin.ends_with(":443") && origin.starts_with("https://")) origin.resize(origin.size() - 4);
    if (origin.ends_with(":80") && origin.starts_with("http://")) origin.resize(origin.size() - 3);
    builtin_issuer_ = origin;
    builtin_audience_ = audience;
    while (!builtin_audience_.empty() && builtin_audience_.back() == '/') builtin_audience_.pop_back();
  }
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
  std::optional<Cached> cached;
  {
    std::lock_guard l(m_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      if (it->second.until > now) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        cached = Cached{it->second.principal, it->second.grant_id, {}, {}};
      } else {
        lru_.erase(it->second.lru);
        cache_.erase(it);
      }
    }
  }
  if (cached) {
    // A builtin token's grant may have been revoked since (a reused code or refresh token,
    // /revoke, `clients revoke`): asked again, at most grant_check apart.
    if (cached->grant_id.empty() || grant_live(cached->grant_id)) return {cached->principal, {}};
    return {std::nullopt, {"invalid_token", "the grant of this token was revoked"}};
  }
  int64_t expires_at = 0;
  std::string grant_id;
  Result r = verify(token, expires_at, grant_id);
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
  cache_.emplace(key, Cached{*r.principal, grant_id, until, lru_.begin()});
  return r;
}

// An issuer token (API keys never get here).
Authenticator::Result StoreAuthenticator::verify(std::string_view token, int64_t& expires_at, std::string& grant_id) {
  Result r;
  if (options_.builtin_key) return verify_builtin(token, expires_at, grant_id);
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

// One of the server's own access tokens (authorization_server.cpp signs them).
Authenticator::Result StoreAuthenticator::verify_builtin(std::string_view token, int64_t& expires_at, std::string& grant_id) {
  Result r;
  auto deny = [&](const std::string& why) {
    r.denied = {"invalid_token", why};
    return r;
  };
  if (builtin_audience_.empty()) return deny("the server is still starting");
  if (token.size() > kMaxTokenBytes || !looks_like_jwt(token)) return deny("not an API key, nor an access token of this server");
  auto parsed = parse_jws(token);
  if (auto* why = std::get_if<std::string>(&parsed)) return deny(*why);
  auto& jws = std::get<Jws>(parsed);
  const PublicKey& key = *options_.builtin_key;
  if (jws.alg != "ES256" || jws.kid != key.kid || !signature_verifies(jws, key)) return deny("signature does not verify with this server's key");
  const int64_t wall = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  // No leeway: the clock that signed it is this one.
  if (auto why = check_claims(jws.claims, ClaimRules{builtin_issuer_, builtin_audience_, std::chrono::seconds(0), wall})) return deny(*why);
  auto gid = jws.claims.find("gid");
  if (gid == jws.claims.end() || !gid->is_string() || gid->get<std::string>().empty()) return deny("the token names no grant");
  if (!jws.claims["sub"].is_string() || jws.claims["sub"].get<std::string>().empty()) return deny("the token names no user");
  grant_id = gid->get<std::string>();
  if (!grant_live(grant_id)) return deny("the grant of this token was revoked");
  const std::string user = jws.claims["sub"].get<std::string>();
  r.principal = Principal{user, scopes_from_claims(jws.claims), "builtin", builtin_issuer_ + " " + user};
  expires_at = numeric_date(jws.claims, "exp").value_or(0);
  return r;
}

bool StoreAuthenticator::grant_live(const std::string& grant_id) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard l(grants_m_);
    if (auto it = grant_checks_.find(grant_id); it != grant_checks_.end() && now - it->second.first < options_.grant_check) return it->second.second;
  }
  const bool live = grants_.live(grant_id);
  std::lock_guard l(grants_m_);
  if (grant_checks_.size() >= options_.cache_entries) grant_checks_.clear();  // bounded; a miss costs one read
  grant_checks_[grant_id] = {now, live};
  return live;
}

void StoreAuthenticator::refused(const std::string& user, int status, const std::string& reason) {
  audit_.record(user, "refused", Json{{"status", status}, {"reason", snippet(reason, 200)}});
}

}  // namespace concierge::access
