#include "tools/video/tools.hpp"

namespace concierge::tools::video {

Json video_json(const vd::Video& v, const date::time_zone* tz) {
  // ISO 8601 duration as the big APIs give it, and plain seconds for arithmetic.
  int h = v.duration_seconds / 3600, m = v.duration_seconds / 60 % 60, s = v.duration_seconds % 60;
  std::string iso = "PT" + (h ? std::to_string(h) + "H" : "") + (m ? std::to_string(m) + "M" : "") + (s || (!h && !m) ? std::to_string(s) + "S" : "");
  return Json{{"id", v.id},           {"title", v.title},         {"channel", v.channel},
              {"description", v.description}, {"published_at", providers::format_time(v.published, tz)},
              {"duration", iso},      {"duration_seconds", v.duration_seconds}, {"views", v.views},
              {"likes", v.likes},     {"tags", v.tags},           {"url", "concierge:video:" + v.id}};
}

}  // namespace concierge::tools::video
