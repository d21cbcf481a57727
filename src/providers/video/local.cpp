#include "providers/video/local.hpp"

#include <algorithm>

#include "providers/error.hpp"
#include "providers/ids.hpp"
#include "common/json.hpp"

namespace concierge::providers::video {

namespace {

const std::vector<std::string> kMigrations{
    R"sql(
      CREATE TABLE video_videos (
        id TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        title TEXT NOT NULL,
        channel TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        published_ms INTEGER NOT NULL,
        duration_seconds INTEGER NOT NULL,
        views INTEGER NOT NULL DEFAULT 0,
        likes INTEGER NOT NULL DEFAULT 0,
        tags TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (user_id, id)
      );
      CREATE INDEX video_videos_published ON video_videos (user_id, published_ms);
      CREATE TABLE video_playlists (
        id TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, id)
      );
      CREATE TABLE video_playlist_items (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        playlist_id TEXT NOT NULL,
        video_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        added_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, playlist_id, video_id)
      );
    )sql",
};

const char* kCols = "SELECT v.id, v.title, v.channel, v.description, v.published_ms, v.duration_seconds, v.views, v.likes, v.tags FROM video_videos v ";

Video read_video(sql::Statement& q) {
  Video v;
  v.id = q.getColumn(0).getString();
  v.title = q.getColumn(1).getString();
  v.channel = q.getColumn(2).getString();
  v.description = q.getColumn(3).getString();
  v.published = q.getColumn(4).getInt64();
  v.duration_seconds = q.getColumn(5).getInt();
  v.views = q.getColumn(6).getInt64();
  v.likes = q.getColumn(7).getInt64();
  v.tags = Json::parse(q.getColumn(8).getString()).get<std::vector<std::string>>();
  return v;
}

// The user's Watch later list exists before anything is added to it.
void ensure_watch_later(sql::Database& db, const Call& call) {
  sql::Statement ins(db, "INSERT INTO video_playlists (id, user_id, name, description, created_ms) VALUES "
                            "('watch_later', ?, 'Watch later', 'Videos saved for later', ?) ON CONFLICT DO NOTHING");
  ins.bind(1, call.user);
  ins.bind(2, now_ms());
  ins.exec();
}

void require_playlist(sql::Database& db, const Call& call, const std::string& id) {
  sql::Statement q(db, "SELECT 1 FROM video_playlists WHERE user_id = ? AND id = ?");
  q.bind(1, call.user);
  q.bind(2, id);
  if (!q.executeStep()) throw NotFound("playlist_id", "no playlist '" + id + "'; video_playlists with action list shows them");
}

}  // namespace

LocalVideo::LocalVideo(store::Store& store) : store_(store) { store_.migrate("video", kMigrations); }

std::vector<Video> LocalVideo::search(const Call& call, const VideoQuery& query) {
  return store_.read([&](sql::Database& db) {
    std::string sql = std::string(kCols) + "WHERE v.user_id = ?1 ";
    if (query.published_after) sql += "AND v.published_ms >= ?2 ";
    if (query.published_before) sql += "AND v.published_ms < ?3 ";
    if (!query.channel.empty()) sql += "AND lower(v.channel) = lower(?4) ";
    // Every word must appear somewhere; relevance = how many of the fields match.
    std::vector<std::string> words;
    for (size_t at = 0; at < query.text.size();) {
      auto sp = query.text.find(' ', at);
      auto w = query.text.substr(at, sp == std::string::npos ? std::string::npos : sp - at);
      if (!w.empty()) words.push_back("%" + w + "%");
      at = sp == std::string::npos ? query.text.size() : sp + 1;
    }
    std::string score = "0";
    for (size_t i = 0; i < words.size(); ++i) {
      std::string p = "?" + std::to_string(10 + i);
      const std::string like = std::string(" ") + sql::like_nocase(db) + " " + p;  // SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE
      sql += "AND (v.title" + like + " OR v.description" + like + " OR v.channel" + like + " OR v.tags" + like + ") ";
      // CASE, not the comparison's own value: PostgreSQL's is a boolean, which does no arithmetic.
      score += " + CASE WHEN v.title" + like + " THEN 3 ELSE 0 END + CASE WHEN v.tags" + like + " THEN 2 ELSE 0 END + CASE WHEN v.channel" + like +
               " THEN 1 ELSE 0 END";
    }
    if (query.order == "date") sql += "ORDER BY v.published_ms DESC ";
    else if (query.order == "viewCount") sql += "ORDER BY v.views DESC ";
    else if (query.order == "rating") sql += std::string("ORDER BY CAST(v.likes AS REAL) / ") + sql::greatest(db) + "(v.views, 1) DESC ";
    else if (!words.empty()) sql += "ORDER BY (" + score + ") DESC, v.views DESC ";
    else sql += "ORDER BY v.views DESC ";  // nothing to be relevant to: the most watched
    sql += "LIMIT " + std::to_string(std::clamp(query.max_results, 1, 50));
    sql::Statement q(db, sql);
    q.bind(1, call.user);
    if (query.published_after) q.bind(2, *query.published_after);
    if (query.published_before) q.bind(3, *query.published_before);
    if (!query.channel.empty()) q.bind(4, query.channel);
    for (size_t i = 0; i < words.size(); ++i) q.bind(int(10 + i), words[i]);
    std::vector<Video> out;
    while (q.executeStep()) out.push_back(read_video(q));
    return out;
  });
}

std::vector<Video> LocalVideo::details(const Call& call, const std::vector<std::string>& ids) {
  return store_.read([&](sql::Database& db) {
    std::vector<Video> out;
    sql::Statement q(db, std::string(kCols) + "WHERE v.user_id = ? AND v.id = ?");
    for (auto& id : ids) {
      q.bind(1, call.user);
      q.bind(2, id);
      if (!q.executeStep()) throw NotFound("ids", "no video '" + id + "'");
      out.push_back(read_video(q));
      q.reset();
    }
    return out;
  });
}

std::vector<Playlist> LocalVideo::playlists(const Call& call) {
  store_.write([&](sql::Database& db) { ensure_watch_later(db, call.user); });
  return store_.read([&](sql::Database& db) {
    std::vector<Playlist> out;
    sql::Statement q(db, "SELECT p.id, p.name, p.description, (SELECT count(*) FROM video_playlist_items i WHERE i.user_id = p.user_id "
                            "AND i.playlist_id = p.id) FROM video_playlists p WHERE p.user_id = ? ORDER BY p.id != 'watch_later', p.created_ms");
    q.bind(1, call.user);
    while (q.executeStep())
      out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(), q.getColumn(3).getInt()});
    return out;
  });
}

std::vector<Video> LocalVideo::items(const Call& call, const std::string& playlist_id) {
  if (playlist_id == "watch_later") store_.write([&](sql::Database& db) { ensure_watch_later(db, call.user); });
  return store_.read([&](sql::Database& db) {
    require_playlist(db, call.user, playlist_id);
    sql::Statement q(db, std::string(kCols) + "JOIN video_playlist_items i ON i.user_id = v.user_id AND i.video_id = v.id "
                                                 "WHERE v.user_id = ? AND i.playlist_id = ? ORDER BY i.position");
    q.bind(1, call.user);
    q.bind(2, playlist_id);
    std::vector<Video> out;
    while (q.executeStep()) out.push_back(read_video(q));
    return out;
  });
}

Playlist LocalVideo::create_playlist(const Call& call, const std::string& name, const std::string& description) {
  Playlist p{"PL" + random_id(16), name, description, 0};
  store_.write([&](sql::Database& db) {
    sql::Statement ins(db, "INSERT INTO video_playlists (id, user_id, name, description, created_ms) VALUES (?,?,?,?,?)");
    ins.bind(1, p.id);
    ins.bind(2, call.user);
    ins.bind(3, name);
    ins.bind(4, description);
    ins.bind(5, now_ms());
    ins.exec();
  });
  return p;
}

int LocalVideo::add(const Call& call, const std::string& playlist_id, const std::vector<std::string>& video_ids) {
  details(call.user, video_ids);  // every id known, or nothing is written
  return store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    if (playlist_id == "watch_later") ensure_watch_later(db, call.user);
    require_playlist(db, call.user, playlist_id);
    int added = 0;
    for (auto& v : video_ids) {
      sql::Statement ins(db, "INSERT INTO video_playlist_items (user_id, playlist_id, video_id, position, added_ms) "
                                "SELECT ?1, ?2, ?3, coalesce(max(position), 0) + 1, ?4 FROM video_playlist_items "
                                "WHERE user_id = ?1 AND playlist_id = ?2 ON CONFLICT DO NOTHING");
      ins.bind(1, call.user);
      ins.bind(2, playlist_id);
      ins.bind(3, v);
      ins.bind(4, now_ms());
      added += ins.exec();
    }
    tx.commit();
    return added;
  });
}

int LocalVideo::remove(const Call& call, const std::string& playlist_id, const std::vector<std::string>& video_ids) {
  return store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    require_playlist(db, call.user, playlist_id);
    int removed = 0;
    for (auto& v : video_ids) {
      sql::Statement del(db, "DELETE FROM video_playlist_items WHERE user_id = ? AND playlist_id = ? AND video_id = ?");
      del.bind(1, call.user);
      del.bind(2, playlist_id);
      del.bind(3, v);
      removed += del.exec();
    }
    tx.commit();
    return removed;
  });
}

void LocalVideo::add_video(const Call& call, const Video& v) {
  store_.write([&](sql::Database& db) {
    sql::Statement ins(db, "INSERT INTO video_videos (id, user_id, title, channel, description, published_ms, duration_seconds, "
                              "views, likes, tags) VALUES (?,?,?,?,?,?,?,?,?,?)");
    ins.bind(1, v.id);
    ins.bind(2, call.user);
    ins.bind(3, v.title);
    ins.bind(4, v.channel);
    ins.bind(5, v.description);
    ins.bind(6, v.published);
    ins.bind(7, v.duration_seconds);
    ins.bind(8, v.views);
    ins.bind(9, v.likes);
    ins.bind(10, Json(v.tags).dump());
    ins.exec();
  });
}

bool LocalVideo::seed_demo(const DemoContext& ctx) {
  bool empty = store_.read([&](sql::Database& db) {
    sql::Statement q(db, "SELECT 1 FROM video_videos WHERE user_id = ? LIMIT 1");
    q.bind(1, ctx.user);
    return !q.executeStep();
  });
  if (!empty) return false;
  struct Demo {
    const char* title;
    const char* channel;
    const char* description;
    int days_ago, seconds;
    int64_t views, likes;
    std::vector<std::string> tags;
  };
  const Demo demo[] = {
      {"Sourdough from scratch: the complete guide", "Crumb & Crust", "Starter, autolyse, folds and the bake.", 12, 1834, 482000, 21000, {"baking", "bread", "sourdough"}},
      {"Weeknight ramen in 30 minutes", "Crumb & Crust", "A quick broth that tastes like it took all day.", 40, 912, 156000, 8700, {"cooking", "ramen"}},
      {"Knife skills every cook needs", "Crumb & Crust", "Dice, julienne, chiffonade.", 95, 1260, 890000, 40100, {"cooking", "basics"}},
      {"Perfect pizza dough at home", "Crumb & Crust", "High hydration dough in a home oven.", 180, 1120, 1200000, 52000, {"baking", "pizza"}},
      {"Morning yoga for beginners (20 min)", "Stillwater Yoga", "A gentle flow to start the day.", 3, 1215, 73000, 5100, {"yoga", "morning", "fitness"}},
      {"Yoga for back pain relief", "Stillwater Yoga", "Easy stretches for the lower back.", 60, 1530, 640000, 30400, {"yoga", "back pain"}},
      {"10-minute evening wind-down", "Stillwater Yoga", "Breathing and stretching before sleep.", 150, 640, 210000, 12800, {"yoga", "sleep"}},
      {"How black holes evaporate", "Orbit Lab", "Hawking radiation without the maths.", 8, 1097, 1530000, 98000, {"physics", "space"}},
      {"The James Webb telescope's best images explained", "Orbit Lab", "What we are looking at, and why it matters.", 30, 1422, 2100000, 121000, {"space", "astronomy"}},
      {"Why is the sky blue? A deeper answer", "Orbit Lab", "Rayleigh scattering and a bit more.", 210, 845, 760000, 40200, {"physics"}},
      {"Building a mechanical keyboard", "Workbench", "Switches, stabilisers and a lot of lube.", 5, 1960, 98000, 6200, {"keyboards", "diy"}},
      {"Beginner's guide to soldering", "Workbench", "Tools, technique and safety.", 75, 1324, 455000, 22000, {"electronics", "diy"}},
      {"Restoring a 1970s radio", "Workbench", "Recapping and cleaning a Grundig.", 300, 2410, 312000, 19800, {"restoration", "electronics"}},
      {"Learn Spanish while you sleep? We tested it", "Lingua Loop", "An honest experiment over 30 nights.", 20, 1105, 388000, 14100, {"languages", "spanish"}},
      {"100 German phrases for travellers", "Lingua Loop", "From Bahnhof to Biergarten.", 120, 1788, 540000, 20500, {"languages", "german", "travel"}},
      {"Japanese for absolute beginners, lesson 1", "Lingua Loop", "Hiragana and your first sentences.", 250, 1506, 1020000, 61000, {"languages", "japanese"}},
      {"Lisbon in 3 days: a travel guide", "Slow Travel", "Trams, tiles and pastéis de nata.", 15, 1380, 267000, 11900, {"travel", "portugal"}},
      {"Hiking the Dolomites hut to hut", "Slow Travel", "Five days on the Alta Via 1.", 45, 1650, 431000, 25400, {"travel", "hiking"}},
      {"Night train from Vienna to Venice", "Slow Travel", "A sleeper cabin review.", 90, 1012, 199000, 9100, {"travel", "trains"}},
      {"Packing light: one bag for two weeks", "Slow Travel", "What to take and what to leave.", 330, 905, 622000, 27600, {"travel", "packing"}},
  };
  int n = 0;
  for (auto& d : demo) {
    Video v{.id = "v" + std::to_string(1000 + n++), .title = d.title, .channel = d.channel, .description = d.description,
            .published = ctx.now - d.days_ago * kDay, .duration_seconds = d.seconds, .views = d.views, .likes = d.likes,
            .tags = d.tags};
    add_video(ctx.user, v);
  }
  auto weekend = create_playlist(ctx.user, "Weekend cooking", "Recipes to try");
  add(ctx.user, weekend.id, {"v1000", "v1001", "v1003"});
  playlists(ctx.user);  // Watch later exists, empty
  return true;
}

}  // namespace concierge::providers::video
