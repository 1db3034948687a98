// edgeq quantize MODEL.onnx --mode static|dynamic [--calib SPEC --calib-samples N --method M --percentile P
//   --per-channel|--per-tensor --activation-type uint8|int8 --include-conv --max-drop PP --eval SPEC]
//   --out Q.onnx [--report R.json] [--json]
// Thin layer over edgeq::quant: turns dataset specs into input batches (edgeq::data, preprocessing from
// the model's metadata) and prints the report.
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "edgeq/data.h"
#include "edgeq/quant.h"

namespace edgeq::cli {
namespace {

constexpr uint64_t kCalibrationSeed = 20240501;  // fixed: the same samples on every run
constexpr int64_t kCalibrationBatch = 64;
constexpr int64_t kEvalBatch = 256;  // bigger batches amortize the simulator's per-node plan compile

struct QuantizeArgs {
  std::string model, out, report, mode = "static", calib = "fashion-mnist:train", method = "minmax", eval, activation_type = "uint8";
  int64_t calib_samples = 512, eval_samples = 0;
  double percentile = 99.99, max_drop = -1;
  bool per_tensor = false, per_channel = false, include_conv = false, quantize_outputs = false, json = false;
  std::vector<std::string> exclude;
};

// The model's preprocessing from its metadata; without it, the input's own dims and no normalization.
data::Preprocess model_preprocess(const onnx::Model& m, const std::string& path) {
  try {
    return data::preprocess_from_metadata(m.metadata, path);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound || m.graph.inputs.empty() || m.graph.inputs[0].shape.size() != 4) throw;
    const auto& s = m.graph.inputs[0].shape;
    std::cerr << "warning: " << e.what() << "; feeding raw pixels / 255 at the input's size\n";
    data::Preprocess pp;
    pp.channels = s[1] > 0 ? s[1] : 1;
    pp.height = s[2] > 0 ? s[2] : 28;
    pp.width = s[3] > 0 ? s[3] : 28;
    return pp;
  }
}

data::Dataset load_for(const std::string& spec, const data::Preprocess& pp, const std::string& default_split) {
  return data::load_dataset(spec, data::dataset_options_for(pp, default_split));
}

// `count` images, drawn deterministically (seeded shuffle) or the first ones, in batches of `batch`.
std::pair<quant::Batches, std::vector<std::vector<int64_t>>> draw(const data::Dataset& ds, const data::Preprocess& pp, int64_t count,
                                                                   bool shuffle, int64_t batch = kCalibrationBatch) {
  std::vector<int64_t> idx = shuffle ? data::shuffled_indices(ds.size(), kCalibrationSeed) : std::vector<int64_t>{};
  if (!shuffle)
    for (int64_t i = 0; i < ds.size(); ++i) idx.push_back(i);
  idx.resize(static_cast<size_t>(std::min<int64_t>(count, ds.size())));
  quant::Batches batches;
  std::vector<std::vector<int64_t>> labels;
  for (size_t b = 0; b < idx.size(); b += static_cast<size_t>(batch)) {
    std::span<const int64_t> part(idx.data() + b, std::min<size_t>(static_cast<size_t>(batch), idx.size() - b));
    batches.push_back({data::make_images(ds, part, pp.norm)});
    std::vector<int64_t> l;
    for (int64_t i : part) l.push_back(ds.labels[static_cast<size_t>(i)]);
    labels.push_back(std::move(l));
  }
  return {std::move(batches), std::move(labels)};
}

// The held-out split for --max-drop: the test split of the calibration dataset when it has one.
std::string default_eval_spec(const std::string& calib) {
  if (calib.rfind("fashion-mnist", 0) == 0) return "fashion-mnist:test";
  throw Error(ErrorCode::kInvalidArgument, "--max-drop needs --eval SPEC (a held-out split) for calibration set '" + calib + "'");
}

void run_quantize(const QuantizeArgs& a) {
  if (a.per_tensor && a.per_channel) throw Error(ErrorCode::kInvalidArgument, "give --per-channel or --per-tensor, not both");
  check_outputs({{"model", a.model}, {"--calib", dataset_file(a.calib)}, {"--eval", dataset_file(a.eval)}},
                {{"--out", a.out}, {"--report", a.report}});
  const onnx::Model model = onnx::load_model(a.model);
  quant::QuantizeOptions o;
  o.mode = a.mode == "dynamic" ? quant::Mode::kDynamic : quant::Mode::kStatic;
  o.calibration.method = quant::parse_method(a.method);
  o.calibration.percentile = a.percentile;
  o.per_channel = !a.per_tensor;
  o.activation_type = a.activation_type == "int8" ? DType::kI8 : DType::kU8;
  o.include_conv = a.include_conv;
  o.quantize_outputs = a.quantize_outputs;
  o.exclude_nodes = a.exclude;
  o.max_drop_pp = a.max_drop;
  o.min_calibration_samples = a.calib_samples;
  if (o.mode == quant::Mode::kDynamic && a.include_conv)
    std::cerr << "warning: --include-conv writes ConvInteger, which onnxruntime runs slower than fp32 Conv\n";
  quant::check_not_quantized(model);  // before reading any dataset: the cheap error first

  const data::Preprocess pp = model_preprocess(model, a.model);
  quant::Batches calibration;
  if (o.mode == quant::Mode::kStatic) {
    const data::Dataset ds = load_for(a.calib, pp, "train");
    if (ds.size() < a.calib_samples)
      throw Error(ErrorCode::kInvalidArgument, "calibration set '" + a.calib + "' has " + std::to_string(ds.size()) +
                                                   " images, fewer than --calib-samples " + std::to_string(a.calib_samples));
    calibration = draw(ds, pp, a.calib_samples, true).first;
  } else {
    o.min_calibration_samples = 1;
    try {  // dynamic needs no calibration; a few samples only feed the SQNR figures
      calibration = draw(load_for(a.calib, pp, "train"), pp, 64, true).first;
    } catch (const Error& e) {
      std::cerr << "warning: no samples for the SQNR report: " << e.what() << "\n";
    }
  }
  quant::Evaluator evaluator;
  std::pair<quant::Batches, std::vector<std::vector<int64_t>>> eval;
  if (a.max_drop >= 0 || !a.eval.empty()) {
    const data::Dataset ds = load_for(a.eval.empty() ? default_eval_spec(a.calib) : a.eval, pp, "test");
    eval = draw(ds, pp, a.eval_samples > 0 ? a.eval_samples : ds.size(), false, kEvalBatch);
    std::vector<Tensor> inputs;
    for (auto& b : eval.first) inputs.push_back(b[0]);
    evaluator = [inputs, labels = eval.second](const onnx::Model& m) { return quant::top1_accuracy(m, inputs, labels); };
  }
  const quant::QuantizeResult result = quant::quantize(model, o, calibration, evaluator);
  onnx::save_model(result.model, a.out);
  if (!a.report.empty()) write_file_atomic(a.report, quant::report_json(result.report) + "\n");
  if (a.json) {
    std::cout << quant::report_json(result.report) << "\n";
    for (const auto& w : result.report.warnings) std::cerr << "warning: " << w << "\n";
  } else {
    std::cout << quant::report_table(result.report) << "wrote " << a.out << "\n";
  }
}

void setup_quantize(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "Quantize an fp32 model to int8 (static QDQ with calibration, or dynamic)");
  auto a = std::make_shared<QuantizeArgs>();
  cmd->add_option("model", a->model, "fp32 ONNX model")->required()->check(input_file());
  cmd->add_option("--out", a->out, "Quantized model to write")->required();
  cmd->add_option("--mode", a->mode, "static (calibrated QDQ) or dynamic (weights only, MatMulInteger)")
      ->capture_default_str()->check(CLI::IsMember({"static", "dynamic"}));
  cmd->add_option("--calib", a->calib, "Calibration dataset SPEC (fashion-mnist[:train|test], sign-mnist:F.csv, folder:DIR)")->capture_default_str();
  cmd->add_option("--calib-samples", a->calib_samples, "Calibration samples, drawn with a fixed seed")->capture_default_str()->check(whole_number(1));
  cmd->add_option("--method", a->method, "Calibration: minmax, percentile or entropy")
      ->capture_default_str()->check(CLI::IsMember({"minmax", "percentile", "entropy"}));
  cmd->add_option("--percentile", a->percentile, "Share of values kept inside the range, per tail (percentile method)")
      ->capture_default_str()->check(real_number(50.0, 100.0));
  cmd->add_flag("--per-channel", a->per_channel, "Weights per output channel (the default)");
  cmd->add_flag("--per-tensor", a->per_tensor, "Weights per tensor");
  cmd->add_option("--activation-type", a->activation_type, "Static activations: uint8 or int8 (asymmetric)")
      ->capture_default_str()->check(CLI::IsMember({"uint8", "int8"}));
  cmd->add_flag("--include-conv", a->include_conv, "Dynamic: also Conv as ConvInteger (slow in onnxruntime)");
  cmd->add_flag("--quantize-outputs", a->quantize_outputs, "Static: also quantize the graph outputs (logits)");
  cmd->add_option("--exclude", a->exclude, "Node names to leave in fp32");
  cmd->add_option("--max-drop", a->max_drop, "Accuracy budget in percentage points: keep the most sensitive layers fp32 until within it")
      ->check(real_number(0.0, 100.0));
  cmd->add_option("--eval", a->eval, "Held-out dataset SPEC for accuracy before/after (default with --max-drop: the test split)");
  cmd->add_option("--eval-samples", a->eval_samples, "Evaluate on the first N images of --eval (0 = all)")->check(whole_number(0));
  cmd->add_option("--report", a->report, "Write the report as JSON");
  cmd->add_flag("--json", a->json, "Print the report as JSON instead of a table");
  cmd->callback([a] { run_quantize(*a); });
}

}  // namespace

EDGEQ_REGISTER_VERB("quantize", 40, setup_quantize);

}  // namespace edgeq::cli
