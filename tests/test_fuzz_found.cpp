// Inputs the fuzz harnesses (fuzz/) found to crash, hang or exhaust memory, each kept as the
// regression test of its fix. Found through a server's answer (untrusted input): what can't be
// read must throw the std::exception the adapter reports as the server's fault.
#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

#include "providers/mail/imap_wire.hpp"

using namespace concierge::providers::mail;

TEST_CASE("fuzz: an IMAP UID set of four billion UIDs is refused, not expanded", "[fuzz][imap_wire]") {
  // fuzz/imap_responses: a COPYUID code with "0:4294967295" took all memory (and looped forever
  // at the top of the range).
  auto rs = imap::parse_responses("* OK [COPYUID 7 1:3 0:4294967295] moved\r\nA5 OK MOVE completed\r\n");
  REQUIRE(rs.size() == 2);
  auto code = imap::response_code(rs[0].text, "COPYUID");
  REQUIRE(code.size() == 3);
  CHECK(imap::expand_set(code[1]) == std::vector<uint32_t>{1, 2, 3});
  CHECK_THROWS_AS(imap::expand_set(code[2]), std::runtime_error);
  CHECK_THROWS_AS(imap::expand_set("4294967295:4294967295,42949672950"), std::out_of_range);
  CHECK(imap::expand_set("4294967295") == std::vector<uint32_t>{4294967295u});
  CHECK(imap::expand_set("9:7,12") == std::vector<uint32_t>{7, 8, 9, 12});
}

TEST_CASE("fuzz: IMAP lists nested a million deep are refused, not recursed into", "[fuzz][imap_wire]") {
  std::string deep = "* 1 FETCH (UID 1 BODYSTRUCTURE " + std::string(1'000'000, '(') + "\r\n";
  CHECK_THROWS_AS(imap::parse_responses(deep), std::runtime_error);
  // A real multipart nests a few levels: still read.
  auto rs = imap::parse_responses("* 1 FETCH (UID 1 BODYSTRUCTURE (((\"text\" \"plain\") \"alternative\")(\"image\" \"png\") \"mixed\"))\r\n");
  auto items = imap::fetch_items(rs);
  REQUIRE(items.count(1));
  CHECK(imap::has_attachment(items[1]["BODYSTRUCTURE"]));
}

TEST_CASE("fuzz: an IMAP literal of negative length is refused, not read backwards forever", "[fuzz][imap_wire]") {
  // fuzz/imap_responses: "{-6}" became 2^64 - 6 bytes, the position wrapped around to before the
  // literal and the parser went round in circles until memory ran out.
  CHECK_THROWS_AS(imap::parse_responses("* LIST () \"/\" {-6}\r\nWork\r\n"), std::runtime_error);
  CHECK_THROWS_AS(imap::parse_responses("* LIST () \"/\" {99}\r\nWork\r\n"), std::runtime_error);
  auto rs = imap::parse_responses("* LIST () \"/\" {5}\r\nWork!\r\nA1 OK done\r\n");
  REQUIRE(rs.size() == 2);
  REQUIRE(rs[0].items.size() == 4);
  CHECK(rs[0].items[3].text == "Work!");
}
