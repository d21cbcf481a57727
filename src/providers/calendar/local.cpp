#include "providers/calendar/local.hpp"
#include "providers/calendar/busy.hpp"

#include <algorithm>
#include <set>

#include "providers/calendar/recurrence.hpp"
#include "providers/error.hpp"
#include "providers/ids.hpp"
#include "common/json.hpp"

namespace concierge::providers::calendar {

using namespace std::chrono;

namespace {

// Events longer than this are "long": found through their own index, so the listing of a day
// can look only at events starting within this much before it.
constexpr Millis kLongEvent = 14 * kDay;

const std::vector<std::string> kMigrations{
    R"sql(
      CREATE TABLE calendar_calendars (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        name TEXT NOT NULL,
        time_zone TEXT NOT NULL,
        color TEXT NOT NULL DEFAULT '',
        is_primary INTEGER NOT NULL DEFAULT 0,
        UNIQUE (user_id, key)
      );
      CREATE TABLE calendar_events (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        calendar_id INTEGER NOT NULL REFERENCES calendar_calendars(id) ON DELETE CASCADE,
        summary TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        location TEXT NOT NULL DEFAULT '',
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        all_day INTEGER NOT NULL DEFAULT 0,
        time_zone TEXT NOT NULL,
        rrule TEXT,                        -- a series: expanded on read
        exdates TEXT NOT NULL DEFAULT '[]',  -- UTC starts (ms) of occurrences removed or overridden
        series_end_ms INTEGER,             -- a finite series' last end; NULL: never ends
        series_uid TEXT,                   -- an override of one occurrence of this series...
        original_start_ms INTEGER,         -- ...starting here
        is_long INTEGER NOT NULL DEFAULT 0,
        attendees TEXT NOT NULL DEFAULT '[]',
        reminders TEXT NOT NULL DEFAULT '[]',
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
      );
      CREATE INDEX calendar_events_single ON calendar_events (user_id, start_ms) WHERE rrule IS NULL;
      CREATE INDEX calendar_events_long ON calendar_events (user_id, end_ms) WHERE rrule IS NULL AND is_long = 1;
      CREATE INDEX calendar_events_series ON calendar_events (user_id, start_ms) WHERE rrule IS NOT NULL;
      CREATE INDEX calendar_events_overrides ON calendar_events (series_uid) WHERE series_uid IS NOT NULL;
    )sql",
};

struct Row {
  int64_t rowid = 0;
  std::string uid, calendar, summary, description, location, tz;
  Millis start = 0, end = 0;
  bool all_day = false;
  std::string rrule;
  std::vector<Millis> exdates;
  std::string series_uid;
  std::optional<Millis> original_start;
  Json attendees = Json::array(), reminders = Json::array();
  Millis created = 0, updated = 0;
  bool is_series() const { return !rrule.empty(); }
};

const char* kSelect =
    "SELECT e.id, e.uid, c.key, e.summary, e.description, e.location, e.start_ms, e.end_ms, e.all_day, e.time_zone, "
    "e.rrule, e.exdates, e.series_uid, e.original_start_ms, e.attendees, e.reminders, e.created_ms, e.updated_ms "
    "FROM calendar_events e JOIN calendar_calendars c ON c.id = e.calendar_id ";

Row read_row(sql::Statement& q) {
  Row r;
  r.rowid = q.getColumn(0).getInt64();
  r.uid = q.getColumn(1).getString();
  r.calendar = q.getColumn(2).getString();
  r.summary = q.getColumn(3).getString();
  r.description = q.getColumn(4).getString();
  r.location = q.getColumn(5).getString();
  r.start = q.getColumn(6).getInt64();
  r.end = q.getColumn(7).getInt64();
  r.all_day = q.getColumn(8).getInt() != 0;
  r.tz = q.getColumn(9).getString();
  if (!q.getColumn(10).isNull()) r.rrule = q.getColumn(10).getString();
  r.exdates = Json::parse(q.getColumn(11).getString()).get<std::vector<Millis>>();
  if (!q.getColumn(12).isNull()) r.series_uid = q.getColumn(12).getString();
  if (!q.getColumn(13).isNull()) r.original_start = q.getColumn(13).getInt64();
  r.attendees = Json::parse(q.getColumn(14).getString());
  r.reminders = Json::parse(q.getColumn(15).getString());
  r.created = q.getColumn(16).getInt64();
  r.updated = q.getColumn(17).getInt64();
  return r;
}

Json attendees_json(const std::vector<Attendee>& as) {
  Json out = Json::array();
  for (auto& a : as) out.push_back({{"email", a.email}, {"name", a.name}, {"response", a.response}});
  return out;
}

std::vector<Attendee> attendees_of(const Json& j) {
  std::vector<Attendee> out;
  for (auto& a : j) out.push_back({a.value("email", ""), a.value("name", ""), a.value("response", "needsAction")});
  return out;
}

const date::time_zone* tz_of(const Row& r) { return zone(r.tz); }

Series series_of(const Row& r) {
  return Series{to_local(r.start, tz_of(r)), r.end - r.start, r.rrule, tz_of(r), r.exdates};
}

// An occurrence's end: all-day ones keep their length in days on the wall clock.
Millis occurrence_end(const Row& r, Millis start) {
  if (!r.all_day) return start + (r.end - r.start);
  auto tz = tz_of(r);
  return to_utc(to_local(start, tz) + (to_local(r.end, tz) - to_local(r.start, tz)), tz);
}

Event to_event(const Row& r) {
  Event e;
  e.id = r.uid;
  e.series_id = r.series_uid;
  e.calendar_id = r.calendar;
  e.summary = r.summary;
  e.description = r.description;
  e.location = r.location;
  e.start = r.start;
  e.end = r.end;
  e.all_day = r.all_day;
  e.time_zone = r.tz;
  e.recurrence = r.rrule;
  e.attendees = attendees_of(r.attendees);
  for (auto& m : r.reminders) e.reminder_minutes.push_back(m.get<int>());
  e.created = r.created;
  e.updated = r.updated;
  return e;
}

Event occurrence(const Row& series, Millis start) {
  Event e = to_event(series);
  e.id = series.uid + "_" + stamp(start);
  e.series_id = series.uid;
  e.start = start;
  e.end = occurrence_end(series, start);
  return e;
}

std::optional<Row> find_row(sql::Database& db, const Call& call, const std::string& uid) {
  sql::Statement q(db, std::string(kSelect) + "WHERE e.uid = ? AND e.user_id = ?");
  q.bind(1, uid);
  q.bind(2, call.user);
  if (!q.executeStep()) return std::nullopt;
  return read_row(q);
}

// What an id names: a row (single event, series, override) or an occurrence of a series.
struct Target {
  Row row;                          // the row itself, or the series an occurrence belongs to
  std::optional<Millis> occurrence;  // set when the id names an occurrence without its own row
};

std::optional<Target> resolve(sql::Database& db, const Call& call, const std::string& id) {
  if (auto row = find_row(db, call.user, id)) return Target{*row, std::nullopt};
  auto us = id.rfind('_');
  if (us == std::string::npos) return std::nullopt;
  auto at = parse_stamp(id.substr(us + 1));
  if (!at) return std::nullopt;
  auto series = find_row(db, call.user, id.substr(0, us));
  if (!series || !series->is_series()) return std::nullopt;
  auto hits = expand(series_of(*series), *at, *at + 1, 1);
  if (hits.empty() || hits.front() != *at) return std::nullopt;
  return Target{*series, *at};
}

int64_t calendar_rowid(sql::Database& db, const Call& call, const std::string& key, const std::string& field) {
  sql::Statement q(db, key.empty() ? "SELECT id FROM calendar_calendars WHERE user_id = ? ORDER BY is_primary DESC, id LIMIT 1"
                                      : "SELECT id FROM calendar_calendars WHERE user_id = ? AND key = ?");
  q.bind(1, call.user);
  if (!key.empty()) q.bind(2, key);
  if (!q.executeStep()) throw NotFound(field, "no calendar '" + key + "'; calendar_list_calendars shows the ones there are");
  return q.getColumn(0).getInt64();
}

std::optional<Millis> end_of(const Row& r) {
  if (!r.is_series()) return r.end;
  return series_end(series_of(r));
}

void insert_row(sql::Database& db, const Call& call, int64_t calendar, const Row& r) {
  sql::Statement ins(db,
                        "INSERT INTO calendar_events (uid, user_id, calendar_id, summary, description, location, start_ms, end_ms, "
                        "all_day, time_zone, rrule, exdates, series_end_ms, series_uid, original_start_ms, is_long, attendees, "
                        "reminders, created_ms, updated_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  ins.bind(1, r.uid);
  ins.bind(2, call.user);
  ins.bind(3, calendar);
  ins.bind(4, r.summary);
  ins.bind(5, r.description);
  ins.bind(6, r.location);
  ins.bind(7, r.start);
  ins.bind(8, r.end);
  ins.bind(9, r.all_day ? 1 : 0);
  ins.bind(10, r.tz);
  if (r.is_series()) ins.bind(11, r.rrule); else ins.bind(11);
  ins.bind(12, Json(r.exdates).dump());
  if (auto e = end_of(r); e && r.is_series()) ins.bind(13, *e); else ins.bind(13);
  if (r.series_uid.empty()) ins.bind(14); else ins.bind(14, r.series_uid);
  if (r.original_start) ins.bind(15, *r.original_start); else ins.bind(15);
  ins.bind(16, !r.is_series() && r.end - r.start > kLongEvent ? 1 : 0);
  ins.bind(17, r.attendees.dump());
  ins.bind(18, r.reminders.dump());
  ins.bind(19, r.created);
  ins.bind(20, r.updated);
  ins.exec();
}

void update_row(sql::Database& db, const Row& r) {
  sql::Statement up(db,
                       "UPDATE calendar_events SET summary=?, description=?, location=?, start_ms=?, end_ms=?, all_day=?, "
                       "time_zone=?, rrule=?, exdates=?, series_end_ms=?, is_long=?, attendees=?, reminders=?, updated_ms=? "
                       "WHERE id = ?");
  up.bind(1, r.summary);
  up.bind(2, r.description);
  up.bind(3, r.location);
  up.bind(4, r.start);
  up.bind(5, r.end);
  up.bind(6, r.all_day ? 1 : 0);
  up.bind(7, r.tz);
  if (r.is_series()) up.bind(8, r.rrule); else up.bind(8);
  up.bind(9, Json(r.exdates).dump());
  if (auto e = end_of(r); e && r.is_series()) up.bind(10, *e); else up.bind(10);
  up.bind(11, !r.is_series() && r.end - r.start > kLongEvent ? 1 : 0);
  up.bind(12, r.attendees.dump());
  up.bind(13, r.reminders.dump());
  up.bind(14, r.updated);
  up.bind(15, r.rowid);
  up.exec();
}

void exec_bound(sql::Database& db, const char* sql, const std::string& s, std::optional<Millis> m = std::nullopt) {
  sql::Statement q(db, sql);
  q.bind(1, s);
  if (m) q.bind(2, *m);
  q.exec();
}

void apply(Row& r, const EventPatch& p) {
  if (p.summary) r.summary = *p.summary;
  if (p.description) r.description = *p.description;
  if (p.location) r.location = *p.location;
  if (p.time_zone) r.tz = *p.time_zone;
  if (p.attendees) r.attendees = attendees_json(*p.attendees);
  if (p.reminder_minutes) r.reminders = Json(*p.reminder_minutes);
  if (p.recurrence) r.rrule = p.recurrence->empty() ? "" : normalize_rrule(*p.recurrence);
}

void check_times(const Row& r) {
  if (r.end <= r.start) throw Error("end", "must be after start");
}

bool matches(const Row& r, const std::string& lowered) {
  if (lowered.empty()) return true;
  auto has = [&](std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s.find(lowered) != std::string::npos;
  };
  return has(r.summary) || has(r.description) || has(r.location);
}

}  // namespace

LocalCalendar::LocalCalendar(store::Store& store) : store_(store) { store_.migrate("calendar", kMigrations); }

void LocalCalendar::ensure_calendar(const Call& call, const std::string& key, const std::string& name, const std::string& time_zone,
                                    const std::string& color, bool primary) {
  store_.write([&](sql::Database& db) {
    sql::Statement ins(db,
                          "INSERT INTO calendar_calendars (user_id, key, name, time_zone, color, is_primary) VALUES (?,?,?,?,?,?) "
                          "ON CONFLICT (user_id, key) DO NOTHING");
    ins.bind(1, call.user);
    ins.bind(2, key);
    ins.bind(3, name);
    ins.bind(4, time_zone);
    ins.bind(5, color);
    ins.bind(6, primary ? 1 : 0);
    ins.exec();
  });
}

std::vector<Calendar> LocalCalendar::calendars(const Call& call) {
  auto list = [&] {
    return store_.read([&](sql::Database& db) {
      std::vector<Calendar> out;
      sql::Statement q(db, "SELECT key, name, time_zone, color, is_primary FROM calendar_calendars WHERE user_id = ? "
                              "ORDER BY is_primary DESC, name");
      q.bind(1, call.user);
      while (q.executeStep())
        out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                       q.getColumn(3).getString(), q.getColumn(4).getInt() != 0});
      return out;
    });
  };
  auto out = list();
  if (out.empty()) {  // everyone has a calendar to put things on
    ensure_calendar(call.user, "primary", "Personal", "UTC", "#4f7cff", true);
    out = list();
  }
  return out;
}

namespace {
std::vector<Event> collect(sql::Database& db, const Call& call, const std::set<std::string>& calendars, Millis from, Millis to,
                           const std::string& text) {
  std::string lowered = text;
  for (auto& c : lowered) c = char(std::tolower(static_cast<unsigned char>(c)));
  std::vector<Event> out;
  auto wanted = [&](const Row& r) { return (calendars.empty() || calendars.count(r.calendar)) && matches(r, lowered); };
  // Single events (and overrides): recent starts through the index, long ones through theirs.
  {
    sql::Statement q(db, std::string(kSelect) +
                                "WHERE e.user_id = ?1 AND e.rrule IS NULL AND e.start_ms >= ?2 AND e.start_ms < ?3 AND e.end_ms > ?4 "
                                "UNION ALL " + kSelect +
                                "WHERE e.user_id = ?1 AND e.rrule IS NULL AND e.is_long = 1 AND e.end_ms > ?4 AND e.start_ms < ?2");
    q.bind(1, call.user);
    q.bind(2, from - kLongEvent);
    q.bind(3, to);
    q.bind(4, from);
    while (q.executeStep()) {
      Row r = read_row(q);
      if (r.start < to && r.end > from && wanted(r)) out.push_back(to_event(r));
    }
  }
  {
    sql::Statement q(db, std::string(kSelect) +
                                "WHERE e.user_id = ? AND e.rrule IS NOT NULL AND e.start_ms < ? "
                                "AND (e.series_end_ms IS NULL OR e.series_end_ms > ?)");
    q.bind(1, call.user);
    q.bind(2, to);
    q.bind(3, from);
    while (q.executeStep()) {
      Row r = read_row(q);
      if (!wanted(r)) continue;
      for (Millis start : expand(series_of(r), from, to)) out.push_back(occurrence(r, start));
    }
  }
  std::sort(out.begin(), out.end(), [](const Event& a, const Event& b) { return std::tie(a.start, a.id) < std::tie(b.start, b.id); });
  return out;
}

std::set<std::string> calendar_keys(sql::Database& db, const Call& call, const std::vector<std::string>& keys) {
  std::set<std::string> out;
  for (auto& k : keys) {
    calendar_rowid(db, call.user, k, "calendars");
    out.insert(k);
  }
  return out;
}
}  // namespace

EventPage LocalCalendar::events(const Call& call, const EventQuery& query) {
  if (query.to <= query.from) throw Error("end", "the window must end after it starts");
  size_t offset = 0;
  if (!query.page_token.empty()) {
    try {
      offset = std::stoul(query.page_token);
    } catch (const std::exception&) {
      throw Error("page_token", "not a page token from a previous listing");
    }
  }
  calendars(call.user);
  return store_.read([&](sql::Database& db) {
    auto all = collect(db, call.user, calendar_keys(db, call.user, query.calendars), query.from, query.to, query.text);
    EventPage page;
    size_t max = size_t(std::clamp(query.max_results, 1, 250));
    for (size_t i = offset; i < all.size() && page.events.size() < max; ++i) page.events.push_back(std::move(all[i]));
    if (offset + page.events.size() < all.size()) page.next_page_token = std::to_string(offset + page.events.size());
    return page;
  });
}

Event LocalCalendar::event(const Call& call, const std::string& id, const std::string& field) {
  return store_.read([&](sql::Database& db) {
    auto t = resolve(db, call.user, id);
    if (!t) throw NotFound(field, "no event '" + id + "'");
    return t->occurrence ? occurrence(t->row, *t->occurrence) : to_event(t->row);
  });
}

Event LocalCalendar::create(const Call& call, const NewEvent& e) {
  Row r;
  r.uid = random_id();
  r.summary = e.summary;
  r.description = e.description;
  r.location = e.location;
  r.start = e.start;
  r.end = e.end;
  r.all_day = e.all_day;
  r.tz = e.time_zone;
  zone(r.tz);
  if (!e.recurrence.empty()) r.rrule = normalize_rrule(e.recurrence);
  r.attendees = attendees_json(e.attendees);
  r.reminders = Json(e.reminder_minutes);
  r.created = r.updated = now_ms();
  check_times(r);
  calendars(call.user);
  store_.write([&](sql::Database& db) {
    int64_t cal = calendar_rowid(db, call.user, e.calendar_id, "calendar_id");
    insert_row(db, call.user, cal, r);
  });
  return event(call.user, r.uid);
}

Event LocalCalendar::update(const Call& call, const std::string& id, const EventPatch& patch, Scope scope) {
  std::string result_id = store_.write([&](sql::Database& db) -> std::string {
    sql::Transaction tx(db);
    auto t = resolve(db, call.user, id);
    if (!t) throw NotFound("event_id", "no event '" + id + "'");
    Row& row = t->row;
    Millis now = now_ms();
    // An override row stands for its occurrence when the change reaches beyond it.
    if (!t->occurrence && !row.series_uid.empty() && scope != Scope::This) {
      auto series = find_row(db, call.user, row.series_uid);
      if (series) t = Target{*series, row.original_start};
    }
    std::string out;
    if (!t->occurrence) {  // a single event, an override (this one), or a whole series by its id
      Millis dur = row.end - row.start;
      if (patch.start) row.start = *patch.start;
      row.end = patch.end ? *patch.end : row.start + dur;
      apply(row, patch);
      row.updated = now;
      check_times(row);
      update_row(db, row);
      out = row.uid;
    } else if (scope == Scope::This) {
      Row o = row;
      o.uid = row.uid + "_" + stamp(*t->occurrence);
      o.series_uid = row.uid;
      o.original_start = *t->occurrence;
      o.rrule.clear();
      o.exdates.clear();
      o.start = patch.start ? *patch.start : *t->occurrence;
      o.end = patch.end ? *patch.end : o.start + (occurrence_end(row, *t->occurrence) - *t->occurrence);
      EventPatch rest = patch;
      rest.recurrence.reset();
      apply(o, rest);
      o.created = o.updated = now;
      check_times(o);
      sql::Statement cal(db, "SELECT calendar_id FROM calendar_events WHERE id = ?");
      cal.bind(1, row.rowid);
      cal.executeStep();
      int64_t cal_id = cal.getColumn(0).getInt64();
      cal.reset();
      insert_row(db, call.user, cal_id, o);
      row.exdates.push_back(*t->occurrence);
      row.updated = now;
      update_row(db, row);
      out = o.uid;
    } else {
      Millis occ = *t->occurrence;
      bool from_first = occ == row.start;
      if (scope == Scope::All || from_first) {
        // The whole series: times move by how far this occurrence moves.
        Millis delta = patch.start ? *patch.start - occ : 0;
        Millis occ_end = occurrence_end(row, occ);
        Millis new_len = patch.end ? *patch.end - (patch.start ? *patch.start : occ) : occ_end - occ;
        row.start += delta;
        row.end = row.start + new_len;
        for (auto& x : row.exdates) x += delta;
        apply(row, patch);
        row.updated = now;
        check_times(row);
        update_row(db, row);
        out = row.uid;
      } else {  // this and following: the series ends before it; a new series starts here
        Series all = series_of(row);
        all.exdates.clear();  // COUNT counts removed occurrences too
        int before = int(expand(all, row.start, occ).size());
        Row next = row;
        next.uid = random_id();
        next.rrule = rule_after(row.rrule, before);
        next.start = patch.start ? *patch.start : occ;
        next.end = patch.end ? *patch.end : next.start + (occurrence_end(row, occ) - occ);
        next.exdates.clear();
        for (auto x : row.exdates)
          if (x >= occ) next.exdates.push_back(x + (next.start - occ));
        apply(next, patch);
        next.created = next.updated = now;
        check_times(next);
        std::erase_if(row.exdates, [&](Millis x) { return x >= occ; });
        row.rrule = rule_until(row.rrule, occ);
        row.updated = now;
        sql::Statement cal(db, "SELECT calendar_id FROM calendar_events WHERE id = ?");
        cal.bind(1, row.rowid);
        cal.executeStep();
        int64_t cal_id = cal.getColumn(0).getInt64();
        cal.reset();
        update_row(db, row);
        insert_row(db, call.user, cal_id, next);
        // Overrides from here on now belong to the new series.
        sql::Statement move(db, "UPDATE calendar_events SET series_uid = ? WHERE series_uid = ? AND original_start_ms >= ?");
        move.bind(1, next.uid);
        move.bind(2, row.uid);
        move.bind(3, occ);
        move.exec();
        out = next.uid;
      }
    }
    tx.commit();
    return out;
  });
  return event(call.user, result_id);
}

void LocalCalendar::remove(const Call& call, const std::string& id, Scope scope) {
  store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    auto t = resolve(db, call.user, id);
    if (!t) throw NotFound("event_id", "no event '" + id + "'");
    Row row = t->row;
    std::optional<Millis> occ = t->occurrence;
    if (!occ && !row.series_uid.empty()) {  // an override: its occurrence of the series
      occ = row.original_start;
      exec_bound(db, "DELETE FROM calendar_events WHERE uid = ?", row.uid);
      auto series = find_row(db, call.user, row.series_uid);
      if (!series) {
        tx.commit();
        return;
      }
      row = *series;
    }
    if (!occ || scope == Scope::All || (scope == Scope::Following && *occ <= row.start)) {
      exec_bound(db, "DELETE FROM calendar_events WHERE series_uid = ?", row.uid);
      exec_bound(db, "DELETE FROM calendar_events WHERE uid = ?", row.uid);
    } else if (scope == Scope::This) {
      row.exdates.push_back(*occ);
      row.updated = now_ms();
      update_row(db, row);
    } else {
      row.rrule = rule_until(row.rrule, *occ);
      std::erase_if(row.exdates, [&](Millis x) { return x >= *occ; });
      row.updated = now_ms();
      update_row(db, row);
      exec_bound(db, "DELETE FROM calendar_events WHERE series_uid = ? AND original_start_ms >= ?", row.uid, *occ);
    }
    tx.commit();
  });
}

std::vector<Interval> LocalCalendar::busy(const Call& call, const std::vector<std::string>& cals, Millis from, Millis to) {
  return store_.read([&](sql::Database& db) {
    std::vector<Interval> spans;
    // All-day events are "free" time, as in the big calendar apps (birthdays, reminders, trips
    // marked on the day); timed events are busy.
    for (auto& e : collect(db, call.user, calendar_keys(db, call.user, cals), from, to, ""))
      if (!e.all_day) spans.push_back({std::max(e.start, from), std::min(e.end, to)});
    return merge_busy(std::move(spans));
  });
}

bool LocalCalendar::seed_demo(const DemoContext& ctx) {
  bool empty = store_.read([&](sql::Database& db) {
    sql::Statement q(db, "SELECT 1 FROM calendar_events WHERE user_id = ? LIMIT 1");
    q.bind(1, ctx.user);
    return !q.executeStep();
  });
  if (!empty) return false;
  std::string tz(ctx.tz->name());
  ensure_calendar(ctx.user, "primary", "Personal", tz, "#4f7cff", true);
  ensure_calendar(ctx.user, "work", "Work", tz, "#2fa36b", false);
  auto at = [&](int day, int h, int m) { return to_utc(LocalMs{ctx.today + date::days(day)} + hours(h) + minutes(m), ctx.tz); };
  auto add = [&](NewEvent e) {
    e.time_zone = tz;
    create(ctx.user, e);
  };
  // The week ahead, from today: a recurring stand-up, meetings, personal plans, an all-day trip.
  date::weekday wd{ctx.today};
  auto monday = ctx.today - date::days((wd.c_encoding() + 6) % 7);
  NewEvent standup{.calendar_id = "work", .summary = "Team stand-up", .location = "Video call"};
  standup.start = to_utc(LocalMs{monday} + hours(9) + minutes(30), ctx.tz);
  standup.end = standup.start + 15 * kMinute;
  standup.recurrence = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR";
  standup.attendees = {{"maya.lopez@example.com", "Maya Lopez"}, {"jonas.berg@example.com", "Jonas Berg"}};
  standup.reminder_minutes = {5};
  add(standup);
  add({.calendar_id = "primary", .summary = "Coffee with Jonas", .location = "Café Lumen", .start = at(0, 11, 0), .end = at(0, 11, 45)});
  add({.calendar_id = "work",
       .summary = "Design review: onboarding flow",
       .description = "Walk through the new sign-up screens; bring the usability notes.",
       .location = "Room 4.2",
       .start = at(1, 14, 0),
       .end = at(1, 15, 0),
       .attendees = {{"maya.lopez@example.com", "Maya Lopez", "accepted"}, {"ravi.nair@example.com", "Ravi Nair"}},
       .reminder_minutes = {10}});
  add({.calendar_id = "primary", .summary = "Lunch with Maya", .location = "Noodle Bar, Hafenstraße 12", .start = at(1, 12, 30), .end = at(1, 13, 30)});
  add({.calendar_id = "primary", .summary = "Dentist", .location = "Dr. Keller, Lindenweg 3", .start = at(2, 16, 0), .end = at(2, 16, 45),
       .reminder_minutes = {60}});
  add({.calendar_id = "work",
       .summary = "Quarterly planning",
       .description = "Q1 goals, hiring plan, budget.",
       .location = "Board room",
       .start = at(3, 10, 0),
       .end = at(3, 11, 30),
       .attendees = {{"ravi.nair@example.com", "Ravi Nair"}, {"sam.okafor@example.com", "Sam Okafor"}}});
  add({.calendar_id = "primary", .summary = "Dinner with Sam & Priya", .location = "Trattoria Sole", .start = at(4, 19, 0), .end = at(4, 21, 0)});
  add({.calendar_id = "primary",
       .summary = "Hiking trip",
       .location = "Lake trail",
       .start = to_utc(LocalMs{ctx.today + date::days(5)}, ctx.tz),
       .end = to_utc(LocalMs{ctx.today + date::days(6)}, ctx.tz),
       .all_day = true});
  add({.calendar_id = "work", .summary = "1:1 with Ravi", .start = at(6, 15, 0), .end = at(6, 15, 30)});
  return true;
}

}  // namespace concierge::providers::calendar
