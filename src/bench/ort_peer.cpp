// onnxruntime-node peer: runs tools/peers/ort_bench.mjs once per model and turns its JSON into
// results; any missing piece becomes "skipped: <reason>", never an exception, so a report always
// shows the peer's row.
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "bench/subprocess.h"
#include "edgeq/bench.h"
#include "edgeq/onnx.h"

namespace edgeq::bench {
namespace {

namespace fs = std::filesystem;

std::string default_peers_dir() {
  if (const char* env = std::getenv("EDGEQ_PEERS_DIR"); env && *env) return env;
  return EDGEQ_DEFAULT_PEERS_DIR;
}

std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  size_t begin = text.rfind('\n', end);
  return text.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1) + 1);
}

std::string join(const std::vector<int64_t>& values) {
  std::string s;
  for (int64_t v : values) s += (s.empty() ? "" : ",") + std::to_string(v);
  return s;
}

double ms_to_ns(const nlohmann::json& j, const char* key) { return j.at(key).get<double>() * 1e6; }

OrtBatchResult parse_batch(const nlohmann::json& b) {
  OrtBatchResult r;
  r.batch = b.at("batch").get<int64_t>();
  r.stats.count = b.at("runs").get<int64_t>() * b.at("rounds").get<int64_t>();
  r.stats.p50_ns = ms_to_ns(b, "p50_ms");
  r.stats.p95_ns = ms_to_ns(b, "p95_ms");
  r.stats.p99_ns = ms_to_ns(b, "p99_ms");
  r.stats.mean_ns = ms_to_ns(b, "mean_ms");
  r.stats.min_ns = ms_to_ns(b, "min_ms");
  r.stats.max_ns = ms_to_ns(b, "max_ms");
  r.stats.stddev_ns = ms_to_ns(b, "stddev_ms");
  for (const auto& p : b.at("round_p50_ms")) r.round_p50_ns.push_back(p.get<double>() * 1e6);
  r.spread = b.at("spread").get<double>();
  r.throughput_items_per_s = b.at("throughput_items_per_s").get<double>();
  return r;
}

}  // namespace

void write_identity_model(const std::string& path, const Shape& shape) {
  onnx::Model m;
  m.opset_imports[""] = 17;
  m.producer_name = "edgeq";
  m.producer_version = version();
  m.doc_string = "no-op model: measures a runtime's per-call overhead";
  m.graph.name = "identity";
  onnx::ValueInfo v;
  v.dtype = DType::kF32;
  v.has_shape = true;
  v.shape = shape;
  for (int64_t d : shape) v.dim_params.push_back(d < 0 ? "batch" : "");
  v.name = "input";
  m.graph.inputs.push_back(v);
  v.name = "output";
  m.graph.outputs.push_back(v);
  m.graph.nodes.push_back(onnx::Node{"identity", "Identity", "", {"input"}, {"output"}, {}, ""});
  onnx::save_model(m, path);
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
    return Row::skipped(model, "onnxruntime-node", precision, reason);
  }
  if (!b1) return Row::skipped(model, "onnxruntime-node", precision, "no batch-1 measurement");
  Row row;
  row.model = model;
  row.engine = "onnxruntime-node";
  row.precision = precision;
  row.p50_ms = b1->stats.p50_ns / 1e6;
  row.p95_ms = b1->stats.p95_ns / 1e6;
  row.p99_ms = b1->stats.p99_ns / 1e6;
  row.mean_ms = b1->stats.mean_ns / 1e6;
  row.spread = b1->spread;
  if (const OrtBatchResult* b64 = batch(64)) row.throughput_b64 = b64->throughput_items_per_s;
  row.session_ms = session_ms;
  row.peak_rss_bytes = peak_rss_bytes;
  return row;
}

OrtModelResult OrtPeer::parse_sidecar_json(const std::string& json_text, std::string* ort_version) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw Error(ErrorCode::kParse, "ort sidecar output is not a JSON object");
  try {
    if (ort_version) *ort_version = j.value("ort_version", "");
    const auto& models = j.at("models");
    if (!models.is_array() || models.empty()) throw Error(ErrorCode::kParse, "ort sidecar output has no models");
    const auto& m = models.at(0);
    OrtModelResult r;
    r.path = m.at("path").get<std::string>();
    r.status = m.at("status").get<std::string>();
    r.peak_rss_bytes = m.value("peak_rss_bytes", int64_t{0});
    if (r.status == "ok") {
      r.session_ms = m.at("session_ms").get<double>();
      for (const auto& b : m.at("batches"))
        if (b.at("status").get<std::string>() == "ok") r.batches.push_back(parse_batch(b));
    }
    const auto& noop = j.value("noop", nlohmann::json());
    if (noop.is_object() && noop.value("status", "") == "ok") r.noop_p50_ns = ms_to_ns(noop, "p50_ms");
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kParse, std::string("ort sidecar output: ") + e.what());
  }
}

OrtPeer::OrtPeer(OrtPeerOptions options) : options_(std::move(options)) {
  if (options_.peers_dir.empty()) options_.peers_dir = default_peers_dir();
}

std::string OrtPeer::unavailable_reason() const {
  if (detail::find_executable(options_.node).empty()) return "node not found (looked for '" + options_.node + "' on PATH)";
  const fs::path dir(options_.peers_dir);
  if (!fs::exists(dir / "ort_bench.mjs")) return (dir / "ort_bench.mjs").string() + " not found";
  if (!fs::exists(dir / "node_modules" / "onnxruntime-node" / "package.json"))
    return "onnxruntime-node not installed in " + dir.string() + " (npm install --ignore-scripts there)";
  return "";
}

OrtModelResult OrtPeer::run(const std::string& model_path) {
  OrtModelResult result;
  result.path = model_path;
  if (std::string reason = unavailable_reason(); !reason.empty()) {
    result.status = "skipped: " + reason;
    return result;
  }
  std::vector<std::string> argv = {options_.node,
                                   (fs::path(options_.peers_dir) / "ort_bench.mjs").string(),
                                   "--threads", std::to_string(options_.threads),
                                   "--warmup", std::to_string(options_.warmup),
                                   "--runs", std::to_string(options_.runs),
                                   "--batch-runs", std::to_string(options_.batch_runs),
                                   "--rounds", std::to_string(options_.rounds),
                                   "--batches", join(options_.batches)};
  if (!options_.input_f32.empty()) {
    argv.insert(argv.end(), {"--input", options_.input_f32});
  } else {
    argv.insert(argv.end(), {"--seed", std::to_string(options_.seed)});
  }
  if (!options_.noop_model.empty()) argv.insert(argv.end(), {"--noop", options_.noop_model});
  argv.push_back(model_path);

  detail::ProcessResult proc;
  {
    ScopedAffinity pin(options_.cpus);  // the sidecar inherits the mask of the thread that starts it
    proc = detail::run_process(argv);
  }
  if (!proc.launched) {
    result.status = "skipped: cannot start node: " + proc.error;
    return result;
  }
  if (proc.exit_code != 0) {
    const std::string why = last_line(proc.err);
    result.status = "skipped: ort sidecar failed (exit " + std::to_string(proc.exit_code) + ")" + (why.empty() ? "" : ": " + why);
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
