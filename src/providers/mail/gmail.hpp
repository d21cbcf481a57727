#pragma once
// The mail domain on the Gmail API v1 (https://developers.google.com/gmail/api/reference/rest).
// Ids are Gmail's own (message, thread). Our query language is a subset of Gmail's search syntax,
// so queries are checked with parse_query (the same errors as the local mailbox) and passed on,
// with before:/after: turned into epoch seconds so that dates mean the user's zone (Gmail reads
// YYYY/MM/DD in Pacific time). Messages are built with our GMime code (mime.hpp) and sent as
// base64url RFC 5322 `raw`; headers Gmail returns are parsed with the same code.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "providers/auth/credentials.hpp"
#include "providers/http/client.hpp"
#include "providers/http/service.hpp"
#include "providers/mail/provider.hpp"

namespace concierge::providers::mail {

// https://www.googleapis.com, rate budget from Gmail's per-user quota (see gmail.cpp).
http::Policy gmail_policy();
// Least privilege: gmail.readonly to read; gmail.modify to also label, archive, trash, draft and
// send (it covers messages.send and drafts.create, so gmail.send / gmail.compose would add
// nothing but lines on the consent screen). Full URLs, for the integrator to combine with the
// other Google scopes of the one sign-in.
std::vector<std::string> gmail_scopes(bool read_only);

class GmailMail : public MailProvider {
 public:
  GmailMail(std::shared_ptr<http::Client> client, std::shared_ptr<auth::Credentials> credentials);

  SearchPage search(const Call& call, const std::string& query, int max_results, const std::string& page_token,
                    const date::time_zone* tz) override;
  Message message(const Call& call, const std::string& id) override;
  std::vector<Message> thread(const Call& call, const std::string& id) override;
  Summary send(const Call& call, const Outgoing& mail) override;
  Summary draft(const Call& call, const Outgoing& mail) override;
  std::vector<Summary> modify(const Call& call, const std::vector<std::string>& ids, const Change& change) override;
  std::vector<Label> labels(const Call& call) override;

  // Our query as the q Gmail gets (exposed for tests); Error naming `query` when malformed.
  static std::string gmail_query(const std::string& query, const date::time_zone* tz);

 private:
  struct LabelInfo {
    std::string id, name, type;
  };
  struct LabelCache {
    std::chrono::steady_clock::time_point at;
    std::vector<LabelInfo> labels;
  };
  Json get(const Call& call, const std::string& path, std::vector<std::pair<std::string, std::string>> query,
           const std::string& field = "", const std::string& what = "");
  Json post(const Call& call, const std::string& path, Json body, const std::string& field = "", const std::string& what = "");
  std::vector<LabelInfo> label_list(const Call& call, bool fresh = false);
  Summary summary_of(const Call& call, const Json& m);
  Message message_of(const Call& call, const Json& m);
  Summary metadata(const Call& call, const std::string& id);
  Summary compose(const Call& call, const Outgoing& mail, bool send);
  std::string my_address(const Call& call);

  http::ServiceApi api_;
  std::mutex m_;
  std::map<int64_t, LabelCache> labels_;  // Label_123 <-> "Work", for a minute
  std::map<int64_t, std::string> me_;     // the account's address (From of what we send)
};

}  // namespace concierge::providers::mail
