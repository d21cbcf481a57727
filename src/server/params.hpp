#pragma once
// Reads typed fields out of a params object; a wrong or missing field becomes -32602 naming it,
// before any handler runs.
#include <optional>
#include <string>

#include "common/json.hpp"
#include "server/jsonrpc.hpp"

namespace concierge {

class Fields {
 public:
  explicit Fields(const Json& obj, std::string prefix = "") : obj_(obj), prefix_(std::move(prefix)) {}

  template <class T>
  T req(const char* key) const {
    auto it = find(key);
    if (!it) throw rpc::invalid_params("Missing required parameter: " + path(key), Json{{"field", path(key)}});
    return as<T>(*it, key);
  }

  template <class T>
  std::optional<T> opt(const char* key) const {
    auto it = find(key);
    if (!it || it->is_null()) return std::nullopt;
    return as<T>(*it, key);
  }

  template <class T>
  T get(const char* key, T fallback) const {
    auto v = opt<T>(key);
    return v ? std::move(*v) : std::move(fallback);
  }

  std::string path(const char* key) const { return prefix_.empty() ? key : prefix_ + "." + key; }

 private:
  const Json* find(const char* key) const {
    if (!obj_.is_object()) return nullptr;
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }

  template <class T>
  T as(const Json& v, const char* key) const {
    bool ok;
    const char* want;
    if constexpr (std::is_same_v<T, std::string>) { ok = v.is_string(); want = "a string"; }
    else if constexpr (std::is_same_v<T, bool>) { ok = v.is_boolean(); want = "a boolean"; }
    else if constexpr (std::is_integral_v<T>) { ok = v.is_number_integer(); want = "an integer"; }
    else if constexpr (std::is_floating_point_v<T>) { ok = v.is_number(); want = "a number"; }
    else if constexpr (std::is_same_v<T, Json>) { ok = true; want = ""; }
    else static_assert(sizeof(T) == 0, "unsupported field type");
    if (!ok) throw rpc::invalid_params("Invalid parameter " + path(key) + ": expected " + want, Json{{"field", path(key)}});
    return v.get<T>();
  }

  const Json& obj_;
  std::string prefix_;
};

// An object-valued field, checked for being an object.
inline Json object_field(const Fields& f, const char* key, bool required = false) {
  auto v = required ? std::optional<Json>(f.req<Json>(key)) : f.opt<Json>(key);
  if (!v) return Json::object();
  if (!v->is_object())
    throw rpc::invalid_params("Invalid parameter " + f.path(key) + ": expected an object", Json{{"field", f.path(key)}});
  return *v;
}

}  // namespace concierge
