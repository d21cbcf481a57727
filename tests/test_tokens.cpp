// OAuth tokens at rest: sealed with AES-256-GCM, nothing in the clear in the database files, the
// key file private, tampering and crossing between accounts refused.
#include <catch2/catch.hpp>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>
#include <sys/stat.h>

#include "providers/auth/tokens.hpp"
#include "store/store.hpp"
#include "support/temp_dir.hpp"
#include "support/test_database.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers::auth;

namespace {
std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
struct EnvUnset {
  std::string saved;
  bool had;
  EnvUnset() : had(std::getenv("CONCIERGE_TOKEN_KEY") != nullptr) {
    if (had) saved = std::getenv("CONCIERGE_TOKEN_KEY");
    ::unsetenv("CONCIERGE_TOKEN_KEY");
  }
  ~EnvUnset() {
    if (had) ::setenv("CONCIERGE_TOKEN_KEY", saved.c_str(), 1);
    else ::unsetenv("CONCIERGE_TOKEN_KEY");
  }
};
}  // namespace

TEST_CASE("tokens: sealed at rest, opened only for their own account", "[auth][tokens]") {
  EnvUnset env;
  TempDir tmp;
  const std::string access = "ya29.ACCESS-TOKEN-7f3a9c", refresh = "1//REFRESH-TOKEN-b81e44";
  {
    store::Store s(tmp.path, test::database_url(tmp.path));
    TokenStore tokens(s, Sealer::for_data_dir(tmp.path));
    int64_t ada = s.user_id("ada"), bob = s.user_id("bob");
    tokens.save(ada, "google", "work", {access, refresh, "Bearer", 1'800'000'000'000, {"calendar.readonly"}});
    tokens.save(ada, "google", "home", {"ya29.HOME-ACCESS", "1//HOME-REFRESH", "Bearer", 0, {}});
    auto work = tokens.load(ada, "google", "work");
    REQUIRE(work);
    CHECK(work->access_token == access);
    CHECK(work->refresh_token == refresh);
    CHECK(work->scopes == std::vector<std::string>{"calendar.readonly"});
    CHECK(tokens.load(ada, "google", "home")->access_token == "ya29.HOME-ACCESS");  // two accounts side by side
    CHECK_FALSE(tokens.load(bob, "google", "work"));
    CHECK_FALSE(tokens.load(ada, "spotify", "work"));
    auto listed = tokens.accounts(ada);
    REQUIRE(listed.size() == 2);
    CHECK(listed[1].account == "work");
    CHECK(listed[1].scopes == std::vector<std::string>{"calendar.readonly"});

    // A sealed token moved to another account's row does not open there.
    s.write([&](sql::Database& db) {
      db.exec("UPDATE auth_tokens SET sealed = (SELECT sealed FROM auth_tokens WHERE account = 'work') WHERE account = 'home'");
    });
    CHECK_THROWS_WITH(tokens.load(ada, "google", "home"), Catch::Contains("does not open"));
    // Nor does one with a flipped bit.
    s.write([&](sql::Database& db) {
      sql::Statement get(db, "SELECT sealed FROM auth_tokens WHERE account = 'work'");
      REQUIRE(get.executeStep());
      auto col = get.getColumn(0);
      std::string sealed(static_cast<const char*>(col.getBlob()), static_cast<size_t>(col.getBytes()));
      REQUIRE(sealed.size() > 21);
      sealed[20] = static_cast<char>(sealed[20] ^ 1);
      sql::Statement put(db, "UPDATE auth_tokens SET sealed = ? WHERE account = 'work'");
      put.bind(1, sealed.data(), static_cast<int>(sealed.size()));
      put.exec();
    });
    CHECK_THROWS_WITH(tokens.load(ada, "google", "work"), Catch::Contains("does not open"));
    tokens.save(ada, "google", "work", {access, refresh, "Bearer", 0, {}});
    CHECK(tokens.remove(ada, "google", "home"));
    CHECK_FALSE(tokens.remove(ada, "google", "home"));
  }
  // Nothing in the clear anywhere in the data directory's database files.
  for (auto& entry : std::filesystem::directory_iterator(tmp.path)) {
    if (entry.path().filename().string().rfind("concierge.db", 0) != 0) continue;
    INFO(entry.path());
    auto bytes = file_bytes(entry.path());
    CHECK(bytes.find("ACCESS-TOKEN") == std::string::npos);
    CHECK(bytes.find("REFRESH-TOKEN") == std::string::npos);
    CHECK(bytes.find("HOME-REFRESH") == std::string::npos);
  }
  struct stat st {};
  REQUIRE(::stat((tmp.path / "token.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_size == 32);
  {
    store::Store s(tmp.path, test::database_url(tmp.path));  // a restart reads the same key
    TokenStore tokens(s, Sealer::for_data_dir(tmp.path));
    CHECK(tokens.load(s.user_id("ada"), "google", "work")->access_token == access);
  }
  {
    store::Store s(tmp.path, test::database_url(tmp.path));  // another key opens nothing
    TokenStore tokens(s, Sealer(std::string(32, 'k')));
    CHECK_THROWS(tokens.load(s.user_id("ada"), "google", "work"));
  }
}

TEST_CASE("tokens: the key from the environment, a key file others can read is refused", "[auth][tokens]") {
  EnvUnset env;
  TempDir tmp;
  ::setenv("CONCIERGE_TOKEN_KEY", std::string(64, 'a').c_str(), 1);
  Sealer from_env = Sealer::for_data_dir(tmp.path);
  CHECK_FALSE(std::filesystem::exists(tmp.path / "token.key"));
  CHECK(Sealer(std::string(32, '\xaa')).open(from_env.seal("x", "c"), "c") == "x");
  ::setenv("CONCIERGE_TOKEN_KEY", "not-hex", 1);
  CHECK_THROWS_WITH(Sealer::for_data_dir(tmp.path), Catch::Contains("64 hex digits"));
  ::unsetenv("CONCIERGE_TOKEN_KEY");
  Sealer::for_data_dir(tmp.path);
  ::chmod((tmp.path / "token.key").c_str(), 0644);
  CHECK_THROWS_WITH(Sealer::for_data_dir(tmp.path), Catch::Contains("chmod 600"));
}

TEST_CASE("tokens: concurrent first starts agree on one key, never read a partial one", "[auth][tokens]") {
  EnvUnset env;
  for (int round = 0; round < 20; ++round) {
    TempDir tmp;
    std::vector<std::optional<Sealer>> sealers(8);
    std::vector<std::string> errors(8);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < sealers.size(); ++i)
      threads.emplace_back([&, i] {
        try {
          sealers[i].emplace(Sealer::for_data_dir(tmp.path));
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    for (auto& t : threads) t.join();
    const std::string sealed = sealers[0] ? sealers[0]->seal("x", "c") : "";
    for (size_t i = 0; i < sealers.size(); ++i) {
      INFO("round " << round << ", thread " << i << ": " << errors[i]);
      REQUIRE(sealers[i]);
      CHECK(sealers[i]->open(sealed, "c") == "x");  // the same key
    }
    CHECK(file_bytes(tmp.path / "token.key").size() == 32);
    size_t files = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(tmp.path)) ++files;
    CHECK(files == 1);  // no temporary key left behind
  }
}
