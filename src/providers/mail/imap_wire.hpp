#pragma once
// IMAP responses as the adapter (imap.cpp) reads them from the server's stream, declared apart
// for the fuzz harness. A server's answer is untrusted input: what can't be read throws a
// std::exception, which the adapter reports as the server's fault.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace concierge::providers::mail::imap {

// Atoms ("BODY[HEADER.FIELDS (DATE)]" is one), quoted strings, literals counted by bytes,
// parenthesized lists, NIL.
struct Node {
  enum Kind { Atom, String, List, Nil } kind = Nil;
  std::string text;
  std::vector<Node> items;
  bool is(const char* atom) const;  // an atom, case-insensitively
};

struct Response {
  std::string tag;            // "*", "+" or the command's tag
  std::vector<Node> items;    // after the tag
  std::string text;           // status responses (OK/NO/BAD/BYE/PREAUTH): the rest of the line
  bool status() const;
};

std::vector<Response> parse_responses(const std::string& stream);
// "[CODE a b c] text" -> {"a", "b", "c"} when the code matches.
std::vector<std::string> response_code(const std::string& text, const std::string& code);
// A UID set ("1:3,7") as its UIDs.
std::vector<uint32_t> expand_set(const std::string& set);
// UID SEARCH: the UIDs listed; UID FETCH: per UID, the data items by upper-cased name.
std::vector<uint32_t> search_uids(const std::vector<Response>& rs);
std::map<uint32_t, std::map<std::string, Node>> fetch_items(const std::vector<Response>& rs);
// Whether a BODYSTRUCTURE has a part that is not text (or is marked as an attachment).
bool has_attachment(const Node& body);

}  // namespace concierge::providers::mail::imap
