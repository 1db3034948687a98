// edgeq quantize MODEL.onnx --mode static|dynamic [--calib SPEC --calib-samples N --method M --percentile P
//   --per-channel|--per-tensor --activation-type uint8|int8 --include-conv --max-drop PP --eval SPEC
//   --input-layout auto|nchw|nhwc --input-shape NAME=DIMS]
//   --out Q.onnx [--report R.json] [--json]
// Thin layer over edgeq::quant: turns dataset specs into input batches (edgeq::data, preprocessing from
// the model's metadata) and prints the report.
#include <cstring>
#include <iostream>
#include <optional>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "edgeq/data.h"
#include "edgeq/quant.h"
#include "edgeq/runtime.h"

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
  std::string input_layout = "auto";
  std::map<std::string, Shape> input_shapes;
};

// How dataset images reach the model: its preprocessing (metadata, else raw pixels / 255 at the input's
// size), its layout (NCHW, or NHWC as models converted from TensorFlow/TFLite take it) and the batch it
// accepts (a model that fixes dim 0 gets batches of exactly that size).
struct ImageFeed {
  data::Preprocess pp;
  bool channels_last = false;
  int64_t fixed_batch = 0;  // 0: the model takes any batch
};

constexpr const char* kTensorSpec = "tensors:";

// The batch a model fixes on its first input's dim 0 (after --input-shape), 0 when it takes any.
int64_t fixed_batch(const onnx::Model& m, const std::map<std::string, Shape>& input_shapes) {
  if (m.graph.inputs.empty()) return 0;
  const auto& in = m.graph.inputs[0];
  if (in.has_shape && !in.shape.empty() && in.shape[0] > 0) return in.shape[0];
  auto it = input_shapes.find(in.name);
  return it != input_shapes.end() && !it->second.empty() ? it->second[0] : 0;
}

ImageFeed image_feed(const onnx::Model& m, const std::string& path, const std::string& layout,
                     const std::map<std::string, Shape>& input_shapes) {
  if (m.graph.inputs.size() != 1)
    throw Error(ErrorCode::kUnsupported, path + " has " + std::to_string(m.graph.inputs.size()) +
                                             " inputs; image datasets feed one: calibrate it from tensor files (--calib tensors:DIR)");
  const auto& in = m.graph.inputs[0];
  Shape s = in.has_shape ? in.shape : Shape{};
  for (const auto& [name, dims] : input_shapes) {
    if (name != in.name) throw Error(ErrorCode::kNotFound, "--input-shape names '" + name + "', which is not an input of " + path);
    s = runtime::checked_input_shape(s, dims, "--input-shape " + name);
  }
  if (s.size() != 4)
    throw Error(ErrorCode::kUnsupported, "input '" + in.name + "' " + shape_str(s) +
                                             " is no [N, C, H, W] or [N, H, W, C] image: calibrate it from tensor files (--calib tensors:DIR)");
  ImageFeed f;
  f.fixed_batch = fixed_batch(m, input_shapes);
  std::optional<data::Preprocess> meta;
  try {
    meta = data::preprocess_from_metadata(m.metadata, path);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
  }
  if (layout == "auto") {
    // The channel dim is the one that holds the metadata's channel count, else 1 or 3 (gray or RGB).
    auto is_channels = [&](int64_t d) { return meta ? d == meta->channels : d == 1 || d == 3; };
    if (is_channels(s[1])) f.channels_last = false;
    else if (is_channels(s[3])) f.channels_last = true;
    else
      throw Error(ErrorCode::kInvalidArgument, "cannot tell whether input '" + in.name + "' " + shape_str(s) +
                                                   " is NCHW or NHWC (no dim of 1 or 3 channels): give --input-layout");
  } else {
    f.channels_last = layout == "nhwc";
  }
  const int64_t c = s[f.channels_last ? 3 : 1], h = s[f.channels_last ? 1 : 2], w = s[f.channels_last ? 2 : 3];
  if (meta) {
    f.pp = *meta;
    return f;
  }
  const std::pair<const char*, int64_t> dims[] = {{"channels", c}, {"height", h}, {"width", w}};
  for (const auto& [what, d] : dims)
    if (d < 1)
      throw Error(ErrorCode::kInvalidArgument, "input '" + in.name + "' " + shape_str(s) + " leaves its " + what +
                                                   " open and the model has no preprocessing metadata: give --input-shape " + in.name + "=DIMS");
  if (c != 1 && c != 3)
    throw Error(ErrorCode::kUnsupported, "input '" + in.name + "' " + shape_str(s) + " has " + std::to_string(c) + " channels (" +
                                             (f.channels_last ? "NHWC" : "NCHW") + "); images give 1 or 3: calibrate it from tensor files (--calib tensors:DIR)");
  std::cerr << "warning: " << path << " has no preprocessing metadata; feeding raw pixels / 255 as " << (f.channels_last ? "NHWC" : "NCHW")
            << " " << c << "x" << h << "x" << w << "\n";
  f.pp.channels = c;
  f.pp.height = h;
  f.pp.width = w;
  return f;
}

data::Dataset load_for(const std::string& spec, const data::Preprocess& pp, const std::string& default_split) {
  return data::load_dataset(spec, data::dataset_options_for(pp, default_split));
}

// `count` images, drawn deterministically (seeded shuffle) or the first ones, in batches of `batch` (of
// the model's fixed batch when it has one: then a remainder that fills no batch is left out, with a warning).
std::pair<quant::Batches, std::vector<std::vector<int64_t>>> draw(const data::Dataset& ds, const ImageFeed& feed, int64_t count,
                                                                   bool shuffle, int64_t batch = kCalibrationBatch) {
  std::vector<int64_t> idx = shuffle ? data::shuffled_indices(ds.size(), kCalibrationSeed) : std::vector<int64_t>{};
  if (!shuffle)
    for (int64_t i = 0; i < ds.size(); ++i) idx.push_back(i);
  idx.resize(static_cast<size_t>(std::min<int64_t>(count, ds.size())));
  if (feed.fixed_batch > 0) {
    batch = feed.fixed_batch;
    const size_t whole = idx.size() / static_cast<size_t>(batch) * static_cast<size_t>(batch);
    if (whole == 0)
      throw Error(ErrorCode::kInvalidArgument, ds.name + ": " + std::to_string(idx.size()) + " images, fewer than the model's fixed batch of " +
                                                   std::to_string(batch));
    if (whole != idx.size())
      std::cerr << "warning: the model fixes its batch at " << batch << ": using " << whole << " of " << idx.size() << " images of "
                << ds.name << "\n";
    idx.resize(whole);
  }
  quant::Batches batches;
  std::vector<std::vector<int64_t>> labels;
  for (size_t b = 0; b < idx.size(); b += static_cast<size_t>(batch)) {
    std::span<const int64_t> part(idx.data() + b, std::min<size_t>(static_cast<size_t>(batch), idx.size() - b));
    Tensor images = data::make_images(ds, part, feed.pp.norm);
    batches.push_back({feed.channels_last ? data::to_channels_last(images) : std::move(images)});
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

  quant::Batches calibration;
  std::optional<ImageFeed> feed;  // images reach the model through it; tensor files do not
  const bool from_tensors = a.calib.rfind(kTensorSpec, 0) == 0;
  if (from_tensors) {
    const int64_t fixed = fixed_batch(model, a.input_shapes);
    const int64_t wanted = o.mode == quant::Mode::kStatic ? a.calib_samples : 64;
    auto t = quant::load_tensor_batches(a.calib.substr(std::strlen(kTensorSpec)), model.graph.inputs, fixed > 0 ? fixed : kCalibrationBatch,
                                        fixed > 0, wanted);
    if (t.left_out > 0)
      std::cerr << "warning: the model fixes its batch at " << fixed << ": " << t.left_out << " samples of " << a.calib
                << " filled no batch and were left out\n";
    if (o.mode == quant::Mode::kStatic && t.samples + t.left_out < a.calib_samples)
      throw Error(ErrorCode::kInvalidArgument, "calibration set '" + a.calib + "' gives " + std::to_string(t.samples + t.left_out) +
                                                   " samples, fewer than --calib-samples " + std::to_string(a.calib_samples));
    calibration = std::move(t.batches);
    o.min_calibration_samples = o.mode == quant::Mode::kDynamic ? 1 : t.samples;  // what a fixed batch left
  } else if (o.mode == quant::Mode::kStatic) {
    feed = image_feed(model, a.model, a.input_layout, a.input_shapes);
    const data::Dataset ds = load_for(a.calib, feed->pp, "train");
    if (ds.size() < a.calib_samples)
      throw Error(ErrorCode::kInvalidArgument, "calibration set '" + a.calib + "' has " + std::to_string(ds.size()) +
                                                   " images, fewer than --calib-samples " + std::to_string(a.calib_samples));
    calibration = draw(ds, *feed, a.calib_samples, true).first;
    o.min_calibration_samples = 0;  // a fixed batch may have left some out (draw said so)
    for (const auto& b : calibration) o.min_calibration_samples += b[0].shape()[0];
  } else {
    o.min_calibration_samples = 1;
    try {  // dynamic needs no calibration; a few samples only feed the SQNR figures
      feed = image_feed(model, a.model, a.input_layout, a.input_shapes);
      calibration = draw(load_for(a.calib, feed->pp, "train"), *feed, 64, true).first;
    } catch (const Error& e) {
      std::cerr << "warning: no samples for the SQNR report: " << e.what() << "\n";
    }
  }
  quant::Evaluator evaluator;
  std::pair<quant::Batches, std::vector<std::vector<int64_t>>> eval;
  if (a.max_drop >= 0 || !a.eval.empty()) {
    if (!feed) feed = image_feed(model, a.model, a.input_layout, a.input_shapes);
    const data::Dataset ds = load_for(a.eval.empty() ? default_eval_spec(a.calib) : a.eval, feed->pp, "test");
    eval = draw(ds, *feed, a.eval_samples > 0 ? a.eval_samples : ds.size(), false, kEvalBatch);
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
  cmd->add_option("--calib", a->calib, "Calibration dataset SPEC (fashion-mnist[:train|test], sign-mnist:F.csv, folder:DIR of images, tensors:DIR of .npy/.pb input tensors)")->capture_default_str();
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
  cmd->add_option("--input-layout", a->input_layout, "Image input layout: nchw, nhwc, or auto (from the input's shape)")
      ->capture_default_str()->check(CLI::IsMember({"auto", "nchw", "nhwc"}));
  add_input_shape_option(cmd, &a->input_shapes);
  cmd->add_option("--report", a->report, "Write the report as JSON");
  cmd->add_flag("--json", a->json, "Print the report as JSON instead of a table");
  cmd->callback([a] { run_quantize(*a); });
}

}  // namespace

EDGEQ_REGISTER_VERB("quantize", 40, setup_quantize);

}  // namespace edgeq::cli
