#pragma once
// The embedded mailbox on the SQLite store. Every message is a real RFC 5322 message (GMime)
// kept whole, with the headers, a snippet and the text body indexed beside it for search.
// Sending files the message in SENT (delivery comes with SMTP).
#include "providers/demo.hpp"
#include "providers/mail/provider.hpp"
#include "store/store.hpp"

namespace concierge::providers::mail {

class LocalMail : public MailProvider {
 public:
  explicit LocalMail(store::Store& store);

  SearchPage search(const Call& call, const std::string& query, int max_results, const std::string& page_token,
                    const date::time_zone* tz) override;
  Message message(const Call& call, const std::string& id) override;
  std::vector<Message> thread(const Call& call, const std::string& id) override;
  Summary send(const Call& call, const Outgoing& mail) override;
  Summary draft(const Call& call, const Outgoing& mail) override;
  std::vector<Summary> modify(const Call& call, const std::vector<std::string>& ids, const Change& change) override;
  std::vector<Label> labels(const Call& call) override;

  // Files a message as received (or sent, with labels {"SENT"}): parses it, threads it.
  std::string deliver(const Call& call, const std::string& raw, const std::vector<std::string>& labels, bool unread, bool starred = false);
  Address me(const Call& call);
  void set_me(const Call& call, const Address& a);
  bool seed_demo(const DemoContext& ctx);

 private:
  Summary compose(const Call& call, const Outgoing& mail, const std::string& label);
  store::Store& store_;
};

}  // namespace concierge::providers::mail
