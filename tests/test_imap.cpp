// The IMAP + SMTP mail adapter against a real Dovecot (tests/support/dovecot_server.hpp) and an
// in-test SMTP sink: the mail scenario through the tools (every search operator, a thread, a
// reply that threads and reaches SMTP with In-Reply-To/References, read/star/archive/trash,
// labels), bad ids, a wrong password naming the account, a stopped server naming IMAP, and the
// password kept out of logs, history and errors.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "providers/error.hpp"
#include "providers/mail/imap.hpp"
#include "providers/mail/mime.hpp"
#include "support/app_fixture.hpp"
#include "support/dovecot_server.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/served_binary.hpp"
#include "support/smtp_sink.hpp"
#include "support/tool_calls.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers;
using namespace concierge::providers::mail;

namespace {

const Address kMe{"Alex Morgan", "alice@mail.test"};

// The test servers speak plaintext on loopback, which the adapter allows only when told.
std::shared_ptr<ImapMail> adapter(const DovecotServer& d, const SmtpSink& sink, const std::string& password,
                                  const std::string& account = "work", bool plaintext = true) {
  ImapOptions o;
  o.imap_allow_plaintext = o.smtp_allow_plaintext = plaintext;
  o.account = account;
  o.imap_url = d.url();
  o.smtp_url = sink.url();
  o.username = d.user;
  o.password = password;
  o.from = kMe;
  o.timeout_ms = 10000;
  return std::make_shared<ImapMail>(o);
}

struct Tools : ToolCalls {
  Client c;
  explicit Tools(Server& s) : ToolCalls(c), c(s) { c.initialize("2025-11-25"); }
  Json search(const std::string& q) { return ok("mail_search", {{"query", q}, {"max_results", 100}})["messages"]; }
};

std::string message(const Address& from, const std::vector<Address>& to, const std::vector<Address>& cc, const std::string& subject,
                    const std::string& text, Millis date, const std::string& id, const std::vector<std::string>& refs = {},
                    const std::vector<Attachment>& atts = {}) {
  MimeMessage m;
  m.from = from;
  m.to = to;
  m.cc = cc;
  m.subject = subject;
  m.text = text;
  m.date = date;
  m.message_id = id;
  m.references = refs;
  if (!refs.empty()) m.in_reply_to = refs.back();
  m.attachments = atts;
  return build(m);
}

std::vector<std::string> ids_of(const Json& messages) {
  std::vector<std::string> out;
  for (auto& m : messages) out.push_back(m["id"]);
  return out;
}

const Address ravi{"Ravi Nair", "ravi.nair@example.com"}, jonas{"Jonas Berg", "jonas.berg@example.com"},
    sam{"Sam Okafor", "sam.okafor@example.com"}, priya{"Priya Shah", "priya.shah@example.com"},
    billing{"Northwind Energy", "billing@northwind-energy.example"};

// A mailbox of 8 messages in INBOX, Sent and a user mailbox "Bills": threads, attachments, an
// RFC 2047 subject written by hand, unread and starred ones.
void seed(ImapMail& box, Millis now) {
  int64_t u = 1;
  auto h = [&](double hours) { return now - Millis(hours * kHour); };
  box.append(u, "INBOX", message(ravi, {kMe}, {}, "Quarterly report draft", "Hi Alex,\n\nattached is the first draft of the Q4 report. Could you check the revenue section by Thursday? "
                                 "The appendix still needs the regional numbers.\n\nRavi",
                                 h(150), "q1@example.com", {}, {{"q4-report.pdf", "application/pdf", std::string(3000, 'B'), 0}}));
  box.append(u, "Sent", message(kMe, {ravi}, {}, "Re: Quarterly report draft", "Thanks Ravi, I'll go through it tomorrow.", h(148),
                                "q2@mail.test", {"q1@example.com"}));
  box.append(u, "INBOX", message(ravi, {kMe}, {}, "Re: Quarterly report draft", "The churn numbers in table 3 are from October.", h(30),
                                 "q3@example.com", {"q1@example.com", "q2@mail.test"}), false);
  // Hand-written, as a mail client would send it: a base64 RFC 2047 subject, quoted-printable body.
  std::string cafe =
      "From: Jonas Berg <jonas.berg@example.com>\r\nTo: Alex Morgan <alice@mail.test>\r\n"
      "Subject: =?UTF-8?B?Q2Fmw6kgbWVldGluZyDigJQgw5xiZXJibGljaw==?=\r\n"
      "Date: " + date::format("%a, %d %b %Y %H:%M:%S +0000", std::chrono::sys_time<std::chrono::seconds>(std::chrono::seconds(h(20) / 1000))) +
      "\r\nMessage-ID: <c1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\nHallo Alex, hier ist der =C3=9Cberblick vor unserem Kaffee.\r\n";
  box.append(u, "INBOX", cafe, false);
  box.append(u, "Bills", message(billing, {kMe}, {}, "Your invoice #2041", "Amount due: EUR 84.20.", h(60), "i1@northwind-energy.example", {},
                                 {{"invoice-2041.pdf", "application/pdf", std::string(2048, 'C'), 0}}),
             true, true);
  box.append(u, "INBOX", message(sam, {kMe}, {priya}, "Weekend hiking plan", "How about the lake trail on Saturday?", h(40), "h1@example.com"));
  box.append(u, "INBOX", message(priya, {kMe}, {sam}, "Re: Weekend hiking plan", "I'm in! I'll bring sandwiches.", h(38), "h2@example.com",
                                 {"h1@example.com"}), false);
  box.append(u, "INBOX", message(priya, {kMe}, {}, "Dinner on Friday?", "Would you and Sam like to come for dinner on Friday at 7?", h(8),
                                 "d1@example.com"), false);
}

}  // namespace

TEST_CASE("imap: the mail scenario through the tools against Dovecot, replies through SMTP", "[imap]") {
  DovecotServer dovecot;
  SmtpSink sink;
  AppFixture f;
  auto imap = adapter(dovecot, sink, dovecot.password);
  Millis now = now_ms();
  f.providers.mail = {};
  f.providers.mail.add("work", imap);
  Tools t(*f.server);
  // Make the Bills mailbox by filing a throwaway and moving it back out (exercises CREATE).
  auto tmp = imap->append(1, "INBOX", message(billing, {kMe}, {}, "tmp", "tmp", now - 200 * kHour, "tmp@example.com"));
  auto moved = t.ok("mail_modify", {{"message_ids", {tmp}}, {"add_labels", {"Bills"}}});
  REQUIRE(moved["messages"][0]["labels"] == Json{"Bills"});
  t.ok("mail_modify", {{"message_ids", {moved["messages"][0]["id"]}}, {"trash", true}});
  seed(*imap, now);

  Json all = t.search("");
  REQUIRE(all.size() == 8);
  for (size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1]["date"] >= all[i]["date"]);
  CHECK(all[0]["subject"] == "Dinner on Friday?");
  auto count_if = [&](auto pred) {
    size_t n = 0;
    for (auto& m : all) n += pred(m) ? 1 : 0;
    return n;
  };

  SECTION("every operator of the local search, translated to IMAP SEARCH") {
    auto from = t.search("from:ravi");
    CHECK(from.size() == 2);
    for (auto& m : from) CHECK_THAT(m["from"].get<std::string>(), Catch::Contains("Ravi"));
    auto to = t.search("to:priya");  // cc counts
    REQUIRE(to.size() == 1);
    CHECK(to[0]["subject"] == "Weekend hiking plan");
    CHECK(t.search("subject:\"weekend hiking\"").size() == 2);
    auto unicode = t.search("subject:Überblick");
    REQUIRE(unicode.size() == 1);
    CHECK(unicode[0]["subject"] == "Café meeting — Überblick");
    CHECK(unicode[0]["snippet"] == "Hallo Alex, hier ist der Überblick vor unserem Kaffee.");
    auto unread = t.search("is:unread");
    CHECK(unread.size() == 4);
    CHECK(unread.size() == count_if([](const Json& m) { return m["unread"] == true; }));
    CHECK(t.search("is:read").size() + unread.size() == all.size());
    auto starred = t.search("is:starred");
    REQUIRE(starred.size() == 1);
    CHECK(starred[0]["subject"] == "Your invoice #2041");
    auto attach = t.search("has:attachment");
    CHECK(attach.size() == 2);
    CHECK(attach.size() == count_if([](const Json& m) { return m["has_attachments"] == true; }));
    CHECK(t.search("-has:attachment").size() == all.size() - 2);
    auto bills = t.search("label:bills");
    REQUIRE(bills.size() == 1);
    CHECK(bills[0]["labels"] == Json{"Bills"});
    CHECK(t.search("-label:Bills").size() == all.size() - 1);
    auto sent = t.search("in:sent");
    REQUIRE(sent.size() == 1);
    CHECK(sent[0]["labels"] == Json{"SENT"});
    CHECK(t.search("in:inbox").size() == 6);
    std::string cut = all[3]["date"].get<std::string>().substr(0, 10);
    auto before = t.search("before:" + cut), after = t.search("after:" + cut);
    for (auto& m : before) CHECK(m["date"].get<std::string>().substr(0, 10) < cut);
    for (auto& m : after) CHECK(m["date"].get<std::string>().substr(0, 10) >= cut);
    CHECK(before.size() + after.size() == all.size());
    CHECK(t.search("-before:" + cut).size() == after.size());
    auto words = t.search("sandwiches");
    REQUIRE(words.size() == 1);
    CHECK_THAT(words[0]["snippet"].get<std::string>(), Catch::Contains("sandwiches"));
    CHECK(t.search("\"lake trail\"").size() == 1);
    auto combined = t.search("from:ravi is:unread subject:quarterly");
    REQUIRE(combined.size() == 1);
    CHECK(combined[0]["unread"] == true);
    CHECK(t.search("label:Bills in:inbox").empty());
    CHECK(t.search("in:trash").size() == 1);  // the throwaway
    CHECK(t.search("in:anywhere").size() == all.size() + 1);
    CHECK_THAT(t.error("mail_search", {{"query", "before:tomorrow"}}), Catch::StartsWith("query:"));
    // Pages follow on without overlap.
    Json p1 = t.ok("mail_search", {{"query", ""}, {"max_results", 5}});
    REQUIRE(p1.contains("next_page_token"));
    Json p2 = t.ok("mail_search", {{"query", ""}, {"max_results", 5}, {"page_token", p1["next_page_token"]}});
    CHECK(p2["messages"].size() == 3);
    CHECK_FALSE(p2.contains("next_page_token"));
    CHECK(p2["messages"][0]["id"] == all[5]["id"]);
  }

  SECTION("read a message and a thread across INBOX and Sent") {
    auto report = t.search("subject:\"quarterly report\"");
    REQUIRE(report.size() == 3);
    std::set<std::string> threads;
    for (auto& m : report) threads.insert(m["thread_id"]);
    REQUIRE(threads.size() == 1);
    Json thread = t.ok("mail_read", {{"thread_id", report[0]["thread_id"]}})["messages"];
    REQUIRE(thread.size() == 3);
    CHECK(thread[0]["message_id_header"] == "q1@example.com");
    CHECK(thread[1]["labels"] == Json{"SENT"});
    CHECK(thread[2]["references"] == Json{"q1@example.com", "q2@mail.test"});
    REQUIRE(thread[0]["attachments"].size() == 1);
    CHECK(thread[0]["attachments"][0]["filename"] == "q4-report.pdf");
    CHECK(thread[0]["attachments"][0]["size"] == 3000);
    Json one = t.ok("mail_read", {{"message_id", thread[0]["id"]}, {"max_body_chars", 100}})["messages"][0];
    CHECK(one["truncated"] == true);
    CHECK_THAT(one["body"].get<std::string>(), Catch::EndsWith("more bytes]"));
    // Reading is a peek: the message stays unread.
    CHECK(t.search("is:unread subject:quarterly").size() == 1);
  }

  SECTION("a reply goes out through SMTP, threads, and its copy is in Sent") {
    auto dinner = t.search("subject:\"dinner on friday\"");
    REQUIRE(dinner.size() == 1);
    Json reply = t.ok("mail_send", {{"reply_to_message_id", dinner[0]["id"]}, {"text", "We would love to! See you at 7."},
                                    {"bcc", {"secret@example.org"}}})["message"];
    CHECK(reply["subject"] == "Re: Dinner on Friday?");
    CHECK(reply["to"] == Json{"Priya Shah <priya.shah@example.com>"});
    CHECK(reply["thread_id"] == dinner[0]["thread_id"]);
    CHECK(reply["labels"] == Json{"SENT"});
    CHECK(reply["unread"] == false);
    auto mails = sink.mails();
    REQUIRE(mails.size() == 1);
    CHECK(mails[0].from == "<alice@mail.test>");
    CHECK(mails[0].rcpt == std::vector<std::string>{"<priya.shah@example.com>", "<secret@example.org>"});
    auto wire = parse(mails[0].data);
    CHECK(wire.in_reply_to == "d1@example.com");
    CHECK(wire.references == std::vector<std::string>{"d1@example.com"});
    CHECK(wire.bcc.empty());  // Bcc is not on the wire...
    CHECK_THAT(mails[0].data, !Catch::Contains("secret@example.org"));
    Json thread = t.ok("mail_read", {{"thread_id", dinner[0]["thread_id"]}})["messages"];
    REQUIRE(thread.size() == 2);
    CHECK(thread[1]["id"] == reply["id"]);
    CHECK(thread[1]["in_reply_to"] == thread[0]["message_id_header"]);
    CHECK(thread[1]["message_id_header"] == wire.message_id);
    auto sent = ids_of(t.search("in:sent"));
    CHECK(std::find(sent.begin(), sent.end(), reply["id"]) != sent.end());
    Json draft = t.ok("mail_draft", {{"to", {"Sam <sam.okafor@example.com>"}}, {"subject", "Map"}, {"text", "Route soon"}})["message"];
    CHECK(draft["labels"] == Json{"DRAFT"});
    auto drafts = ids_of(t.search("in:drafts"));
    CHECK(drafts == std::vector<std::string>{draft["id"]});
    CHECK(sink.mails().size() == 1);  // a draft is not sent
  }

  SECTION("mark read, star, archive, trash, labels") {
    auto unread = t.search("is:unread");
    REQUIRE(unread.size() == 4);
    std::vector<std::string> two{unread[0]["id"], unread[1]["id"]};
    Json changed = t.ok("mail_modify", {{"message_ids", two}, {"read", true}, {"starred", true}})["messages"];
    REQUIRE(changed.size() == 2);
    CHECK(changed[0]["unread"] == false);
    CHECK(changed[0]["starred"] == true);
    CHECK(t.search("is:unread").size() == 2);
    CHECK(t.search("is:starred").size() == 3);
    Json archived = t.ok("mail_modify", {{"message_ids", {two[0]}}, {"archive", true}})["messages"][0];
    CHECK(archived["labels"] == Json{"Archive"});
    CHECK(archived["id"] != two[0]);  // a new mailbox, a new UID
    CHECK(archived["starred"] == true);
    auto inbox = ids_of(t.search("in:inbox"));
    CHECK(std::find(inbox.begin(), inbox.end(), archived["id"]) == inbox.end());
    auto everything = ids_of(t.search(""));
    CHECK(std::find(everything.begin(), everything.end(), archived["id"]) != everything.end());  // archived, not gone
    CHECK_THAT(t.error("mail_read", {{"message_id", two[0]}}), Catch::StartsWith("message_id:"));  // the old id is gone
    Json trashed = t.ok("mail_modify", {{"message_ids", {two[1]}}, {"trash", true}})["messages"][0];
    CHECK(trashed["labels"] == Json{"TRASH"});
    everything = ids_of(t.search(""));
    CHECK(std::find(everything.begin(), everything.end(), trashed["id"]) == everything.end());
    auto trash = ids_of(t.search("in:trash"));
    CHECK(std::find(trash.begin(), trash.end(), trashed["id"]) != trash.end());
    Json labeled = t.ok("mail_modify", {{"message_ids", {archived["id"]}}, {"add_labels", {"Follow-up"}}})["messages"][0];
    CHECK(labeled["labels"] == Json{"Follow-up"});
    CHECK(t.search("label:Follow-up").size() == 1);
    CHECK_THAT(t.error("mail_modify", {{"message_ids", {labeled["id"]}}, {"add_labels", {"A", "B"}}}), Catch::StartsWith("add_labels:"));
    CHECK_THAT(t.error("mail_modify", {{"message_ids", {labeled["id"]}}, {"add_labels", {"SENT"}}}), Catch::StartsWith("add_labels:"));

    Json labels = t.ok("mail_list_labels")["labels"];
    std::map<std::string, Json> by;
    for (auto& l : labels) by[l["name"]] = l;
    CHECK(by["TRASH"]["total"] == 2);  // with the throwaway
    CHECK(by["INBOX"]["total"] == 4);
    CHECK(by["INBOX"]["unread"] == 2);
    CHECK(by["SENT"]["total"] == 1);
    CHECK(by["STARRED"]["total"] == 2);  // the invoice and the labeled one (the trashed one is left out)
    CHECK(by["Follow-up"]["type"] == "user");
    CHECK(by["Follow-up"]["total"] == 1);
    CHECK(by["Bills"]["total"] == 1);
    CHECK(by["SPAM"]["type"] == "system");
  }

  SECTION("unknown and malformed ids name the field; nothing changes") {
    std::string first = all[0]["id"];
    auto ref = first.substr(0, first.rfind('/'));
    CHECK_THAT(t.error("mail_read", {{"message_id", "nope"}}), Catch::StartsWith("message_id:"));
    CHECK_THAT(t.error("mail_read", {{"message_id", ref + "/999"}}), Catch::StartsWith("message_id:"));
    CHECK_THAT(t.error("mail_read", {{"message_id", "INBOX/1/1"}}), Catch::StartsWith("message_id:"));  // wrong UIDVALIDITY
    CHECK_THAT(t.error("mail_read", {{"message_id", "NoSuchBox/1/1"}}), Catch::StartsWith("message_id:"));
    CHECK_THAT(t.error("mail_read", {{"thread_id", "nope"}}), Catch::StartsWith("thread_id:"));
    CHECK_THAT(t.error("mail_read", {{"thread_id", "tbm9ib2R5QGV4YW1wbGUuY29t"}}), Catch::StartsWith("thread_id:"));
    CHECK_THAT(t.error("mail_modify", {{"message_ids", {first, ref + "/999"}}, {"read", true}}), Catch::StartsWith("message_ids:"));
    CHECK(t.search("is:unread").size() == 4);  // the first one was not marked either
    CHECK_THAT(t.error("mail_send", {{"text", "hi"}, {"reply_to_message_id", "nope"}}), Catch::StartsWith("message_id:"));
    CHECK_THAT(t.error("mail_send", {{"text", "hi"}}), Catch::StartsWith("to:"));
    CHECK_THAT(t.error("mail_search", {{"query", ""}, {"page_token", "x"}}), Catch::StartsWith("page_token:"));
    CHECK(sink.mails().empty());
  }
}

TEST_CASE("imap: a wrong password names the account and what to fix, a stopped server names IMAP", "[imap]") {
  DovecotServer dovecot;
  SmtpSink sink;
  AppFixture f;
  const std::string wrong = "not-the-Pa55word";
  f.providers.mail = {};
  f.providers.mail.add("work", adapter(dovecot, sink, wrong));
  f.providers.mail.add("good", adapter(dovecot, sink, dovecot.password, "good"));
  Tools t(*f.server);
  std::string refused = t.error("mail_search", {{"query", "is:unread"}});
  CHECK_THAT(refused, Catch::StartsWith("account:"));
  CHECK_THAT(refused, Catch::Contains("IMAP") && Catch::Contains("'work'") && Catch::Contains("password") && Catch::Contains("alice"));
  CHECK_THAT(refused, !Catch::Contains(wrong));
  t.ok("mail_search", {{"query", ""}, {"account", "good"}});
  Json sent = t.ok("mail_send", {{"account", "good"}, {"to", {"ada@example.com"}}, {"subject", "hi"}, {"text", "hello"}});

  dovecot.stop();
  std::string down = t.error("mail_search", {{"query", ""}, {"account", "good"}});
  CHECK_THAT(down, Catch::Contains("IMAP") && Catch::Contains("not reachable") && Catch::Contains("'good'"));
  CHECK_THAT(t.error("mail_list_labels", {{"account", "good"}}), Catch::Contains("IMAP"));
  CHECK_THAT(t.error("mail_read", {{"account", "good"}, {"message_id", sent["message"]["id"]}}), Catch::Contains("IMAP"));

  // Neither password is in the logs, the recorded history or the errors.
  std::string logs;
  for (auto& l : captured_logs()) logs += l + "\n";
  store::History::Query q;
  q.user = "local";
  q.limit = 100;
  std::string history = f.history.query(q).rows.dump();
  for (const std::string& secret : {wrong, dovecot.password}) {
    CHECK_THAT(logs, !Catch::Contains(secret));
    CHECK_THAT(history, !Catch::Contains(secret));
    CHECK_THAT(down, !Catch::Contains(secret));
  }
}

TEST_CASE("imap: a stopped SMTP server is an error naming SMTP, and nothing is filed in Sent", "[imap]") {
  DovecotServer dovecot;
  auto sink = std::make_unique<SmtpSink>();
  auto imap = adapter(dovecot, *sink, dovecot.password);
  sink.reset();  // nothing listens there now
  try {
    imap->send(1, {.to = {{"", "ada@example.com"}}, .subject = "x", .text = "y"});
    FAIL("sent without a server");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("SMTP") && Catch::Contains("'work'"));
  }
  CHECK(imap->search(1, "in:sent", 10, "", zone("UTC")).messages.empty());
}

TEST_CASE("imap: without TLS nothing is sent unless plaintext is allowed, and that only on loopback", "[imap][hostile]") {
  DovecotServer dovecot;
  SmtpSink sink;
  AppFixture f;
  f.providers.mail = {};
  f.providers.mail.add("work", adapter(dovecot, sink, dovecot.password, "work", false));
  Tools t(*f.server);
  // Dovecot here offers no STARTTLS: the session stops before LOGIN, the error names the setting.
  std::string imap = t.error("mail_search", {{"query", ""}});
  CHECK_THAT(imap, Catch::StartsWith("account:") && Catch::Contains("IMAP server 127.0.0.1") && Catch::Contains("does not offer STARTTLS") &&
                       Catch::Contains("\"allow_plaintext\": true under services.imap"));
  std::string smtp = t.error("mail_send", {{"to", {"ada@example.com"}}, {"subject", "hi"}, {"text", "hello"}});
  CHECK_THAT(smtp, Catch::Contains("SMTP server 127.0.0.1") && Catch::Contains("services.smtp"));
  CHECK(sink.mails().empty());
  CHECK_THAT(imap + smtp, !Catch::Contains(dovecot.password));

  // Allowed, it works (the rest of this file); for a host elsewhere it is refused outright.
  CHECK(adapter(dovecot, sink, dovecot.password)->labels(1).size() > 0);
  for (auto [imap_url, smtp_url, allow_imap, allow_smtp, key] :
       {std::tuple{"imap://mail.example.com:143", "smtp://127.0.0.1:25", true, false, "services.imap.allow_plaintext"},
        std::tuple{"imap://localhost:143", "smtp://10.0.0.1:25", true, true, "services.smtp.allow_plaintext"},
        std::tuple{"imap://127.0.0.1.example.com", "", true, false, "services.imap.allow_plaintext"}}) {
    ImapOptions o;
    o.imap_url = imap_url;
    o.smtp_url = smtp_url;
    o.imap_allow_plaintext = allow_imap;
    o.smtp_allow_plaintext = allow_smtp;
    CHECK_THROWS_WITH(ImapMail(o), Catch::StartsWith(key) && Catch::Contains("only for a server on this machine"));
  }
  ImapOptions ok;
  ok.imap_url = "imap://[::1]:1143";
  ok.smtp_url = "smtp://localhost:2525";
  ok.imap_allow_plaintext = ok.smtp_allow_plaintext = true;
  CHECK_NOTHROW(ImapMail(ok));
}

// As a user configures it: the binary with CONCIERGE_IMAP_* and CONCIERGE_SMTP_*; the SMTP
// server wants AUTH with its own password (CONCIERGE_SMTP_PASSWORD, no SMTP username: the IMAP
// one), and the configured From carries a display name that needs encoding.
TEST_CASE("imap: configured through the binary, SMTP with its own password, From with a display name", "[imap][process]") {
  DovecotServer dovecot;
  const std::string smtp_password = "smtp-only-Pa55";
  SmtpSink sink({.require_auth = true, .user = dovecot.user, .password = smtp_password});
  ServedBinary bin({"CONCIERGE_MAIL_PROVIDER=imap", "CONCIERGE_IMAP_BASE_URL=" + dovecot.url(), "CONCIERGE_IMAP_USERNAME=" + dovecot.user,
                    "CONCIERGE_IMAP_PASSWORD=" + dovecot.password, "CONCIERGE_IMAP_ALLOW_PLAINTEXT=true",
                    "CONCIERGE_IMAP_FROM=Alice Exämple <alice@example.org>", "CONCIERGE_SMTP_BASE_URL=" + sink.url(),
                    "CONCIERGE_SMTP_PASSWORD=" + smtp_password, "CONCIERGE_SMTP_ALLOW_PLAINTEXT=true"});
  Json sent = bin.ok("mail_send", {{"to", {"Bob <bob@example.com>"}}, {"subject", "Hello"}, {"text", "Hi Bob"}})["message"];
  CHECK(sent["labels"] == Json{"SENT"});
  auto logins = sink.logins();
  REQUIRE(logins.size() == 1);
  CHECK(logins[0].user == dovecot.user);
  CHECK(logins[0].password == smtp_password);
  auto mails = sink.mails();
  REQUIRE(mails.size() == 1);
  CHECK(mails[0].from == "<alice@example.org>");
  // RFC 5322 section 3.4: display-name <addr-spec>, the header all ASCII; the non-ASCII part of
  // the name as an RFC 2047 encoded-word.
  std::smatch from;
  REQUIRE(std::regex_search(mails[0].data, from, std::regex("\r\nFrom: ([^\r]*)\r\n")));
  std::string header = from[1].str();
  CHECK_THAT(header, Catch::Contains("=?") && Catch::EndsWith(" <alice@example.org>"));
  CHECK(std::all_of(header.begin(), header.end(), [](unsigned char ch) { return ch < 0x80; }));
  auto wire = parse(mails[0].data);
  CHECK(wire.from.name == "Alice Exämple");
  CHECK(wire.from.email == "alice@example.org");
  CHECK(sent["from"] == "Alice Exämple <alice@example.org>");
  std::string logs = bin.proc->stderr_text();
  CHECK_THAT(logs, !Catch::Contains(smtp_password) && !Catch::Contains(dovecot.password));
}

TEST_CASE("imap: a malformed configured From stops the start, naming the variable", "[imap][process]") {
  TempDir tmp;
  ChildProcess p({"/usr/bin/env", "CONCIERGE_CONFIG=" + (tmp.path / "none.json").string(), "CONCIERGE_MAIL_PROVIDER=imap",
                  "CONCIERGE_IMAP_BASE_URL=imaps://mail.example.org", "CONCIERGE_IMAP_USERNAME=alice", "CONCIERGE_SMTP_FROM=Alice <alice@>",
                  CONCIERGE_BINARY, "--data-dir", (tmp.path / "data").string(), "serve"});
  p.close_stdin();
  auto st = p.wait_exit(std::chrono::seconds(15));
  REQUIRE(st);
  CHECK(st->code != 0);
  CHECK_THAT(p.stderr_text(), Catch::Contains("CONCIERGE_SMTP_FROM") && Catch::Contains("'Alice <alice@>' is not an email address"));
}

namespace {

// An IMAP server (RFC 3501) scripted for the move fallback: INBOX holds UIDs 1..4 (UIDVALIDITY
// 7) with the flags given, Archive is empty; neither MOVE (RFC 6851) nor, unless asked, UIDPLUS
// (RFC 4315) is offered. It records every command after LOGIN.
struct NoMoveImap {
  bool uidplus;
  std::map<uint32_t, std::set<std::string>> inbox;
  std::mutex m;
  std::vector<std::string> commands;
  LineServer server{[this](LineServer::Conn& c) { session(c); }};

  NoMoveImap(bool uidplus, std::map<uint32_t, std::set<std::string>> messages) : uidplus(uidplus), inbox(std::move(messages)) {}
  std::string url() const { return "imap://127.0.0.1:" + std::to_string(server.port()); }
  std::vector<std::string> seen() {
    std::lock_guard l(m);
    return commands;
  }
  std::map<uint32_t, std::set<std::string>> mailbox() {
    std::lock_guard l(m);
    return inbox;
  }

  void session(LineServer::Conn& c) {
    c.say("* OK scripted IMAP ready\r\n");
    std::string l;
    while (c.line(l)) {
      auto sp = l.find(' ');
      std::string tag = l.substr(0, sp), cmd = sp == std::string::npos ? "" : l.substr(sp + 1);
      std::string verb = cmd.substr(0, cmd.find(' '));
      for (auto& ch : verb) ch = char(std::toupper(static_cast<unsigned char>(ch)));
      if (verb == "UID") {
        auto rest = cmd.substr(4);
        verb += " " + rest.substr(0, rest.find(' '));
        for (auto& ch : verb) ch = char(std::toupper(static_cast<unsigned char>(ch)));
      }
      if (verb != "LOGIN") {
        std::lock_guard g(m);
        commands.push_back(cmd);
      }
      auto ok = [&](const std::string& text = "done") { c.say(tag + " OK " + text + "\r\n"); };
      // The UIDs of INBOX a set names ("1:3,7"), that exist.
      auto in_set = [&](const std::string& set) {
        std::vector<uint32_t> out;
        std::stringstream ss(set);
        for (std::string part; std::getline(ss, part, ',');) {
          auto colon = part.find(':');
          uint32_t a = uint32_t(std::stoul(part.substr(0, colon))), b = colon == std::string::npos ? a : uint32_t(std::stoul(part.substr(colon + 1)));
          for (auto& [uid, _] : inbox)
            if (uid >= a && uid <= b) out.push_back(uid);
        }
        return out;
      };
      auto arg = [&](int n) {  // the n-th space-separated word of the command
        std::stringstream ss(cmd);
        std::string w;
        for (int i = 0; i <= n; ++i) ss >> w;
        return w;
      };
      std::lock_guard g(m);
      if (verb == "CAPABILITY") {
        c.say(std::string("* CAPABILITY IMAP4rev1") + (uidplus ? " UIDPLUS" : "") + "\r\n");
        ok();
      } else if (verb == "LOGIN" || verb == "NOOP") {
        ok();
      } else if (verb == "LIST") {
        c.say("* LIST (\\HasNoChildren) \"/\" INBOX\r\n* LIST (\\HasNoChildren \\Archive) \"/\" Archive\r\n");
        ok();
      } else if (verb == "SELECT" || verb == "EXAMINE") {
        c.say("* " + std::to_string(inbox.size()) + " EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n");
        ok(verb == "SELECT" ? "[READ-WRITE] selected" : "[READ-ONLY] examined");
      } else if (verb == "UID SEARCH") {
        std::string keys = cmd.substr(11), out = "* SEARCH";
        auto wanted = keys.rfind("UID ", 0) == 0 ? in_set(keys.substr(4)) : std::vector<uint32_t>{};
        for (auto& [uid, flags] : inbox)
          if (keys == "DELETED" ? flags.count("\\Deleted") > 0 : std::count(wanted.begin(), wanted.end(), uid) > 0)
            out += " " + std::to_string(uid);
        c.say(out + "\r\n");
        ok();
      } else if (verb == "UID COPY") {
        ok(uidplus ? "[COPYUID 9 " + arg(2) + " 100:103] copied" : "copied");
      } else if (verb == "UID STORE") {
        for (auto uid : in_set(arg(2)))
          if (cmd.find("+FLAGS") != std::string::npos && cmd.find("\\Deleted") != std::string::npos) inbox[uid].insert("\\Deleted");
        ok();
      } else if (verb == "EXPUNGE" || (verb == "UID EXPUNGE" && uidplus)) {
        auto only = verb == "EXPUNGE" ? std::vector<uint32_t>{} : in_set(arg(2));
        for (auto it = inbox.begin(); it != inbox.end();)
          if (it->second.count("\\Deleted") && (only.empty() || std::count(only.begin(), only.end(), it->first))) {
            c.say("* 1 EXPUNGE\r\n");
            it = inbox.erase(it);
          } else {
            ++it;
          }
        ok();
      } else if (verb == "UID FETCH") {
        ok();  // no data: the test looks at the server's state, not the summaries
      } else if (verb == "LOGOUT") {
        c.say("* BYE\r\n");
        ok();
        return;
      } else {
        c.say(tag + " BAD unknown command\r\n");
      }
    }
  }
};

std::shared_ptr<ImapMail> no_move_adapter(const NoMoveImap& server) {
  ImapOptions o;
  o.imap_allow_plaintext = o.smtp_allow_plaintext = true;
  o.account = "old";
  o.imap_url = server.url();
  o.smtp_url = "smtp://127.0.0.1:1";
  o.username = "alice";
  o.password = "pw";
  o.timeout_ms = 5000;
  return std::make_shared<ImapMail>(o);
}

bool any_starts(const std::vector<std::string>& commands, const std::string& prefix) {
  return std::any_of(commands.begin(), commands.end(), [&](auto& c) { return c.rfind(prefix, 0) == 0; });
}

}  // namespace

TEST_CASE("imap: without MOVE, archiving copies, marks and expunges only what it moves", "[imap]") {
  SECTION("UIDPLUS: UID EXPUNGE of just these (RFC 4315 section 2.1)") {
    NoMoveImap server(true, {{1, {}}, {2, {}}, {3, {"\\Deleted"}}, {4, {}}});
    no_move_adapter(server)->modify(1, {"INBOX/7/1", "INBOX/7/2"}, {.archive = true});
    auto seen = server.seen();
    INFO(Json(seen).dump());
    CHECK_FALSE(any_starts(seen, "UID MOVE"));  // not offered, not tried
    CHECK(any_starts(seen, "UID COPY 1:2 \"Archive\""));
    CHECK(any_starts(seen, "UID EXPUNGE 1:2"));
    CHECK_FALSE(any_starts(seen, "EXPUNGE"));
    CHECK(server.mailbox().count(3) == 1);  // another client's \Deleted message stays
    CHECK(server.mailbox().count(1) == 0);
  }
  SECTION("no UIDPLUS, nothing else marked \\Deleted: a plain EXPUNGE (RFC 3501 section 6.4.3)") {
    NoMoveImap server(false, {{1, {}}, {2, {}}, {4, {"\\Seen"}}});
    no_move_adapter(server)->modify(1, {"INBOX/7/1", "INBOX/7/2"}, {.archive = true});
    auto seen = server.seen();
    INFO(Json(seen).dump());
    CHECK(any_starts(seen, "UID COPY 1:2 \"Archive\""));
    CHECK(any_starts(seen, "EXPUNGE"));
    CHECK_FALSE(any_starts(seen, "UID EXPUNGE"));
    CHECK(server.mailbox().size() == 1);
    CHECK(server.mailbox().count(4) == 1);
  }
  SECTION("no UIDPLUS, another message marked \\Deleted: refused before anything changes") {
    NoMoveImap server(false, {{1, {}}, {2, {}}, {3, {"\\Deleted"}}});
    try {
      no_move_adapter(server)->modify(1, {"INBOX/7/1"}, {.archive = true});
      FAIL("archived");
    } catch (const Error& e) {
      CHECK_THAT(e.what(), Catch::StartsWith("message_ids:") && Catch::Contains("MOVE") && Catch::Contains("UIDPLUS") &&
                               Catch::Contains("\\Deleted") && Catch::Contains("INBOX"));
    }
    auto seen = server.seen();
    INFO(Json(seen).dump());
    CHECK_FALSE(any_starts(seen, "UID COPY"));
    CHECK_FALSE(any_starts(seen, "EXPUNGE"));
    CHECK_FALSE(any_starts(seen, "UID STORE"));
    CHECK(server.mailbox().size() == 3);
  }
}
