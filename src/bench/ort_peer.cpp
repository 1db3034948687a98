// onnxruntime-node peer: runs tools/peers/ort_bench.mjs once per model and turns its JSON into
// results; any missing piece becomes "skipped: <reason>", never an exception, so a report always
// shows the peer's row.
#include <cstdint>
#include <filesystem>

#include "bench/sidecar.h"
#include "bench/subprocess.h"
#include "edgeq/bench.h"

namespace edgeq::bench {
namespace {

namespace fs = std::filesystem;

}  // namespace

EvalFiles write_eval_set(const std::string& dir, const Tensor& samples, std::span<const int64_t> labels,
                         std::span<const float> reference_logits) {
  if (samples.dtype() != DType::kF32 || samples.rank() < 1 || samples.shape()[0] < 1)
    throw Error(ErrorCode::kInvalidArgument, "eval set: samples must be float32 [n, ...] with n >= 1, got " + shape_str(samples.shape()));
  const int64_t n = samples.shape()[0];
  if (!labels.empty() && static_cast<int64_t>(labels.size()) != n)
    throw Error(ErrorCode::kInvalidArgument, "eval set: " + std::to_string(labels.size()) + " labels for " + std::to_string(n) + " samples");
  if (reference_logits.size() % static_cast<size_t>(n) != 0)
    throw Error(ErrorCode::kInvalidArgument, "eval set: " + std::to_string(reference_logits.size()) +
                                                 " reference logits are not a whole number of classes per sample (" + std::to_string(n) + ")");
  auto bytes = [](const auto* data, size_t count) {
    return std::string_view(reinterpret_cast<const char*>(data), count * sizeof(*data));
  };
  EvalFiles files;
  files.input = (fs::path(dir) / "eval-input.f32").string();
  write_file_atomic(files.input, bytes(samples.data<float>(), static_cast<size_t>(samples.numel())));
  if (!labels.empty()) {
    std::vector<int32_t> narrow(labels.size());
    for (size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] < 0 || labels[i] > INT32_MAX)
        throw Error(ErrorCode::kInvalidArgument, "eval set: label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) + " is not a class index");
      narrow[i] = static_cast<int32_t>(labels[i]);
    }
    files.labels = (fs::path(dir) / "eval-labels.i32").string();
    write_file_atomic(files.labels, bytes(narrow.data(), narrow.size()));
  }
  if (!reference_logits.empty()) {
    files.reference = (fs::path(dir) / "eval-reference.f32").string();
    write_file_atomic(files.reference, bytes(reference_logits.data(), reference_logits.size()));
  }
  return files;
}

const OrtBatchResult* OrtModelResult::batch(int64_t b) const {
  for (const auto& r : batches)
    if (r.batch == b) return &r;
  return nullptr;
}

Row OrtModelResult::to_row(const std::string& model, const std::string& precision) const {
  const OrtBatchResult* b1 = batch(1);
  if (status != "ok") {
    const std::string prefix = "skipped: ";
    const std::string reason = status.rfind(prefix, 0) == 0 ? status.substr(prefix.size()) : status;
    Row row = Row::skipped(model, engine, precision, reason);
    row.threads = threads;
    return row;
  }
  if (!b1) {
    Row row = Row::skipped(model, engine, precision, "no batch-1 measurement");
    row.threads = threads;
    return row;
  }
  Row row;
  row.model = model;
  row.engine = engine;
  row.precision = precision;
  row.threads = threads;
  row.p50_ms = b1->stats.p50_ns / 1e6;
  row.p95_ms = b1->stats.p95_ns / 1e6;
  row.p99_ms = b1->stats.p99_ns / 1e6;
  row.mean_ms = b1->stats.mean_ns / 1e6;
  row.spread = b1->spread;
  if (const OrtBatchResult* b64 = batch(64)) row.throughput_b64 = b64->throughput_items_per_s;
  row.session_ms = session_ms;
  if (peak_rss_bytes > 0) row.peak_rss_bytes = peak_rss_bytes;
  if (noop_p50_ns) row.call_overhead_ms = *noop_p50_ns / 1e6;
  if (first_prediction && first_prediction->status == "ok") {
    row.first_prediction_cold_ms = first_prediction->cold_ms;
    row.first_prediction_warm_ms = first_prediction->warm_ms;
  }
  if (eval && eval->status != "ok") {
    row.note = "accuracy not measured: " + eval->status;
  } else if (eval) {
    row.top1 = eval->top1;
    row.agreement = eval->agreement;
    row.max_logit_diff = eval->max_logit_diff;
    if (eval->samples < eval->total)
      row.note = "accuracy on the first " + std::to_string(eval->samples) + " of " + std::to_string(eval->total) + " samples";
  }
  if (first_prediction && first_prediction->status != "ok")
    row.note += (row.note.empty() ? "" : "; ") + std::string("first prediction not measured: ") + first_prediction->status;
  return row;
}

OrtModelResult OrtPeer::parse_sidecar_json(const std::string& json_text, std::string* ort_version) {
  return detail::parse_peer_json(json_text, "ort sidecar", "onnxruntime-node", "ort_version", ort_version).front();
}

OrtPeer::OrtPeer(OrtPeerOptions options) : options_(std::move(options)) {
  if (options_.peers_dir.empty()) options_.peers_dir = detail::default_peers_dir();
}

std::string OrtPeer::unavailable_reason() const {
  const std::string node = detail::find_executable(options_.node);
  if (node.empty()) return "node not found (looked for '" + options_.node + "' on PATH)";
  if (std::string foreign = detail::foreign_architecture(node); !foreign.empty()) return foreign;
  const fs::path dir(options_.peers_dir);
  if (!fs::exists(dir / "ort_bench.mjs")) return (dir / "ort_bench.mjs").string() + " not found";
  const fs::path package = dir / "node_modules" / "onnxruntime-node";
  if (!fs::exists(package / "package.json"))
    return "onnxruntime-node not installed in " + dir.string() + " (npm install --ignore-scripts there)";
  // Its native binding ships per platform: bin/napi-v<N>/<os>/<arch>/onnxruntime_binding.node.
  const std::string platform = std::string("linux/") + detail::node_arch();
  std::error_code ec;
  bool has_binary = false;
  for (const auto& napi : fs::directory_iterator(package / "bin", ec))
    has_binary = has_binary || fs::exists(napi.path() / platform / "onnxruntime_binding.node");
  if (!has_binary) return "onnxruntime-node in " + package.string() + " has no " + platform + " binary (bin/napi-v*/" + platform + ")";
  return "";
}

OrtModelResult OrtPeer::run(const std::string& model_path) {
  OrtModelResult result;
  result.path = model_path;
  result.threads = options_.threads;
  if (std::string reason = unavailable_reason(); !reason.empty()) {
    result.status = "skipped: " + reason;
    return result;
  }
  std::vector<std::string> argv = {options_.node, (fs::path(options_.peers_dir) / "ort_bench.mjs").string()};
  for (auto& a : detail::protocol_args(options_)) argv.push_back(std::move(a));
  argv.push_back(model_path);
  const detail::SidecarRun proc = detail::run_sidecar(argv, options_.cpus, "ort sidecar");
  if (!proc.skip_reason.empty()) {
    result.status = "skipped: " + proc.skip_reason;
    return result;
  }
  try {
    result = parse_sidecar_json(proc.out, &ort_version_);
  } catch (const Error& e) {
    result.status = std::string("skipped: ") + e.what();
  }
  return result;
}

std::vector<OrtModelResult> OrtPeer::run_all(const std::vector<std::string>& model_paths) {
  std::vector<OrtModelResult> results;
  for (const auto& p : model_paths) results.push_back(run(p));
  return results;
}

}  // namespace edgeq::bench
