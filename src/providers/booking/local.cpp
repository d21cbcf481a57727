#include "providers/booking/local.hpp"

#include <algorithm>

#include "providers/booking/slots.hpp"
#include "providers/error.hpp"
#include "providers/ids.hpp"
#include "common/json.hpp"

namespace concierge::providers::booking {

namespace {

const std::vector<std::string> kMigrations{
    R"sql(
      CREATE TABLE booking_event_types (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        slug TEXT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        location TEXT NOT NULL DEFAULT '',
        length_minutes INTEGER NOT NULL,
        buffer_before_minutes INTEGER NOT NULL DEFAULT 0,
        buffer_after_minutes INTEGER NOT NULL DEFAULT 0,
        minimum_notice_minutes INTEGER NOT NULL DEFAULT 0,
        slot_interval_minutes INTEGER NOT NULL DEFAULT 0,
        time_zone TEXT NOT NULL,
        availability TEXT NOT NULL,  -- JSON: 7 arrays (Monday first) of [start, end] minutes
        UNIQUE (user_id, slug)
      );
      CREATE TABLE booking_bookings (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        event_type_id INTEGER NOT NULL REFERENCES booking_event_types(id) ON DELETE CASCADE,
        title TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        attendee_name TEXT NOT NULL,
        attendee_email TEXT NOT NULL,
        attendee_time_zone TEXT NOT NULL,
        notes TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,        -- accepted, cancelled
        cancel_reason TEXT NOT NULL DEFAULT '',
        calendar_event_id TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
      );
      CREATE INDEX booking_bookings_time ON booking_bookings (user_id, start_ms);
    )sql",
};

const char* kTypeCols =
    "SELECT id, slug, title, description, location, length_minutes, buffer_before_minutes, buffer_after_minutes, "
    "minimum_notice_minutes, slot_interval_minutes, time_zone, availability FROM booking_event_types ";

EventType read_type(sql::Statement& q) {
  EventType t;
  t.id = q.getColumn(1).getString();
  t.title = q.getColumn(2).getString();
  t.description = q.getColumn(3).getString();
  t.location = q.getColumn(4).getString();
  t.length_minutes = q.getColumn(5).getInt();
  t.buffer_before_minutes = q.getColumn(6).getInt();
  t.buffer_after_minutes = q.getColumn(7).getInt();
  t.minimum_notice_minutes = q.getColumn(8).getInt();
  t.slot_interval_minutes = q.getColumn(9).getInt();
  t.time_zone = q.getColumn(10).getString();
  Json days = Json::parse(q.getColumn(11).getString());
  for (size_t d = 0; d < 7 && d < days.size(); ++d)
    for (auto& r : days[d]) t.availability.days[d].push_back({r[0].get<int>(), r[1].get<int>()});
  return t;
}

const char* kBookingCols =
    "SELECT b.uid, t.slug, b.title, b.start_ms, b.end_ms, b.attendee_name, b.attendee_email, b.attendee_time_zone, b.notes, "
    "b.status, b.cancel_reason, b.calendar_event_id, b.created_ms, b.updated_ms, t.buffer_before_minutes, t.buffer_after_minutes "
    "FROM booking_bookings b JOIN booking_event_types t ON t.id = b.event_type_id ";

Booking read_booking(sql::Statement& q) {
  Booking b;
  b.id = q.getColumn(0).getString();
  b.event_type_id = q.getColumn(1).getString();
  b.title = q.getColumn(2).getString();
  b.start = q.getColumn(3).getInt64();
  b.end = q.getColumn(4).getInt64();
  b.attendee = {q.getColumn(5).getString(), q.getColumn(6).getString(), q.getColumn(7).getString()};
  b.notes = q.getColumn(8).getString();
  b.status = q.getColumn(9).getString();
  b.cancel_reason = q.getColumn(10).getString();
  b.calendar_event_id = q.getColumn(11).getString();
  b.created = q.getColumn(12).getInt64();
  b.updated = q.getColumn(13).getInt64();
  return b;
}

std::optional<Booking> find_booking(sql::Database& db, const Call& call, const std::string& id) {
  sql::Statement q(db, std::string(kBookingCols) + "WHERE b.uid = ? AND b.user_id = ?");
  q.bind(1, id);
  q.bind(2, call.user);
  if (!q.executeStep()) return std::nullopt;
  return read_booking(q);
}

// Accepted bookings near the window, each padded by its own type's buffers.
std::vector<Busy> booked(sql::Database& db, const Call& call, Millis from, Millis to, const std::string& ignore) {
  std::vector<Busy> out;
  sql::Statement q(db, std::string(kBookingCols) +
                              "WHERE b.user_id = ? AND b.status = 'accepted' AND b.start_ms < ? AND b.start_ms >= ? AND b.end_ms > ?");
  q.bind(1, call.user);
  q.bind(2, to + kDay);
  q.bind(3, from - 2 * kDay);
  q.bind(4, from - kDay);
  while (q.executeStep()) {
    if (q.getColumn(0).getString() == ignore) continue;
    out.push_back({q.getColumn(3).getInt64() - q.getColumn(14).getInt() * kMinute, q.getColumn(4).getInt64() + q.getColumn(15).getInt() * kMinute});
  }
  return out;
}

}  // namespace

LocalBooking::LocalBooking(store::Store& store, calendar::CalendarProvider& calendar) : store_(store), calendar_(calendar) {
  store_.migrate("booking", kMigrations);
}

void LocalBooking::add_event_type(const Call& call, const EventType& t) {
  Json days = Json::array();
  for (auto& d : t.availability.days) {
    Json ranges = Json::array();
    for (auto [a, b] : d) ranges.push_back({a, b});
    days.push_back(ranges);
  }
  store_.write([&](sql::Database& db) {
    sql::Statement ins(db,
                          "INSERT INTO booking_event_types (user_id, slug, title, description, location, length_minutes, "
                          "buffer_before_minutes, buffer_after_minutes, minimum_notice_minutes, slot_interval_minutes, time_zone, "
                          "availability) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    ins.bind(1, call.user);
    ins.bind(2, t.id);
    ins.bind(3, t.title);
    ins.bind(4, t.description);
    ins.bind(5, t.location);
    ins.bind(6, t.length_minutes);
    ins.bind(7, t.buffer_before_minutes);
    ins.bind(8, t.buffer_after_minutes);
    ins.bind(9, t.minimum_notice_minutes);
    ins.bind(10, t.slot_interval_minutes);
    ins.bind(11, t.time_zone);
    ins.bind(12, days.dump());
    ins.exec();
  });
}

std::vector<EventType> LocalBooking::event_types(const Call& call) {
  return store_.read([&](sql::Database& db) {
    std::vector<EventType> out;
    sql::Statement q(db, std::string(kTypeCols) + "WHERE user_id = ? ORDER BY length_minutes, slug");
    q.bind(1, call.user);
    while (q.executeStep()) out.push_back(read_type(q));
    return out;
  });
}

EventType LocalBooking::event_type(const Call& call, const std::string& id) {
  return store_.read([&](sql::Database& db) {
    sql::Statement q(db, std::string(kTypeCols) + "WHERE user_id = ? AND slug = ?");
    q.bind(1, call.user);
    q.bind(2, id);
    if (!q.executeStep()) throw NotFound("event_type", "no event type '" + id + "'; booking_list_event_types shows them");
    return read_type(q);
  });
}

namespace {
// Timed events on the user's calendar, except the one a booking being moved put there.
std::vector<Busy> calendar_busy(calendar::CalendarProvider& cal, const Call& call, Millis from, Millis to, const std::string& except) {
  std::vector<Busy> out;
  calendar::EventQuery q{.from = from, .to = to, .max_results = 250};
  for (int pages = 0; pages < 40; ++pages) {
    auto page = cal.events(call, q);
    for (auto& e : page.events)
      if (!e.all_day && e.id != except) out.push_back({e.start, e.end});
    if (page.next_page_token.empty()) break;
    q.page_token = page.next_page_token;
  }
  return out;
}
}  // namespace

std::vector<Slot> LocalBooking::open_slots(const Call& call, const EventType& type, Millis from, Millis to, const std::string& ignore) {
  std::string except;
  if (!ignore.empty()) except = get(call.user, ignore).calendar_event_id;
  auto busy = calendar_busy(calendar_, call, from - kDay, to + kDay, except);
  auto mine = store_.read([&](sql::Database& db) { return booked(db, call.user, from, to, ignore); });
  busy.insert(busy.end(), mine.begin(), mine.end());
  return compute_slots(type, from, to, now_ms(), busy);
}

std::vector<Slot> LocalBooking::slots(const Call& call, const std::string& event_type_id, Millis from, Millis to) {
  if (to <= from) throw Error("end", "must be after start");
  if (to - from > 62 * kDay) throw Error("end", "the window can span at most 62 days");
  return open_slots(call.user, event_type(call.user, event_type_id), from, to, "");
}

namespace {
// Whether `start` is a slot of the type at all (ignoring what is booked): what error to give.
bool is_offered(const EventType& type, Millis start) {
  return !compute_slots(type, start, start + 1, 0, {}, 1).empty();
}
}  // namespace

Booking LocalBooking::create(const Call& call, const NewBooking& nb) {
  EventType type = event_type(call.user, nb.event_type_id);
  const Millis now = now_ms();
  if (!is_offered(type, nb.start)) throw Error("start", "not a start time '" + type.id + "' offers; booking_find_slots lists them");
  if (nb.start < now + type.minimum_notice_minutes * kMinute)
    throw Error("start", "too soon: '" + type.id + "' needs " + std::to_string(type.minimum_notice_minutes) + " minutes' notice");
  auto cal_busy = calendar_busy(calendar_, call, nb.start - kDay, nb.start + kDay, "");
  Booking b;
  b.id = random_id();
  b.event_type_id = type.id;
  b.title = type.title + " with " + (nb.attendee.name.empty() ? nb.attendee.email : nb.attendee.name);
  b.start = nb.start;
  b.end = nb.start + type.length_minutes * kMinute;
  b.attendee = nb.attendee;
  b.notes = nb.notes;
  b.status = "accepted";
  b.created = b.updated = now;
  // Check and take the slot in one transaction on the single writer: a racing booking of the
  // same slot either committed before (and is seen here) or waits and then sees this one.
  store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    auto busy = cal_busy;
    auto mine = booked(db, call.user, b.start, b.start + 1, "");
    busy.insert(busy.end(), mine.begin(), mine.end());
    auto open = compute_slots(type, b.start, b.start + 1, now, busy, 1);
    if (open.empty() || open.front().start != b.start)
      throw Conflict("start", "that time is no longer free; booking_find_slots lists the open ones");
    sql::Statement ins(db,
                          "INSERT INTO booking_bookings (uid, user_id, event_type_id, title, start_ms, end_ms, attendee_name, "
                          "attendee_email, attendee_time_zone, notes, status, created_ms, updated_ms) "
                          "SELECT ?, ?, id, ?, ?, ?, ?, ?, ?, ?, 'accepted', ?, ? FROM booking_event_types WHERE user_id = ? AND slug = ?");
    ins.bind(1, b.id);
    ins.bind(2, call.user);
    ins.bind(3, b.title);
    ins.bind(4, b.start);
    ins.bind(5, b.end);
    ins.bind(6, b.attendee.name);
    ins.bind(7, b.attendee.email);
    ins.bind(8, b.attendee.time_zone);
    ins.bind(9, b.notes);
    ins.bind(10, b.created);
    ins.bind(11, b.updated);
    ins.bind(12, call.user);
    ins.bind(13, type.id);
    ins.exec();
    tx.commit();
  });
  // The booking on the user's calendar; without it the booking is undone.
  try {
    calendar::NewEvent e{.summary = b.title, .description = b.notes, .location = type.location, .start = b.start, .end = b.end,
                         .time_zone = type.time_zone, .attendees = {{b.attendee.email, b.attendee.name, "accepted"}}};
    b.calendar_event_id = calendar_.create(call, e).id;
  } catch (...) {
    store_.write([&](sql::Database& db) {
      sql::Statement del(db, "DELETE FROM booking_bookings WHERE uid = ?");
      del.bind(1, b.id);
      del.exec();
    });
    throw;
  }
  store_.write([&](sql::Database& db) {
    sql::Statement up(db, "UPDATE booking_bookings SET calendar_event_id = ? WHERE uid = ?");
    up.bind(1, b.calendar_event_id);
    up.bind(2, b.id);
    up.exec();
  });
  return b;
}

std::vector<Booking> LocalBooking::list(const Call& call, const BookingQuery& query) {
  return store_.read([&](sql::Database& db) {
    std::string where = "WHERE b.user_id = ?1 ";
    if (query.status == "upcoming") where += "AND b.status = 'accepted' AND b.end_ms > ?2 ";
    else if (query.status == "past") where += "AND b.status = 'accepted' AND b.end_ms <= ?2 ";
    else if (query.status == "cancelled") where += "AND b.status = 'cancelled' ";
    sql::Statement q(db, std::string(kBookingCols) + where + "ORDER BY b.start_ms LIMIT ?3");
    q.bind(1, call.user);
    q.bind(2, query.now);
    q.bind(3, std::clamp(query.max_results, 1, 250));
    std::vector<Booking> out;
    while (q.executeStep()) out.push_back(read_booking(q));
    return out;
  });
}

Booking LocalBooking::get(const Call& call, const std::string& id) {
  auto b = store_.read([&](sql::Database& db) { return find_booking(db, call.user, id); });
  if (!b) throw NotFound("booking_id", "no booking '" + id + "'");
  return *b;
}

Booking LocalBooking::reschedule(const Call& call, const std::string& id, Millis start, const std::string& reason) {
  Booking b = get(call.user, id);
  if (b.status != "accepted") throw Error("booking_id", "booking '" + id + "' is cancelled; book a new slot instead");
  EventType type = event_type(call.user, b.event_type_id);
  const Millis now = now_ms();
  if (!is_offered(type, start)) throw Error("start", "not a start time '" + type.id + "' offers; booking_find_slots lists them");
  auto cal_busy = calendar_busy(calendar_, call, start - kDay, start + kDay, b.calendar_event_id);
  Millis end = start + type.length_minutes * kMinute;
  store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    auto busy = cal_busy;
    auto mine = booked(db, call.user, start, start + 1, id);
    busy.insert(busy.end(), mine.begin(), mine.end());
    auto open = compute_slots(type, start, start + 1, now, busy, 1);
    if (open.empty() || open.front().start != start)
      throw Conflict("start", "that time is not free; booking_find_slots lists the open ones");
    sql::Statement up(db, "UPDATE booking_bookings SET start_ms = ?, end_ms = ?, updated_ms = ?, notes = CASE WHEN ? = '' THEN notes "
                             "ELSE trim(notes || '\n' || 'Rescheduled: ' || ?) END WHERE uid = ?");
    up.bind(1, start);
    up.bind(2, end);
    up.bind(3, now);
    up.bind(4, reason);
    up.bind(5, reason);
    up.bind(6, id);
    up.exec();
    tx.commit();
  });
  if (!b.calendar_event_id.empty()) {
    try {
      calendar_.update(call.user, b.calendar_event_id, {.start = start, .end = end}, calendar::Scope::This);
    } catch (const NotFound&) {  // the user deleted the event themselves: leave it deleted
    }
  }
  return get(call.user, id);
}

Booking LocalBooking::cancel(const Call& call, const std::string& id, const std::string& reason) {
  Booking b = get(call.user, id);
  if (b.status == "cancelled") throw Error("booking_id", "booking '" + id + "' is already cancelled");
  store_.write([&](sql::Database& db) {
    sql::Statement up(db, "UPDATE booking_bookings SET status = 'cancelled', cancel_reason = ?, updated_ms = ? WHERE uid = ?");
    up.bind(1, reason);
    up.bind(2, now_ms());
    up.bind(3, id);
    up.exec();
  });
  if (!b.calendar_event_id.empty()) {
    try {
      calendar_.remove(call.user, b.calendar_event_id, calendar::Scope::This);
    } catch (const NotFound&) {
    }
  }
  return get(call.user, id);
}

bool LocalBooking::seed_demo(const DemoContext& ctx) {
  if (!event_types(ctx.user).empty()) return false;
  std::string tz(ctx.tz->name());
  Weekly office;
  for (int d = 0; d < 5; ++d) office.days[d] = {{9 * 60, 12 * 60}, {13 * 60, 17 * 60}};
  Weekly afternoons;
  afternoons.days[1] = afternoons.days[3] = {{14 * 60, 18 * 60}};
  add_event_type(ctx.user, {.id = "intro-call", .title = "Intro call", .description = "A quick hello to see how I can help.",
                            .location = "Phone", .length_minutes = 15, .minimum_notice_minutes = 60, .time_zone = tz,
                            .availability = office});
  add_event_type(ctx.user, {.id = "consultation", .title = "Consultation", .description = "A focused session on your project.",
                            .location = "Video call", .length_minutes = 30, .buffer_before_minutes = 10,
                            .buffer_after_minutes = 10, .minimum_notice_minutes = 120, .time_zone = tz, .availability = office});
  add_event_type(ctx.user, {.id = "workshop", .title = "Workshop", .description = "Hands-on session, up to 6 people.",
                            .location = "Studio, Kanalstraße 7", .length_minutes = 60, .buffer_after_minutes = 15,
                            .minimum_notice_minutes = 24 * 60, .slot_interval_minutes = 30, .time_zone = tz,
                            .availability = afternoons});
  return true;
}

}  // namespace concierge::providers::booking
