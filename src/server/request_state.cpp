#include "server/request_state.hpp"
#include "common/json_parse.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace concierge {

RequestStateSealer::RequestStateSealer(std::string key, std::chrono::seconds ttl)
    : key_(key.empty() ? random_bytes(32) : std::move(key)), ttl_(ttl) {}

std::string RequestStateSealer::mac(std::string_view data) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string RequestStateSealer::seal(const Json& payload, const std::string& binding) const {
  auto exp = std::chrono::duration_cast<std::chrono::seconds>(
                 (std::chrono::system_clock::now() + ttl_).time_since_epoch()).count();
  Json envelope{{"v", 1}, {"exp", exp}, {"b", binding}, {"p", payload}};
  std::string body = base64url_encode(dump(envelope));
  return body + "." + base64url_encode(mac(body));
}

RequestStateSealer::Opened RequestStateSealer::open(std::string_view token, const std::string& binding) const {
  auto dot = token.find('.');
  if (dot == std::string_view::npos) return {nullptr, "malformed"};
  std::string_view body = token.substr(0, dot);
  auto sig = base64url_decode(token.substr(dot + 1));
  std::string expect = mac(body);
  if (!sig || sig->size() != expect.size() || CRYPTO_memcmp(sig->data(), expect.data(), expect.size()) != 0)
    return {nullptr, "signature does not verify (tampered or from another server)"};
  auto raw = base64url_decode(body);
  Json env = raw ? parse_json(*raw) : Json();
  if (!env.is_object() || env.value("v", 0) != 1) return {nullptr, "malformed"};
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (env.value("exp", int64_t{0}) < now) return {nullptr, "expired; start the request again"};
  if (env.value("b", "") != binding) return {nullptr, "issued for a different request or user"};
  return {env["p"], ""};
}

std::string request_digest(const std::string& method, const Json& params) {
  Json salient = params.is_object() ? params : Json::object();
  salient.erase("_meta");
  salient.erase("inputResponses");
  salient.erase("requestState");
  std::string text = method + "\n" + dump(salient);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(text.data(), text.size(), out, &len, EVP_sha256(), nullptr);
  return base64url_encode(std::string_view(reinterpret_cast<char*>(out), 16));
}

}  // namespace concierge
