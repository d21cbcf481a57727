// The built-in authorization server's signing key (src/access/signing_key.hpp): made once and kept
// sealed in the data directory (the same kid after a restart), refused with the file's name when
// altered or sealed under another token key, and what it signs verifies with jwt.hpp's
// parse_jws + signature_verifies + check_claims, through its published JWKS.
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <fstream>

#include "access/jwt.hpp"
#include "access/signing_key.hpp"
#include "common/base64.hpp"
#include "support/scoped_env.hpp"
#include "support/temp_dir.hpp"

using namespace concierge;
using namespace concierge::access;
using namespace concierge::test;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void spit(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

Json claims_at(int64_t now) {
  return Json{{"iss", "https://mcp.example.com"}, {"aud", "https://mcp.example.com/mcp"}, {"sub", "alice"},
              {"iat", now}, {"exp", now + 3600}, {"scope", "calendar:read"}};
}

// The message of what f throws, "" when it does not.
template <class F>
std::string thrown(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("signing key: made once, sealed 0600 in the data directory, the same kid after a restart", "[access][signing_key]") {
  ScopedEnv env;
  env.set("CONCIERGE_TOKEN_KEY", std::nullopt);
  TempDir tmp;
  SigningKey first = SigningKey::for_data_dir(tmp.path);
  const auto file = tmp.path / "signing-key.json";
  REQUIRE(std::filesystem::exists(file));
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  Json stored = Json::parse(slurp(file));
  CHECK(stored["kid"] == first.kid());
  // Sealed: no JWK private member, and the public coordinates are not written either.
  CHECK_FALSE(stored.contains("d"));
  CHECK(slurp(file).find(first.jwk()["x"].get<std::string>()) == std::string::npos);

  SigningKey again = SigningKey::for_data_dir(tmp.path);
  CHECK(again.kid() == first.kid());
  CHECK(again.jwk() == first.jwk());
  // The same private key: what the restarted one signs, the first one's public key verifies.
  auto jws = parse_jws(again.sign(claims_at(1'700'000'000)));
  REQUIRE(std::holds_alternative<Jws>(jws));
  CHECK(signature_verifies(std::get<Jws>(jws), first.public_key()));

  TempDir other;
  CHECK(SigningKey::for_data_dir(other.path).kid() != first.kid());
}

TEST_CASE("signing key: an altered file, or another token key, is refused naming the file", "[access][signing_key]") {
  ScopedEnv env;
  env.set("CONCIERGE_TOKEN_KEY", std::nullopt);
  TempDir tmp;
  const std::string kid = SigningKey::for_data_dir(tmp.path).kid();
  const auto file = tmp.path / "signing-key.json";
  const std::string original = slurp(file);
  Json stored = Json::parse(original);

  SECTION("a byte of the sealed key flipped") {
    std::string sealed = *base64url_decode(stored["sealed"].get<std::string>());
    sealed[sealed.size() / 2] ^= 0x01;
    stored["sealed"] = base64url_encode(sealed);
    spit(file, dump(stored));
    std::string why = thrown([&] { SigningKey::for_data_dir(tmp.path); });
    CHECK(why.rfind(file.string() + ": the sealed signing key does not open", 0) == 0);
  }
  SECTION("the kid edited (it is the cipher's associated data)") {
    stored["kid"] = "another-kid";
    spit(file, dump(stored));
    CHECK(thrown([&] { SigningKey::for_data_dir(tmp.path); }).find("does not open") != std::string::npos);
  }
  SECTION("the token key replaced") {
    std::filesystem::remove(tmp.path / "token.key");
    CHECK(thrown([&] { SigningKey::for_data_dir(tmp.path); }).find("token.key / $CONCIERGE_TOKEN_KEY") != std::string::npos);
  }
  SECTION("not JSON") {
    spit(file, "garbage");
    CHECK(thrown([&] { SigningKey::for_data_dir(tmp.path); }).rfind(file.string() + ": not a signing key", 0) == 0);
  }
  SECTION("put back, it opens again") {
    spit(file, original);
    CHECK(SigningKey::for_data_dir(tmp.path).kid() == kid);
  }
}

TEST_CASE("signing key: a signed token passes jwt.hpp's parse_jws, signature_verifies and check_claims", "[access][signing_key][jwt]") {
  SigningKey key = SigningKey::generate();
  const int64_t now = 1'700'000'000;
  std::string token = key.sign(claims_at(now));
  CHECK(looks_like_jwt(token));
  auto parsed = parse_jws(token);
  REQUIRE(std::holds_alternative<Jws>(parsed));
  const Jws& jws = std::get<Jws>(parsed);
  CHECK(jws.alg == "ES256");
  CHECK(jws.kid == key.kid());
  CHECK(jws.header["typ"] == "at+jwt");

  // Through the published JWKS, as a resource server elsewhere would.
  auto keys = keys_from_jwks(key.jwks());
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].kid == key.kid());
  CHECK(signature_verifies(jws, keys[0]));
  CHECK(check_claims(jws.claims, ClaimRules{"https://mcp.example.com", "https://mcp.example.com/mcp", std::chrono::seconds(60), now}) ==
        std::nullopt);
  CHECK(check_claims(jws.claims, ClaimRules{"https://mcp.example.com", "https://other.example.com/mcp", std::chrono::seconds(60), now})
            .has_value());

  // Another key's signature, or a payload changed after signing, does not verify.
  CHECK_FALSE(signature_verifies(jws, SigningKey::generate().public_key()));
  auto d1 = token.find('.'), d2 = token.rfind('.');
  Json forged = claims_at(now);
  forged["sub"] = "mallory";
  auto tampered = parse_jws(token.substr(0, d1 + 1) + base64url_encode(dump(forged)) + token.substr(d2));
  REQUIRE(std::holds_alternative<Jws>(tampered));
  CHECK_FALSE(signature_verifies(std::get<Jws>(tampered), keys[0]));
}
