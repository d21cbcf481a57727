#include "access/issuer.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "access/jwt.hpp"
#include "access/scopes.hpp"
#include "common/json_parse.hpp"
#include "providers/auth/oauth.hpp"
#include "providers/http/client.hpp"
#include "providers/http/url.hpp"

namespace concierge::access {

namespace {

namespace http = providers::http;
using Steady = std::chrono::steady_clock;
using Keys = std::vector<PublicKey>;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// https, or plain http to this machine (tests, a local issuer): tokens and client secrets never
// cross a network in the clear.
std::optional<std::string> unacceptable_url(const std::string& text) {
  auto u = http::parse_url(text);
  if (!u || u->scheme.empty() || !u->has_authority || u->host.empty()) return "'" + text + "' is not an absolute URL";
  if (!u->userinfo.empty()) return std::string("the URL must not carry credentials");
  if (u->scheme == "https" || (u->scheme == "http" && http::is_loopback_host(u->host))) return std::nullopt;
  return "'" + text + "' must be https (plain http only on loopback)";
}

// RFC 8414 section 3.1 with the MCP authorization spec's order: the OAuth metadata with the
// issuer's path inserted after the well-known prefix, then OpenID Connect with the path inserted,
// then (for an issuer with a path) appended.
std::vector<std::string> discovery_urls(const std::string& issuer) {
  auto u = *http::parse_url(issuer);
  std::string origin = u.scheme + "://" + u.host + (u.port.empty() ? "" : ":" + u.port);
  std::string path = u.path;
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::vector<std::string> out{origin + "/.well-known/oauth-authorization-server" + path,
                               origin + "/.well-known/openid-configuration" + path};
  if (!path.empty()) out.push_back(origin + path + "/.well-known/openid-configuration");
  return out;
}

std::string form_encode(std::string_view s) {
  char* e = curl_easy_escape(nullptr, s.data(), int(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

std::string base64_standard(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()));
  out.resize(size_t(std::max(n, 0)));
  return out;
}

const PublicKey* key_with_kid(const Keys& keys, const std::string& kid) {
  for (auto& k : keys)
    if (k.kid == kid) return &k;
  return nullptr;
}

}  // namespace

struct IssuerVerifier::State {
  IssuerOptions o;
  http::Client client;
  std::mutex fetch_m;  // one fetch from the issuer at a time: a burst of requests waits for it
  std::mutex m;        // everything below
  std::unique_ptr<const Json> meta;  // set once, never replaced: metadata() hands out a reference
  std::optional<Steady::time_point> discovery_failed_at;
  std::string discovery_error;
  std::shared_ptr<const Keys> keys;
  Steady::time_point keys_fetched_at{};
  std::optional<Steady::time_point> jwks_failed_at, kid_refetched_at;
  std::string jwks_error;
  struct Cached {
    Steady::time_point until;
    VerifiedToken token;
  };
  std::unordered_map<std::string, Cached> introspected;  // keyed by SHA-256 of the token

  static http::Policy policy() {
    http::Policy p;
    p.service = "the authorization server";
    p.connect_timeout = p.timeout = kIssuerTimeout;
    p.max_attempts = 1;  // a request waits on this: no backoff; failures are retried lazily
    p.max_response_bytes = kMaxIssuerDocumentBytes;
    // Uncached introspections are what floods could send: bounded, refused rather than queued.
    p.rate_per_second = 100;
    p.burst = 100;
    p.max_budget_wait = std::chrono::milliseconds(0);
    return p;
  }
  explicit State(IssuerOptions opts) : o(std::move(opts)), client(policy()) {}

  bool recently(const std::optional<Steady::time_point>& t) const { return t && Steady::now() - *t < o.jwks_min_refetch; }

  // A JSON object from `url` (GET), or std::runtime_error saying what went wrong (the URL is
  // configuration or the issuer's metadata, never a secret).
  Json get_object(const std::string& url, const char* what) {
    http::Request r;
    r.path = url;
    http::Response resp;
    try {
      resp = client.send(r);
    } catch (const http::UpstreamError& e) {
      throw std::runtime_error(std::string(what) + " at " + url + ": " + e.what());
    }
    if (resp.status != 200) throw std::runtime_error(std::string(what) + " at " + url + ": HTTP " + std::to_string(resp.status));
    Json j = parse_json(resp.body);
    if (!j.is_object()) throw std::runtime_error(std::string(what) + " at " + url + " is not a JSON object");
    return j;
  }

  Json fetch_metadata() {
    std::string tried;
    for (auto& url : discovery_urls(o.issuer)) {
      Json j;
      try {
        j = get_object(url, "metadata");
      } catch (const std::runtime_error& e) {
        tried += std::string(tried.empty() ? "" : "; ") + e.what();
        continue;
      }
      // RFC 8414 3.3: a document naming another issuer is not this issuer's (a mix-up).
      if (json_string(j, "issuer") != o.issuer) {
        tried += (tried.empty() ? "" : "; ") + ("metadata at " + url + " names another issuer");
        continue;
      }
      return j;
    }
    throw std::runtime_error("--auth-issuer: discovery of " + o.issuer + " failed: " + tried);
  }

  const Json& discover() {
    auto known = [&]() -> const Json* {
      std::lock_guard l(m);
      if (meta) return meta.get();
      if (recently(discovery_failed_at)) throw std::runtime_error(discovery_error);
      return nullptr;
    };
    if (auto* j = known()) return *j;
    std::lock_guard f(fetch_m);
    if (auto* j = known()) return *j;  // another request discovered it meanwhile
    try {
      auto j = std::make_unique<const Json>(fetch_metadata());
      std::lock_guard l(m);
      meta = std::move(j);
      return *meta;
    } catch (const std::runtime_error& e) {
      std::lock_guard l(m);
      discovery_failed_at = Steady::now();
      discovery_error = e.what();
      throw;
    }
  }

  // Under fetch_m. Keeps what was there when the fetch fails.
  void fetch_keys(const std::string& jwks_uri) {
    try {
      if (auto why = unacceptable_url(jwks_uri)) throw std::runtime_error("jwks_uri: " + *why);
      auto fresh = std::make_shared<const Keys>(keys_from_jwks(get_object(jwks_uri, "JWKS")));
      std::lock_guard l(m);
      keys = std::move(fresh);
      keys_fetched_at = Steady::now();
      jwks_failed_at.reset();
    } catch (const std::runtime_error& e) {
      std::lock_guard l(m);
      jwks_failed_at = Steady::now();
      jwks_error = e.what();
    }
  }

  // The cached keys, fetched when there are none yet or they are old (a failed fetch is retried
  // no more often than jwks_min_refetch); nullptr when there are none to use.
  std::shared_ptr<const Keys> current_keys(const std::string& jwks_uri) {
    auto usable = [&](bool* stale) {
      std::lock_guard l(m);
      *stale = !keys || Steady::now() - keys_fetched_at >= kJwksMaxAge;
      if (*stale && recently(jwks_failed_at)) *stale = false;  // failed just now: don't hammer
      return keys;
    };
    bool stale = false;
    auto k = usable(&stale);
    if (!stale) return k;
    std::lock_guard f(fetch_m);
    k = usable(&stale);
    if (!stale) return k;
    fetch_keys(jwks_uri);
    std::lock_guard l(m);
    return keys;
  }

  // A kid not in the cached set: the issuer may have rotated its keys. One refetch per
  // jwks_min_refetch at most, however many unknown kids arrive.
  std::shared_ptr<const Keys> refetch_for(const std::string& kid, const std::string& jwks_uri) {
    std::lock_guard f(fetch_m);
    {
      std::lock_guard l(m);
      if ((keys && key_with_kid(*keys, kid)) || recently(kid_refetched_at)) return keys;
      kid_refetched_at = Steady::now();
    }
    fetch_keys(jwks_uri);
    std::lock_guard l(m);
    return keys;
  }

  std::variant<VerifiedToken, std::string> verify_jwt(std::string_view token) {
    auto parsed = parse_jws(token);
    if (auto* why = std::get_if<std::string>(&parsed)) return *why;
    auto& jws = std::get<Jws>(parsed);
    // The issuer first: another issuer's token never costs a fetch from ours.
    if (json_string(jws.claims, "iss") != o.issuer) return "issuer is not " + o.issuer;
    const Json* md = nullptr;
    try {
      md = &discover();
    } catch (const std::runtime_error& e) {
      return std::string("the issuer's metadata is unavailable (") + e.what() + ")";
    }
    std::string jwks_uri = json_string(*md, "jwks_uri");
    if (jwks_uri.empty()) return std::string("the issuer's metadata has no jwks_uri, so JWTs can't be verified");
    auto keys = current_keys(jwks_uri);
    if (!keys) {
      std::lock_guard l(m);
      return "the issuer's JWKS is unavailable (" + jwks_error + ")";
    }
    bool verified = false;
    if (!jws.kid.empty()) {
      const PublicKey* key = key_with_kid(*keys, jws.kid);
      if (!key) {
        keys = refetch_for(jws.kid, jwks_uri);
        key = keys ? key_with_kid(*keys, jws.kid) : nullptr;
      }
      if (!key) return std::string("the token's signing key (kid) is not in the issuer's JWKS");
      verified = signature_verifies(jws, *key);
    } else {
      // No kid: any of the issuer's keys for this alg may have signed it.
      verified = std::any_of(keys->begin(), keys->end(), [&](const PublicKey& k) { return signature_verifies(jws, k); });
    }
    if (!verified) return std::string("signature does not verify");
    if (auto why = check_claims(jws.claims, {o.issuer, o.audience, o.leeway, unix_now()})) return *why;
    return VerifiedToken{o.issuer, json_string(jws.claims, "sub"), scopes_from_claims(jws.claims), *numeric_date(jws.claims, "exp"), "jwt"};
  }

  std::variant<VerifiedToken, std::string> introspect(std::string_view token) {
    if (o.introspection_url.empty()) return std::string("opaque tokens need --auth-introspection-url");
    const std::string key = providers::auth::sha256(std::string(token));
    {
      std::lock_guard l(m);
      if (auto it = introspected.find(key); it != introspected.end()) {
        if (Steady::now() < it->second.until) return it->second.token;
        introspected.erase(it);
      }
    }
    http::Request r;
    r.method = "POST";
    r.path = o.introspection_url;
    r.content_type = "application/x-www-form-urlencoded";
    r.body = "token=" + form_encode(token) + "&token_type_hint=access_token";
    // RFC 6749 2.3.1: the id and secret are form-encoded before they are joined and encoded.
    if (!o.client_id.empty())
      r.headers.emplace_back("Authorization", "Basic " + base64_standard(form_encode(o.client_id) + ":" + form_encode(o.client_secret)));
    http::Response resp;
    try {
      resp = client.send(r);
    } catch (const http::UpstreamError& e) {
      return std::string("introspection failed (") + e.what() + ")";
    }
    if (resp.status != 200) return "introspection answered HTTP " + std::to_string(resp.status);
    Json j = parse_json(resp.body);
    if (!j.is_object()) return std::string("introspection answer is not a JSON object");
    if (!j.contains("active") || j["active"] != true) return std::string("token is not active");
    if (j.contains("iss") && json_string(j, "iss") != o.issuer) return "issuer is not " + o.issuer;
    if (j.contains("aud") && !audience_contains(j["aud"], o.audience)) return "audience does not include " + o.audience;
    const int64_t now = unix_now();
    auto exp = numeric_date(j, "exp");
    if (exp && now > *exp + o.leeway.count()) return std::string("expired");
    if (json_string(j, "sub").empty()) return std::string("introspection gives no subject (sub)");
    VerifiedToken t{o.issuer, json_string(j, "sub"), scopes_from_claims(j), exp.value_or(0), "introspection"};
    auto ttl = o.introspection_cache;
    if (exp) ttl = std::min(ttl, std::chrono::seconds(*exp - now));
    if (ttl.count() > 0) {
      std::lock_guard l(m);
      if (introspected.size() >= kIntrospectionCacheEntries) {
        auto now_steady = Steady::now();
        for (auto it = introspected.begin(); it != introspected.end();)
          it = it->second.until <= now_steady ? introspected.erase(it) : std::next(it);
        if (introspected.size() >= kIntrospectionCacheEntries) introspected.erase(introspected.begin());
      }
      introspected[key] = {Steady::now() + ttl, t};
    }
    return t;
  }
};

IssuerVerifier::IssuerVerifier(IssuerOptions o) {
  if (auto why = unacceptable_url(o.issuer)) throw std::invalid_argument("--auth-issuer: " + *why);
  if (auto u = http::parse_url(o.issuer); u->query || u->fragment)
    throw std::invalid_argument("--auth-issuer: an issuer URL has no query or fragment (RFC 8414)");
  if (auto why = o.introspection_url.empty() ? std::nullopt : unacceptable_url(o.introspection_url))
    throw std::invalid_argument("--auth-introspection-url: " + *why);
  if (o.audience.empty()) throw std::invalid_argument("--public-url: the audience tokens must name is empty");
  s_ = std::make_unique<State>(std::move(o));
}

IssuerVerifier::~IssuerVerifier() = default;

std::variant<VerifiedToken, std::string> IssuerVerifier::verify(std::string_view token) {
  if (token.empty()) return std::string("empty token");
  if (token.size() > kMaxTokenBytes) return "token is longer than " + std::to_string(kMaxTokenBytes) + " bytes";
  return looks_like_jwt(token) ? s_->verify_jwt(token) : s_->introspect(token);
}

const Json& IssuerVerifier::metadata() { return s_->discover(); }

const IssuerOptions& IssuerVerifier::options() const { return s_->o; }

}  // namespace concierge::access
