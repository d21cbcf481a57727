#pragma once
// The process's log: stderr only (stdout is the protocol on stdio), as text or as one JSON object
// per line (--log-format json). A line logged while a request is being handled carries that
// request's id, user, method and tool, and the W3C traceparent it came with, from a per-thread
// context the core sets around the handler.
#include <optional>
#include <string>
#include <string_view>

namespace concierge::logging {

struct Context {
  std::string request_id;  // the JSON-RPC id as JSON text
  std::string user, method, tool;
  std::string traceparent;             // as sent (validated), "" when none
  std::optional<double> duration_ms;   // set on the line that ends the request
};

// The context of the request this thread is working on; null when none.
const Context* current();

// Sets the thread's context for its lifetime, then restores the previous one.
class Scope {
 public:
  explicit Scope(const Context* c);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  const Context* previous_;
};

enum class Format { Text, Json };

// The default logger, on stderr, at `level` (trace ... off). Throws std::invalid_argument for a
// format other than text or json.
void setup(const std::string& level, const std::string& format);

// One line of --log-format json (without the newline): {"time", "level", "message", then the
// context's fields that are set}. Text from clients is escaped by the JSON encoding; bytes that
// are not UTF-8 become U+FFFD.
std::string json_line(std::string_view time_utc, std::string_view level, std::string_view message, const Context* ctx);

// A W3C Trace Context traceparent (version 00 form: 00-<32 hex>-<16 hex>-<2 hex>, lower case,
// ids not all zero; a higher version may carry more after the flags).
bool valid_traceparent(std::string_view v);

}  // namespace concierge::logging
