// The server's metrics in Prometheus text format. Names follow Triton's nv_inference_* family (success and
// failure counts, inference and execution counts, per-phase durations) with the edgeq_ prefix; durations are
// histograms in microseconds so that p50/p99 can be read with histogram_quantile().
#include <array>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <mutex>
#include <tuple>

#include "edgeq/serve.h"

namespace edgeq::serve {
namespace {

// Bucket bounds (us): 25 us .. 10 s, about 2.5x apart; + Inf implied.
constexpr std::array<double, 14> kLatencyBucketsUs = {25,    50,     100,    250,     500,     1000,    2500,
                                                      5000,  10000,  25000,  100000,  500000,  2000000, 10000000};
constexpr std::array<double, 8> kBatchBuckets = {1, 2, 4, 8, 16, 32, 64, 128};

template <size_t N>
struct Histogram {
  std::array<uint64_t, N + 1> counts{};  // last: above every bound
  double sum = 0;
  uint64_t count = 0;
  void observe(double v, const std::array<double, N>& bounds) {
    size_t b = 0;
    while (b < N && v > bounds[b]) ++b;
    ++counts[b];
    sum += v;
    ++count;
  }
};

using ModelKey = std::pair<std::string, std::string>;  // model, version

// Label values are model and version names (checked by valid_name) and route patterns we define, so they
// never hold a quote or a backslash; escape anyway, as the format asks.
std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string model_labels(const ModelKey& k) {
  return "model=\"" + label_value(k.first) + "\",version=\"" + label_value(k.second) + "\"";
}

std::string number(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

template <size_t N>
void write_histogram(std::string& out, const std::string& name, const std::string& labels, const Histogram<N>& h,
                     const std::array<double, N>& bounds) {
  uint64_t cumulative = 0;
  for (size_t b = 0; b < N; ++b) {
    cumulative += h.counts[b];
    out += name + "_bucket{" + labels + ",le=\"" + number(bounds[b]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += h.counts[N];
  out += name + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += name + "_sum{" + labels + "} " + number(h.sum) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(h.count) + "\n";
}

struct ModelStats {
  uint64_t success = 0;
  uint64_t failure = 0;
  std::map<int, uint64_t> by_status;
  uint64_t inference_count = 0;  // requests run (batch items)
  uint64_t exec_count = 0;       // Session::run calls
  Histogram<kLatencyBucketsUs.size()> queue, preprocess, compute, total;
  Histogram<kBatchBuckets.size()> batch;
  std::optional<double> load_ms;
};

}  // namespace

struct Metrics::Impl {
  mutable std::mutex mu;
  std::map<ModelKey, ModelStats> models;
  std::map<std::pair<std::string, int>, uint64_t> http;  // route, status
  std::atomic<int64_t> in_flight{0};
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::record_inference(const std::string& model, const std::string& version, int status,
                               const RequestTimes& times) {
  std::lock_guard lock(impl_->mu);
  ModelStats& s = impl_->models[{model, version}];
  ++s.by_status[status];
  if (status >= 200 && status < 300) {
    ++s.success;
    s.queue.observe(times.queue_us, kLatencyBucketsUs);
    s.preprocess.observe(times.preprocess_us, kLatencyBucketsUs);
    s.compute.observe(times.compute_us, kLatencyBucketsUs);
    s.total.observe(times.total_us, kLatencyBucketsUs);
  } else {
    ++s.failure;
  }
}

void Metrics::record_execution(const std::string& model, const std::string& version, int64_t batch) {
  std::lock_guard lock(impl_->mu);
  ModelStats& s = impl_->models[{model, version}];
  ++s.exec_count;
  s.inference_count += static_cast<uint64_t>(batch);
  s.batch.observe(static_cast<double>(batch), kBatchBuckets);
}

void Metrics::record_http(const std::string& route, int status) {
  std::lock_guard lock(impl_->mu);
  ++impl_->http[{route, status}];
}

void Metrics::set_load_time(const std::string& model, const std::string& version, double ms) {
  std::lock_guard lock(impl_->mu);
  impl_->models[{model, version}].load_ms = ms;
}

int64_t Metrics::add_in_flight(int delta) { return impl_->in_flight += delta; }
int64_t Metrics::in_flight() const { return impl_->in_flight.load(); }

std::string Metrics::prometheus_text() const {
  std::lock_guard lock(impl_->mu);
  std::string out;
  const auto family = [&](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  family("edgeq_inference_request_success", "counter", "Inference requests answered 2xx, per model version");
  for (const auto& [k, s] : impl_->models) out += "edgeq_inference_request_success{" + model_labels(k) + "} " + std::to_string(s.success) + "\n";
  family("edgeq_inference_request_failure", "counter", "Inference requests answered 4xx/5xx, per model version");
  for (const auto& [k, s] : impl_->models) out += "edgeq_inference_request_failure{" + model_labels(k) + "} " + std::to_string(s.failure) + "\n";
  family("edgeq_inference_request_total", "counter", "Inference requests by model, version and HTTP status");
  for (const auto& [k, s] : impl_->models)
    for (const auto& [status, n] : s.by_status)
      out += "edgeq_inference_request_total{" + model_labels(k) + ",status=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  family("edgeq_inference_count", "counter", "Inferences run (requests, counting each item of a batch)");
  for (const auto& [k, s] : impl_->models) out += "edgeq_inference_count{" + model_labels(k) + "} " + std::to_string(s.inference_count) + "\n";
  family("edgeq_inference_exec_count", "counter", "Engine executions (one per batch)");
  for (const auto& [k, s] : impl_->models) out += "edgeq_inference_exec_count{" + model_labels(k) + "} " + std::to_string(s.exec_count) + "\n";
  struct Phase {
    const char* name;
    Histogram<kLatencyBucketsUs.size()> ModelStats::*histogram;
    const char* help;
  };
  const Phase phases[] = {
      {"edgeq_inference_queue_duration_us", &ModelStats::queue, "Time waiting for a batch or the engine (us)"},
      {"edgeq_inference_preprocess_duration_us", &ModelStats::preprocess, "Body parse, image decode and input binding (us)"},
      {"edgeq_inference_compute_duration_us", &ModelStats::compute, "Engine run (us)"},
      {"edgeq_inference_request_duration_us", &ModelStats::total, "Whole request, as in X-Latency-Ms (us)"}};
  for (const Phase& phase : phases) {
    family(phase.name, "histogram", phase.help);
    for (const auto& [k, s] : impl_->models)
      if (s.success > 0) write_histogram(out, phase.name, model_labels(k), s.*(phase.histogram), kLatencyBucketsUs);
  }
  family("edgeq_inference_batch_size", "histogram", "Requests per engine execution");
  for (const auto& [k, s] : impl_->models)
    if (s.exec_count > 0) write_histogram(out, "edgeq_inference_batch_size", model_labels(k), s.batch, kBatchBuckets);
  family("edgeq_model_load_duration_ms", "gauge", "Time to read and compile the model version (ms)");
  for (const auto& [k, s] : impl_->models)
    if (s.load_ms) out += "edgeq_model_load_duration_ms{" + model_labels(k) + "} " + number(*s.load_ms) + "\n";
  family("edgeq_inference_pending_request_count", "gauge", "Requests in flight");
  out += "edgeq_inference_pending_request_count " + std::to_string(impl_->in_flight.load()) + "\n";
  family("edgeq_http_requests_total", "counter", "HTTP requests by route and status");
  for (const auto& [k, n] : impl_->http)
    out += "edgeq_http_requests_total{route=\"" + label_value(k.first) + "\",status=\"" + std::to_string(k.second) + "\"} " + std::to_string(n) + "\n";
  return out;
}

}  // namespace edgeq::serve
