#pragma once
// The video domain (a YouTube-like library): search, details, playlists including the user's
// "Watch later". Tools in src/tools/video/ use only this.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "providers/call.hpp"
#include "providers/time.hpp"

namespace concierge::providers::video {

struct Video {
  std::string id, title, channel, description;
  Millis published = 0;
  int duration_seconds = 0;
  int64_t views = 0, likes = 0;
  std::vector<std::string> tags;
};

struct VideoQuery {
  std::string text;     // words in title, description, channel or tags
  std::string order = "relevance";  // relevance, date, viewCount, rating
  std::optional<Millis> published_after, published_before;
  std::string channel;  // exact channel name
  int max_results = 10;
};

struct Playlist {
  std::string id;  // "watch_later" for the built-in one
  std::string name, description;
  int item_count = 0;
};

class VideoProvider {
 public:
  virtual ~VideoProvider() = default;
  virtual std::vector<Video> search(const Call& call, const VideoQuery& query) = 0;
  // In the order asked; NotFound naming `ids` for any unknown id.
  virtual std::vector<Video> details(const Call& call, const std::vector<std::string>& ids) = 0;
  virtual std::vector<Playlist> playlists(const Call& call) = 0;
  virtual std::vector<Video> items(const Call& call, const std::string& playlist_id) = 0;
  virtual Playlist create_playlist(const Call& call, const std::string& name, const std::string& description) = 0;
  // Adding a video already there changes nothing; returns how many were added / removed.
  virtual int add(const Call& call, const std::string& playlist_id, const std::vector<std::string>& video_ids) = 0;
  virtual int remove(const Call& call, const std::string& playlist_id, const std::vector<std::string>& video_ids) = 0;
};

}  // namespace concierge::providers::video
