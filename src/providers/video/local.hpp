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

  std::vector<Video> search(const Call& call, const VideoQuery& query) override;
  std::vector<Video> details(const Call& call, const std::vector<std::string>& ids) override;
  std::vector<Playlist> playlists(const Call& call) override;
  std::vector<Video> items(const Call& call, const std::string& playlist_id) override;
  Playlist create_playlist(const Call& call, const std::string& name, const std::string& description) override;
  int add(const Call& call, const std::string& playlist_id, const std::vector<std::string>& video_ids) override;
  int remove(const Call& call, const std::string& playlist_id, const std::vector<std::string>& video_ids) override;

  void add_video(const Call& call, const Video& v);
  bool seed_demo(const DemoContext& ctx);

 private:
  store::Store& store_;
};

}  // namespace concierge::providers::video
