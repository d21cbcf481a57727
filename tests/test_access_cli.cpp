// `concierge users` and `concierge keys` on the real binary and a temporary data directory: the
// key printed once and alone, never listed, revocation, the audit in `history export`, and
// `auth ... --user` refusing a user that doesn't exist.
#include <catch2/catch.hpp>
#include <sstream>

#include "access/authorization_server.hpp"
#include "access/grants.hpp"
#include "access/keys.hpp"
#include "access/passwords.hpp"
#include "access/web_sessions.hpp"
#include "common/json.hpp"
#include "store/store.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_database.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

struct Run {
  int code = -1;
  std::vector<std::string> lines;  // stdout
  std::string out, err;
};

struct Cli {
  TempDir tmp;
  std::filesystem::path data = tmp.path / "data";
  // `concierge --data-dir DATA ARGS...` to completion, `input` on its stdin.
  Run run(std::vector<std::string> args, bool data_dir_first = true, const std::string& input = "") {
    std::vector<std::string> argv{"/usr/bin/env", "CONCIERGE_CONFIG=" + (tmp.path / "none.json").string(), CONCIERGE_BINARY};
    if (data_dir_first) argv.insert(argv.end(), {"--data-dir", data.string()});
    argv.insert(argv.end(), args.begin(), args.end());
    if (!data_dir_first) argv.insert(argv.end(), {"--data-dir", data.string()});
    ChildProcess p(argv);
    if (!input.empty()) p.write(input);  // may fail: a refusal can exit before reading it
    p.close_stdin();
    Run r;
    while (auto line = p.read_line(10s)) {
      r.lines.push_back(*line);
      r.out += *line + "\n";
    }
    r.out += p.stdout_reader().partial();
    auto st = p.wait_exit(10s);
    REQUIRE(st);
    REQUIRE(st->exited);
    r.code = st->code;
    r.err = p.stderr_text();
    return r;
  }
  Run ok(std::vector<std::string> args) {
    Run r = run(std::move(args));
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    return r;
  }
};

std::vector<Json> json_lines(const std::string& text) {
  std::vector<Json> rows;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) rows.push_back(Json::parse(l));
  return rows;
}

}  // namespace

TEST_CASE("access cli: users add and list", "[access][cli]") {
  Cli cli;
  cli.ok({"users", "add", "alice"});
  Run again = cli.run({"users", "add", "alice"});
  CHECK(again.code != 0);
  CHECK_THAT(again.err, Catch::Contains("name: user 'alice' already exists"));
  Run bad = cli.run({"users", "add", "a b"});
  CHECK(bad.code != 0);
  CHECK_THAT(bad.err, Catch::Contains("name: 'a b' is not a user name"));
  cli.ok({"users", "link", "alice", "--issuer", "https://issuer.example", "--subject", "sub-1"});

  // --data-dir after the subcommand works as well as before it.
  Run list = cli.run({"users", "list"}, /*data_dir_first=*/false);
  REQUIRE(list.code == 0);
  REQUIRE(list.lines.size() == 1);
  CHECK_THAT(list.lines[0], Catch::StartsWith("alice\tcreated ") && Catch::Contains("provisioned") &&
                                Catch::Contains("keys 0") && Catch::Contains("https://issuer.example sub-1"));
}

TEST_CASE("access cli: keys create prints the key alone and once, list never shows it, revoke ends it", "[access][cli]") {
  Cli cli;
  cli.ok({"users", "add", "alice"});
  Run created = cli.ok({"keys", "create", "--user", "alice", "--scopes", "calendar:read mail:read", "--expires-days", "30"});
  REQUIRE(created.lines.size() == 1);
  CHECK(created.out == created.lines[0] + "\n");  // exactly one line, nothing else on stdout
  const std::string key = created.lines[0];
  REQUIRE(access::KeyStore::looks_like_key(key));
  const std::string id = key.substr(3, 16);
  CHECK(created.err.find(key) == std::string::npos);
  CHECK_THAT(created.err, Catch::Contains(id));
  {
    // The printed key is the one the server accepts, with the scopes asked for.
    store::Store s(cli.data, test::database_url(cli.data));
    auto r = access::KeyStore(s).verify(key);
    REQUIRE(std::holds_alternative<Principal>(r));
    CHECK(std::get<Principal>(r).user == "alice");
    CHECK(std::get<Principal>(r).scopes == std::set<std::string>{"calendar:read", "mail:read"});
  }
  Run every = cli.ok({"keys", "create", "--user", "alice"});
  REQUIRE(every.lines.size() == 1);
  const std::string key2 = every.lines[0];

  Run list = cli.ok({"keys", "list"});
  REQUIRE(list.lines.size() == 3);  // a header, two keys
  const std::string ts = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)";
  // id, user, scopes, created, expires, revoked, last used (the verify above)
  CHECK_THAT(list.lines[1], Catch::Matches(id + "\talice\tcalendar:read mail:read\t" + ts + "\t" + ts + "\t-\t" + ts));
  CHECK_THAT(list.lines[2], Catch::Matches("[0-9a-f]{16}\talice\tall\t" + ts + "\tnever\t-\tnever"));
  CHECK(list.out.find(key.substr(20)) == std::string::npos);
  CHECK(list.out.find(key2.substr(20)) == std::string::npos);
  CHECK(cli.ok({"keys", "list", "--user", "alice"}).lines.size() == 3);

  // Refusals name the argument at fault; nothing is printed on stdout.
  Run nobody = cli.run({"keys", "create", "--user", "nobody"});
  CHECK(nobody.code != 0);
  CHECK(nobody.out.empty());
  CHECK_THAT(nobody.err, Catch::Contains("user: no user 'nobody'"));
  Run scope = cli.run({"keys", "create", "--user", "alice", "--scopes", "calendar:read calendar:delete"});
  CHECK(scope.code != 0);
  CHECK(scope.out.empty());
  CHECK_THAT(scope.err, Catch::Contains("scopes: unknown scope 'calendar:delete'"));
  CHECK(cli.run({"keys", "list", "--user", "nobody"}).code != 0);

  cli.ok({"keys", "revoke", id});
  Run revoked = cli.ok({"keys", "list", "--user", "alice"});
  REQUIRE(revoked.lines.size() == 3);
  CHECK_THAT(revoked.lines[1], Catch::Matches(id + "\t.*\t" + ts + "\t" + ts + "\t" + ts));
  {
    store::Store s(cli.data, test::database_url(cli.data));
    auto r = access::KeyStore(s).verify(key);
    REQUIRE(std::holds_alternative<std::string>(r));
    CHECK(std::get<std::string>(r) == "revoked");
  }
  Run unknown = cli.run({"keys", "revoke", "0123456789abcdef"});
  CHECK(unknown.code != 0);
  CHECK_THAT(unknown.err, Catch::Contains("id: no key '0123456789abcdef'"));
  // The key pasted for its id: refused without echoing it.
  Run pasted = cli.run({"keys", "revoke", key2});
  CHECK(pasted.code != 0);
  CHECK(pasted.err.find(key2.substr(20)) == std::string::npos);

  // The audit is in the user's history export, oldest first, without the keys.
  Run exported = cli.ok({"history", "--user", "alice", "export"});
  std::vector<std::string> events;
  for (auto& row : json_lines(exported.out)) {
    REQUIRE(row.contains("audit"));
    events.push_back(row["audit"]["event"].get<std::string>());
  }
  REQUIRE(events == std::vector<std::string>{"user_added", "key_created", "key_created", "key_revoked"});
  CHECK(json_lines(exported.out)[1]["audit"]["detail"]["key"] == id);
  CHECK(exported.out.find(key.substr(20)) == std::string::npos);
  CHECK(exported.out.find(key2.substr(20)) == std::string::npos);
}

TEST_CASE("access cli: auth commands sign in only a user that exists", "[access][cli]") {
  Cli cli;
  Run nobody = cli.run({"auth", "status", "--user", "nobody"});
  CHECK(nobody.code == 2);
  CHECK_THAT(nobody.err, Catch::Contains("--user: no user 'nobody'"));
  CHECK(cli.run({"auth", "logout", "spotify", "--user", "nobody"}).code == 2);
  CHECK_THAT(cli.ok({"auth", "status"}).out, Catch::Contains("No account is signed in"));  // local always exists
  cli.ok({"users", "add", "alice"});
  CHECK_THAT(cli.ok({"auth", "status", "--user", "alice"}).out, Catch::Contains("No account is signed in"));
}

// `serve`'s authentication flags through the binary: what refuses to start, and says which flag.
TEST_CASE("access cli: serve refuses an unauthenticated public bind and auth settings it cannot honour, naming the flags", "[access][cli]") {
  Cli cli;
  auto refused = [&](std::vector<std::string> args) {
    Run r = cli.run(std::move(args));
    INFO("stderr: " << r.err);
    CHECK(r.code != 0);
    CHECK(r.out.empty());  // nothing on stdout: it never served
    return r.err;
  };
  std::string e = refused({"serve", "--http", "0.0.0.0:0"});
  CHECK(e.find("--auth") != std::string::npos);
  CHECK(e.find("--allow-unauthenticated") != std::string::npos);
  e = refused({"serve", "--http", "0.0.0.0:0", "--auth", "keys"});  // a public bind names its public URL
  CHECK(e.find("--public-url") != std::string::npos);
  e = refused({"serve", "--http", "127.0.0.1:0", "--auth-issuer", "http://issuer.example.com"});
  CHECK(e.find("--auth-issuer") != std::string::npos);  // plain http off loopback
  e = refused({"serve", "--http", "127.0.0.1:0", "--auth", "issuer"});
  CHECK(e.find("--auth-issuer") != std::string::npos);
  e = refused({"serve", "--http", "0.0.0.0:0", "--auth", "builtin"});  // the issuer is the public URL's origin
  CHECK(e.find("--public-url") != std::string::npos);
  e = refused({"serve", "--http", "127.0.0.1:0", "--auth", "keys", "--auth-token-ttl", "60"});
  CHECK(e.find("--auth-token-ttl") != std::string::npos);
  e = refused({"serve", "--auth", "keys"});  // stdio is the local user
  CHECK(e.find("--auth applies to --http") != std::string::npos);
}

TEST_CASE("access cli: users passwd sets the sign-in password from stdin, never echoing it", "[access][cli][pages]") {
  Cli cli;
  cli.ok({"users", "add", "ada"});
  const std::string password = "correct horse battery";
  Run set = cli.run({"users", "passwd", "ada", "--password-stdin"}, true, password + "\n");
  INFO("stderr: " << set.err);
  REQUIRE(set.code == 0);
  CHECK(set.out.empty());
  CHECK(set.err.find(password) == std::string::npos);
  {
    store::Store s(cli.data, test::database_url(cli.data));
    access::Passwords p(s);
    CHECK(p.check("ada", password));
    CHECK_FALSE(p.check("ada", password + "!"));
  }
  // Refusals name the argument; the password given is never repeated.
  Run empty = cli.run({"users", "passwd", "ada", "--password-stdin"}, true, "\n");
  CHECK(empty.code == 2);
  CHECK_THAT(empty.err, Catch::Contains("--password-stdin: no password on stdin"));
  Run nothing = cli.run({"users", "passwd", "ada", "--password-stdin"});
  CHECK(nothing.code == 2);
  Run shorty = cli.run({"users", "passwd", "ada", "--password-stdin"}, true, "s3cr3t!\n");
  CHECK(shorty.code == 2);
  CHECK_THAT(shorty.err, Catch::Contains("--password-stdin: the password is too short (at least 8"));
  CHECK(shorty.err.find("s3cr3t!") == std::string::npos);
  Run nobody = cli.run({"users", "passwd", "nobody", "--password-stdin"}, true, password + "\n");
  CHECK(nobody.code == 2);
  CHECK_THAT(nobody.err, Catch::Contains("name: no user 'nobody'"));
  // Without --password-stdin there is no other way to give it (not on the command line).
  CHECK(cli.run({"users", "passwd", "ada"}, true, password + "\n").code != 0);
  {
    store::Store s(cli.data, test::database_url(cli.data));
    CHECK(access::Passwords(s).check("ada", password));  // the refused attempts changed nothing
  }
}

TEST_CASE("access cli: users invite prints a one-time sign-in link alone on stdout", "[access][cli][pages]") {
  Cli cli;
  cli.ok({"users", "add", "ada"});
  Run made = cli.ok({"users", "invite", "ada", "--public-url", "https://mcp.example.com/mcp", "--expires-hours", "2"});
  REQUIRE(made.lines.size() == 1);
  CHECK(made.out == made.lines[0] + "\n");
  const std::string prefix = "https://mcp.example.com/invite?token=";
  REQUIRE_THAT(made.lines[0], Catch::StartsWith(prefix));
  const std::string token = made.lines[0].substr(prefix.size());
  CHECK(made.err.find(token) == std::string::npos);
  {
    store::Store s(cli.data, test::database_url(cli.data));
    access::StoreWebSessions sessions(s);
    CHECK(sessions.invite_user(token) == std::optional<std::string>("ada"));
    auto first = sessions.redeem_invite(token, "127.0.0.1");
    REQUIRE(std::holds_alternative<access::SignedIn>(first));
    CHECK(std::get<access::SignedIn>(first).session.user == "ada");
    auto second = sessions.redeem_invite(token, "127.0.0.1");
    REQUIRE(std::holds_alternative<access::SignInRefused>(second));
    CHECK(std::get<access::SignInRefused>(second).status == 401);
  }
  // Without --public-url: the path, to put after the server's address.
  Run path = cli.ok({"users", "invite", "ada"});
  REQUIRE(path.lines.size() == 1);
  CHECK_THAT(path.lines[0], Catch::StartsWith("/invite?token="));

  Run hours = cli.run({"users", "invite", "ada", "--expires-hours", "0"});
  CHECK(hours.code == 2);
  CHECK(hours.out.empty());
  CHECK_THAT(hours.err, Catch::Contains("--expires-hours: must be 1 to 720"));
  Run url = cli.run({"users", "invite", "ada", "--public-url", "mcp.example.com"});
  CHECK(url.code == 2);
  CHECK_THAT(url.err, Catch::Contains("--public-url: "));
  Run nobody = cli.run({"users", "invite", "nobody"});
  CHECK(nobody.code == 2);
  CHECK(nobody.out.empty());
  CHECK_THAT(nobody.err, Catch::Contains("name: no user 'nobody'"));
}

TEST_CASE("access cli: clients list shows who authorized a client, clients revoke kills its grants", "[access][cli][authz]") {
  Cli cli;
  std::string gid = "grant-1";
  {
    store::Store s(cli.data, test::database_url(cli.data));
    access::RegisteredClient c;
    c.client_id = "client-abc";
    c.client_name = "Desk App";
    c.redirect_uris = {"https://desk.example.com/cb", "http://127.0.0.1:9/cb"};
    c.grant_types = {"authorization_code"};
    c.response_types = {"code"};
    c.issued_at = 1'700'000'000;
    access::ClientStore(s).add(c, "127.0.0.1");
    access::GrantStore grants(s);
    grants.create(access::Grant{gid, "client-abc", "ada", {"calendar:read"}, "https://mcp.example.com/mcp", "https://desk.example.com/cb", "x"}, 60s);
    grants.create(access::Grant{"grant-2", "https://app.example.com/client.json", "bob", {"mail:read"}, "https://mcp.example.com/mcp",
                                "https://app.example.com/cb", "x"},
                  60s);
  }
  Run list = cli.ok({"clients", "list"});
  INFO(list.out);
  REQUIRE(list.lines.size() == 3);
  CHECK(list.lines[0] == "ID\tNAME\tREDIRECT HOSTS\tUSERS\tLAST USED");
  CHECK(list.out.find("client-abc\tDesk App\tdesk.example.com,127.0.0.1:9\tada\t") != std::string::npos);
  CHECK(list.out.find("https://app.example.com/client.json\t(metadata document)\tapp.example.com\tbob\t") != std::string::npos);

  Run revoked = cli.ok({"clients", "revoke", "client-abc"});
  CHECK(revoked.err.find("1 grant(s)") != std::string::npos);
  {
    store::Store s(cli.data, test::database_url(cli.data));
    CHECK_FALSE(access::GrantStore(s).live(gid));
    CHECK(access::GrantStore(s).live("grant-2"));
    CHECK_FALSE(access::ClientStore(s).find("client-abc"));
  }
  Run unknown = cli.run({"clients", "revoke", "client-abc"});
  CHECK(unknown.code == 1);
  CHECK(unknown.err.find("id: no client") != std::string::npos);
}
