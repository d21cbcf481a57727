#pragma once
// A real mailbox over IMAP (RFC 3501; MOVE, RFC 6851, and UIDPLUS, RFC 4315, when offered) and
// SMTP (RFC 5321, AUTH RFC 4954), both through libcurl.
//
// Ids. A message is "<mailbox>/<UIDVALIDITY>/<UID>" (e.g. "INBOX/1700000000/42"): the mailbox
// as the server names it, then the two numbers that make a UID stable. A message that moves
// (archive, trash, a label) gets a new UID in its new mailbox, so mail_modify answers with the
// new ids. A thread is "t" + base64url(the Message-ID of its root): the first References entry,
// else In-Reply-To, else the message's own Message-ID. Finding a thread searches every mailbox
// for that Message-ID in Message-ID/References/In-Reply-To (so nothing is cached here).
//
// Labels are mailboxes plus flags: INBOX, SENT, DRAFT, TRASH, SPAM are the inbox and the
// configured folders; other mailboxes are user labels; STARRED is \Flagged and unread is the
// absence of \Seen. A message is in one mailbox, so adding a label moves it there (one at a time),
// removing the label of the mailbox it is in moves it to the archive folder, archive moves it out
// of INBOX into the archive folder, trash moves it to the trash folder.
//
// Search: the query language of query.hpp becomes IMAP SEARCH keys (FROM, TO/CC, SUBJECT, TEXT,
// UNSEEN/SEEN, FLAGGED) run in each mailbox the label:/in: terms leave (all but trash and spam by
// default); before:/after: and has:attachment are narrowed on the server (SENTBEFORE/SENTSINCE
// with a day's margin, a multipart Content-Type) and decided here exactly (the Date header in the
// user's zone, the BODYSTRUCTURE). Results are merged newest first by the Date header.
//
// Sending: the message is built with mime.hpp, handed to SMTP (MAIL FROM / RCPT TO for every
// recipient, Bcc stripped from the copy on the wire), then APPENDed to the sent folder (\Seen).
// Drafts are APPENDed to the drafts folder (\Seen \Draft).
#include <memory>
#include <string>

#include "providers/auth/credentials.hpp"
#include "providers/mail/provider.hpp"

namespace concierge::providers::mail {

struct ImapOptions {
  std::string account = "default";   // how errors name the account
  std::string imap_url;              // imap://host:port (STARTTLS required) or imaps://host:port
  std::string smtp_url;              // smtp://host:port (STARTTLS required) or smtps://host:port
  std::string username, password;    // password unused when `oauth` is set
  std::shared_ptr<auth::Credentials> oauth;  // an OAuth account: its bearer goes as XOAUTH2
  std::string smtp_username, smtp_password;  // each empty: the IMAP one
  Address from;                      // who sends; email defaults to the username
  std::string sent = "Sent", drafts = "Drafts", trash = "Trash", archive = "Archive", spam = "Junk";
  long timeout_ms = 20000;           // each IMAP or SMTP exchange
  // imap:// and smtp:// must switch to TLS (STARTTLS), else the password would cross the network
  // readable: no session goes on without it. These allow plaintext, for a test server on this
  // machine only (the constructor refuses them for any other host).
  bool imap_allow_plaintext = false, smtp_allow_plaintext = false;
};

class ImapMail : public MailProvider {
 public:
  explicit ImapMail(ImapOptions options);

  SearchPage search(const Call& call, const std::string& query, int max_results, const std::string& page_token,
                    const date::time_zone* tz) override;
  Message message(const Call& call, const std::string& id) override;
  std::vector<Message> thread(const Call& call, const std::string& id) override;
  Summary send(const Call& call, const Outgoing& mail) override;
  Summary draft(const Call& call, const Outgoing& mail) override;
  std::vector<Summary> modify(const Call& call, const std::vector<std::string>& ids, const Change& change) override;
  std::vector<Label> labels(const Call& call) override;

  // Files a whole RFC 5322 message in `mailbox` (seeding, imports); returns our id.
  std::string append(const Call& call, const std::string& mailbox, const std::string& raw, bool seen = true, bool flagged = false);

  const ImapOptions& options() const { return options_; }

 private:
  ImapOptions options_;
};

}  // namespace concierge::providers::mail
