#pragma once
// The video domain on the YouTube Data API v3 (https://developers.google.com/youtube/v3/docs).
// Ids are YouTube's own. Two places where the API and our interface disagree:
//  - Watch later: YouTube's own list (playlist id "WL") has been closed to the API since 2016
//    (reads come back empty, inserts fail). We keep the user's Watch later in a private playlist
//    titled "Watch later" that we create on the first add, and expose it as id "watch_later"
//    (its real id works too). Until then it is listed, empty, without costing a write.
//  - channel: the interface filters by channel name, the API by channel id. A channel id
//    ("UC" + 22 characters) goes to channelId; a name is added to the query words and the results
//    are kept to that channel's title (resolving a name costs another 100-unit search).
// Quota (https://developers.google.com/youtube/data/determine_quota_cost): every project gets
// two buckets a day, reset at midnight Pacific time: search.list has its own, 100 calls; every
// other method draws units from a pool of 10,000 (videos/playlists/playlistItems.list 1, inserts
// and deletes 50). The adapter counts both (QuotaMeter, shareable by all YouTube accounts of one
// project), refuses a call that would overrun its bucket before making it, keeps identical
// searches for ten minutes, and turns YouTube's quotaExceeded into a tool error saying which
// bucket is spent: spent searches stop searches only.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "providers/auth/credentials.hpp"
#include "providers/http/client.hpp"
#include "providers/http/service.hpp"
#include "providers/video/provider.hpp"

namespace concierge::providers::video {

http::Policy youtube_policy();
// youtube.readonly to read; youtube (manage the account) to also create and change playlists:
// playlists.insert and playlistItems.insert/delete accept nothing narrower.
std::vector<std::string> youtube_scopes(bool read_only);

// The day's quota as this server has spent it (the API has no call that says): search.list's
// own bucket of calls, and the units of the pool every other method draws on.
class QuotaMeter {
 public:
  explicit QuotaMeter(int daily = 10'000, int daily_searches = 100, std::function<Millis()> now = [] { return now_ms(); });
  // Takes `units` of the pool for a call about to be made; Unavailable when the day's pool would
  // be overrun.
  void take(int units, const std::string& what);
  // Takes one search.list call from its bucket; Unavailable when the day's searches are spent.
  void take_search(const std::string& what);
  void exhausted();           // YouTube said quotaExceeded to a pool method: none of those today
  void searches_exhausted();  // ...to search.list: no searches today, the rest goes on
  int spent();
  int searches();
  int daily() const { return daily_; }
  int daily_searches() const { return daily_searches_; }

 private:
  void roll();  // a new day (Pacific time) starts both afresh
  int64_t day();  // days since the epoch, in Pacific time
  int daily_, daily_searches_;
  std::function<Millis()> now_;
  std::mutex m_;
  int64_t day_ = -1;
  int spent_ = 0, searches_ = 0;
};

// "PT4M13S", "P1DT2H", "P0D" (a live stream) -> seconds; 0 for what is not a duration.
int iso8601_seconds(const std::string& duration);

// The tool errors for a spent pool and for spent searches.
std::string quota_spent_message(int daily);
std::string searches_spent_message(int daily_searches);

class YouTubeVideo : public VideoProvider {
 public:
  YouTubeVideo(std::shared_ptr<http::Client> client, std::shared_ptr<auth::Credentials> credentials,
               std::shared_ptr<QuotaMeter> meter = nullptr);

  std::vector<Video> search(const Call& call, const VideoQuery& query) override;
  std::vector<Video> details(const Call& call, const std::vector<std::string>& ids) override;
  std::vector<Playlist> playlists(const Call& call) override;
  std::vector<Video> items(const Call& call, const std::string& playlist_id) override;
  Playlist create_playlist(const Call& call, const std::string& name, const std::string& description) override;
  int add(const Call& call, const std::string& playlist_id, const std::vector<std::string>& video_ids) override;
  int remove(const Call& call, const std::string& playlist_id, const std::vector<std::string>& video_ids) override;

  QuotaMeter& meter() { return *meter_; }

 private:
  struct Item {
    std::string item_id, video_id;
  };
  Json upstream(const Call& call, const std::string& method, const std::string& path, std::vector<std::pair<std::string, std::string>> query,
            int units, std::optional<Json> body = std::nullopt);
  std::vector<Playlist> mine(const Call& call);
  std::string watch_later_id(const Call& call, bool create);  // "" when there is none yet
  std::string resolve(const Call& call, const std::string& playlist_id, bool create);
  std::vector<Item> list_items(const Call& call, const std::string& real_id, const std::string& asked);
  std::vector<Video> fetch(const Call& call, const std::vector<std::string>& ids, bool all_required);

  std::shared_ptr<QuotaMeter> meter_;
  http::ServiceApi api_;
  std::mutex m_;
  std::map<int64_t, std::string> watch_later_;  // the user's Watch later playlist id
  struct Cached {
    std::chrono::steady_clock::time_point at;
    std::vector<Video> videos;
  };
  std::map<std::string, Cached> searches_;  // user + query -> results, ten minutes
};

}  // namespace concierge::providers::video
