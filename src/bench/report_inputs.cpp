// What the report pages read from files: the bench report's JSON (render_json's inverse), edgeq
// quantize --report and edgeq train's train.json. Missing optional fields stay empty; a file that is
// not JSON, or a field of the wrong type, is an Error(kParse) naming it.
#include <cmath>

#include <nlohmann/json.hpp>

#include "edgeq/report.h"

namespace edgeq::bench {
namespace {

using json = nlohmann::ordered_json;

// Parses `text` and hands the document to fn; malformed JSON and values of the wrong type (json's
// own errors name the value, not the file) become one Error(kParse) naming the file.
template <typename F>
auto read_json(const std::string& text, const char* what, F&& fn) {
  try {
    return fn(json::parse(text));
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kParse, std::string(what) + ": " + e.what());
  }
}

template <typename T>
std::optional<T> opt(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<T>();
}

std::string str(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && !it->is_null() ? it->get<std::string>() : std::string();  // a number here throws
}

// The quantizer reports 0.0 dB for layers it measured nothing on (MaxPool, Flatten: no weights, the
// output range shared with the input; layers kept fp32). An SQNR of exactly 0 dB on such a layer
// means "none", not "noise as loud as the signal".
bool has_weights(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul";
}

std::optional<double> sqnr(const json& layer, const char* key, bool quantized, bool weighted) {
  std::optional<double> v = opt<double>(layer, key);
  if (!quantized || !v || !std::isfinite(*v)) return std::nullopt;
  if (*v == 0.0 && !weighted) return std::nullopt;
  return v;
}

}  // namespace

Report parse_report_json(const std::string& json_text) {
  return read_json(json_text, "bench report", [](const json& j) {
    Report r;
    r.title = j.value("title", r.title);
    if (const auto m = j.find("machine"); m != j.end() && m->is_object()) {
      r.machine.cpu_model = str(*m, "cpu_model");
      r.machine.logical_cpus = m->value("logical_cpus", 0);
      r.machine.allowed_cpus = m->value("allowed_cpus", 0);
      r.machine.isa_flags = m->value("isa_flags", std::vector<std::string>{});
      r.machine.kernel = str(*m, "kernel");
      r.machine.compiler = str(*m, "compiler");
      r.machine.edgeq_version = str(*m, "edgeq_version");
    }
    if (const auto p = j.find("protocol"); p != j.end() && p->is_object()) {
      r.protocol.warmup = p->value("warmup", r.protocol.warmup);
      r.protocol.runs = p->value("runs", r.protocol.runs);
      r.protocol.rounds = p->value("rounds", r.protocol.rounds);
      r.protocol.batch = p->value("batch", r.protocol.batch);
      r.protocol.threads = p->value("threads", r.protocol.threads);
      r.protocol.cpus = p->value("cpus", std::vector<int>{});
    }
    if (const auto v = j.find("versions"); v != j.end() && v->is_object())
      for (const auto& [runtime, version] : v->items()) r.versions.emplace_back(runtime, version.get<std::string>());
    for (const json& row : j.value("rows", json::array())) {
      Row x;
      x.model = str(row, "model");
      x.family = str(row, "family");
      x.engine = str(row, "engine");
      x.precision = str(row, "precision");
      x.threads = row.value("threads", 0);
      x.size_bytes = opt<int64_t>(row, "size_bytes");
      x.p50_ms = opt<double>(row, "p50_ms");
      x.p95_ms = opt<double>(row, "p95_ms");
      x.p99_ms = opt<double>(row, "p99_ms");
      x.mean_ms = opt<double>(row, "mean_ms");
      x.spread = opt<double>(row, "spread");
      x.throughput_b64 = opt<double>(row, "throughput_b64_items_per_s");
      x.top1 = opt<double>(row, "top1");
      x.agreement = opt<double>(row, "agreement_vs_fp32");
      x.max_logit_diff = opt<double>(row, "max_logit_diff");
      x.session_ms = opt<double>(row, "session_ms");
      x.peak_rss_bytes = opt<int64_t>(row, "peak_rss_bytes");
      x.call_overhead_ms = opt<double>(row, "call_overhead_ms");
      x.first_prediction_cold_ms = opt<double>(row, "first_prediction_cold_ms");
      x.first_prediction_warm_ms = opt<double>(row, "first_prediction_warm_ms");
      x.ratio_vs_best_peer = opt<double>(row, "ratio_vs_best_peer");
      x.status = row.value("status", std::string("ok"));
      x.note = str(row, "note");
      r.rows.push_back(std::move(x));
    }
    r.notes = j.value("notes", std::vector<std::string>{});
    return r;
  });
}

QuantSummary parse_quant_report(const std::string& json_text) {
  return read_json(json_text, "quantization report", [](const json& j) {
    QuantSummary q;
    q.mode = str(j, "mode");
    q.activation_type = str(j, "activation_type");
    q.weights = str(j, "weights");
    if (const auto c = j.find("calibration"); c != j.end() && c->is_object()) {
      q.method = str(*c, "method");
      q.calibration_samples = c->value("samples", int64_t{0});
    }
    if (const auto s = j.find("size"); s != j.end() && s->is_object()) {
      q.fp32_bytes = s->value("fp32_bytes", int64_t{0});
      q.quant_bytes = s->value("quant_bytes", int64_t{0});
    }
    for (const json& l : j.value("layers", json::array())) {
      LayerSqnr x;
      x.node = str(l, "node");
      x.op = str(l, "op");
      x.note = str(l, "note");
      x.quantized = l.value("quantized", false);
      const bool weighted = has_weights(x.op);
      x.weight_db = weighted ? sqnr(l, "weight_sqnr_db", x.quantized, true) : std::nullopt;
      x.output_db = sqnr(l, "layer_sqnr_db", x.quantized, weighted);
      q.layers.push_back(std::move(x));
    }
    return q;
  });
}

TrainingLog parse_training_log(const std::string& json_text) {
  return read_json(json_text, "training log", [](const json& j) {
    TrainingLog t;
    t.arch = str(j, "arch");
    t.dataset = str(j, "dataset");
    t.test_dataset = str(j, "test_dataset");
    t.train_images = j.value("train_images", int64_t{0});
    t.val_images = j.value("val_images", int64_t{0});
    t.test_images = j.value("test_images", int64_t{0});
    t.param_count = j.value("param_count", int64_t{0});
    t.wall_seconds = j.value("wall_seconds", 0.0);
    t.best_epoch = j.value("best_epoch", 0);
    t.stopped_early = j.value("stopped_early", false);
    t.test_accuracy = opt<double>(j, "test_accuracy");
    t.test_loss = opt<double>(j, "test_loss");
    if (const auto c = j.find("config"); c != j.end() && c->is_object()) {
      t.optimizer = str(*c, "optimizer");
      t.schedule = str(*c, "schedule");
      t.lr = c->value("lr", 0.0);
      t.batch_size = c->value("batch_size", int64_t{0});
    }
    for (const json& e : j.value("epochs", json::array())) {
      EpochLog x;
      x.epoch = e.value("epoch", 0);
      x.train_loss = opt<double>(e, "train_loss");
      x.val_loss = opt<double>(e, "val_loss");
      x.train_accuracy = opt<double>(e, "train_accuracy");
      x.val_accuracy = opt<double>(e, "val_accuracy");
      x.seconds = opt<double>(e, "seconds");
      t.epochs.push_back(x);
    }
    return t;
  });
}

}  // namespace edgeq::bench
