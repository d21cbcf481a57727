#include "access/scopes.hpp"

#include <algorithm>
#include <stdexcept>

#include "server/access.hpp"

namespace concierge::access {

namespace {
bool known(std::string_view s) {
  const auto& all = all_scopes();
  return std::find(all.begin(), all.end(), s) != all.end();
}
template <class F>
void split(std::string_view text, F&& each) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',' || text[i] == '\t')) ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != ',' && text[j] != '\t') ++j;
    if (j > i) each(text.substr(i, j - i));
    i = j;
  }
}
}  // namespace

std::set<std::string> scopes_from_claims(const Json& claims) {
  std::set<std::string> out;
  if (!claims.is_object()) return out;
  if (auto it = claims.find("scope"); it != claims.end() && it->is_string())
    split(it->get_ref<const std::string&>(), [&](std::string_view s) {
      if (known(s)) out.emplace(s);
    });
  if (auto it = claims.find("scp"); it != claims.end() && it->is_array())
    for (auto& s : *it)
      if (s.is_string() && known(s.get_ref<const std::string&>())) out.insert(s.get<std::string>());
  return out;
}

std::set<std::string> parse_scope_list(std::string_view text) {
  std::set<std::string> out;
  split(text, [&](std::string_view s) {
    if (!known(s)) {
      std::string list;
      for (auto& k : all_scopes()) list += (list.empty() ? "" : " ") + k;
      throw std::invalid_argument("scopes: unknown scope '" + std::string(s) + "' (known: " + list + ")");
    }
    out.emplace(s);
  });
  return out;
}

std::string join_scopes(const std::set<std::string>& scopes) {
  std::string out;
  for (auto& s : all_scopes())
    if (scopes.count(s)) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::vector<std::string> scope_list(std::string_view text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size();) {
    auto end = std::min(text.find(' ', pos), text.size());
    std::string word(text.substr(pos, end - pos));
    if (!word.empty() && std::find(out.begin(), out.end(), word) == out.end()) out.push_back(std::move(word));
    pos = end + 1;
  }
  return out;
}

std::string scope_param(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) out += (out.empty() ? "" : " ") + s;
  return out;
}

}  // namespace concierge::access
