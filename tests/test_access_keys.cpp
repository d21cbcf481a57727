// src/access on a store of its own: API keys (created, verified, revoked, expired, listed, never
// stored in the clear), issuers' identities mapped to users, and the audit with its bounds.
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>

#include "access/audit.hpp"
#include "access/authenticator.hpp"
#include "access/identities.hpp"
#include "access/keys.hpp"
#include "providers/auth/oauth.hpp"
#include "store/store.hpp"
#include "support/temp_dir.hpp"
#include "support/test_database.hpp"

using namespace concierge;
using namespace concierge::test;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::set<std::string> every_scope() { return {all_scopes().begin(), all_scopes().end()}; }

Principal principal(const std::variant<Principal, std::string>& r) {
  INFO("refused: " << (std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : ""));
  REQUIRE(std::holds_alternative<Principal>(r));
  return std::get<Principal>(r);
}

std::string refusal(const std::variant<Principal, std::string>& r) {
  REQUIRE(std::holds_alternative<std::string>(r));
  return std::get<std::string>(r);
}

void set_column(store::Store& s, const std::string& id, const std::string& column, int64_t value) {
  s.write([&](sql::Database& db) {
    sql::Statement q(db, "UPDATE api_keys SET " + column + " = ? WHERE id = ?");
    q.bind(1, value);
    q.bind(2, id);
    REQUIRE(q.exec() == 1);
  });
}

std::optional<int64_t> last_used(store::Store& s, const std::string& id) {
  for (auto& k : access::KeyStore(s).list())
    if (k.id == id) return k.last_used_ms;
  FAIL("no key " << id);
  return std::nullopt;
}

// What changes when the key's row is written: SQLite's count of changes on the connection, or
// the row version PostgreSQL gives every update (xmin).
int64_t writes(store::Store& s, const std::string& id) {
  return s.write([&](sql::Database& db) {
    if (db.engine() == sql::Engine::sqlite) return db.execAndGet("SELECT total_changes()").getInt64();
    sql::Statement q(db, "SELECT CAST(CAST(xmin AS TEXT) AS BIGINT) FROM api_keys WHERE id = ?");
    q.bind(1, id);
    REQUIRE(q.executeStep());
    return q.getColumn(0).getInt64();
  });
}

std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Keys made in the same millisecond have no order between them: found by id.
access::KeyInfo info(const std::vector<access::KeyInfo>& keys, const std::string& id) {
  for (auto& k : keys)
    if (k.id == id) return k;
  FAIL("no key " << id);
  return {};
}

std::vector<std::string> events(const Json& list) {
  std::vector<std::string> out;
  for (auto& e : list) out.push_back(e["event"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("access keys: a key verifies to its user and scopes, a wrong secret with the right id does not", "[access][keys]") {
  store::Store s{std::filesystem::path(), test::database_url({})};
  access::Identities(s).add_user("alice");
  access::KeyStore keys(s);
  auto c = keys.create("alice", std::set<std::string>{"calendar:read", "mail:read"}, std::nullopt);
  CHECK(c.key.size() == 63);
  CHECK(c.key.rfind("ck_" + c.id + "_", 0) == 0);
  CHECK(access::KeyStore::looks_like_key(c.key));
  CHECK_FALSE(access::KeyStore::looks_like_key("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"));  // a JWT
  CHECK_FALSE(access::KeyStore::looks_like_key(c.key.substr(0, 62)));
  CHECK_FALSE(access::KeyStore::looks_like_key(c.key + "A"));

  Principal p = principal(keys.verify(c.key));
  CHECK(p.user == "alice");
  CHECK(p.scopes == std::set<std::string>{"calendar:read", "mail:read"});
  CHECK(p.via == "key");
  CHECK(p.subject == c.id);

  // The same id, another secret: refused, and as "unknown key" (a guess learns nothing).
  std::string wrong = c.key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  CHECK(refusal(keys.verify(wrong)) == "unknown key");
  CHECK(refusal(keys.verify("ck_0123456789abcdef_" + std::string(43, 'x'))) == "unknown key");
  CHECK(refusal(keys.verify("not a key")) == "unknown key");

  // A second key of the same user is another key.
  auto other = keys.create("alice", std::nullopt, std::nullopt);
  CHECK(other.id != c.id);
  CHECK(other.key != c.key);
}

TEST_CASE("access keys: a key made without scopes has every scope", "[access][keys]") {
  store::Store s{std::filesystem::path(), test::database_url({})};
  access::Identities(s).add_user("bob");
  access::KeyStore keys(s);
  auto c = keys.create("bob", std::nullopt, std::nullopt);
  CHECK(principal(keys.verify(c.key)).scopes == every_scope());
  auto listed = keys.list("bob");
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].every_scope);
  CHECK(listed[0].scopes == every_scope());
}

TEST_CASE("access keys: revoked and expired keys are refused, saying which", "[access][keys]") {
  store::Store s{std::filesystem::path(), test::database_url({})};
  access::Identities(s).add_user("alice");
  access::KeyStore keys(s);
  auto c = keys.create("alice", std::nullopt, std::nullopt);
  CHECK(keys.revoke(c.id));
  CHECK(refusal(keys.verify(c.key)) == "revoked");
  CHECK(keys.revoke(c.id));  // again: still revoked, not an error
  CHECK_FALSE(keys.revoke("0123456789abcdef"));
  // A revoked key with a wrong secret is "unknown key": the state is told only to its holder.
  std::string wrong = c.key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  CHECK(refusal(keys.verify(wrong)) == "unknown key");

  auto e = keys.create("alice", std::nullopt, 1);
  auto listed = keys.list("alice");
  REQUIRE(listed.size() == 2);
  const auto expiring = info(listed, e.id);
  REQUIRE(expiring.expires_ms);
  CHECK(*expiring.expires_ms - expiring.created_ms == 86'400'000);
  CHECK(info(listed, c.id).revoked_ms);
  CHECK(principal(keys.verify(e.key)).user == "alice");
  set_column(s, e.id, "expires_ms", now_ms() - 1);
  CHECK(refusal(access::KeyStore(s).verify(e.key)) == "expired");  // as another process reads it

  // Revocation and creation are in the owner's audit, without the key.
  Json audit = access::Audit(s).list("alice");
  CHECK(events(audit) == std::vector<std::string>{"key_created", "key_revoked", "key_created", "user_added"});  // newest first
  CHECK(audit[1]["detail"]["key"] == c.id);
  CHECK(audit.dump().find(c.key) == std::string::npos);
  CHECK(audit.dump().find(e.key) == std::string::npos);
}

TEST_CASE("access keys: a verified key is read again after recheck_ms, so another process's revocation takes effect", "[access][keys]") {
  store::Store s{std::filesystem::path(), test::database_url({})};
  access::Identities(s).add_user("alice");
  auto c = access::KeyStore(s).create("alice", std::nullopt, std::nullopt);
  access::KeyStore server(s, /*recheck_ms=*/0), cached(s);
  principal(server.verify(c.key));
  principal(cached.verify(c.key));
  access::KeyStore(s).revoke(c.id);  // `concierge keys revoke` in another process
  CHECK(refusal(server.verify(c.key)) == "revoked");
  // Within a second the cached row is trusted, without a read: a wrong secret is still refused.
  std::string wrong = c.key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  CHECK(refusal(cached.verify(wrong)) == "unknown key");
}

TEST_CASE("access keys: bad arguments are refused, naming the argument", "[access][keys]") {
  store::Store s{std::filesystem::path(), test::database_url({})};
  access::Identities(s).add_user("alice");
  access::KeyStore keys(s);
  CHECK_THROWS_WITH(keys.create("nobody", std::nullopt, std::nullopt), Catch::StartsWith("user: no user 'nobody'"));
  CHECK_THROWS_WITH(keys.create("alice", std::set<std::string>{"calendar:read", "calendar:delete"}, std::nullopt),
                    Catch::StartsWith("scopes:") && Catch::Contains("calendar:delete"));
  CHECK_THROWS_WITH(keys.create("alice", std::set<std::string>{}, std::nullopt), Catch::StartsWith("scopes:"));
  CHECK_THROWS_WITH(keys.create("alice", std::nullopt, 0), Catch::StartsWith("expires_days:"));
  CHECK_THROWS_WITH(keys.list("nobody"), Catch::StartsWith("user:"));
  CHECK(keys.list().empty());  // nothing was made by the refused calls
}

TEST_CASE("access keys: list shows every user's keys or one user's", "[access][keys]") {
  store::Store s{std::filesystem::path(), test::database_url({})};
  access::Identities ids(s);
  ids.add_user("alice");
  ids.add_user("bob");
  access::KeyStore keys(s);
  auto a = keys.create("alice", std::set<std::string>{"music:read"}, std::nullopt);
  auto b = keys.create("bob", std::nullopt, 30);
  auto all = keys.list();
  REQUIRE(all.size() == 2);
  const auto ka = info(all, a.id);
  CHECK(ka.user == "alice");
  CHECK(ka.scopes == std::set<std::string>{"music:read"});
  CHECK_FALSE(ka.every_scope);
  CHECK_FALSE(ka.expires_ms);
  CHECK_FALSE(ka.revoked_ms);
  CHECK_FALSE(ka.last_used_ms);
  CHECK(info(all, b.id).user == "bob");
  CHECK(info(all, b.id).expires_ms);
  auto bobs = keys.list("bob");
  REQUIRE(bobs.size() == 1);
  CHECK(bobs[0].id == b.id);
}

TEST_CASE("access keys: last used is written at most once a minute, not per request", "[access][keys]") {
  store::Store s{std::filesystem::path(), test::database_url({})};
  access::Identities(s).add_user("alice");
  auto c = access::KeyStore(s).create("alice", std::nullopt, std::nullopt);
  {
    access::KeyStore keys(s);
    principal(keys.verify(c.key));
    REQUIRE(last_used(s, c.id));
    CHECK(now_ms() - *last_used(s, c.id) < 10'000);
    const int64_t before = writes(s, c.id);
    for (int i = 0; i < 100; ++i) principal(keys.verify(c.key));
    CHECK(writes(s, c.id) == before);  // 100 requests, no write
  }
  // Another process (a fresh KeyStore) sees the stored time: 30 s ago is recent enough...
  const int64_t recent = now_ms() - 30'000;
  set_column(s, c.id, "last_used_ms", recent);
  principal(access::KeyStore(s).verify(c.key));
  CHECK(last_used(s, c.id) == recent);
  // ...61 s ago is not.
  set_column(s, c.id, "last_used_ms", now_ms() - 61'000);
  principal(access::KeyStore(s).verify(c.key));
  CHECK(now_ms() - *last_used(s, c.id) < 10'000);
}

TEST_CASE("access keys: the key is not in the database files, only its hash", "[access][keys]") {
  TempDir tmp;
  access::KeyStore::Created c;
  {
    store::Store s(tmp.path, test::database_url(tmp.path));
    access::Identities(s).add_user("alice");
    c = access::KeyStore(s).create("alice", std::nullopt, std::nullopt);
    principal(access::KeyStore(s).verify(c.key));
  }
  const std::string secret = c.key.substr(20), hash = providers::auth::sha256(c.key);
  REQUIRE(secret.size() == 43);
  std::string all;
  for (auto& f : std::filesystem::directory_iterator(tmp.path)) all += file_bytes(f.path());  // db, -wal, -shm
  // On PostgreSQL the files are the server's: what it holds of the key is the row.
  if (!test::postgres_url().empty()) {
    store::Store s(tmp.path, test::database_url(tmp.path));
    all += s.read([](sql::Database& db) {
      std::string row;
      sql::Statement q(db, "SELECT id, hash, coalesce(scopes, ''), user_id FROM api_keys");
      while (q.executeStep())
        for (int i = 0; i < 4; ++i) row += q.getColumn(i).getString() + "\n";
      return row;
    });
  }
  CHECK(all.find(hash) != std::string::npos);  // we are looking where the key's row is
  CHECK(all.find(secret) == std::string::npos);
  CHECK(all.find(secret.substr(0, 20)) == std::string::npos);
}

TEST_CASE("access keys: the audit records events newest first, rate-limits floods and keeps a bounded number of rows", "[access][keys][audit]") {
  store::Store s{std::filesystem::path(), test::database_url({})};
  access::Identities(s).add_user("alice");
  int64_t clock = 1'000'000;
  access::Audit audit(s, access::AuditLimits{.per_minute = 5, .max_rows_per_user = 8, .max_detail_bytes = 256, .clock = [&] { return clock; }});

  // A flood of refusals before anyone is identified: 5 rows a minute, the rest counted.
  int written = 0;
  for (int i = 0; i < 1000; ++i) written += audit.record("", "refused", Json{{"status", 401}, {"reason", "no token"}});
  CHECK(written == 5);
  CHECK(audit.list("").size() == 5);
  CHECK(audit.list("alice").size() == 1);  // alice's own rows are apart (user_added)
  clock += 60'000;
  CHECK(audit.record("", "refused", Json{{"status", 401}, {"reason", "no token"}}));
  Json anon = audit.list("");
  REQUIRE(anon.size() == 6);
  CHECK(anon[0]["detail"]["suppressed"] == 995);
  CHECK(anon[0]["detail"]["status"] == 401);
  CHECK(anon[1]["detail"].count("suppressed") == 0);

  // Per user and event: alice's refusals have a budget of their own.
  CHECK(audit.record("alice", "refused", Json{{"status", 403}}));
  // Administrative events are never rate-limited, and the row cap keeps the newest 8.
  for (int i = 0; i < 20; ++i) CHECK(audit.record("alice", "key_created", Json{{"key", std::to_string(i)}}));
  Json rows = audit.list("alice");
  REQUIRE(rows.size() == 8);
  CHECK(rows[0]["detail"]["key"] == "19");
  CHECK(rows[7]["detail"]["key"] == "12");
  CHECK(audit.list("alice", 3).size() == 3);
  CHECK(audit.list("nobody").empty());

  // A long detail is cut to the bound.
  CHECK(audit.record("alice", "sign_in", Json{{"reason", std::string(10'000, 'r')}}));
  Json cut = audit.list("alice", 1)[0]["detail"];
  CHECK(cut["truncated"] == true);
  CHECK(cut.dump().size() < 400);
  CHECK_THAT(audit.list("alice", 1)[0]["time"].get<std::string>(), Catch::Matches(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"));
}

TEST_CASE("access keys: an issuer's subject maps to one user, made on first sight or only when provisioned", "[access][keys][identities]") {
  store::Store s{std::filesystem::path(), test::database_url({})};
  access::Identities ids(s);
  const std::string iss = "https://issuer.example", other = "https://other.example";
  CHECK_FALSE(ids.user_for(iss, "ada", /*require_provisioned=*/true));
  CHECK(ids.user_for(iss, "ada", false) == "ada");
  CHECK(ids.user_for(iss, "ada", false) == "ada");
  CHECK(access::Identities(s).user_for(iss, "ada", false) == "ada");  // from the table, not a cache
  CHECK(ids.user_for(other, "ada", false) == "ada-2");              // another issuer's ada is someone else
  CHECK(ids.user_for(iss, "local", false) == "local-2");            // never the stdio user
  CHECK(ids.user_for(iss, "auth0|42 x", false) == "auth0-42-x");
  CHECK_FALSE(ids.user_for(iss, "", false));
  CHECK_FALSE(ids.user_for(iss, std::string(300, 's'), false));

  // Made at a first sign-in: not provisioned, so refused under --auth-require-provisioned...
  CHECK_FALSE(ids.user_for(iss, "ada", true));
  // ...until an administrator links an identity to a user they added.
  ids.add_user("grace");
  ids.link("grace", iss, "g-123");
  CHECK(ids.user_for(iss, "g-123", true) == "grace");
  ids.link("grace", iss, "g-123");  // again: nothing changes
  CHECK_THROWS_WITH(ids.link("grace", iss, "ada"), Catch::StartsWith("subject:") && Catch::Contains("'ada'"));
  CHECK_THROWS_WITH(ids.link("nobody", iss, "x"), Catch::StartsWith("user:"));
  ids.link("ada", other, "ada-elsewhere");  // naming ada provisions her
  CHECK(ids.user_for(iss, "ada", true) == "ada");

  CHECK_THROWS_WITH(ids.add_user("grace"), Catch::StartsWith("name:") && Catch::Contains("already exists"));
  CHECK_THROWS_WITH(ids.add_user("-rf"), Catch::StartsWith("name:"));
  CHECK_THROWS_WITH(ids.add_user("a b"), Catch::StartsWith("name:"));
  CHECK_THROWS_WITH(ids.add_user(""), Catch::StartsWith("name:"));

  access::KeyStore(s).create("grace", std::nullopt, std::nullopt);
  std::map<std::string, access::Identities::UserInfo> by_name;
  for (auto& u : ids.users()) by_name[u.name] = u;
  REQUIRE(by_name.count("grace"));
  CHECK(by_name["grace"].keys == 1);
  CHECK(by_name["grace"].provisioned);
  CHECK(by_name["grace"].identities == std::vector<std::string>{iss + " g-123"});
  CHECK_FALSE(by_name["ada-2"].provisioned);
  CHECK(by_name["ada-2"].identities == std::vector<std::string>{other + " ada"});
}

TEST_CASE("access keys: the keys-only authenticator answers RFC 6750 refusals and audits them", "[access][keys]") {
  store::Store s{std::filesystem::path(), test::database_url({})};
  access::Identities(s).add_user("alice");
  access::StoreAuthenticator auth(s, {});
  auto c = auth.keys().create("alice", std::set<std::string>{"calendar:read"}, std::nullopt);
  auto ok = auth.authenticate(c.key);
  REQUIRE(ok.principal);
  CHECK(ok.principal->user == "alice");
  auto jwt = auth.authenticate("eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
  CHECK_FALSE(jwt.principal);
  CHECK(jwt.denied.error == "invalid_token");
  auth.keys().revoke(c.id);
  auto revoked = auth.authenticate(c.key);
  CHECK_FALSE(revoked.principal);
  CHECK(revoked.denied.reason == "API key revoked");
  auth.refused("alice", 403, "insufficient_scope: calendar:write");
  auth.refused("", 401, "API key revoked");
  Json alice = access::Audit(s).list("alice", 1);
  CHECK(alice[0]["event"] == "refused");
  CHECK(alice[0]["detail"]["status"] == 403);
  CHECK(access::Audit(s).list("")[0]["detail"]["reason"] == "API key revoked");
}
