#pragma once
// Prometheus metrics for /metrics (text exposition format 0.0.4): counters and histograms kept by
// label values, and gauges read when scraped (collectors). One registry per process, so any
// layer can count without being handed a registry; tests compare scrapes, not absolute values.
//
// Label values must come from bounded sets (registered tool names, bound methods, configured
// services): a value a client chooses freely would let it grow the registry without limit.
// Callers map anything else to "unknown".
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace concierge::metrics {

using LabelValues = std::vector<std::string>;  // in the family's label order

// One sample of a gauge (or any metric) a collector reports at scrape time.
struct Sample {
  std::string name, help, type;  // type: gauge, counter
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};
using Collector = std::function<void(std::vector<Sample>&)>;

class Counter {
 public:
  void inc(const LabelValues& values, double by = 1);

 private:
  friend class Registry;
  Counter(std::string name, std::string help, std::vector<std::string> labels);
  std::string name_, help_;
  std::vector<std::string> labels_;
  std::mutex m_;
  std::map<LabelValues, double> values_;
};

class Histogram {
 public:
  void observe(const LabelValues& values, double v);

 private:
  friend class Registry;
  Histogram(std::string name, std::string help, std::vector<std::string> labels, std::vector<double> bounds);
  struct Series {
    std::vector<uint64_t> buckets;  // per upper bound, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  std::string name_, help_;
  std::vector<std::string> labels_;
  std::vector<double> bounds_;  // ascending; +Inf implied
  std::mutex m_;
  std::map<LabelValues, Series> series_;
};

class Registry {
 public:
  static Registry& global();

  // The family of that name, made on first use (the same object after). Throws
  // std::invalid_argument for a name or label that is not a Prometheus identifier.
  Counter& counter(const std::string& name, const std::string& help, std::vector<std::string> labels);
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                       std::vector<double> bounds);

  // Gauges computed at scrape time. The collector runs until the returned handle is destroyed
  // (an object reporting its own state unregisters with its destructor).
  class Handle {
   public:
    Handle() = default;
    ~Handle();
    Handle(Handle&& o) noexcept : registry_(o.registry_), id_(o.id_) { o.registry_ = nullptr; }
    Handle& operator=(Handle&& o) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

   private:
    friend class Registry;
    Handle(Registry* r, uint64_t id) : registry_(r), id_(id) {}
    Registry* registry_ = nullptr;
    uint64_t id_ = 0;
  };
  [[nodiscard]] Handle add_collector(Collector c);

  // Everything, in the text format: one HELP and TYPE per family, families sorted by name.
  std::string render();
  // What the collectors report now (a health check reads the breakers' gauges from here).
  std::vector<Sample> collect();

 private:
  std::mutex m_;  // the families
  std::map<std::string, std::unique_ptr<Counter>> counters_;
  std::map<std::string, std::unique_ptr<Histogram>> histograms_;
  // Apart from m_: a collector takes its object's locks, and code holding those may count.
  std::mutex collectors_m_;
  std::map<uint64_t, Collector> collectors_;
  uint64_t next_id_ = 1;
};

// The process's resident memory, threads, open descriptors and CPU time (from /proc/self), as
// the conventional process_* gauges. Registered once by the binary.
void collect_process(std::vector<Sample>& out);

// "a\"b\\c\nd" as a label value is written a\"b\\c\nd (the format's three escapes).
std::string escape_label_value(const std::string& v);

}  // namespace concierge::metrics
