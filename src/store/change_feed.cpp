#include "store/change_feed.hpp"

#include "store/sql.hpp"
#include <spdlog/spdlog.h>

#include "common/base64.hpp"
#include "store/store.hpp"

namespace concierge::store {
namespace {

// A module of its own (Store::migrate), so the main schema's version is not this feature's.
const std::vector<std::string> kMigrations = {
    "CREATE TABLE change_feed (seq INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, user_name TEXT NOT NULL, "
    "uri TEXT NOT NULL, time_ms INTEGER NOT NULL)",
};

// A reader that fell this far behind (stopped in a debugger, say) has missed notifications,
// which subscribers recover from by reading the resource again; the table stays small.
constexpr int64_t kKeepMs = 60'000;
constexpr auto kPruneEvery = std::chrono::seconds(30);
constexpr int kBatch = 1000;
// On PostgreSQL a commit that adds a row also notifies this channel, so readers look at once
// rather than at their next poll (which stays, in case a notification was lost).
constexpr const char* kChannel = "concierge_change_feed";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

ChangeFeed::ChangeFeed(Store& store, std::chrono::milliseconds poll)
    : store_(store), poll_(poll), origin_(base64url_encode(random_bytes(12))), next_prune_(std::chrono::steady_clock::now()) {
  if (store_.path().empty()) return;
  store_.migrate("change_feed", kMigrations);
  last_seq_ = store_.read([](sql::Database& db) { return db.execAndGet("SELECT coalesce(max(seq), 0) FROM change_feed").getInt64(); });
  thread_ = std::thread([this] { run(); });
}

ChangeFeed::~ChangeFeed() {
  {
    std::lock_guard l(m_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ChangeFeed::publish(const std::string& user, const std::string& uri) {
  if (store_.path().empty()) return;
  try {
    store_.write([&](sql::Database& db) {
      // In a write transaction: writers take turns, so the rows commit in seq order and a reader
      // that has seen seq N never later meets a smaller one (PostgreSQL hands out a sequence's
      // numbers before the commit).
      sql::Transaction tx(db);
      sql::Statement ins(db, "INSERT INTO change_feed (origin, user_name, uri, time_ms) VALUES (?, ?, ?, ?)");
      ins.bind(1, origin_);
      ins.bind(2, user);
      ins.bind(3, uri);
      ins.bind(4, now_ms());
      ins.exec();
      if (db.engine() == sql::Engine::postgres) db.exec(std::string("NOTIFY ") + kChannel);  // sent at the commit
      tx.commit();
    });
  } catch (const std::exception& e) {
    spdlog::warn("change feed: other instances will not hear of a change to {}: {}", uri, e.what());
  }
}

std::shared_ptr<void> ChangeFeed::on_change(Listener listener) {
  std::lock_guard l(listeners_m_);
  const uint64_t id = next_listener_++;
  listeners_.emplace_back(id, std::move(listener));
  return std::shared_ptr<void>(nullptr, [this, id](void*) {
    std::lock_guard l(listeners_m_);
    std::erase_if(listeners_, [id](const auto& entry) { return entry.first == id; });
  });
}

void ChangeFeed::run() {
  std::unique_ptr<sql::Notifications> notes;
  auto stopping = [&] {
    std::lock_guard l(m_);
    return stopping_;
  };
  while (!stopping()) {
    try {
      // PostgreSQL: woken by a commit's NOTIFY, else every poll_ (so stopping is noticed too).
      if (store_.engine() == sql::Engine::postgres) {
        if (!notes) notes = store_.listen(kChannel);
        notes->wait(poll_);
      } else {
        std::unique_lock l(m_);
        if (cv_.wait_for(l, poll_, [&] { return stopping_; })) break;
      }
      if (stopping()) break;
      poll_once();
    } catch (const std::exception& e) {
      notes.reset();  // listened again on the next round
      spdlog::warn("change feed: reading other instances' changes failed: {}", e.what());
      std::unique_lock l(m_);
      cv_.wait_for(l, poll_, [&] { return stopping_; });
    }
  }
}

void ChangeFeed::poll_once() {
  struct Change {
    std::string user, uri;
  };
  std::vector<Change> changes;
  last_seq_ = store_.read([&](sql::Database& db) {
    sql::Statement q(db, "SELECT seq, origin, user_name, uri FROM change_feed WHERE seq > ? ORDER BY seq LIMIT ?");
    q.bind(1, last_seq_);
    q.bind(2, kBatch);
    int64_t last = last_seq_;
    while (q.executeStep()) {
      last = q.getColumn(0).getInt64();
      if (q.getColumn(1).getString() != origin_) changes.push_back({q.getColumn(2).getString(), q.getColumn(3).getString()});
    }
    return last;
  });
  if (!changes.empty()) {
    std::lock_guard l(listeners_m_);
    for (const auto& c : changes)
      for (const auto& entry : listeners_) {
        try {
          entry.second(c.user, c.uri);
        } catch (const std::exception& e) {
          spdlog::warn("change feed: a listener failed: {}", e.what());
        }
      }
  }
  if (std::chrono::steady_clock::now() >= next_prune_) {
    next_prune_ = std::chrono::steady_clock::now() + kPruneEvery;
    store_.write([](sql::Database& db) {
      sql::Statement del(db, "DELETE FROM change_feed WHERE time_ms < ?");
      del.bind(1, now_ms() - kKeepMs);
      return del.exec();
    });
  }
}

}  // namespace concierge::store
