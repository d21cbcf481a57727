#include "store/preferences.hpp"

#include <chrono>
#include <cstdlib>
#include <date/tz.h>
#include <regex>

#include "common/json.hpp"
#include "store/store.hpp"

namespace concierge::store {

namespace {

const char* const kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// en_US.UTF-8 -> en-US; C/POSIX/unset -> en-US.
std::string default_locale() {
  const char* lang = std::getenv("LC_ALL");
  if (!lang || !*lang) lang = std::getenv("LANG");
  std::string s = lang ? lang : "";
  s = s.substr(0, s.find_first_of(".@"));
  for (auto& c : s)
    if (c == '_') c = '-';
  static const std::regex tag("^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$");
  return std::regex_match(s, tag) ? s : "en-US";
}

Json defaults() {
  Json week = Json::object();
  for (const char* d : kDays) week[d] = nullptr;
  for (const char* d : {"mon", "tue", "wed", "thu", "fri"}) week[d] = Json{{"start", "09:00"}, {"end", "17:00"}};
  return Json{{"time_zone", Preferences::system_time_zone()},
              {"locale", default_locale()},
              {"working_hours", week},
              {"default_calendar", "primary"},
              {"default_meeting_minutes", 30},
              {"default_music_device", nullptr},
              {"verbosity", "normal"},
              {"units", "metric"}};
}

[[noreturn]] void refuse(const std::string& key, const std::string& why) { throw PreferenceError(key, key + ": " + why); }

std::string type_name(const Json& v) { return std::string(json_kind(v)); }

void expect_string(const std::string& key, const Json& v) {
  if (!v.is_string()) refuse(key, "expected a string, got " + type_name(v));
}

int minutes_of(const std::string& key, const Json& v) {
  static const std::regex hhmm("^([01][0-9]|2[0-3]):([0-5][0-9])$");
  std::smatch m;
  std::string s = v.is_string() ? v.get<std::string>() : "";
  if (!v.is_string() || !std::regex_match(s, m, hhmm)) refuse(key, "expected a time HH:MM, got " + v.dump());
  return std::stoi(m[1]) * 60 + std::stoi(m[2]);
}

// Checks one key; returns the value to store (normalised where there is a normal form).
Json check(const std::string& key, const Json& v) {
  if (key == "time_zone") {
    expect_string(key, v);
    try {
      return std::string(date::locate_zone(v.get<std::string>())->name());
    } catch (const std::exception&) {
      refuse(key, "unknown time zone '" + v.get<std::string>() + "'; give an IANA name such as Europe/Paris or America/New_York");
    }
  }
  if (key == "locale") {
    expect_string(key, v);
    static const std::regex tag("^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$");
    // std::regex recurses per repetition: a long enough string overflows the stack.
    if (v.get<std::string>().size() > 35) refuse(key, "must be at most 35 characters (a BCP 47 language tag such as en-US)");
    if (!std::regex_match(v.get<std::string>(), tag)) refuse(key, "expected a BCP 47 language tag such as en-US, got " + v.dump());
    return v;
  }
  if (key == "working_hours") {
    if (!v.is_object()) refuse(key, "expected an object of weekdays (mon..sun), got " + type_name(v));
    Json week = Json::object();
    for (const char* d : kDays) week[d] = nullptr;  // days left out are days off
    for (const auto& [day, hours] : v.items()) {
      const std::string field = key + "." + day;
      if (!week.contains(day)) refuse(key, "unknown weekday \"" + day + "\" (mon, tue, wed, thu, fri, sat, sun)");
      if (hours.is_null()) continue;
      if (!hours.is_object() || !hours.contains("start") || !hours.contains("end") || hours.size() != 2)
        refuse(field, "expected null or {\"start\": \"HH:MM\", \"end\": \"HH:MM\"}, got " + hours.dump());
      int start = minutes_of(field + ".start", hours["start"]), end = minutes_of(field + ".end", hours["end"]);
      if (start >= end) refuse(field, "start " + hours["start"].get<std::string>() + " is not before end " + hours["end"].get<std::string>());
      week[day] = hours;
    }
    return week;
  }
  if (key == "default_calendar") {
    expect_string(key, v);
    if (v.get<std::string>().empty()) refuse(key, "must not be empty");
    return v;
  }
  if (key == "default_meeting_minutes") {
    if (!v.is_number_integer()) refuse(key, "expected an integer number of minutes, got " + type_name(v));
    auto n = v.get<int64_t>();
    if (n < 5 || n > 480) refuse(key, "expected 5 to 480 minutes, got " + std::to_string(n));
    return v;
  }
  if (key == "default_music_device") {
    if (!v.is_null() && !v.is_string()) refuse(key, "expected a device name or null, got " + type_name(v));
    return v;
  }
  if (key == "verbosity" || key == "units") {
    expect_string(key, v);
    const std::vector<std::string> allowed =
        key == "verbosity" ? std::vector<std::string>{"brief", "normal", "detailed"} : std::vector<std::string>{"metric", "imperial"};
    if (std::find(allowed.begin(), allowed.end(), v.get<std::string>()) == allowed.end())
      refuse(key, "expected " + allowed[0] + ", " + allowed[1] + (allowed.size() > 2 ? " or " + allowed[2] : "") + ", got " + v.dump());
    return v;
  }
  std::string known;
  for (const auto& k : Preferences::keys()) known += (known.empty() ? "" : ", ") + k;
  refuse(key, "unknown preference (known: " + known + ")");
}

}  // namespace

PreferenceError::PreferenceError(std::string f, const std::string& message) : std::runtime_error(message), field(std::move(f)) {}

Preferences::Preferences(Store& store) : store_(store) {}

const std::vector<std::string>& Preferences::keys() {
  static const std::vector<std::string> all{"time_zone",       "locale",    "working_hours", "default_calendar", "default_meeting_minutes",
                                            "default_music_device", "verbosity", "units"};
  return all;
}

std::string Preferences::system_time_zone() {
  if (const char* env = std::getenv("CONCIERGE_TIME_ZONE"); env && *env) {
    try {
      return std::string(date::locate_zone(env)->name());
    } catch (const std::exception&) {
    }
  }
  try {
    return std::string(date::current_zone()->name());
  } catch (const std::exception&) {
  }
  return "UTC";
}

Json Preferences::get(const std::string& user) {
  const int64_t uid = store_.user_id(user);
  Json out = defaults();
  store_.read([&](sql::Database& db) {
    sql::Statement q(db, "SELECT key, value FROM preferences WHERE user_id = ?");
    q.bind(1, uid);
    while (q.executeStep()) {
      std::string key = q.getColumn(0).getString();
      Json v = Json::parse(q.getColumn(1).getString(), nullptr, false);
      if (out.contains(key) && !v.is_discarded()) out[key] = std::move(v);  // a key a later version dropped is ignored
    }
    return 0;
  });
  return out;
}

std::string Preferences::time_zone(const std::string& user) { return get(user).value("time_zone", std::string("UTC")); }

Json Preferences::update(const std::string& user, const Json& patch) {
  if (!patch.is_object()) refuse("arguments", "expected an object of preferences, got " + std::string(json_kind(patch)));
  Json checked = Json::object();
  for (const auto& [key, value] : patch.items()) checked[key] = check(key, value);
  const Json before = get(user);
  const int64_t uid = store_.user_id(user);
  store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    sql::Statement up(db,
                         "INSERT INTO preferences (user_id, key, value, updated_ms) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms");
    for (const auto& [key, value] : checked.items()) {
      up.bind(1, uid);
      up.bind(2, key);
      up.bind(3, value.dump());
      up.bind(4, now_ms());
      up.exec();
      up.reset();
    }
    tx.commit();
    return 0;
  });
  Json after = get(user);
  if (after != before) {
    std::vector<std::function<void(const std::string&)>> listeners;
    {
      std::lock_guard l(listeners_m_);
      listeners = listeners_;
    }
    for (const auto& f : listeners) f(user);
  }
  return after;
}

void Preferences::on_change(std::function<void(const std::string& user)> listener) {
  std::lock_guard l(listeners_m_);
  listeners_.push_back(std::move(listener));
}

}  // namespace concierge::store
