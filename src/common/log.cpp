#include "common/log.hpp"

#include <chrono>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <stdexcept>

#include "common/json.hpp"

namespace concierge::logging {

namespace {

thread_local const Context* t_current = nullptr;

bool lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// spdlog's formatter for --log-format json.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char when[64];
    std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
    const auto level = spdlog::level::to_string_view(msg.level);
    std::string line = json_line(when, std::string_view(level.data(), level.size()),
                                 std::string_view(msg.payload.data(), msg.payload.size()), t_current);
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

const Context* current() { return t_current; }

Scope::Scope(const Context* c) : previous_(t_current) { t_current = c; }
Scope::~Scope() { t_current = previous_; }

std::string json_line(std::string_view time_utc, std::string_view level, std::string_view message, const Context* ctx) {
  nlohmann::ordered_json j;
  j["time"] = time_utc;
  j["level"] = level;
  j["message"] = message;
  if (ctx) {
    if (!ctx->request_id.empty()) j["request_id"] = ctx->request_id;
    if (!ctx->user.empty()) j["user"] = ctx->user;
    if (!ctx->method.empty()) j["method"] = ctx->method;
    if (!ctx->tool.empty()) j["tool"] = ctx->tool;
    if (ctx->duration_ms) j["duration_ms"] = *ctx->duration_ms;
    if (!ctx->traceparent.empty()) {
      j["traceparent"] = ctx->traceparent;
      j["trace_id"] = ctx->traceparent.substr(3, 32);
    }
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool valid_traceparent(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2.
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
  const auto version = v.substr(0, 2), trace = v.substr(3, 32), parent = v.substr(36, 16), flags = v.substr(53, 2);
  if (!lower_hex(version) || version == "ff" || !lower_hex(trace) || !lower_hex(parent) || !lower_hex(flags)) return false;
  if (trace.find_first_not_of('0') == std::string_view::npos || parent.find_first_not_of('0') == std::string_view::npos) return false;
  if (version == "00") return v.size() == 55;
  return v.size() == 55 || v[55] == '-';  // a later version may add fields
}

void setup(const std::string& level, const std::string& format) {
  if (format != "text" && format != "json") throw std::invalid_argument("--log-format: must be text or json, got '" + format + "'");
  auto logger = format == "json" ? spdlog::stderr_logger_mt("concierge") : spdlog::stderr_color_mt("concierge");
  if (format == "json") logger->set_formatter(std::make_unique<JsonFormatter>());
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace concierge::logging
