// quantize(): prepare -> calibrate -> write -> measure (SQNR, accuracy) -> mixed precision under a budget.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "edgeq/runtime.h"
#include "quant/internal.h"
#include "runtime/int8_ops.h"

namespace edgeq::quant {

namespace {

int64_t batch_size(const std::vector<Tensor>& batch) { return batch.empty() || batch[0].rank() == 0 ? 1 : batch[0].shape()[0]; }

// Sample `i` of a batch (dim 0), as a batch of one.
Tensor sample_of(const Tensor& batch, int64_t i) {
  Shape shape = batch.shape();
  const size_t bytes = batch.nbytes() / static_cast<size_t>(shape[0]);
  shape[0] = 1;
  Tensor one(batch.dtype(), shape);
  std::memcpy(one.raw(), static_cast<const std::byte*>(batch.raw()) + bytes * static_cast<size_t>(i), bytes);
  return one;
}

// The calibration and SQNR passes make every value of the model an output, all alive at once: a batch
// of 16 at 224x224 held 4 GB for EfficientNet-B0. Where every input's batch dim is open, samples go
// through one at a time (the collectors and SQNR sums see the same values either way); a fixed batch
// keeps the batches the model accepts.
Batches one_sample_batches(const onnx::Graph& g, const Batches& batches) {
  const bool open_batch = std::all_of(g.inputs.begin(), g.inputs.end(), [](const auto& v) { return !v.shape.empty() && v.shape[0] < 0; });
  if (!open_batch) return batches;
  Batches out;
  for (const auto& batch : batches) {
    if (batch_size(batch) == 1) {
      out.push_back(batch);
      continue;
    }
    for (int64_t s = 0; s < batch_size(batch); ++s) {
      std::vector<Tensor> one;
      for (const auto& t : batch) one.push_back(sample_of(t, s));
      out.push_back(std::move(one));
    }
  }
  return out;
}

int64_t count_samples(const Batches& batches) {
  int64_t n = 0;
  for (const auto& b : batches) n += batch_size(b);
  return n;
}

// Calibration data must match the model's inputs: count, dtype, rank and every known dim.
void validate_batches(const onnx::Model& model, const Batches& batches, int64_t min_samples) {
  const auto& inputs = model.graph.inputs;
  for (size_t b = 0; b < batches.size(); ++b) {
    if (batches[b].size() != inputs.size())
      throw Error(ErrorCode::kInvalidArgument, "calibration batch " + std::to_string(b) + " has " + std::to_string(batches[b].size()) +
                                                   " tensors, the model takes " + std::to_string(inputs.size()) + " inputs");
    for (size_t i = 0; i < inputs.size(); ++i) {
      const auto& vi = inputs[i];
      const Tensor& t = batches[b][i];
      bool ok = t.dtype() == vi.dtype || vi.dtype == DType::kUndefined;
      if (vi.has_shape) {
        ok = ok && t.rank() == static_cast<int64_t>(vi.shape.size());
        for (size_t d = 0; ok && d < vi.shape.size(); ++d) ok = vi.shape[d] < 0 || vi.shape[d] == t.shape()[d];
      }
      if (!ok)
        throw Error(ErrorCode::kInvalidArgument, "calibration data for input '" + vi.name + "' is " + dtype_name(t.dtype()) + " " +
                                                     shape_str(t.shape()) + ", the model expects " + dtype_name(vi.dtype) + " " +
                                                     shape_str(vi.shape));
    }
  }
  const int64_t n = count_samples(batches);
  if (n < std::max<int64_t>(1, min_samples))
    throw Error(ErrorCode::kInvalidArgument, "calibration set has " + std::to_string(n) + " samples, fewer than the " +
                                                 std::to_string(std::max<int64_t>(1, min_samples)) + " required");
}

// Every float value of the prepared model: any writer plan (whatever is excluded) finds its ranges here.
std::vector<std::string> float_values(const onnx::Model& m) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& n : m.graph.nodes)
    for (const auto& o : n.outputs)
      if (!o.empty() && detail::is_float_value(m.graph, o) && seen.insert(o).second) names.push_back(o);
  return names;
}

// Runs the fp32 model on every batch and folds each value into its collector (nothing is kept).
std::map<std::string, Range> calibrate(const onnx::Model& prepared, const Batches& batches, const CollectorOptions& options) {
  const auto& g = prepared.graph;
  std::vector<std::string> observed;
  runtime::SessionOptions so;
  for (const auto& name : float_values(prepared)) {
    const bool is_output = std::any_of(g.outputs.begin(), g.outputs.end(), [&](const auto& o) { return o.name == name; });
    if (!is_output) so.extra_outputs.push_back(name);
  }
  runtime::Session session(prepared, so);
  std::map<std::string, std::unique_ptr<RangeCollector>> collectors;
  auto feed = [&](const std::string& name, const Tensor& t) {
    if (t.dtype() != DType::kF32) return;
    auto& c = collectors[name];
    if (!c) c = make_collector(options);
    c->add({t.data<float>(), static_cast<size_t>(t.numel())});
  };
  for (const auto& batch : batches) {
    for (size_t i = 0; i < g.inputs.size(); ++i) feed(g.inputs[i].name, batch[i]);
    const auto outs = session.run(batch);
    for (size_t k = 0; k < outs.size() && k < session.outputs().size(); ++k) feed(session.outputs()[k].name, outs[k]);
  }
  std::map<std::string, Range> ranges;
  for (const auto& [name, c] : collectors) ranges[name] = c->range();
  return ranges;
}

// The first `samples` samples of the calibration set, as whole batches.
Batches head(const Batches& batches, int64_t samples) {
  Batches out;
  int64_t n = 0;
  for (const auto& b : batches) {
    if (n >= samples) break;
    out.push_back(b);
    n += batch_size(b);
  }
  return out;
}

struct SqnrAccumulator {
  double signal = 0, noise = 0;
  void add(const Tensor& x, const Tensor& y) {
    if (x.numel() != y.numel() || x.dtype() != DType::kF32 || y.dtype() != DType::kF32) return;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double a = x.data<float>()[i], d = a - y.data<float>()[i];
      signal += a * a;
      noise += d * d;
    }
  }
  double db() const {
    if (noise == 0) return std::numeric_limits<double>::infinity();
    return signal == 0 ? 0.0 : 10.0 * std::log10(signal / noise);
  }
};

class Quantizer {
 public:
  Quantizer(const onnx::Model& model, const QuantizeOptions& options, const Batches& calibration, const Evaluator& evaluator)
      : original_(model), options_(options), calibration_(calibration), evaluator_(evaluator) {}

  QuantizeResult run() {
    check_not_quantized(original_);
    if (options_.activation_type != DType::kU8 && options_.activation_type != DType::kI8)
      throw Error(ErrorCode::kInvalidArgument, std::string("activation type must be uint8 or int8, not ") + dtype_name(options_.activation_type));
    prepared_ = detail::prepare_fp32(upgraded());
    std::set<std::string> node_names;
    for (const auto& n : prepared_.graph.nodes) node_names.insert(n.name);
    for (const auto& n : original_.graph.nodes) node_names.insert(n.name);
    for (const auto& name : options_.exclude_nodes) {
      if (!node_names.count(name)) throw Error(ErrorCode::kInvalidArgument, "--exclude names no node of the model: '" + name + "'");
      excluded_.insert(name);
    }
    const bool is_static = options_.mode == Mode::kStatic;
    report_.mode = is_static ? "static" : "dynamic";
    report_.per_channel = options_.per_channel;
    report_.activation_type = is_static ? dtype_name(options_.activation_type) : "uint8 (dynamic)";
    if (is_static) {
      validate_batches(prepared_, calibration_, options_.min_calibration_samples);
      calibration_ = one_sample_batches(prepared_.graph, calibration_);
      report_.method = method_name(options_.calibration.method);
      report_.calibration_samples = count_samples(calibration_);
      ranges_ = calibrate(prepared_, calibration_, options_.calibration);
    } else if (!calibration_.empty()) {
      validate_batches(prepared_, calibration_, 1);
    }
    detail::WrittenModel written = write(excluded_);
    refuse_if_nothing_quantized(written);
    measure_layers();
    if (evaluator_) {
      report_.accuracy_fp32 = evaluator_(original_);
      report_.accuracy_quant = evaluator_(written.model);
      control_accuracy(written);
    }
    fill_report(written);
    finish_metadata(written.model);
    report_.bytes_fp32 = static_cast<int64_t>(onnx::serialize_model(original_).size());
    report_.bytes_quant = static_cast<int64_t>(onnx::serialize_model(written.model).size());
    return {std::move(written.model), std::move(report_)};
  }

 private:
  // `for_file`: the model may be written out, so it gets shape inference and the checker; the
  // single-layer models of the sensitivity pass are only run (the checker's protobuf round trip of a
  // ResNet-18 costs more than running it).
  detail::WrittenModel write(const std::set<std::string>& excluded, bool for_file = true) const {
    detail::WrittenModel w = options_.mode == Mode::kStatic ? detail::write_static(prepared_, options_, ranges_, excluded)
                                                             : detail::write_dynamic(prepared_, options_, excluded);
    if (!for_file) return w;
    try {
      onnx::infer_shapes(w.model);
    } catch (const Error&) {
      // Shape inference is a convenience for readers of the file; the checker below is the gate.
    }
    onnx::check_model(w.model);
    return w;
  }

  // The model at opset 13 when it is older: QuantizeLinear needs 10, per-channel DequantizeLinear 13
  // (onnxruntime's quantizer upgrades too). An older model that cannot be upgraded is refused below 10
  // (11 for dynamic mode's DynamicQuantizeLinear), else quantized at its own opset, per tensor.
  onnx::Model upgraded() {
    onnx::Model m = original_;
    const int64_t from = m.opset("");
    try {
      const auto rewrote = onnx::upgrade_opset(m);
      if (m.opset("") != from) {
        std::string what;
        for (const auto& r : rewrote) what += (what.empty() ? "" : ", ") + r;
        report_.warnings.push_back("opset " + std::to_string(from) + " upgraded to " + std::to_string(m.opset("")) +
                                   (what.empty() ? std::string(" (no node changed)") : " (rewrote " + what + ")"));
      }
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnsupported) throw;
      const bool is_static = options_.mode == Mode::kStatic;
      const int64_t needed = is_static ? 10 : 11;
      if (from < needed)
        throw Error(ErrorCode::kUnsupported, std::string(e.what()) + " (" + (is_static ? "QuantizeLinear" : "DynamicQuantizeLinear") +
                                                 " needs opset " + std::to_string(needed) + ")");
      report_.warnings.push_back(std::string(e.what()) + "; quantized at opset " + std::to_string(from));
      return original_;
    }
    return m;
  }

  // A file that quantizes nothing is only a bigger copy of the input (Q/DQ-free, with metadata): an
  // Error that says why each candidate stayed fp32, so no such file is written.
  void refuse_if_nothing_quantized(const detail::WrittenModel& written) const {
    if (std::any_of(written.layers.begin(), written.layers.end(), [](const LayerReport& l) { return l.quantized; })) return;
    std::map<std::string, int> why;  // reason -> layers
    for (const auto& l : written.layers) ++why[l.op_type + ": " + (l.note.empty() ? "left in fp32" : l.note)];
    std::string reasons;
    for (const auto& [reason, count] : why) reasons += (reasons.empty() ? "" : "; ") + std::to_string(count) + " x " + reason;
    const bool is_static = options_.mode == Mode::kStatic;
    std::string msg = "nothing was quantized";
    if (!reasons.empty()) msg += " (" + reasons + ")";
    else if (is_static) {
      std::string ops;
      for (const auto& op : runtime::int8_ops_of(runtime::Int8OpKind::kInteger)) ops += (ops.empty() ? "" : ", ") + op;
      msg += ": the model has no operator that runs in int8 (" + ops + ")";
    }
    else msg += ": dynamic mode quantizes the weights of MatMul and Gemm (Conv with --include-conv), and the model has none";
    if (!is_static) msg += options_.include_conv ? "; try --mode static" : "; try --mode static, or --include-conv";
    throw Error(ErrorCode::kUnsupported, msg + "; no file written");
  }

  Batches sqnr_batches() const { return head(calibration_, options_.sqnr_samples); }

  // Sensitivity: SQNR of the model's outputs with one layer alone quantized.
  void measure_layers() {
    if (calibration_.empty()) return;
    const auto batches = head(calibration_, options_.sensitivity_samples);
    std::vector<std::vector<Tensor>> ref;  // the fp32 outputs (logits: small), kept for every layer's comparison
    const detail::ModelRunner fp32(prepared_);
    for (const auto& batch : batches) ref.push_back(fp32.run(batch));
    for (const auto& layer : detail::quantizable_layers(prepared_, options_)) {
      if (excluded_.count(layer)) continue;
      std::set<std::string> others;
      for (const auto& n : prepared_.graph.nodes)
        if (n.name != layer) others.insert(n.name);
      const auto single = write(others, /*for_file=*/false);
      SqnrAccumulator acc;
      const detail::ModelRunner runner(single.model);
      for (size_t b = 0; b < batches.size(); ++b) {
        const auto got = runner.run(batches[b]);
        for (size_t o = 0; o < got.size(); ++o) acc.add(ref[b][o], got[o]);
      }
      layer_sqnr_[layer] = acc.db();
    }
  }

  // Leaves the least robust layers in fp32 until the accuracy drop fits the budget.
  void control_accuracy(detail::WrittenModel& written) {
    if (options_.max_drop_pp < 0) return;
    std::vector<std::pair<double, std::string>> ranked;
    for (const auto& [layer, db] : layer_sqnr_) ranked.emplace_back(db, layer);
    std::sort(ranked.begin(), ranked.end());
    std::set<std::string> excluded = excluded_;
    for (const auto& [db, layer] : ranked) {
      if ((report_.accuracy_fp32 - report_.accuracy_quant) * 100.0 <= options_.max_drop_pp) break;
      excluded.insert(layer);
      report_.fp32_layers.push_back(layer);
      written = write(excluded);
      report_.accuracy_quant = evaluator_(written.model);
    }
    if ((report_.accuracy_fp32 - report_.accuracy_quant) * 100.0 > options_.max_drop_pp)
      report_.warnings.push_back("accuracy drop still above --max-drop with every quantizable layer in fp32");
  }

  void fill_report(const detail::WrittenModel& written) {
    report_.warnings.insert(report_.warnings.begin(), written.warnings.begin(), written.warnings.end());
    report_.layers = written.layers;
    for (auto& l : report_.layers) {
      auto it = layer_sqnr_.find(l.node);
      l.layer_sqnr_db = it != layer_sqnr_.end() ? it->second : 0;
      if (std::find(report_.fp32_layers.begin(), report_.fp32_layers.end(), l.node) != report_.fp32_layers.end())
        l.note = "kept in fp32 by --max-drop";
    }
    if (written.activation_qparams.empty() || calibration_.empty()) return;
    std::vector<std::string> tensors, dequantized;
    for (const auto& [tensor, qp] : written.activation_qparams) {
      tensors.push_back(tensor);
      dequantized.push_back(written.dequantized.at(tensor));
    }
    // Batch by batch: every activation of the model is compared, so nothing is kept between batches.
    std::vector<SqnrAccumulator> acc(tensors.size());
    const size_t n_out = prepared_.graph.outputs.size();
    const detail::ModelRunner fp32(prepared_, tensors), quantized(written.model, dequantized);
    for (const auto& batch : sqnr_batches()) {
      const auto want = fp32.run(batch), got = quantized.run(batch);
      for (size_t t = 0; t < tensors.size(); ++t) acc[t].add(want[n_out + t], got[n_out + t]);
    }
    for (size_t t = 0; t < tensors.size(); ++t) {
      const QParams& qp = written.activation_qparams.at(tensors[t]);
      auto r = ranges_.find(tensors[t]);
      report_.tensors.push_back({tensors[t], r != ranges_.end() ? r->second : Range{}, qp.scale[0], qp.zero_point[0], acc[t].db()});
    }
  }

  void finish_metadata(onnx::Model& m) const {
    auto finite = [](double v) { return std::isfinite(v) ? nlohmann::json(std::round(v * 100) / 100) : nlohmann::json(nullptr); };
    m.set_meta("edgeq_version", version());
    m.set_meta("quantization", options_.mode == Mode::kStatic ? "static-qdq" : "dynamic");
    m.set_meta("weight_quantization", std::string("int8 symmetric ") + (options_.per_channel ? "per-channel" : "per-tensor"));
    m.set_meta("activation_type", report_.activation_type);
    if (options_.mode == Mode::kStatic) {
      m.set_meta("calibration_method", report_.method);
      m.set_meta("calibration_samples", std::to_string(report_.calibration_samples));
    }
    nlohmann::ordered_json layers = nlohmann::ordered_json::object(), tensors = nlohmann::ordered_json::object();
    for (const auto& [layer, db] : layer_sqnr_) layers[layer] = finite(db);
    for (const auto& t : report_.tensors) tensors[t.name] = finite(t.sqnr_db);
    m.set_meta("quant_layer_sqnr_db", layers.dump());
    if (!report_.tensors.empty()) m.set_meta("quant_tensor_sqnr_db", tensors.dump());
    m.set_meta("quant_fp32_layers", nlohmann::json(report_.fp32_layers).dump());
    if (report_.accuracy_quant >= 0) m.set_meta("quant_accuracy", std::to_string(report_.accuracy_quant));
  }

  const onnx::Model& original_;
  const QuantizeOptions& options_;
  Batches calibration_;
  const Evaluator& evaluator_;
  onnx::Model prepared_;
  std::set<std::string> excluded_;
  std::map<std::string, Range> ranges_;
  std::map<std::string, double> layer_sqnr_;
  QuantizeReport report_;
};

}  // namespace

QuantizeResult quantize(const onnx::Model& model, const QuantizeOptions& options, const Batches& calibration, const Evaluator& evaluator) {
  return Quantizer(model, options, calibration, evaluator).run();
}

}  // namespace edgeq::quant
