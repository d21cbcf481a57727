#pragma once
// The embedded video library on the SQLite store: videos, playlists, and a "Watch later" list
// every user has.
#include "providers/demo.hpp"
#include "providers/video/provider.hpp"
#include "store/store.hpp"

namespace concierge::providers::video {

class LocalVideo : public VideoProvider {
 public:
  explicit LocalVideo(store::Store& store);

  std::vector<Video> search(int64_t user, const VideoQuery& query) override;
  std::vector<Video> details(int64_t user, const std::vector<std::string>& ids) override;
  std::vector<Playlist> playlists(int64_t user) override;
  std::vector<Video> items(int64_t user, const std::string& playlist_id) override;
  Playlist create_playlist(int64_t user, const std::string& name, const std::string& description) override;
  int add(int64_t user, const std::string& playlist_id, const std::vector<std::string>& video_ids) override;
  int remove(int64_t user, const std::string& playlist_id, const std::vector<std::string>& video_ids) override;

  void add_video(int64_t user, const Video& v);
  bool seed_demo(const DemoContext& ctx);

 private:
  store::Store& store_;
};

}  // namespace concierge::providers::video
