#include "tools/music/tools.hpp"

namespace concierge::tools::music {

Json track_json(const mu::Track& t) {
  return Json{{"uri", t.uri},         {"title", t.title},   {"artist", t.artist}, {"album", t.album},
              {"album_uri", t.album_uri}, {"track_number", t.track_number}, {"duration_ms", t.duration_ms}};
}

Json player_json(const mu::PlayerState& s) {
  Json j{{"playing", s.playing}, {"position_ms", s.position_ms}, {"device_id", s.device_id}, {"volume_percent", s.volume_percent},
         {"shuffle", s.shuffle}, {"repeat", s.repeat}};
  j["track"] = s.track ? track_json(*s.track) : Json();
  j["context_uri"] = s.context_uri.empty() ? Json() : Json(s.context_uri);
  return j;
}

std::string player_line(const mu::PlayerState& s) {
  if (!s.track) return "Nothing is playing.";
  return std::string(s.playing ? "Playing " : "Paused: ") + s.track->title + " by " + s.track->artist + " from " + s.track->album + ".";
}

}  // namespace concierge::tools::music
