#pragma once
// The mail search language (Gmail's operators): from:, to:, subject:, is:unread|read|starred,
// has:attachment, label:, in:inbox|sent|drafts|trash|spam|anywhere, before:/after: (YYYY-MM-DD or
// YYYY/MM/DD, in the user's zone), "quoted phrases", free words; `-` negates a term. Parsed into
// terms, then into a WHERE clause with bound parameters (user text never enters the SQL).
#include <string>
#include <variant>
#include <vector>

#include "providers/time.hpp"

namespace concierge::providers::mail {

struct Term {
  std::string op;  // from, to, subject, is, has, label, in, before, after, text
  std::string value;
  bool negated = false;
  bool operator==(const Term&) const = default;
};

// Error naming `query` for what can't be searched (an unknown is:, a malformed date...).
std::vector<Term> parse_query(const std::string& query);

struct SqlFilter {
  std::string where;  // over mail_messages m, joined with AND; "1" when empty
  std::vector<std::variant<std::string, int64_t>> params;
};
// Trash and spam are left out unless a term asks for them (in:trash, label:spam, in:anywhere).
SqlFilter to_sql(const std::vector<Term>& terms, const date::time_zone* tz);

}  // namespace concierge::providers::mail
