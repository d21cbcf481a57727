// Several instances on one data directory (README "Running several instances"): the shared
// requestState key, --instance, the change feed between processes and the history journal of an
// instance that died. tests/scale/ runs the real thing behind nginx.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "app/app.hpp"
#include "providers/time.hpp"
#include "store/change_feed.hpp"
#include "store/history.hpp"
#include "store/preferences.hpp"
#include "store/store.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_database.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

void write_file(const std::filesystem::path& p, const std::string& text, mode_t mode) {
  std::ofstream(p, std::ios::binary) << text;
  ::chmod(p.c_str(), mode);
}

// What a process leaves in its journal slot: one acknowledged call of `tool`, made now.
void journal(const std::filesystem::path& dir, int slot, const std::string& tool) {
  const std::string base = "history-" + std::to_string(slot) + ".journal";
  std::ofstream(dir / base) << R"({"seq":1,"r":{"t":)" << providers::now_ms()
                            << R"(,"u":"local","cn":"c","cv":"1","pv":"2026-07-28","tr":"http","tool":")" << tool
                            << R"(","a":null,"o":"ok","d":5,"s":"x"}})" << "\n";
  std::ofstream(dir / (base + ".2"));
}

// How many calls of `tool` the history holds, once it holds any or 20 s have passed (a condition
// polled: recovery runs every 2 s).
size_t recorded(store::History& h, const std::string& tool) {
  store::History::Query q;
  q.user = "local";
  q.tool = tool;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  size_t found = 0;
  while ((found = h.query(q).rows.size()) == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  return found;
}

}  // namespace

TEST_CASE("instances: the requestState key comes from the key file, else the data directory's state.key", "[instances][unit]") {
  TempDir tmp;
  // The data directory's key: made once (0600), then the same for every process that opens it.
  const std::string first = app::state_key(tmp.path, "");
  CHECK(first.size() == 32);
  CHECK(app::state_key(tmp.path, "") == first);
  struct stat st {};
  REQUIRE(::stat((tmp.path / "state.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(app::state_key({}, "").empty());  // in memory: random per process (the sealer's own)

  const auto file = tmp.path / "shared.key";
  write_file(file, std::string(40, 'k') + "\n", 0600);
  CHECK(app::state_key(tmp.path, file.string()) == std::string(40, 'k'));  // the trailing newline is not key

  write_file(file, std::string(40, 'k'), 0644);
  CHECK_THROWS_WITH(app::state_key(tmp.path, file.string()), Catch::StartsWith("--state-key-file " + file.string()) &&
                                                                 Catch::Contains("readable by others"));
  write_file(file, "short\n", 0600);
  CHECK_THROWS_WITH(app::state_key(tmp.path, file.string()), Catch::StartsWith("--state-key-file") && Catch::Contains("holds 5 bytes"));
  CHECK_THROWS_WITH(app::state_key(tmp.path, (tmp.path / "missing").string()),
                    Catch::StartsWith("--state-key-file") && Catch::Contains("No such file"));
  CHECK_THROWS_WITH(app::state_key(tmp.path, tmp.path.string()), Catch::Contains("not a regular file"));
  write_file(file, std::string(5000, 'k'), 0600);
  CHECK_THROWS_WITH(app::state_key(tmp.path, file.string()), Catch::Contains("larger than 4096 bytes"));
}

TEST_CASE("instances: serve refuses a bad --instance, --state-key-file or --database naming the flag", "[instances][process]") {
  TempDir data;
  auto refused = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{CONCIERGE_BINARY, "--data-dir", data.path.string(), "serve", "--http", "127.0.0.1:0"};
    argv.insert(argv.end(), args.begin(), args.end());
    return refusal_of(argv);
  };
  CHECK_THAT(refused({"--instance", "a.b"}), Catch::Contains("--instance takes letters, digits, - and _ (1 to 32), got 'a.b'"));
  CHECK_THAT(refused({"--instance", std::string(33, 'x')}), Catch::Contains("--instance takes"));
  const auto key = data.path / "open.key";
  write_file(key, std::string(64, 'k'), 0644);
  CHECK_THAT(refused({"--state-key-file", key.string()}), Catch::Contains("--state-key-file " + key.string() + ": readable by others"));
  CHECK_THAT(refused({"--database", "mysql://db/x"}), Catch::Contains("--database: expected a postgresql:// URL"));
  // A database that does not answer: named by the flag, its password never shown.
  const auto down = refused({"--database", "postgresql://ada:s3cret@127.0.0.1:1/concierge"});
  CHECK_THAT(down, Catch::Contains("--database postgresql://ada:***@127.0.0.1:1/concierge: cannot connect"));
  CHECK(down.find("s3cret") == std::string::npos);
}

// What a feed's listener heard, in order.
struct Heard {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> changes;
  store::ChangeFeed::Listener listener() {
    return [this](const std::string& user, const std::string& uri) {
      std::lock_guard l(m);
      changes.push_back(user + " " + uri);
      cv.notify_all();
    };
  }
  bool wait_for(size_t n) {
    std::unique_lock l(m);
    return cv.wait_for(l, 10s, [&] { return changes.size() >= n; });
  }
  std::vector<std::string> all() {
    std::lock_guard l(m);
    return changes;
  }
};

TEST_CASE("instances: a change published by one process reaches the other's listeners, not its own", "[instances][store]") {
  TempDir tmp;
  // Two Store objects on one directory stand for two processes: each feed has its own origin.
  store::Store s1(tmp.path, test::database_url(tmp.path)), s2(tmp.path, test::database_url(tmp.path));
  store::ChangeFeed one(s1, 10ms), two(s2, 10ms);
  Heard by_one, by_two;
  auto h1 = one.on_change(by_one.listener());
  auto h2 = two.on_change(by_two.listener());
  one.publish("alice", "concierge://preferences");
  two.publish("bob", "concierge://preferences");
  REQUIRE(by_one.wait_for(1));
  // A marker published after both: feeds read in order, so once two hears it, two has passed
  // bob (its own), and one, having heard bob, has passed alice (its own).
  one.publish("carol", "concierge://marker");
  REQUIRE(by_two.wait_for(2));
  CHECK(by_one.all() == std::vector<std::string>{"bob concierge://preferences"});
  CHECK(by_two.all() == std::vector<std::string>{"alice concierge://preferences", "carol concierge://marker"});
}

TEST_CASE("instances: a listener dropped is never called again", "[instances][store]") {
  TempDir tmp;
  store::Store s1(tmp.path, test::database_url(tmp.path)), s2(tmp.path, test::database_url(tmp.path));
  store::ChangeFeed one(s1, 10ms), two(s2, 10ms);
  Heard kept, dropped;
  auto keep = two.on_change(kept.listener());
  auto drop = two.on_change(dropped.listener());
  drop.reset();
  one.publish("alice", "concierge://preferences");
  REQUIRE(kept.wait_for(1));
  CHECK(dropped.all().empty());  // removed before the change was published
}

TEST_CASE("instances: a living process takes in the journal of one that died", "[instances][store][history]") {
  TempDir tmp;
  store::Store s(tmp.path, test::database_url(tmp.path));
  store::History living(s);  // slot 0
  // What a SIGKILLed instance leaves: slot 1's journal, unlocked, with an acknowledged call.
  journal(tmp.path, 1, "orphan");
  CHECK(recorded(living, "orphan") == 1);
  CHECK(std::filesystem::file_size(tmp.path / "history-1.journal") == 0);

  // A live process's slot (its lock held) is left alone. Slot 3, dead, is recovered in the same
  // pass, after slot 2's turn: once it is in, slot 2 has been looked at.
  // Locked before it holds anything, so no recovery pass can find it unlocked in between.
  int fd = ::open((tmp.path / "history-2.journal").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  journal(tmp.path, 2, "alive");
  journal(tmp.path, 3, "dead");
  CHECK(recorded(living, "dead") == 1);
  store::History::Query q;
  q.user = "local";
  q.tool = "alive";
  CHECK(living.query(q).rows.empty());
  CHECK(std::filesystem::file_size(tmp.path / "history-2.journal") > 0);
  ::close(fd);
}
