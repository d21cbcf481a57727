#include "providers/calendar/recurrence.hpp"

#include <algorithm>
#include <libical/ical.h>
#include <memory>

#include "providers/error.hpp"

namespace concierge::providers::calendar {

using namespace std::chrono;

namespace {

icaltimetype to_ical(LocalMs t) {
  auto day = date::floor<date::days>(t);
  date::year_month_day ymd{day};
  date::hh_mm_ss<milliseconds> hms{t - day};
  icaltimetype out = icaltime_null_time();
  out.year = int(ymd.year());
  out.month = int(unsigned(ymd.month()));
  out.day = int(unsigned(ymd.day()));
  out.hour = int(hms.hours().count());
  out.minute = int(hms.minutes().count());
  out.second = int(hms.seconds().count());
  out.is_date = 0;
  return out;  // floating: the wall clock, no zone
}

LocalMs from_ical(const icaltimetype& t) {
  date::local_days day{date::year{t.year} / t.month / t.day};
  return day + hours(t.is_date ? 0 : t.hour) + minutes(t.is_date ? 0 : t.minute) + seconds(t.is_date ? 0 : t.second);
}

struct Rule {
  icalrecurrencetype r;
};

// Parses; UNTIL given in UTC (as RFC 5545 wants with a zoned DTSTART) becomes the wall clock in
// tz, because libical compares it with the floating occurrences.
icalrecurrencetype parse_rule(const std::string& rrule, const date::time_zone* tz) {
  icalerror_clear_errno();
  icalrecurrencetype r = icalrecurrencetype_from_string(rrule.c_str());
  if (r.freq == ICAL_NO_RECURRENCE) throw Error("recurrence", "'" + rrule + "' is not an RRULE");
  if (!icaltime_is_null_time(r.until) && tz) {
    bool utc = r.until.zone == icaltimezone_get_utc_timezone() || rrule.find('Z') != std::string::npos;
    if (utc && !r.until.is_date) {
      Millis u = duration_cast<milliseconds>(
                     (date::local_days{date::year{r.until.year} / r.until.month / r.until.day} + hours(r.until.hour) +
                      minutes(r.until.minute) + seconds(r.until.second))
                         .time_since_epoch())
                     .count();
      r.until = to_ical(date::floor<seconds>(to_local(u, tz)));
    }
    r.until.zone = nullptr;
  }
  return r;
}

// How many occurrences a walk over one series may visit: enough for a daily rule over 270
// years; a rule whose walk would go on (a huge COUNT, a start centuries back, a rule that never
// matches) stops there instead of holding a thread for seconds.
constexpr size_t kMaxSteps = 100'000;
// The largest COUNT a rule we store may have (a daily event for 27 years).
constexpr int kMaxCount = 10'000;

struct IterFree {
  void operator()(icalrecur_iterator* it) const { icalrecur_iterator_free(it); }
};

}  // namespace

std::string normalize_rrule(const std::string& text, const std::string& field) {
  std::string s = text;
  for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (s.rfind("RRULE:", 0) == 0) s = s.substr(6);
  if (s.empty() || s.find("FREQ=") == std::string::npos) throw Error(field, "'" + text + "' is not an RRULE (it needs FREQ=...)");
  icalerror_clear_errno();
  icalrecurrencetype r = icalrecurrencetype_from_string(s.c_str());
  if (r.freq == ICAL_NO_RECURRENCE || icalerrno != ICAL_NO_ERROR) {
    icalerror_clear_errno();
    throw Error(field, "'" + text + "' is not a valid RRULE (RFC 5545), e.g. FREQ=WEEKLY;BYDAY=MO,WE");
  }
  if (r.freq == ICAL_SECONDLY_RECURRENCE || r.freq == ICAL_MINUTELY_RECURRENCE)
    throw Error(field, "repeating more often than hourly is not supported");
  if (r.interval < 1) throw Error(field, "INTERVAL must be at least 1");
  if (r.count > kMaxCount) throw Error(field, "COUNT must be at most " + std::to_string(kMaxCount));
  return s;
}

std::vector<Millis> expand(const Series& s, Millis from, Millis to, size_t limit) {
  std::vector<Millis> out;
  icalrecurrencetype r = parse_rule(s.rrule, s.tz);
  std::unique_ptr<icalrecur_iterator, IterFree> it(icalrecur_iterator_new(r, to_ical(date::floor<seconds>(s.start))));
  if (!it) throw Error("recurrence", "libical cannot expand '" + s.rrule + "'");
  // Without COUNT the iterator may start near the window; with it, every occurrence counts.
  if (r.count == 0 && from - s.duration > 0) {
    auto skip_to = date::floor<seconds>(to_local(from - s.duration, s.tz)) - hours(26);
    if (skip_to > s.start) icalrecur_iterator_set_start(it.get(), to_ical(skip_to));
  }
  size_t guard = 0;
  for (icaltimetype t = icalrecur_iterator_next(it.get()); !icaltime_is_null_time(t); t = icalrecur_iterator_next(it.get())) {
    if (++guard > kMaxSteps) break;  // e.g. BYMONTHDAY=31;BYMONTH=2 never reaches the window
    Millis start = to_utc(from_ical(t), s.tz);
    if (start >= to) break;
    if (start + std::max<Millis>(s.duration, 1) <= from) continue;
    if (std::find(s.exdates.begin(), s.exdates.end(), start) != s.exdates.end()) continue;
    out.push_back(start);
    if (out.size() >= limit) break;
  }
  return out;
}

std::optional<Millis> series_end(const Series& s) {
  icalrecurrencetype r = parse_rule(s.rrule, s.tz);
  if (r.count == 0 && icaltime_is_null_time(r.until)) return std::nullopt;
  if (r.count == 0) {
    auto until = from_ical(r.until);
    if (r.until.is_date) until += date::days(1);
    return to_utc(until, s.tz) + s.duration;
  }
  std::unique_ptr<icalrecur_iterator, IterFree> it(icalrecur_iterator_new(r, to_ical(date::floor<seconds>(s.start))));
  if (!it) return std::nullopt;
  Millis last = to_utc(s.start, s.tz);
  size_t steps = 0;
  for (icaltimetype t = icalrecur_iterator_next(it.get()); !icaltime_is_null_time(t); t = icalrecur_iterator_next(it.get())) {
    // A server's COUNT may be far beyond ours: past the walk's limit the series counts as open
    // (it is then expanded per window, which is bounded too).
    if (++steps > kMaxSteps) return std::nullopt;
    last = to_utc(from_ical(t), s.tz);
  }
  return last + s.duration;
}

namespace {
// The rule's parts except those named, in their original order.
std::vector<std::string> parts_without(const std::string& rrule, std::initializer_list<const char*> drop) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= rrule.size()) {
    auto semi = rrule.find(';', at);
    std::string part = rrule.substr(at, semi == std::string::npos ? std::string::npos : semi - at);
    bool keep = !part.empty();
    for (auto* d : drop)
      if (part.rfind(std::string(d) + "=", 0) == 0) keep = false;
    if (keep) out.push_back(part);
    if (semi == std::string::npos) break;
    at = semi + 1;
  }
  return out;
}
std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (auto& p : parts) s += (s.empty() ? "" : ";") + p;
  return s;
}
}  // namespace

std::string rule_until(const std::string& rrule, Millis before) {
  auto parts = parts_without(rrule, {"COUNT", "UNTIL"});
  parts.push_back("UNTIL=" + stamp(before - 1000));
  return join(parts);
}

std::string rule_after(const std::string& rrule, int skipped) {
  icalrecurrencetype r = icalrecurrencetype_from_string(rrule.c_str());
  if (r.count == 0) return rrule;
  auto parts = parts_without(rrule, {"COUNT"});
  parts.push_back("COUNT=" + std::to_string(std::max(1, r.count - skipped)));
  return join(parts);
}

std::string stamp(Millis utc) {
  return date::format("%Y%m%dT%H%M%SZ", date::floor<seconds>(sys_time<milliseconds>{milliseconds{utc}}));
}

std::optional<Millis> parse_stamp(const std::string& text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return std::nullopt;
  for (size_t i = 0; i < 15; ++i)
    if (i != 8 && !std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  date::year_month_day ymd{date::year{std::stoi(text.substr(0, 4))}, date::month{unsigned(std::stoi(text.substr(4, 2)))},
                           date::day{unsigned(std::stoi(text.substr(6, 2)))}};
  if (!ymd.ok()) return std::nullopt;
  auto t = date::sys_days{ymd} + hours(std::stoi(text.substr(9, 2))) + minutes(std::stoi(text.substr(11, 2))) +
           seconds(std::stoi(text.substr(13, 2)));
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

}  // namespace concierge::providers::calendar
