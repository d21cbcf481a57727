#include "providers/video/youtube.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <set>

#include "providers/error.hpp"
#include "common/json_parse.hpp"

namespace concierge::providers::video {

namespace {

const std::string kBase = "/youtube/v3/";
const std::string kWatchLater = "watch_later";
const std::string kWatchLaterTitle = "Watch later";
const std::string kWatchLaterNote = "Saved for later with Concierge (YouTube's own Watch Later list is closed to apps)";
// Costs in units of the pool (https://developers.google.com/youtube/data/determine_quota_cost);
// search.list draws one call from its own bucket instead.
constexpr int kRead = 1, kWrite = 50;
constexpr int kMaxItems = 200;  // pages of 50 read for one playlist

int64_t number(const Json& j, const char* key) {  // the API sends counts as strings
  std::string s = json_string(j, key);
  try {
    return s.empty() ? (j.contains(key) && j[key].is_number() ? j[key].get<int64_t>() : 0) : std::stoll(s);
  } catch (const std::exception&) {
    return 0;
  }
}

bool video_id_ok(const std::string& id) {
  return !id.empty() && id.size() <= 64 &&
         std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; });
}

std::string reason(const Json& body) {
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object()) return "";
  const Json& e = body["error"];
  if (e.contains("errors") && e["errors"].is_array())
    for (auto& x : e["errors"])
      if (x.is_object() && !json_string(x, "reason").empty()) return json_string(x, "reason");
  if (e.contains("details") && e["details"].is_array())
    for (auto& x : e["details"])
      if (x.is_object() && !json_string(x, "reason").empty()) return json_string(x, "reason");
  return "";
}

std::string rfc3339(Millis t) {
  return date::format("%FT%TZ", date::floor<std::chrono::seconds>(date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(t))));
}

}  // namespace

// "PT4M13S", "PT1H2M", "P1DT3H", "P0D" (live) -> seconds.
int iso8601_seconds(const std::string& d) {
  int64_t total = 0, n = 0;
  bool time = false, digits = false;
  for (char c : d) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      n = n * 10 + (c - '0');
      digits = true;
      if (n > 100'000'000) return 0;
      continue;
    }
    if (c == '.') return int(total);  // fractions of a second: ignore the rest
    int64_t unit = c == 'P' ? 0 : c == 'T' ? 0 : c == 'W' ? 7 * 86400 : c == 'D' ? 86400 : c == 'H' ? 3600 : c == 'M' ? (time ? 60 : 30 * 86400) : c == 'S' ? 1 : -1;
    if (unit < 0) return 0;
    if (c == 'T') time = true;
    if (digits) total += n * unit;
    n = 0;
    digits = false;
  }
  return int(std::min<int64_t>(total, INT32_MAX));
}

std::string quota_spent_message(int daily) {
  return "YouTube's daily quota (" + std::to_string(daily) +
         " units) is spent for today; it resets at midnight Pacific time. Try again tomorrow";
}

std::string searches_spent_message(int daily_searches) {
  return "YouTube's daily allowance of " + std::to_string(daily_searches) +
         " searches is spent for today; it resets at midnight Pacific time. video_details and playlists still work";
}

QuotaMeter::QuotaMeter(int daily, int daily_searches, std::function<Millis()> now)
    : daily_(daily), daily_searches_(daily_searches), now_(std::move(now)) {}

int64_t QuotaMeter::day() {
  static const date::time_zone* pacific = zone("America/Los_Angeles");
  return date::floor<date::days>(to_local(now_(), pacific)).time_since_epoch().count();
}

void QuotaMeter::roll() {
  if (int64_t d = day(); d != day_) {
    day_ = d;
    spent_ = searches_ = 0;
  }
}

void QuotaMeter::take(int units, const std::string& what) {
  std::lock_guard l(m_);
  roll();
  if (spent_ + units > daily_) {
    if (spent_ >= daily_) throw http::Unavailable(quota_spent_message(daily_));
    throw http::Unavailable(what + " costs " + std::to_string(units) + " YouTube quota units and only " + std::to_string(daily_ - spent_) +
                            " of today's " + std::to_string(daily_) + " are left; they come back at midnight Pacific time");
  }
  spent_ += units;
}

void QuotaMeter::take_search(const std::string&) {
  std::lock_guard l(m_);
  roll();
  if (searches_ >= daily_searches_) throw http::Unavailable(searches_spent_message(daily_searches_));
  ++searches_;
}

void QuotaMeter::exhausted() {
  std::lock_guard l(m_);
  roll();
  spent_ = daily_;
}

void QuotaMeter::searches_exhausted() {
  std::lock_guard l(m_);
  roll();
  searches_ = daily_searches_;
}

int QuotaMeter::spent() {
  std::lock_guard l(m_);
  return day() == day_ ? spent_ : 0;
}

int QuotaMeter::searches() {
  std::lock_guard l(m_);
  return day() == day_ ? searches_ : 0;
}

http::Policy youtube_policy() {
  http::Policy p;
  p.service = "google";  // one Google sign-in: `concierge auth login google`
  p.base_url = "https://www.googleapis.com";
  p.connect_timeout = http::Ms(5000);
  p.timeout = http::Ms(15000);
  // The real limit is the daily quota (10,000 units, QuotaMeter); per second YouTube allows far
  // more than a person's assistant needs, so this only smooths bursts (a long playlist: a few
  // pages of items plus their videos).
  p.rate_per_second = 5;
  p.burst = 20;
  return p;
}

std::vector<std::string> youtube_scopes(bool read_only) {
  if (read_only) return {"https://www.googleapis.com/auth/youtube.readonly"};
  return {"https://www.googleapis.com/auth/youtube"};
}

YouTubeVideo::YouTubeVideo(std::shared_ptr<http::Client> client, std::shared_ptr<auth::Credentials> credentials,
                           std::shared_ptr<QuotaMeter> meter)
    : meter_(meter ? std::move(meter) : std::make_shared<QuotaMeter>()),
      api_(std::move(client), std::move(credentials), "YouTube", [m = meter_](const http::Response& r, const http::Request& q) {
        Json body = parse_json(r.body);
        std::string why = reason(body), said = http::error_message(r);
        if (said.size() > 200) said = said.substr(0, 200) + "...";
        if (r.status == 403 && (why == "quotaExceeded" || why == "dailyLimitExceeded")) {
          // Which bucket is spent follows from the method: a search's own, or the pool.
          if (q.path == kBase + "search") {
            m->searches_exhausted();
            throw http::Unavailable(searches_spent_message(m->daily_searches()));
          }
          m->exhausted();
          throw http::Unavailable(quota_spent_message(m->daily()));
        }
        if ((r.status == 403 || r.status == 429) && (why == "rateLimitExceeded" || why == "userRateLimitExceeded"))
          throw http::Unavailable("YouTube is limiting how often it may be called (" + said + "); try again in a minute");
        if (r.status == 404 || why == "playlistNotFound" || why == "videoNotFound") throw NotFound("", said);
        if (why == "invalidChannelId" || why == "channelNotFound") throw Error("channel", "YouTube knows no such channel (" + said + ")");
        if (why == "invalidPublishedAfter" || why == "invalidPublishedBefore") throw Error("published_after", said);
      }) {}

Json YouTubeVideo::upstream(const Call& call, const std::string& method, const std::string& path,
                        std::vector<std::pair<std::string, std::string>> query, int units, std::optional<Json> body) {
  if (path == "search") meter_->take_search("search.list");
  else meter_->take(units, method + " " + path);
  http::Request r;
  r.method = method;
  r.path = kBase + path;
  r.query = std::move(query);
  r.json = std::move(body);
  Json j = api_.call(call, std::move(r));
  return j.is_null() ? Json::object() : j;
}

std::vector<Video> YouTubeVideo::fetch(const Call& call, const std::vector<std::string>& ids, bool all_required) {
  std::map<std::string, Video> found;
  for (size_t at = 0; at < ids.size(); at += 50) {
    std::string list;
    for (size_t i = at; i < std::min(ids.size(), at + 50); ++i) list += (list.empty() ? "" : ",") + ids[i];
    // By id: up to 50 ids, one page; maxResults does not go with id (videos.list reference,
    // developers.google.com/youtube/v3/docs/videos/list).
    Json j = upstream(call, "GET", "videos", {{"part", "snippet,contentDetails,statistics"}, {"id", list}}, kRead);
    for (auto& it : j.value("items", Json::array())) {
      const Json sn = it.value("snippet", Json::object()), cd = it.value("contentDetails", Json::object()),
                 st = it.value("statistics", Json::object());
      Video v;
      v.id = json_string(it, "id");
      v.title = json_string(sn, "title");
      v.channel = json_string(sn, "channelTitle");
      v.description = json_string(sn, "description");
      try {
        v.published = parse_time(json_string(sn, "publishedAt"), nullptr, "publishedAt");
      } catch (const std::exception&) {
      }
      v.duration_seconds = iso8601_seconds(json_string(cd, "duration"));
      v.views = number(st, "viewCount");
      v.likes = number(st, "likeCount");  // absent when the owner hides it
      if (sn.contains("tags") && sn["tags"].is_array())
        for (auto& t : sn["tags"])
          if (t.is_string()) v.tags.push_back(t.get<std::string>());
      found[v.id] = std::move(v);
    }
  }
  std::vector<Video> out;
  for (auto& id : ids) {
    auto it = found.find(id);
    if (it != found.end()) out.push_back(it->second);
    else if (all_required) throw NotFound("ids", "no video '" + id + "'");
  }
  return out;
}

std::vector<Video> YouTubeVideo::search(const Call& call, const VideoQuery& query) {
  static const std::set<std::string> kOrders{"relevance", "date", "viewCount", "rating"};
  int limit = std::clamp(query.max_results, 1, 50);
  std::string order = kOrders.count(query.order) ? query.order : "relevance";
  bool channel_id = query.channel.size() == 24 && query.channel.rfind("UC", 0) == 0 && video_id_ok(query.channel);
  std::string q = query.text;
  if (!query.channel.empty() && !channel_id) q += (q.empty() ? "" : " ") + query.channel;
  std::vector<std::pair<std::string, std::string>> params{
      {"part", "snippet"}, {"type", "video"}, {"order", order}, {"maxResults", std::to_string(limit)}};
  if (!q.empty()) params.emplace_back("q", q);
  if (query.published_after) params.emplace_back("publishedAfter", rfc3339(*query.published_after));
  if (query.published_before) params.emplace_back("publishedBefore", rfc3339(*query.published_before));
  if (channel_id) params.emplace_back("channelId", query.channel);
  std::string key = std::to_string(call.user);
  for (auto& [k, v] : params) key += "\n" + k + "=" + v;
  {
    std::lock_guard l(m_);
    auto it = searches_.find(key);
    if (it != searches_.end() && std::chrono::steady_clock::now() - it->second.at < std::chrono::minutes(10)) return it->second.videos;
  }
  Json j = upstream(call, "GET", "search", params, 0);  // none of the pool: a call of its own bucket
  std::vector<std::string> ids;
  for (auto& it : j.value("items", Json::array())) {
    const Json id = it.value("id", Json::object());
    std::string vid = json_string(id, "videoId");
    if (vid.empty()) continue;
    if (!query.channel.empty() && !channel_id && lower(json_string(it.value("snippet", Json::object()), "channelTitle")) != lower(query.channel)) continue;
    ids.push_back(vid);
  }
  auto videos = ids.empty() ? std::vector<Video>{} : fetch(call, ids, false);  // gone since the search: left out
  std::lock_guard l(m_);
  if (searches_.size() > 100) searches_.clear();
  searches_[key] = {std::chrono::steady_clock::now(), videos};
  return videos;
}

std::vector<Video> YouTubeVideo::details(const Call& call, const std::vector<std::string>& ids) {
  for (auto& id : ids)
    if (!video_id_ok(id)) throw NotFound("ids", "no video '" + id + "'");
  return fetch(call, ids, true);
}

std::vector<Playlist> YouTubeVideo::mine(const Call& call) {
  std::vector<Playlist> out;
  std::string token;
  for (int page = 0; page < 4; ++page) {
    std::vector<std::pair<std::string, std::string>> q{{"part", "snippet,contentDetails"}, {"mine", "true"}, {"maxResults", "50"}};
    if (!token.empty()) q.emplace_back("pageToken", token);
    Json j = upstream(call, "GET", "playlists", q, kRead);
    for (auto& p : j.value("items", Json::array())) {
      const Json sn = p.value("snippet", Json::object());
      out.push_back({json_string(p, "id"), json_string(sn, "title"), json_string(sn, "description"),
                     int(p.value("contentDetails", Json::object()).value("itemCount", 0))});
    }
    token = json_string(j, "nextPageToken");
    if (token.empty()) break;
  }
  return out;
}

std::string YouTubeVideo::watch_later_id(const Call& call, bool create) {
  {
    std::lock_guard l(m_);
    if (auto it = watch_later_.find(call.user); it != watch_later_.end()) return it->second;
  }
  std::string id;
  for (auto& p : mine(call))
    if (p.name == kWatchLaterTitle) {
      id = p.id;
      break;
    }
  if (id.empty() && create)
    id = json_string(upstream(call, "POST", "playlists", {{"part", "snippet,status"}}, kWrite,
                  Json{{"snippet", {{"title", kWatchLaterTitle}, {"description", kWatchLaterNote}}}, {"status", {{"privacyStatus", "private"}}}}),
             "id");
  if (!id.empty()) {
    std::lock_guard l(m_);
    watch_later_[call.user] = id;
  }
  return id;
}

std::string YouTubeVideo::resolve(const Call& call, const std::string& playlist_id, bool create) {
  if (playlist_id == kWatchLater) return watch_later_id(call, create);
  if (playlist_id == "WL")
    throw Error("playlist_id", "YouTube's own Watch Later list (WL) is closed to apps; use watch_later, kept as a private playlist");
  if (!video_id_ok(playlist_id)) throw NotFound("playlist_id", "no playlist '" + playlist_id + "'; video_playlists with action list shows them");
  return playlist_id;
}

std::vector<YouTubeVideo::Item> YouTubeVideo::list_items(const Call& call, const std::string& real_id, const std::string& asked) {
  std::vector<Item> out;
  std::string token;
  try {
    for (int page = 0; page * 50 < kMaxItems; ++page) {
      std::vector<std::pair<std::string, std::string>> q{{"part", "contentDetails"}, {"playlistId", real_id}, {"maxResults", "50"}};
      if (!token.empty()) q.emplace_back("pageToken", token);
      Json j = upstream(call, "GET", "playlistItems", q, kRead);
      for (auto& it : j.value("items", Json::array())) out.push_back({json_string(it, "id"), json_string(it.value("contentDetails", Json::object()), "videoId")});
      token = json_string(j, "nextPageToken");
      if (token.empty()) break;
    }
  } catch (const NotFound&) {
    throw NotFound("playlist_id", "no playlist '" + asked + "'; video_playlists with action list shows them");
  }
  return out;
}

std::vector<Playlist> YouTubeVideo::playlists(const Call& call) {
  auto all = mine(call);
  std::vector<Playlist> out;
  Playlist wl{kWatchLater, kWatchLaterTitle, kWatchLaterNote, 0};
  bool seen = false;
  for (auto& p : all) {
    if (p.name == kWatchLaterTitle && !seen) {
      seen = true;
      wl.item_count = p.item_count;
      wl.description = p.description;
      std::lock_guard l(m_);
      watch_later_[call.user] = p.id;
      continue;
    }
    out.push_back(p);
  }
  out.insert(out.begin(), wl);  // listed from the start, as everywhere else; made on the first add
  return out;
}

std::vector<Video> YouTubeVideo::items(const Call& call, const std::string& playlist_id) {
  std::string real = resolve(call, playlist_id, false);
  if (real.empty()) return {};  // Watch later, not made yet
  std::vector<std::string> ids;
  for (auto& i : list_items(call, real, playlist_id))
    if (!i.video_id.empty()) ids.push_back(i.video_id);
  return ids.empty() ? std::vector<Video>{} : fetch(call, ids, false);  // deleted and private videos are left out
}

Playlist YouTubeVideo::create_playlist(const Call& call, const std::string& name, const std::string& description) {
  if (name.empty()) throw Error("name", "a playlist needs a name");
  if (name.size() > 150) throw Error("name", "YouTube takes at most 150 characters");
  if (description.size() > 5000) throw Error("description", "YouTube takes at most 5000 characters");
  Json p = upstream(call, "POST", "playlists", {{"part", "snippet,status"}}, kWrite,
                Json{{"snippet", {{"title", name}, {"description", description}}}, {"status", {{"privacyStatus", "private"}}}});
  const Json sn = p.value("snippet", Json::object());
  return {json_string(p, "id"), json_string(sn, "title").empty() ? name : json_string(sn, "title"), json_string(sn, "description"), 0};
}

int YouTubeVideo::add(const Call& call, const std::string& playlist_id, const std::vector<std::string>& video_ids) {
  details(call, video_ids);  // every id known, or nothing is written
  std::string real = resolve(call, playlist_id, false);
  std::set<std::string> there;
  if (!real.empty())
    for (auto& i : list_items(call, real, playlist_id)) there.insert(i.video_id);
  else real = resolve(call, playlist_id, true);
  int added = 0;
  for (auto& v : video_ids) {
    if (!there.insert(v).second) continue;
    try {
      upstream(call, "POST", "playlistItems", {{"part", "snippet"}}, kWrite,
           Json{{"snippet", {{"playlistId", real}, {"resourceId", {{"kind", "youtube#video"}, {"videoId", v}}}}}});
    } catch (const NotFound&) {
      throw NotFound("playlist_id", "no playlist '" + playlist_id + "'; video_playlists with action list shows them");
    }
    ++added;
  }
  return added;
}

int YouTubeVideo::remove(const Call& call, const std::string& playlist_id, const std::vector<std::string>& video_ids) {
  std::string real = resolve(call, playlist_id, false);
  if (real.empty()) return 0;
  auto items = list_items(call, real, playlist_id);
  int removed = 0;
  for (auto& v : std::set<std::string>(video_ids.begin(), video_ids.end())) {
    bool any = false;
    for (auto& i : items)
      if (i.video_id == v) {
        try {
          upstream(call, "DELETE", "playlistItems", {{"id", i.item_id}}, kWrite);
        } catch (const NotFound&) {
          continue;  // removed meanwhile
        }
        any = true;
      }
    removed += any;
  }
  return removed;
}

}  // namespace concierge::providers::video
