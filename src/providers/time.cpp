#include "providers/time.hpp"

#include <regex>
#include <sstream>

#include "providers/error.hpp"

namespace concierge::providers {

using namespace std::chrono;

Millis now_ms() { return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count(); }

const date::time_zone* zone(const std::string& name, const std::string& field) {
  if (name.empty()) throw Error(field, "time zone is empty; give an IANA name such as Europe/Berlin");
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    throw Error(field, "unknown time zone '" + name + "'; give an IANA name such as Europe/Berlin");
  }
}

bool looks_like_date(const std::string& text) {
  static const std::regex re(R"(\d{4}-\d{2}-\d{2})");
  return std::regex_match(text, re);
}

date::local_days parse_date(const std::string& text, const std::string& field) {
  if (!looks_like_date(text)) throw Error(field, "'" + text + "' is not a date (YYYY-MM-DD)");
  date::year_month_day ymd{date::year{std::stoi(text.substr(0, 4))}, date::month{unsigned(std::stoi(text.substr(5, 2)))},
                           date::day{unsigned(std::stoi(text.substr(8, 2)))}};
  if (!ymd.ok()) throw Error(field, "'" + text + "' is not a calendar date");
  return date::local_days{ymd};
}

Millis parse_time(const std::string& text, const date::time_zone* tz, const std::string& field) {
  // date::parse is lenient about trailing text and field widths; the shape is checked first.
  static const std::regex re(R"((\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})?)");
  std::smatch m;
  if (!std::regex_match(text, m, re))
    throw Error(field, "'" + text + "' is not an RFC 3339 time (e.g. 2026-11-23T10:00:00+01:00)");
  auto day = parse_date(m[1], field);
  int h = std::stoi(m[2]), mi = std::stoi(m[3]), s = m[4].matched ? std::stoi(m[4]) : 0;
  if (h > 23 || mi > 59 || s > 60) throw Error(field, "'" + text + "' is not a valid time of day");
  int ms = 0;
  if (m[5].matched) {
    std::string frac = m[5].str().substr(1);
    frac.resize(3, '0');
    ms = std::stoi(frac);
  }
  LocalMs local = day + hours(h) + minutes(mi) + seconds(std::min(s, 59)) + milliseconds(ms);
  if (!m[6].matched) {
    if (!tz) throw Error(field, "'" + text + "' has no UTC offset; add one (e.g. +01:00 or Z) or give a time_zone");
    return to_utc(local, tz);
  }
  std::string off = m[6];
  minutes offset{0};
  if (off != "Z" && off != "z") {
    int oh = std::stoi(off.substr(1, 2)), om = std::stoi(off.substr(4, 2));
    if (oh > 23 || om > 59) throw Error(field, "'" + text + "' has an invalid UTC offset");
    offset = hours(oh) + minutes(om);
    if (off[0] == '-') offset = -offset;
  }
  return duration_cast<milliseconds>(local.time_since_epoch() - offset).count();
}

Millis to_utc(LocalMs local, const date::time_zone* tz) {
  auto info = tz->get_info(date::floor<seconds>(local));
  sys_time<milliseconds> t;
  switch (info.result) {
    case date::local_info::unique:
      t = sys_time<milliseconds>{local.time_since_epoch() - info.first.offset};
      break;
    case date::local_info::ambiguous:  // the first of the two
      t = sys_time<milliseconds>{local.time_since_epoch() - info.first.offset};
      break;
    case date::local_info::nonexistent:  // in the gap: as if the clock had not jumped yet
      t = sys_time<milliseconds>{local.time_since_epoch() - info.first.offset};
      break;
  }
  return t.time_since_epoch().count();
}

LocalMs to_local(Millis t, const date::time_zone* tz) {
  return date::make_zoned(tz, sys_time<milliseconds>{milliseconds{t}}).get_local_time();
}

std::string format_time(Millis t, const date::time_zone* tz) {
  auto z = date::make_zoned(tz, date::floor<seconds>(sys_time<milliseconds>{milliseconds{t}}));
  std::string s = date::format("%FT%T%Ez", z);
  return s;
}

std::string format_date(date::local_days d) { return date::format("%F", d); }

std::string spoken_time(Millis t, const date::time_zone* tz) {
  auto z = date::make_zoned(tz, date::floor<minutes>(sys_time<milliseconds>{milliseconds{t}}));
  return date::format("%A %e %B, %H:%M", z);
}

std::string spoken_day(date::local_days d) { return date::format("%A %e %B", d); }

}  // namespace concierge::providers
