// Lock-cheap metric primitives (Counter, Gauge, Histogram with fixed buckets), labelled
// families of them, and a Registry that renders every family in the Prometheus text
// exposition format 0.0.4. Updating a series is a relaxed atomic operation; a family
// takes its shared_mutex shared to find a series and exclusively only to add or drop
// one. Hot paths keep the shared_ptr of their series and skip even that.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace nimbus::observability {

class Counter {
 public:
  void inc(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  // For totals kept elsewhere and copied in at scrape time (process CPU seconds).
  void setTotal(double v) { value_.store(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  // Raises the value to v if it is below (a high-water mark).
  void max(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Fixed upper bounds (ascending, +Inf implied). observe() finds the bucket by binary
// search and bumps one atomic count; the exposition makes them cumulative.
class Histogram {
 public:
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_->size() + 1
  std::atomic<double> sum_{0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;
  virtual void render(std::string& out) const = 0;
  // Drops every series whose label `label` has `value` (a deleted function).
  virtual void removeWhere(std::string_view label, std::string_view value) = 0;
  const std::string& name() const { return name_; }

 protected:
  void renderHeader(std::string& out) const;
  // name{a="x",b="y"} (suffix and extra label appended for histograms).
  void renderSeriesName(std::string& out, std::string_view suffix,
                        const std::vector<std::string>& values, std::string_view extra_label = {},
                        std::string_view extra_value = {}) const;
  int labelIndex(std::string_view label) const;

  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
};

// Series of one metric keyed by their label values (in label_names order).
template <typename T>
class Family : public FamilyBase {
 public:
  using Factory = std::function<std::shared_ptr<T>()>;
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> labels,
         Factory factory)
      : FamilyBase(std::move(name), std::move(help), type, std::move(labels)),
        factory_(std::move(factory)) {}

  // The series for these label values, made on first use.
  std::shared_ptr<T> at(const std::vector<std::string>& values) {
    {
      std::shared_lock lock(mutex_);
      auto it = series_.find(values);
      if (it != series_.end()) return it->second;
    }
    std::unique_lock lock(mutex_);
    auto& slot = series_[values];
    if (!slot) slot = factory_();
    return slot;
  }
  void removeWhere(std::string_view label, std::string_view value) override {
    const int index = labelIndex(label);
    if (index < 0) return;
    std::unique_lock lock(mutex_);
    std::erase_if(series_, [&](const auto& kv) { return kv.first[index] == value; });
  }
  // Drops every series (scrape-time families are refilled from scratch).
  void clear() {
    std::unique_lock lock(mutex_);
    series_.clear();
  }
  void render(std::string& out) const override;

 private:
  Factory factory_;
  mutable std::shared_mutex mutex_;
  std::map<std::vector<std::string>, std::shared_ptr<T>> series_;
};

// Counters and gauges render one line per series (metrics.cc); histograms their buckets.
template <>
void Family<Histogram>::render(std::string& out) const;
extern template class Family<Counter>;
extern template class Family<Gauge>;

// Every family of a process, rendered in registration order. Collectors run first at
// each scrape, to fill the families whose values are read then (process figures, store
// queries).
class Registry {
 public:
  std::shared_ptr<Family<Counter>> counter(std::string name, std::string help,
                                           std::vector<std::string> labels = {});
  std::shared_ptr<Family<Gauge>> gauge(std::string name, std::string help,
                                       std::vector<std::string> labels = {});
  std::shared_ptr<Family<Histogram>> histogram(std::string name, std::string help,
                                               std::vector<double> bounds,
                                               std::vector<std::string> labels = {});
  void addCollector(std::function<void()> collect);
  void removeWhere(std::string_view label, std::string_view value);
  // The text exposition format 0.0.4.
  std::string render() const;

 private:
  mutable std::mutex mutex_;  // guards the lists, never taken on the update path
  std::vector<std::shared_ptr<FamilyBase>> families_;
  std::vector<std::function<void()>> collectors_;
};

// Exposition helpers, exposed for tests.
std::string escapeLabelValue(std::string_view v);
std::string formatValue(double v);

inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace nimbus::observability
