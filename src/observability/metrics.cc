// Metric primitives and the Prometheus text exposition format 0.0.4.
#include "observability/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace nimbus::observability {

void Gauge::max(double v) {
  double cur = value_.load(std::memory_order_relaxed);
  while (cur < v && !value_.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  // Prometheus buckets are "less than or equal": the first bound >= v.
  auto it = std::lower_bound(bounds_->begin(), bounds_->end(), v);
  counts_[static_cast<size_t>(it - bounds_->begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_->size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::string escapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double ("0.1", not "0.10000000000000001").
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

namespace {
std::string_view typeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string escapeHelp(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}
}  // namespace

void FamilyBase::renderHeader(std::string& out) const {
  out += "# HELP " + name_ + " " + escapeHelp(help_) + "\n";
  out += "# TYPE " + name_ + " " + std::string(typeName(type_)) + "\n";
}

void FamilyBase::renderSeriesName(std::string& out, std::string_view suffix,
                                  const std::vector<std::string>& values,
                                  std::string_view extra_label,
                                  std::string_view extra_value) const {
  out += name_;
  out += suffix;
  if (label_names_.empty() && extra_label.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < label_names_.size() && i < values.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += label_names_[i] + "=\"" + escapeLabelValue(values[i]) + "\"";
  }
  if (!extra_label.empty()) {
    if (!first) out += ',';
    out += std::string(extra_label) + "=\"" + std::string(extra_value) + "\"";
  }
  out += '}';
}

int FamilyBase::labelIndex(std::string_view label) const {
  for (size_t i = 0; i < label_names_.size(); ++i) {
    if (label_names_[i] == label) return static_cast<int>(i);
  }
  return -1;
}

template <typename T>
void Family<T>::render(std::string& out) const {
  renderHeader(out);
  std::shared_lock lock(mutex_);
  for (const auto& [values, series] : series_) {
    renderSeriesName(out, "", values);
    out += " " + formatValue(series->value()) + "\n";
  }
}
template class Family<Counter>;
template class Family<Gauge>;

template <>
void Family<Histogram>::render(std::string& out) const {
  renderHeader(out);
  std::shared_lock lock(mutex_);
  for (const auto& [values, series] : series_) {
    const Histogram::Snapshot s = series->snapshot();
    const auto& bounds = series->bounds();
    for (size_t i = 0; i < bounds.size(); ++i) {
      renderSeriesName(out, "_bucket", values, "le", formatValue(bounds[i]));
      out += " " + std::to_string(s.cumulative[i]) + "\n";
    }
    renderSeriesName(out, "_bucket", values, "le", "+Inf");
    out += " " + std::to_string(s.cumulative.back()) + "\n";
    renderSeriesName(out, "_sum", values);
    out += " " + formatValue(s.sum) + "\n";
    renderSeriesName(out, "_count", values);
    out += " " + std::to_string(s.cumulative.back()) + "\n";
  }
}

std::shared_ptr<Family<Counter>> Registry::counter(std::string name, std::string help,
                                                   std::vector<std::string> labels) {
  auto f = std::make_shared<Family<Counter>>(std::move(name), std::move(help), MetricType::kCounter,
                                             std::move(labels),
                                             [] { return std::make_shared<Counter>(); });
  std::lock_guard lock(mutex_);
  families_.push_back(f);
  return f;
}

std::shared_ptr<Family<Gauge>> Registry::gauge(std::string name, std::string help,
                                               std::vector<std::string> labels) {
  auto f =
      std::make_shared<Family<Gauge>>(std::move(name), std::move(help), MetricType::kGauge,
                                      std::move(labels), [] { return std::make_shared<Gauge>(); });
  std::lock_guard lock(mutex_);
  families_.push_back(f);
  return f;
}

std::shared_ptr<Family<Histogram>> Registry::histogram(std::string name, std::string help,
                                                       std::vector<double> bounds,
                                                       std::vector<std::string> labels) {
  std::sort(bounds.begin(), bounds.end());
  auto shared = std::make_shared<const std::vector<double>>(std::move(bounds));
  auto f = std::make_shared<Family<Histogram>>(
      std::move(name), std::move(help), MetricType::kHistogram, std::move(labels),
      [shared] { return std::make_shared<Histogram>(shared); });
  std::lock_guard lock(mutex_);
  families_.push_back(f);
  return f;
}

void Registry::addCollector(std::function<void()> collect) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collect));
}

void Registry::removeWhere(std::string_view label, std::string_view value) {
  std::lock_guard lock(mutex_);
  for (const auto& f : families_) f->removeWhere(label, value);
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  for (const auto& collect : collectors_) collect();
  std::string out;
  out.reserve(16384);
  for (const auto& f : families_) f->render(out);
  return out;
}

}  // namespace nimbus::observability
