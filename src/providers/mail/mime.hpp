#pragma once
// RFC 5322 / MIME messages through GMime: built for sending and drafts, parsed for reading and
// indexing. Subjects and names are RFC 2047-encoded as needed; bodies are UTF-8 text/plain and/or
// text/html (multipart/alternative), attachments base64 parts (multipart/mixed).
#include <optional>
#include <string>
#include <vector>

#include "providers/time.hpp"

namespace concierge::providers::mail {

struct Address {
  std::string name, email;
};

struct Attachment {
  std::string filename, mime_type;
  std::string data;  // when building; empty when parsed (only the size is kept)
  size_t size = 0;
};

struct MimeMessage {
  Address from;
  std::vector<Address> to, cc, bcc;
  std::string subject;
  std::string text, html;
  std::vector<Attachment> attachments;
  Millis date = 0;
  std::string message_id;  // without angle brackets
  std::string in_reply_to;
  std::vector<std::string> references;
};

// The serialized message (CRLF-free, as GMime writes it).
std::string build(const MimeMessage& m);
// Throws std::runtime_error when the text is not a message at all.
MimeMessage parse(const std::string& raw);

// "Ada <ada@example.com>" or "ada@example.com" → Address; Error naming `field` when malformed.
Address parse_address(const std::string& text, const std::string& field);
std::string format_address(const Address& a);  // "Ada Lovelace <ada@example.com>"

}  // namespace concierge::providers::mail
