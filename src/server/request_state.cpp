#include "server/request_state.hpp"
#include "server/json_parse.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace concierge {

std::string base64url_encode(std::string_view bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out += kAlphabet[(v >> 18) & 63]; out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63]; out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    unsigned v = b(i) << 16;
    out += kAlphabet[(v >> 18) & 63]; out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == bytes.size()) {
    unsigned v = (b(i) << 16) | (b(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63]; out += kAlphabet[(v >> 12) & 63]; out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = val(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("CSPRNG failure");
  return out;
}

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
