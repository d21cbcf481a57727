#pragma once
// The mail domain: what any mailbox can do (Gmail-like labels: INBOX, SENT, DRAFT, TRASH, SPAM,
// plus the user's; unread and starred flags). Tools in src/tools/mail/ use only this.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "providers/mail/mime.hpp"
#include "providers/call.hpp"
#include "providers/time.hpp"

namespace concierge::providers::mail {

struct Summary {
  std::string id, thread_id;
  Address from;
  std::vector<Address> to, cc;
  std::string subject, snippet;
  Millis date = 0;
  bool unread = false, starred = false, has_attachments = false;
  std::vector<std::string> labels;
};

struct Message {
  Summary summary;
  std::string text, html;
  std::vector<Attachment> attachments;  // metadata only
  std::string message_id, in_reply_to;  // RFC 5322 headers
  std::vector<std::string> references;
};

struct SearchPage {
  std::vector<Summary> messages;  // newest first
  std::string next_page_token;
};

struct Outgoing {
  std::vector<Address> to, cc, bcc;
  std::string subject, text, html;
  std::string reply_to;  // our id of the message this answers
};

struct Change {
  std::vector<std::string> add_labels, remove_labels;
  std::optional<bool> read, starred;
  bool archive = false, trash = false;
};

struct Label {
  std::string name, type;  // type: system or user
  int total = 0, unread = 0;
};

class MailProvider {
 public:
  virtual ~MailProvider() = default;
  // `query` in the search language of query.hpp; tz places before:/after: dates.
  virtual SearchPage search(const Call& call, const std::string& query, int max_results, const std::string& page_token,
                            const date::time_zone* tz) = 0;
  virtual Message message(const Call& call, const std::string& id) = 0;             // NotFound naming message_id
  virtual std::vector<Message> thread(const Call& call, const std::string& id) = 0;  // oldest first; NotFound naming thread_id
  // Sends (locally: files it in SENT) or saves a draft; In-Reply-To/References from reply_to.
  virtual Summary send(const Call& call, const Outgoing& mail) = 0;
  virtual Summary draft(const Call& call, const Outgoing& mail) = 0;
  // All ids must exist (NotFound naming message_ids) or nothing changes.
  virtual std::vector<Summary> modify(const Call& call, const std::vector<std::string>& ids, const Change& change) = 0;
  virtual std::vector<Label> labels(const Call& call) = 0;
};

}  // namespace concierge::providers::mail
