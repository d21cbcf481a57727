#include "common/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <dirent.h>
#include <fstream>
#include <set>
#include <spdlog/fmt/fmt.h>
#include <sstream>
#include <stdexcept>
#include <sys/resource.h>
#include <unistd.h>

namespace concierge::metrics {

namespace {

bool identifier(const std::string& s, bool colon_ok) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (colon_ok && c == ':');
  });
}

void check_names(const std::string& name, const std::vector<std::string>& labels) {
  if (!identifier(name, true)) throw std::invalid_argument("metric name '" + name + "' is not a Prometheus identifier");
  for (auto& l : labels)
    if (!identifier(l, false) || l.rfind("__", 0) == 0) throw std::invalid_argument("label '" + l + "' of " + name + " is not a label name");
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

std::string label_text(const Pairs& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
  }
  return out + "}";
}

Pairs zip(const std::vector<std::string>& names, const LabelValues& values) {
  Pairs p;
  for (size_t i = 0; i < names.size(); ++i) p.emplace_back(names[i], i < values.size() ? values[i] : "");
  return p;
}

// HELP text escapes only backslash and newline.
std::string help_text(const std::string& h) {
  std::string out;
  for (char c : h) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

struct Family {
  std::string help, type;
  std::vector<std::string> lines;  // samples, already formatted
};

}  // namespace

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Counter::Counter(std::string name, std::string help, std::vector<std::string> labels)
    : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)) {}

void Counter::inc(const LabelValues& values, double by) {
  std::lock_guard l(m_);
  values_[values] += by;
}

Histogram::Histogram(std::string name, std::string help, std::vector<std::string> labels, std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)), bounds_(std::move(bounds)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) || std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
    throw std::invalid_argument("histogram " + name_ + ": bucket bounds must ascend");
}

void Histogram::observe(const LabelValues& values, double v) {
  const size_t at = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();  // first bound >= v
  std::lock_guard l(m_);
  auto& s = series_[values];
  if (s.buckets.empty()) s.buckets.assign(bounds_.size(), 0);
  if (at < bounds_.size()) ++s.buckets[at];
  ++s.count;
  s.sum += v;
}

Registry& Registry::global() {
  static Registry* r = new Registry;  // never destroyed: counted into from threads that outlive statics
  return *r;
}

Counter& Registry::counter(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  check_names(name, labels);
  std::lock_guard l(m_);
  auto& slot = counters_[name];
  if (!slot) slot.reset(new Counter(name, help, std::move(labels)));
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                               std::vector<double> bounds) {
  check_names(name, labels);
  std::lock_guard l(m_);
  auto& slot = histograms_[name];
  if (!slot) slot.reset(new Histogram(name, help, std::move(labels), std::move(bounds)));
  return *slot;
}

Registry::Handle::~Handle() {
  if (!registry_) return;
  std::lock_guard l(registry_->collectors_m_);
  registry_->collectors_.erase(id_);
}

Registry::Handle& Registry::Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    Handle gone(std::move(*this));
    registry_ = o.registry_;
    id_ = o.id_;
    o.registry_ = nullptr;
  }
  return *this;
}

Registry::Handle Registry::add_collector(Collector c) {
  std::lock_guard l(collectors_m_);
  const uint64_t id = next_id_++;
  collectors_.emplace(id, std::move(c));
  return Handle(this, id);
}

std::vector<Sample> Registry::collect() {
  std::vector<Sample> collected;
  // Collectors run under their lock, so one cannot be unregistered (its object destroyed) while
  // it runs. They only read their object's state.
  std::lock_guard l(collectors_m_);
  for (auto& [id, c] : collectors_) c(collected);
  return collected;
}

std::string Registry::render() {
  std::map<std::string, Family> families;
  std::vector<Sample> collected = collect();
  {
    std::lock_guard l(m_);
    for (auto& [name, c] : counters_) {
      auto& f = families[name];
      f.help = c->help_;
      f.type = "counter";
      std::lock_guard cl(c->m_);
      for (auto& [values, v] : c->values_) f.lines.push_back(name + label_text(zip(c->labels_, values)) + " " + number(v));
    }
    for (auto& [name, h] : histograms_) {
      auto& f = families[name];
      f.help = h->help_;
      f.type = "histogram";
      std::lock_guard hl(h->m_);
      for (auto& [values, s] : h->series_) {
        Pairs base = zip(h->labels_, values);
        uint64_t cumulative = 0;
        for (size_t i = 0; i <= h->bounds_.size(); ++i) {
          if (i < h->bounds_.size()) cumulative += s.buckets[i];
          Pairs p = base;
          p.emplace_back("le", i < h->bounds_.size() ? number(h->bounds_[i]) : "+Inf");
          f.lines.push_back(name + "_bucket" + label_text(p) + " " + std::to_string(i < h->bounds_.size() ? cumulative : s.count));
        }
        f.lines.push_back(name + "_sum" + label_text(base) + " " + number(s.sum));
        f.lines.push_back(name + "_count" + label_text(base) + " " + std::to_string(s.count));
      }
    }
  }
  std::set<std::string> seen;  // a series reported twice (two objects, same labels): the first counts
  for (auto& s : collected) {
    if (!seen.insert(s.name + label_text(s.labels)).second) continue;
    auto& f = families[s.name];
    if (f.type.empty()) {
      f.help = s.help;
      f.type = s.type.empty() ? "gauge" : s.type;
    }
    f.lines.push_back(s.name + label_text(s.labels) + " " + number(s.value));
  }
  std::string out;
  for (auto& [name, f] : families) {
    if (f.lines.empty()) continue;
    out += "# HELP " + name + " " + help_text(f.help) + "\n# TYPE " + name + " " + f.type + "\n";
    for (auto& line : f.lines) out += line + "\n";
  }
  return out;
}

void collect_process(std::vector<Sample>& out) {
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  if (statm >> size >> resident) {
    out.push_back({"process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", {}, resident * page});
    out.push_back({"process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", {}, size * page});
  }
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0)
      out.push_back({"process_threads", "Threads in the process.", "gauge", {}, std::stod(line.substr(8))});
  size_t fds = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') ++fds;
    ::closedir(d);
    out.push_back({"process_open_fds", "Open file descriptors.", "gauge", {}, static_cast<double>(fds - 1)});  // less the one reading
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    out.push_back({"process_max_fds", "Maximum open file descriptors.", "gauge", {}, static_cast<double>(rl.rlim_cur)});
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) == 0) {
    const double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    out.push_back({"process_cpu_seconds_total", "User and system CPU time spent in seconds.", "counter", {}, cpu});
  }
}

}  // namespace concierge::metrics
