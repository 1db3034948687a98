// edgeq quant: post-training int8 quantization of fp32 ONNX models.
// Owns: calibration statistics (MinMax, Percentile, Entropy/KL), quantization-parameter math (scale,
// zero point, round half to even), the static QDQ writer (per-channel int8 weights, uint8/int8
// activations, int32 bias), the dynamic writer (DynamicQuantizeLinear + MatMulInteger/ConvInteger, as
// onnxruntime's quantize_dynamic), a reference simulator that runs QDQ/IntegerOps files in fp32
// (DequantizeLinear(QuantizeLinear(x)) exactly as ONNX defines it), the SQNR report, and mixed precision
// under an accuracy budget. Depends on core, onnx, runtime (calibration runs the fp32 model there).
// Datasets stay outside: callers hand over input batches (the CLI builds them with edgeq::data).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "edgeq/core.h"
#include "edgeq/onnx.h"

namespace edgeq::quant {

// ---------------------------------------------------------------------------------------------
// Calibration statistics: one streaming collector per tensor (values are never kept).
enum class CalibrationMethod { kMinMax, kPercentile, kEntropy };
const char* method_name(CalibrationMethod m);            // "minmax", "percentile", "entropy"
CalibrationMethod parse_method(const std::string& name);  // Error(kInvalidArgument) on anything else

struct Range {
  float min = 0.f;
  float max = 0.f;
};

struct CollectorOptions {
  CalibrationMethod method = CalibrationMethod::kMinMax;
  double percentile = 99.99;  // kPercentile: keeps this share of the values inside the range, per tail
  int histogram_bins = 2048;  // per sign: the histogram spans [-R, R] with 2*bins bins
};

class RangeCollector {
 public:
  virtual ~RangeCollector() = default;
  virtual void add(std::span<const float> values) = 0;
  // The calibrated range; always contains 0 (so zero is exactly representable) and never exceeds the
  // observed [min, max]. Error(kInvalidArgument) if nothing was added.
  virtual Range range() const = 0;
};
std::unique_ptr<RangeCollector> make_collector(const CollectorOptions& options);

// Histogram math behind the percentile and entropy collectors, exposed for tests. `abs_hist` counts
// |x| in equal bins over [0, max_abs]; returns the clipping threshold (0 < t <= max_abs).
// Entropy: TensorRT's KL-divergence search over thresholds i*bin_width, i in [levels, bins],
// comparing the clipped distribution with its `levels`-level quantized version.
float entropy_threshold(std::span<const double> abs_hist, float max_abs, int levels);

// ---------------------------------------------------------------------------------------------
// Quantization parameters. ONNX semantics: q = saturate(round_half_even(x / scale) + zero_point).
struct QParams {
  DType dtype = DType::kU8;          // kU8, kI8 (activations, weights) or kI32 (bias)
  std::vector<float> scale;          // one value (per tensor) or one per channel
  std::vector<int32_t> zero_point;   // same length as scale
  int64_t axis = -1;                 // channel axis when per channel, -1 per tensor
};

// Asymmetric parameters for a range (extended to contain 0). Zero maps to an integer exactly.
QParams activation_qparams(Range range, DType dtype);
// Symmetric int8 weights, zero point 0, values in [-127, 127]; per channel along `axis` or per tensor (-1).
QParams weight_qparams(const Tensor& weight, int64_t axis);
// int32 bias with scale = input_scale * weight_scale[c], zero point 0.
QParams bias_qparams(float input_scale, const QParams& weight);

int32_t round_half_even(float x);  // ties to even, like ONNX QuantizeLinear / numpy.rint
// Quantizes a float tensor (dtype from qp), and the inverse. Per-channel along qp.axis.
Tensor quantize_tensor(const Tensor& x, const QParams& qp);
Tensor dequantize_tensor(const Tensor& q, const QParams& qp);

// 20*log10(||x|| / ||x - y||) in dB; +inf when equal, 0 when x is all zero and y differs.
double sqnr_db(std::span<const float> x, std::span<const float> y);

// ---------------------------------------------------------------------------------------------
// Quantization.
enum class Mode { kStatic, kDynamic };

struct QuantizeOptions {
  Mode mode = Mode::kStatic;
  CollectorOptions calibration;
  bool per_channel = true;
  DType activation_type = DType::kU8;  // static only: kU8 or kI8 (both asymmetric)
  bool include_conv = false;           // dynamic only: ConvInteger for Conv (slow in onnxruntime)
  bool quantize_outputs = false;       // static: also Q/DQ the graph outputs (logits stay fp32 by default)
  std::vector<std::string> exclude_nodes;  // left in fp32 (node names)
  int64_t min_calibration_samples = 1;
  // Accuracy control: when >= 0 and an evaluator is given, layers are left in fp32, most sensitive
  // first, until accuracy(fp32) - accuracy(quantized) <= max_drop_pp percentage points.
  double max_drop_pp = -1;
  int64_t sqnr_samples = 64;  // calibration samples used for the SQNR figures of the written model
  // Calibration samples for each layer's sensitivity (the SQNR of the outputs with that layer alone in
  // int8): one model run per layer and sample, so it bounds the quantizer's time on deep models; the
  // figures rank layers for --max-drop, which a few samples of a whole feature map already do.
  int64_t sensitivity_samples = 16;
};

// Calibration data: batches, each one tensor per model input in graph-input order.
using Batches = std::vector<std::vector<Tensor>>;
// Calibration tensors from files (--calib tensors:DIR), for inputs that are no images (audio features,
// token ids, several inputs). DIR holds either one .npy or .pb (ONNX TensorProto) file per sample or
// batch, for a single-input model, or subdirectories (the ONNX backend-test layout, test_data_set_N/)
// each holding input_0 .. input_{n-1} (.npy or .pb), one per model input in order. Entries are read in
// name order. A tensor of the input's rank is a batch, one of rank - 1 one sample. The first
// `max_samples` samples are regrouped into batches of up to `batch` consecutive samples of one shape;
// with `exact_batch` (a model that fixes its batch dim) only batches of exactly `batch` are kept.
struct TensorBatches {
  Batches batches;
  int64_t samples = 0;   // in `batches`
  int64_t left_out = 0;  // samples that filled no exact batch
};
TensorBatches load_tensor_batches(const std::string& dir, const std::vector<onnx::ValueInfo>& inputs, int64_t batch, bool exact_batch,
                                  int64_t max_samples);

// Top-1 accuracy in [0, 1] of a model (fp32, QDQ or IntegerOps): the held-out evaluation.
using Evaluator = std::function<double(const onnx::Model& model)>;

struct TensorReport {
  std::string name;
  Range range;
  float scale = 0;
  int32_t zero_point = 0;
  double sqnr_db = 0;  // fp32 vs the quantized model's dequantized value (errors propagate)
};

struct LayerReport {
  std::string node;
  std::string op_type;
  bool quantized = false;
  double weight_sqnr_db = 0;  // dequantized vs fp32 weight; 0 when the layer has no weight
  double layer_sqnr_db = 0;   // output SQNR with this layer alone quantized (the sensitivity ranking)
  std::string note;           // why it stayed in fp32, when it did
};

struct QuantizeReport {
  std::string mode;    // "static" / "dynamic"
  std::string method;  // calibration method ("" for dynamic)
  int64_t calibration_samples = 0;
  std::string activation_type;
  bool per_channel = true;
  std::vector<TensorReport> tensors;
  std::vector<LayerReport> layers;
  std::vector<std::string> fp32_layers;  // kept in fp32 by the accuracy budget
  std::vector<std::string> warnings;     // ops left in fp32, opset fallbacks, ...
  double accuracy_fp32 = -1, accuracy_quant = -1;  // -1 when no evaluator
  int64_t bytes_fp32 = 0, bytes_quant = 0;         // serialized sizes
};

struct QuantizeResult {
  onnx::Model model;
  QuantizeReport report;
};

// Quantizes `model` (fp32). Static mode needs `calibration` (the first `options.min_calibration_samples`
// samples are required). Errors: kInvalidModel for an already quantized model, kInvalidArgument for
// calibration data of the wrong shape/dtype or too few samples, kUnsupported for an opset below 10.
QuantizeResult quantize(const onnx::Model& model, const QuantizeOptions& options, const Batches& calibration,
                        const Evaluator& evaluator = {});

// Refuses (kInvalidModel) a model that already holds quantization ops or integer weights.
void check_not_quantized(const onnx::Model& model);

// ---------------------------------------------------------------------------------------------
// Reference simulator: runs a model node by node in fp32 with the runtime's operators, plus
// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger and ConvInteger as ONNX
// defines them. Slow but exact to the spec: the oracle for QDQ files until the int8 runtime exists.
// Returns the graph outputs followed by `extra` values.
std::vector<Tensor> simulate(const onnx::Model& model, const std::vector<Tensor>& inputs,
                             const std::vector<std::string>& extra = {});

// Top-1 accuracy of `model` (the runtime, or simulate where the runtime refuses it) on labelled batches (inputs[i] is batch i's single input).
double top1_accuracy(const onnx::Model& model, const std::vector<Tensor>& inputs,
                     const std::vector<std::vector<int64_t>>& labels);

// The report as JSON text and as a readable table.
std::string report_json(const QuantizeReport& report);
std::string report_table(const QuantizeReport& report);

}  // namespace edgeq::quant
