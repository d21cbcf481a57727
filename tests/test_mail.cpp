// Mail: the query parser, MIME round trips through GMime (RFC 2047 subject, attachment), reply
// threading on the local mailbox, and bad input through the tools.
#include <catch2/catch.hpp>

#include "providers/error.hpp"
#include "providers/mail/local.hpp"
#include "providers/mail/mime.hpp"
#include "providers/mail/query.hpp"
#include "support/app_fixture.hpp"
#include "support/harness.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers;
using namespace concierge::providers::mail;

namespace {
std::vector<Term> q(const std::string& s) { return parse_query(s); }
}  // namespace

TEST_CASE("mail query: operators, quotes, negation, free text", "[mail][unit]") {
  CHECK(q("from:ravi") == std::vector<Term>{{"from", "ravi", false}});
  CHECK(q("to:alex@example.com subject:\"quarterly report\"") ==
        std::vector<Term>{{"to", "alex@example.com", false}, {"subject", "quarterly report", false}});
  CHECK(q("is:unread is:starred has:attachment") ==
        std::vector<Term>{{"is", "unread", false}, {"is", "starred", false}, {"has", "attachment", false}});
  CHECK(q("-label:Newsletters in:inbox") == std::vector<Term>{{"label", "Newsletters", true}, {"in", "inbox", false}});
  CHECK(q("before:2026/11/20 after:2026-11-01") == std::vector<Term>{{"before", "2026-11-20", false}, {"after", "2026-11-01", false}});
  CHECK(q("  hiking   \"lake trail\" -sandwiches ") ==
        std::vector<Term>{{"text", "hiking", false}, {"text", "lake trail", false}, {"text", "sandwiches", true}});
  CHECK(q("FROM:Sam") == std::vector<Term>{{"from", "Sam", false}});
  CHECK(q("http://example.com") == std::vector<Term>{{"text", "http://example.com", false}});  // not an operator
  CHECK(q("").empty());
  for (const char* bad : {"before:yesterday", "after:2026-02-30", "is:happy", "has:wings", "in:attic", "subject:\"open", "from:"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_query(bad), Catch::StartsWith("query:"));
  }
  // Values reach SQL as parameters, never as text.
  auto f = to_sql(q("from:\"x' OR 1=1 --\""), zone("UTC"));
  CHECK(f.where.find("OR 1=1") == std::string::npos);
  CHECK(std::get<std::string>(f.params[0]) == "%x' OR 1=1 --%");
}

TEST_CASE("MIME round trip: non-ASCII subject, text and html, an attachment", "[mail][unit]") {
  MimeMessage m;
  m.from = {"Zoë Ünal", "zoe@example.com"};
  m.to = {{"Ada", "ada@example.com"}, {"", "bob@example.org"}};
  m.cc = {{"Ravi Nair", "ravi@example.com"}};
  m.subject = "Grüße — 東京 meeting";
  m.text = "Hallo Ada,\nwir sehen uns in 東京.\n";
  m.html = "<p>Hallo Ada, wir sehen uns in <b>東京</b>.</p>";
  std::string pdf(5000, '\0');
  for (size_t i = 0; i < pdf.size(); ++i) pdf[i] = char(i * 7);
  m.attachments.push_back({"Agenda März.pdf", "application/pdf", pdf, 0});
  m.date = 1795000000000;
  m.message_id = "abc123@example.com";
  m.in_reply_to = "parent@example.com";
  m.references = {"root@example.com", "parent@example.com"};
  std::string raw = build(m);
  // On the wire the subject is RFC 2047-encoded and the attachment base64: 7-bit clean headers.
  auto headers = raw.substr(0, raw.find("\n\n"));
  CHECK(headers.find("=?") != std::string::npos);
  CHECK(headers.find("東京") == std::string::npos);
  CHECK(raw.find("Content-Transfer-Encoding: base64") != std::string::npos);

  MimeMessage back = parse(raw);
  CHECK(back.subject == m.subject);
  CHECK(back.from.name == "Zoë Ünal");
  CHECK(back.from.email == "zoe@example.com");
  REQUIRE(back.to.size() == 2);
  CHECK(back.to[1].email == "bob@example.org");
  CHECK(back.cc.at(0).name == "Ravi Nair");
  CHECK(back.text == m.text);
  CHECK(back.html == m.html);
  REQUIRE(back.attachments.size() == 1);
  CHECK(back.attachments[0].filename == "Agenda März.pdf");
  CHECK(back.attachments[0].mime_type == "application/pdf");
  CHECK(back.attachments[0].size == pdf.size());
  CHECK(back.date == m.date);
  CHECK(back.message_id == "abc123@example.com");
  CHECK(back.in_reply_to == "parent@example.com");
  CHECK(back.references == m.references);
}

TEST_CASE("mail addresses: parsed with GMime, malformed ones refused naming the field", "[mail][unit]") {
  CHECK(parse_address("Ada Lovelace <ada@example.com>", "to[0]").name == "Ada Lovelace");
  CHECK(parse_address("ada@example.com", "to[0]").email == "ada@example.com");
  CHECK(parse_address("\"Nair, Ravi\" <ravi@example.co.uk>", "cc[1]").name == "Nair, Ravi");
  for (const char* bad : {"bob", "bob@", "@example.com", "a@b", "two@example.com, three@example.com", "x@example.com\r\nBcc: evil@example.com", ""}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_address(bad, "to[2]"), Catch::StartsWith("to[2]:"));
  }
}

TEST_CASE("mail: a reply threads with the original and carries In-Reply-To and References", "[mail]") {
  AppFixture f;
  auto& box = *f.providers.local_mail;
  int64_t u = f.store.user_id("local");
  MimeMessage first;
  first.from = {"Ravi", "ravi@example.com"};
  first.to = {{"Me", "me@concierge.local"}};
  first.subject = "Budget";
  first.text = "Numbers attached.";
  first.date = now_ms() - kHour;
  first.message_id = "root-1@example.com";
  std::string original = box.deliver(u, build(first), {"INBOX"}, true);

  auto reply = box.send(u, {.text = "Thanks!", .reply_to = original});
  CHECK(reply.subject == "Re: Budget");
  CHECK(reply.to.at(0).email == "ravi@example.com");  // to defaults to the sender
  auto sent = box.message(u, reply.id);
  CHECK(sent.in_reply_to == "root-1@example.com");
  CHECK(sent.references == std::vector<std::string>{"root-1@example.com"});
  CHECK(sent.summary.thread_id == box.message(u, original).summary.thread_id);
  auto again = box.send(u, {.text = "One more thing", .reply_to = reply.id});
  CHECK(box.message(u, again.id).references == std::vector<std::string>{"root-1@example.com", sent.message_id});
  auto thread = box.thread(u, reply.thread_id);
  REQUIRE(thread.size() == 3);
  CHECK(thread[0].summary.id == original);
  CHECK(thread[2].summary.id == again.id);
  CHECK(box.search(u, "in:sent", 10, "", zone("UTC")).messages.size() == 2);
}

TEST_CASE("mail tools: bad input names the field and writes nothing", "[mail]") {
  AppFixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  auto count = [&] { return f.store.read([](sql::Database& db) { return db.execAndGet("SELECT count(*) FROM mail_messages").getInt64(); }); };
  auto error = [&](int id, const std::string& tool, Json args) {
    Json r = c.request(id, "tools/call", Json{{"name", tool}, {"arguments", std::move(args)}});
    INFO(r.dump());
    REQUIRE(r.contains("result"));
    CHECK(r["result"]["isError"] == true);
    return r["result"]["content"][0]["text"].get<std::string>();
  };
  CHECK_THAT(error(1, "mail_send", {{"to", {"ok@example.com", "not an address"}}, {"text", "hi"}}), Catch::StartsWith("to[1]:"));
  CHECK_THAT(error(2, "mail_send", {{"to", {"ok@example.com"}}, {"cc", {"x@y"}}, {"text", "hi"}}), Catch::StartsWith("cc[0]:"));
  CHECK_THAT(error(3, "mail_send", {{"to", {"ok@example.com"}}, {"subject", "no body"}}), Catch::StartsWith("text:"));
  CHECK_THAT(error(4, "mail_send", {{"to", {"ok@example.com"}}, {"text", std::string(1'000'001, 'a')}}), Catch::Contains("text"));
  CHECK_THAT(error(5, "mail_send", {{"text", "hi"}, {"reply_to_message_id", "nope"}}), Catch::StartsWith("message_id:"));
  CHECK_THAT(error(6, "mail_send", {{"text", "hi"}}), Catch::StartsWith("to:"));
  CHECK_THAT(error(7, "mail_read", {{"message_id", "nope"}}), Catch::StartsWith("message_id:"));
  CHECK_THAT(error(8, "mail_read", {{"thread_id", "nope"}}), Catch::StartsWith("thread_id:"));
  CHECK_THAT(error(9, "mail_modify", {{"message_ids", {"nope"}}, {"read", true}}), Catch::StartsWith("message_ids:"));
  CHECK_THAT(error(10, "mail_search", {{"query", "after:someday"}}), Catch::StartsWith("query:"));
  CHECK_THAT(error(11, "mail_modify", {{"message_ids", {"x"}}, {"add_labels", {"SENT"}}}), Catch::StartsWith("add_labels:"));
  CHECK(count() == 0);
}

TEST_CASE("mail tools: modify several at once, read caps the body with a marker", "[mail]") {
  AppFixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  int64_t u = f.store.user_id("local");
  DemoContext ctx{u, zone("UTC"), now_ms(), date::floor<date::days>(to_local(now_ms(), zone("UTC")))};
  REQUIRE(f.providers.local_mail->seed_demo(ctx));
  auto ok = [&](int id, const std::string& tool, Json args) {
    Json r = c.request(id, "tools/call", Json{{"name", tool}, {"arguments", std::move(args)}});
    INFO(r.dump());
    REQUIRE(r.contains("result"));
    REQUIRE_FALSE(r["result"].value("isError", false));
    return r["result"]["structuredContent"];
  };
  Json unread = ok(1, "mail_search", {{"query", "is:unread"}});
  REQUIRE(unread["messages"].size() >= 3);
  std::vector<std::string> ids{unread["messages"][0]["id"], unread["messages"][1]["id"]};
  ok(2, "mail_modify", {{"message_ids", ids}, {"read", true}, {"add_labels", {"Follow-up"}}});
  CHECK(ok(3, "mail_search", {{"query", "is:unread"}})["messages"].size() == unread["messages"].size() - 2);
  CHECK(ok(4, "mail_search", {{"query", "label:Follow-up"}})["messages"].size() == 2);
  ok(5, "mail_modify", {{"message_ids", {ids[0]}}, {"trash", true}});
  CHECK(ok(6, "mail_search", {{"query", "label:Follow-up"}})["messages"].size() == 1);  // trash is left out...
  CHECK(ok(7, "mail_search", {{"query", "in:trash"}})["messages"][0]["id"] == ids[0]);  // ...unless asked for
  Json labels = ok(8, "mail_list_labels", Json::object());
  bool found = false;
  for (auto& l : labels["labels"]) found |= l["name"] == "Follow-up" && l["type"] == "user" && l["total"] == 2;
  CHECK(found);

  Json one = ok(9, "mail_read", {{"message_id", ids[1]}, {"max_body_chars", 100}});
  auto& m = one["messages"][0];
  if (m["truncated"] == true) CHECK_THAT(m["body"].get<std::string>(), Catch::Contains("[… truncated"));
  Json longest = ok(10, "mail_search", {{"query", "subject:\"offsite agenda\""}});
  Json cut = ok(11, "mail_read", {{"message_id", longest["messages"].back()["id"]}, {"max_body_chars", 100}});
  CHECK(cut["messages"][0]["truncated"] == true);
  CHECK_THAT(cut["messages"][0]["body"].get<std::string>(), Catch::EndsWith("more bytes]"));
}

TEST_CASE("unread mail: a resource of its own, embedded by daily_briefing", "[mail][prompts]") {
  AppFixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  int64_t u = f.store.user_id("local");
  auto& box = *f.providers.local_mail;
  MimeMessage m;
  m.from = {"Grace", "grace@example.com"};
  m.to = {{"Me", "me@concierge.local"}};
  m.subject = "Compiler meeting";
  m.text = "Tomorrow at 10?";
  m.date = now_ms() - kHour;
  m.message_id = "g1@example.com";
  box.deliver(u, build(m), {"INBOX"}, true);
  m.subject = "Already read";
  m.message_id = "g2@example.com";
  box.deliver(u, build(m), {"INBOX"}, false);
  Json read = c.request(1, "resources/read", {{"uri", "concierge://mail/unread"}});
  REQUIRE(read.contains("result"));
  Json doc = Json::parse(read["result"]["contents"][0]["text"].get<std::string>());
  REQUIRE(doc["messages"].size() == 1);
  CHECK(doc["messages"][0]["subject"] == "Compiler meeting");
  CHECK(doc["messages"][0]["from"] == "Grace <grace@example.com>");

  Json r = c.request(2, "prompts/get", {{"name", "daily_briefing"}, {"arguments", Json::object()}});
  REQUIRE(r.contains("result"));
  Json embedded;
  for (auto& msg : r["result"]["messages"])
    if (msg["content"]["type"] == "resource" && msg["content"]["resource"]["uri"] == "concierge://mail/unread")
      embedded = Json::parse(msg["content"]["resource"]["text"].get<std::string>());
  CHECK(embedded["messages"] == doc["messages"]);
}
