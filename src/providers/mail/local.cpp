#include "providers/mail/local.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <map>

#include "providers/error.hpp"
#include "providers/ids.hpp"
#include "providers/mail/query.hpp"
#include "common/json.hpp"

namespace concierge::providers::mail {

namespace {

const std::vector<std::string> kMigrations{
    R"sql(
      CREATE TABLE mail_identity (
        user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        email TEXT NOT NULL
      );
      CREATE TABLE mail_messages (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        thread_id TEXT NOT NULL,
        message_id TEXT NOT NULL,           -- the RFC 5322 Message-ID
        from_name TEXT NOT NULL,
        from_email TEXT NOT NULL,
        to_addrs TEXT NOT NULL,             -- JSON [{name, email}]
        cc_addrs TEXT NOT NULL,
        subject TEXT NOT NULL,
        snippet TEXT NOT NULL,
        body_text TEXT NOT NULL,            -- the start of the text body, for search
        date_ms INTEGER NOT NULL,
        unread INTEGER NOT NULL DEFAULT 0,
        starred INTEGER NOT NULL DEFAULT 0,
        has_attachment INTEGER NOT NULL DEFAULT 0,
        size INTEGER NOT NULL,
        raw BLOB NOT NULL                   -- the whole message: bytes, in whatever charset it came (was TEXT,
                                            -- the same to SQLite; PostgreSQL's text must be UTF-8)
      );
      CREATE INDEX mail_messages_date ON mail_messages (user_id, date_ms DESC, id DESC);
      CREATE INDEX mail_messages_thread ON mail_messages (user_id, thread_id, date_ms);
      CREATE INDEX mail_messages_message_id ON mail_messages (user_id, message_id);
      CREATE TABLE mail_message_labels (
        message_id INTEGER NOT NULL REFERENCES mail_messages(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        PRIMARY KEY (message_id, label)
      ) WITHOUT ROWID;
      CREATE INDEX mail_message_labels_label ON mail_message_labels (label, message_id);
      CREATE TABLE mail_user_labels (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        PRIMARY KEY (user_id, name)
      ) WITHOUT ROWID;
    )sql",
};

const std::vector<std::string> kSystem{"INBOX", "SENT", "DRAFT", "TRASH", "SPAM"};
constexpr size_t kMaxMessage = 2 * 1024 * 1024;

Json addresses_json(const std::vector<Address>& as) {
  Json out = Json::array();
  for (auto& a : as) out.push_back({{"name", a.name}, {"email", a.email}});
  return out;
}
std::vector<Address> addresses_of(const std::string& text) {
  std::vector<Address> out;
  for (auto& a : Json::parse(text)) out.push_back({a.value("name", ""), a.value("email", "")});
  return out;
}

// Searches list summaries only; reading a message parses the stored raw message.
std::string summary_cols(const sql::Database& db, bool raw) {
  return "SELECT m.uid, m.thread_id, m.from_name, m.from_email, m.to_addrs, m.cc_addrs, m.subject, m.snippet, m.date_ms, m.unread, "
         "m.starred, m.has_attachment, (SELECT " +
         sql::string_agg(db, "label", "','") + " FROM mail_message_labels l WHERE l.message_id = m.id)" + (raw ? ", m.raw" : "") +
         " FROM mail_messages m ";
}

Summary read_summary(sql::Statement& q) {
  Summary s;
  s.id = q.getColumn(0).getString();
  s.thread_id = q.getColumn(1).getString();
  s.from = {q.getColumn(2).getString(), q.getColumn(3).getString()};
  s.to = addresses_of(q.getColumn(4).getString());
  s.cc = addresses_of(q.getColumn(5).getString());
  s.subject = q.getColumn(6).getString();
  s.snippet = q.getColumn(7).getString();
  s.date = q.getColumn(8).getInt64();
  s.unread = q.getColumn(9).getInt() != 0;
  s.starred = q.getColumn(10).getInt() != 0;
  s.has_attachments = q.getColumn(11).getInt() != 0;
  std::string labels = q.getColumn(12).isNull() ? "" : q.getColumn(12).getString();
  for (size_t at = 0; at < labels.size();) {
    auto comma = labels.find(',', at);
    s.labels.push_back(labels.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    at = comma == std::string::npos ? labels.size() : comma + 1;
  }
  std::sort(s.labels.begin(), s.labels.end());
  return s;
}

Message read_message(sql::Statement& q) {
  Message m;
  m.summary = read_summary(q);
  auto parsed = parse(q.getColumn(13).getString());
  m.text = std::move(parsed.text);
  m.html = std::move(parsed.html);
  m.attachments = std::move(parsed.attachments);
  m.message_id = parsed.message_id;
  m.in_reply_to = parsed.in_reply_to;
  m.references = parsed.references;
  return m;
}

std::optional<Message> find(sql::Database& db, const Call& call, const std::string& uid) {
  sql::Statement q(db, summary_cols(db, true) + "WHERE m.user_id = ? AND m.uid = ?");
  q.bind(1, call.user);
  q.bind(2, uid);
  if (!q.executeStep()) return std::nullopt;
  return read_message(q);
}

// A label as it is stored: system labels in capitals, the user's as they named them.
std::string canonical(const std::string& label) {
  std::string u = upper(label);
  if (u == "DRAFTS") u = "DRAFT";
  return std::find(kSystem.begin(), kSystem.end(), u) != kSystem.end() ? u : label;
}

}  // namespace

LocalMail::LocalMail(store::Store& store) : store_(store) { store_.migrate("mail", kMigrations); }

Address LocalMail::me(const Call& call) {
  auto a = store_.read([&](sql::Database& db) -> std::optional<Address> {
    sql::Statement q(db, "SELECT name, email FROM mail_identity WHERE user_id = ?");
    q.bind(1, call.user);
    if (!q.executeStep()) return std::nullopt;
    return Address{q.getColumn(0).getString(), q.getColumn(1).getString()};
  });
  return a ? *a : Address{"Me", "me@concierge.local"};
}

void LocalMail::set_me(const Call& call, const Address& a) {
  store_.write([&](sql::Database& db) {
    sql::Statement up(db, "INSERT INTO mail_identity (user_id, name, email) VALUES (?,?,?) ON CONFLICT (user_id) DO UPDATE SET "
                             "name = excluded.name, email = excluded.email");
    up.bind(1, call.user);
    up.bind(2, a.name);
    up.bind(3, a.email);
    up.exec();
  });
}

std::string LocalMail::deliver(const Call& call, const std::string& raw, const std::vector<std::string>& labels, bool unread, bool starred) {
  auto m = parse(raw);
  std::string uid = random_id(16);
  store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    // The thread of the message it answers, else a new one.
    std::string thread;
    std::vector<std::string> parents = m.references;
    if (!m.in_reply_to.empty()) parents.push_back(m.in_reply_to);
    for (auto it = parents.rbegin(); it != parents.rend() && thread.empty(); ++it) {
      sql::Statement q(db, "SELECT thread_id FROM mail_messages WHERE user_id = ? AND message_id = ? LIMIT 1");
      q.bind(1, call.user);
      q.bind(2, *it);
      if (q.executeStep()) thread = q.getColumn(0).getString();
    }
    if (thread.empty()) thread = "t" + random_id(15);
    sql::Statement ins(db,
                          "INSERT INTO mail_messages (uid, user_id, thread_id, message_id, from_name, from_email, to_addrs, cc_addrs, "
                          "subject, snippet, body_text, date_ms, unread, starred, has_attachment, size, raw) "
                          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id");
    ins.bind(1, uid);
    ins.bind(2, call.user);
    ins.bind(3, thread);
    ins.bind(4, m.message_id);
    ins.bind(5, m.from.name);
    ins.bind(6, m.from.email);
    ins.bind(7, addresses_json(m.to).dump());
    ins.bind(8, addresses_json(m.cc).dump());
    ins.bind(9, m.subject);
    ins.bind(10, snippet(m.text.empty() ? m.html : m.text));
    ins.bind(11, m.text.substr(0, 10000));
    ins.bind(12, m.date);
    ins.bind(13, unread ? 1 : 0);
    ins.bind(14, starred ? 1 : 0);
    ins.bind(15, m.attachments.empty() ? 0 : 1);
    ins.bind(16, int64_t(raw.size()));
    ins.bind(17, raw);
    ins.executeStep();
    const int64_t row = ins.getColumn(0).getInt64();
    ins.reset();  // done with it: SQLite commits no transaction while a statement is mid-step
    for (auto& l : labels) {
      sql::Statement il(db, "INSERT INTO mail_message_labels (message_id, label) VALUES (?, ?) ON CONFLICT DO NOTHING");
      il.bind(1, row);
      il.bind(2, l);
      il.exec();
    }
    tx.commit();
  });
  return uid;
}

SearchPage LocalMail::search(const Call& call, const std::string& query, int max_results, const std::string& page_token,
                             const date::time_zone* tz) {
  auto filter = to_sql(parse_query(query), tz);
  int64_t offset = 0;
  if (!page_token.empty()) {
    try {
      offset = std::stoll(page_token);
    } catch (const std::exception&) {
      throw Error("page_token", "not a page token from a previous search");
    }
  }
  int limit = std::clamp(max_results, 1, 100);
  return store_.read([&](sql::Database& db) {
    sql::Statement q(db, summary_cols(db, false) + "WHERE m.user_id = ? AND " + filter.where +
                                " ORDER BY m.date_ms DESC, m.id DESC LIMIT ? OFFSET ?");
    int i = 1;
    q.bind(i++, call.user);
    for (auto& p : filter.params) std::visit([&](auto& v) { q.bind(i++, v); }, p);
    q.bind(i++, limit + 1);
    q.bind(i++, offset);
    SearchPage page;
    while (q.executeStep()) page.messages.push_back(read_summary(q));
    if (int(page.messages.size()) > limit) {
      page.messages.pop_back();
      page.next_page_token = std::to_string(offset + limit);
    }
    return page;
  });
}

Message LocalMail::message(const Call& call, const std::string& id) {
  auto m = store_.read([&](sql::Database& db) { return find(db, call.user, id); });
  if (!m) throw NotFound("message_id", "no message '" + id + "'");
  return *m;
}

std::vector<Message> LocalMail::thread(const Call& call, const std::string& id) {
  auto all = store_.read([&](sql::Database& db) {
    sql::Statement q(db, summary_cols(db, true) + "WHERE m.user_id = ? AND m.thread_id = ? ORDER BY m.date_ms, m.id");
    q.bind(1, call.user);
    q.bind(2, id);
    std::vector<Message> out;
    while (q.executeStep()) out.push_back(read_message(q));
    return out;
  });
  if (all.empty()) throw NotFound("thread_id", "no thread '" + id + "'");
  return all;
}

Summary LocalMail::compose(const Call& call, const Outgoing& mail, const std::string& label) {
  MimeMessage m;
  m.from = me(call.user);
  m.to = mail.to;
  m.cc = mail.cc;
  m.bcc = mail.bcc;
  m.subject = mail.subject;
  m.text = mail.text;
  m.html = mail.html;
  m.date = now_ms();
  m.message_id = random_id(24) + "@" + m.from.email.substr(m.from.email.find('@') + 1);
  if (!mail.reply_to.empty()) {
    auto parent = message(call.user, mail.reply_to);
    m.in_reply_to = parent.message_id;
    m.references = parent.references;
    m.references.push_back(parent.message_id);
    if (m.to.empty()) m.to = {parent.summary.from};
    if (m.subject.empty()) m.subject = parent.summary.subject;
    std::string lower = m.subject.substr(0, 3);
    for (auto& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (lower != "re:") m.subject = "Re: " + m.subject;
  }
  if (m.to.empty() && label == "SENT") throw Error("to", "a message needs at least one recipient");
  if (m.text.empty() && m.html.empty()) throw Error("text", "a message needs a text or html body");
  std::string raw = build(m);
  if (raw.size() > kMaxMessage) throw Error(m.html.size() > m.text.size() ? "html" : "text", "the message is larger than 2 MB");
  auto uid = deliver(call.user, raw, {label}, false);
  return message(call.user, uid).summary;
}

Summary LocalMail::send(const Call& call, const Outgoing& mail) { return compose(call.user, mail, "SENT"); }
Summary LocalMail::draft(const Call& call, const Outgoing& mail) { return compose(call.user, mail, "DRAFT"); }

std::vector<Summary> LocalMail::modify(const Call& call, const std::vector<std::string>& ids, const Change& change) {
  for (auto* list : {&change.add_labels, &change.remove_labels})
    for (auto& l : *list) {
      auto c = canonical(l);
      if (c == "SENT" || c == "DRAFT") throw Error(list == &change.add_labels ? "add_labels" : "remove_labels", c + " is set by sending or drafting, not by hand");
    }
  store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    std::vector<int64_t> rows;
    for (auto& id : ids) {
      sql::Statement q(db, "SELECT id FROM mail_messages WHERE user_id = ? AND uid = ?");
      q.bind(1, call.user);
      q.bind(2, id);
      if (!q.executeStep()) throw NotFound("message_ids", "no message '" + id + "'");
      rows.push_back(q.getColumn(0).getInt64());
    }
    auto label_op = [&](int64_t row, const std::string& label, bool add) {
      sql::Statement s(db, add ? "INSERT INTO mail_message_labels (message_id, label) VALUES (?, ?) ON CONFLICT DO NOTHING"
                                  : "DELETE FROM mail_message_labels WHERE message_id = ? AND label = ?");
      s.bind(1, row);
      s.bind(2, label);
      s.exec();
    };
    for (auto& l : change.add_labels) {
      auto c = canonical(l);
      if (std::find(kSystem.begin(), kSystem.end(), c) == kSystem.end()) {
        sql::Statement ul(db, "INSERT INTO mail_user_labels (user_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING");
        ul.bind(1, call.user);
        ul.bind(2, c);
        ul.exec();
      }
    }
    for (auto row : rows) {
      for (auto& l : change.add_labels) label_op(row, canonical(l), true);
      for (auto& l : change.remove_labels) label_op(row, canonical(l), false);
      if (change.archive) label_op(row, "INBOX", false);
      if (change.trash) {
        label_op(row, "INBOX", false);
        label_op(row, "TRASH", true);
      }
      auto flag = [&](const char* col, bool v) {
        sql::Statement s(db, std::string("UPDATE mail_messages SET ") + col + " = ? WHERE id = ?");
        s.bind(1, v ? 1 : 0);
        s.bind(2, row);
        s.exec();
      };
      if (change.read) flag("unread", !*change.read);
      if (change.starred) flag("starred", *change.starred);
    }
    tx.commit();
  });
  std::vector<Summary> out;
  for (auto& id : ids) out.push_back(message(call.user, id).summary);
  return out;
}

std::vector<Label> LocalMail::labels(const Call& call) {
  return store_.read([&](sql::Database& db) {
    std::vector<Label> out;
    auto count = [&](const std::string& label) {
      sql::Statement q(db, "SELECT count(*), coalesce(sum(m.unread), 0) FROM mail_message_labels l JOIN mail_messages m ON m.id = l.message_id "
                              "WHERE m.user_id = ? AND l.label = ?");
      q.bind(1, call.user);
      q.bind(2, label);
      q.executeStep();
      return std::make_pair(q.getColumn(0).getInt(), q.getColumn(1).getInt());
    };
    for (auto& s : kSystem) {
      auto [total, unread] = count(s);
      out.push_back({s, "system", total, unread});
    }
    sql::Statement starred(db, "SELECT count(*), coalesce(sum(unread), 0) FROM mail_messages WHERE user_id = ? AND starred = 1");
    starred.bind(1, call.user);
    starred.executeStep();
    out.push_back({"STARRED", "system", starred.getColumn(0).getInt(), starred.getColumn(1).getInt()});
    sql::Statement q(db, "SELECT name FROM mail_user_labels WHERE user_id = ? ORDER BY name");
    q.bind(1, call.user);
    std::vector<std::string> names;
    while (q.executeStep()) names.push_back(q.getColumn(0).getString());
    for (auto& n : names) {
      auto [total, unread] = count(n);
      out.push_back({n, "user", total, unread});
    }
    return out;
  });
}

bool LocalMail::seed_demo(const DemoContext& ctx) {
  bool empty = store_.read([&](sql::Database& db) {
    sql::Statement q(db, "SELECT 1 FROM mail_messages WHERE user_id = ? LIMIT 1");
    q.bind(1, ctx.user);
    return !q.executeStep();
  });
  if (!empty) return false;
  const Address alex{"Alex Morgan", "alex@example.com"};
  set_me(ctx.user, alex);
  struct Demo {
    const char* key;       // to answer it by
    const char* reply_to;  // key of the message it answers, or ""
    Address from;
    std::vector<Address> cc;
    const char* subject;
    const char* text;
    double hours_ago;
    bool unread, starred, sent;
    const char* label;  // a user label, or ""
    const char* attachment;  // file name of a small attachment, or ""
  };
  const Address ravi{"Ravi Nair", "ravi.nair@example.com"}, jonas{"Jonas Berg", "jonas.berg@example.com"},
      sam{"Sam Okafor", "sam.okafor@example.com"}, priya{"Priya Shah", "priya.shah@example.com"},
      maya{"Maya Lopez", "maya.lopez@example.com"}, billing{"Northwind Energy", "billing@northwind-energy.example"},
      news{"Readly Digest", "digest@readly.example"}, air{"Alpine Air", "noreply@alpine-air.example"},
      landlord{"Greta Hoffmann", "greta.hoffmann@example.org"};
  const Demo demo[] = {
      {"q1", "", ravi, {maya}, "Quarterly report draft", "Hi Alex,\n\nattached is the first draft of the Q4 report. Could you check the revenue section by Thursday?\n\nThanks,\nRavi", 150, false, false, false, "Work", "q4-report-draft.pdf"},
      {"q2", "q1", alex, {maya}, "Re: Quarterly report draft", "Thanks Ravi, I'll go through it tomorrow morning.\n\nAlex", 148, false, false, true, "", ""},
      {"q3", "q2", ravi, {maya}, "Re: Quarterly report draft", "Great. One more thing: the churn numbers in table 3 are from October, not November.\n\nRavi", 30, true, false, false, "Work", ""},
      {"c1", "", jonas, {}, "Café meeting — Überblick", "Hallo Alex,\n\nhere is a short overview before our coffee: the Überblick of what the team shipped this month.\n\nBis bald,\nJonas", 20, true, false, false, "", ""},
      {"c2", "c1", alex, {}, "Re: Café meeting — Überblick", "Danke Jonas, see you at Café Lumen at 11.", 19, false, false, true, "", ""},
      {"i1", "", billing, {}, "Your invoice #2041", "Dear customer,\n\nyour invoice for November is attached. Amount due: EUR 84.20, payable by the 5th.\n\nNorthwind Energy", 60, false, true, false, "Bills", "invoice-2041.pdf"},
      {"h1", "", sam, {priya}, "Weekend hiking plan", "Hey both,\n\nhow about the lake trail on Saturday? Start 8:30 at the station, about 14 km.\n\nSam", 40, false, false, false, "", ""},
      {"h2", "h1", priya, {sam}, "Re: Weekend hiking plan", "I'm in! I'll bring sandwiches. Alex, are you coming?", 38, true, false, false, "", ""},
      {"h3", "h2", alex, {sam, priya}, "Re: Weekend hiking plan", "Count me in. I'll bring the map and a thermos.", 37, false, false, true, "", ""},
      {"h4", "h3", sam, {priya}, "Re: Weekend hiking plan", "Perfect. Weather looks good: sunny, 12 degrees.", 12, true, false, false, "", ""},
      {"n1", "", news, {}, "Your weekly digest: 5 stories on urban gardening", "This week: balcony tomatoes, community plots, and how to compost in a flat.", 100, false, false, false, "Newsletters", ""},
      {"n2", "", news, {}, "Your weekly digest: the best night trains in Europe", "Sleeper cabins compared, from Vienna to Venice and beyond.", 4, true, false, false, "Newsletters", ""},
      {"f1", "", air, {}, "Booking confirmation LX 1234 to Lisbon", "Your booking is confirmed. Flight LX 1234, departure 07:15. Your e-ticket is attached.", 90, false, true, false, "Travel", "e-ticket.txt"},
      {"d1", "", priya, {}, "Dinner on Friday?", "Would you and Sam like to come for dinner on Friday at 7? Trattoria Sole has a table for us.", 8, true, false, false, "", ""},
      {"o1", "", maya, {ravi}, "Team offsite agenda", "Hi all,\n\nhere's the draft agenda for the offsite: strategy in the morning, workshops after lunch. Comments welcome.\n\nMaya", 26, true, false, false, "Work", ""},
      {"o2", "o1", ravi, {maya}, "Re: Team offsite agenda", "Looks good. Could we move the budget session before lunch?", 22, false, false, false, "Work", ""},
      {"a1", "", landlord, {}, "Apartment: heating maintenance on Tuesday", "Dear tenants,\n\nthe heating will be serviced on Tuesday between 9 and 12. Please make sure the radiators are accessible.\n\nGreta Hoffmann", 50, false, false, false, "", ""},
      {"a2", "a1", alex, {}, "Re: Apartment: heating maintenance on Tuesday", "Thanks for letting us know, I'll be home.", 49, false, false, true, "", ""},
      {"p1", "", maya, {}, "Photos from the team lunch", "A few photos from Friday, the good ones only :)", 70, false, false, false, "", "team-lunch.jpg"},
      {"r1", "", jonas, {}, "Book recommendation", "You asked about the book I mentioned: it's 'The Overstory' by Richard Powers. Enjoy!", 110, false, false, false, "", ""},
  };
  std::map<std::string, std::string> ids;  // key -> our id
  for (auto& d : demo) {
    MimeMessage m;
    m.from = d.from;
    if (!d.sent) m.to = {alex};
    m.cc = d.cc;
    m.subject = d.subject;
    m.text = d.text;
    m.date = ctx.now - Millis(d.hours_ago * kHour);
    m.message_id = random_id(20) + "@" + d.from.email.substr(d.from.email.find('@') + 1);
    if (*d.reply_to) {
      auto parent = message(ctx.user, ids.at(d.reply_to));
      m.in_reply_to = parent.message_id;
      m.references = parent.references;
      m.references.push_back(parent.message_id);
      if (d.sent) m.to = {parent.summary.from};
    }
    if (d.sent && m.to.empty()) m.to = {d.cc.empty() ? alex : d.cc.front()};
    if (*d.attachment) {
      std::string name = d.attachment;
      std::string type = name.ends_with(".pdf") ? "application/pdf" : name.ends_with(".jpg") ? "image/jpeg" : "text/plain";
      m.attachments.push_back({name, type, std::string(type == "text/plain" ? "E-TICKET LX1234 LIS 07:15 SEAT 14A\n" : std::string(2048, '\x42')), 0});
    }
    std::vector<std::string> labels{d.sent ? "SENT" : "INBOX"};
    if (*d.label) labels.push_back(d.label);
    ids[d.key] = deliver(ctx.user, build(m), labels, d.unread, d.starred);
  }
  store_.write([&](sql::Database& db) {
    for (const char* l : {"Work", "Bills", "Newsletters", "Travel"}) {
      sql::Statement ul(db, "INSERT INTO mail_user_labels (user_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING");
      ul.bind(1, ctx.user);
      ul.bind(2, l);
      ul.exec();
    }
  });
  return true;
}

}  // namespace concierge::providers::mail
