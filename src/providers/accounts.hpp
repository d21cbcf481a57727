#pragma once
// The connected accounts of one domain, by name. Every tool takes an optional `account`; empty
// means the domain's default (the first one added). The local providers register as "local";
// the OAuth adapters add theirs beside it.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "providers/error.hpp"

namespace concierge::providers {

template <class Provider>
class Accounts {
 public:
  void add(const std::string& name, std::shared_ptr<Provider> provider) {
    if (default_.empty()) default_ = name;
    by_name_[name] = std::move(provider);
  }
  // The account used when a call names none (the configured provider's, ahead of "local").
  void set_default(const std::string& name) { default_ = name; }
  bool empty() const { return by_name_.empty(); }
  const std::string& default_name() const { return default_; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (auto& [n, _] : by_name_) out.push_back(n);
    return out;
  }
  // Throws Error naming `account` when there is no such account.
  Provider& get(const std::string& account = "") const {
    const std::string& name = account.empty() ? default_ : account;
    auto it = by_name_.find(name);
    if (it == by_name_.end()) {
      std::string known;
      for (auto& [n, _] : by_name_) known += (known.empty() ? "" : ", ") + n;
      throw Error("account", "no account '" + name + "' is connected" + (known.empty() ? "" : " (connected: " + known + ")"));
    }
    return *it->second;
  }

 private:
  std::map<std::string, std::shared_ptr<Provider>> by_name_;
  std::string default_;
};

}  // namespace concierge::providers
