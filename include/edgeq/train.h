// edgeq train: reference CNNs, the LibTorch trainer and the native torch -> ONNX exporter.
// Owns: the architectures (cnn-s, cnn-m, cnn-bn), training (Adam/SGD, cosine/step schedule, early
// stopping on a validation split, seeded), export to opset-17 ONNX through edgeq::onnx (BatchNorm
// folded into Conv unless asked to keep it, Dropout dropped, metadata written), train.json, and the way
// back (an export rebuilt as its LibTorch module, the in-process PyTorch peer of `edgeq bench`).
// This header has no LibTorch types (the network is behind a pimpl), so the CLI and tests that use it
// do not pay LibTorch's compile time; only libedgeq_train links LibTorch (EDGEQ_WITH_TORCH).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "edgeq/core.h"
#include "edgeq/data.h"
#include "edgeq/onnx.h"

namespace edgeq::train {

// "cnn-s", "cnn-m", "cnn-bn".
const std::vector<std::string>& arch_names();

struct ExportOptions {
  bool fold_batchnorm = true;  // fold BatchNorm into the preceding Conv (false: keep BatchNormalization nodes)
  bool softmax = false;        // append Softmax; the output is then named "probabilities" instead of "logits"
  data::Metadata metadata{};   // extra metadata_props, written after the preprocessing keys
};

// A network of one of the architectures (LibTorch module behind a pimpl). Copies share the module.
class Network {
 public:
  // Builds an untrained network; weights are drawn from LibTorch's generator seeded with `seed`.
  // Error(kInvalidArgument) for an unknown arch or an input too small for its pooling.
  static Network create(const std::string& arch, int64_t channels, int64_t height, int64_t width, int64_t classes,
                        uint64_t seed);

  const std::string& arch() const;
  int64_t channels() const;
  int64_t height() const;
  int64_t width() const;
  int64_t classes() const;
  int64_t param_count() const;

  // Rebuilds the network an edgeq fp32 export was trained as: the "arch" metadata names the layers
  // (make_layers), the initializers the exporter wrote give the weights (a folded BatchNorm becomes the
  // identity plus the folded bias; a kept one takes its statistics); a trailing Softmax is appended.
  // Error(kUnsupported) naming the reason for a file that is not such an export (no arch, a quantized
  // or foreign graph, a missing or misshapen initializer).
  static Network from_onnx(const onnx::Model& model);

  // Inference (eval mode, no grad, LibTorch): images [N, C, H, W] float32 -> logits [N, classes].
  Tensor forward(const Tensor& images) const;
  // The same call bound to `images` (converted to a torch tensor once, now): what a benchmark times.
  std::function<Tensor()> bind_forward(const Tensor& images) const;

  // The network as an ONNX model (opset 17): input "input" [batch, C, H, W], output "logits"
  // [batch, classes], Conv/Relu/MaxPool/Flatten/Gemm (+BatchNormalization when not folded).
  // `metadata` is copied into metadata_props. Passes the ONNX checker.
  onnx::Model to_onnx(const ExportOptions& options = {}) const;

  // For tests: gives BatchNorm layers non-trivial running statistics and affine parameters (drawn from
  // `seed`), so that folding is exercised without training.
  void randomize_batchnorm(uint64_t seed);

  // The LibTorch side (defined in src/train/network_impl.h, only for libedgeq_train's own files).
  struct Impl;
  explicit Network(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

// LibTorch's intra-op threads (torch::set_num_threads, process-wide), for timing inference.
void set_inference_threads(int threads);
// The LibTorch version this library was built against ("1.13.0").
std::string torch_version();

struct TrainConfig {
  std::string dataset = "fashion-mnist";  // training data SPEC (see data::load_dataset); split "train"
  std::string test_dataset;               // "" = fashion-mnist:test for fashion-mnist, else no test set
  std::string arch = "cnn-s";
  int64_t epochs = 3;
  int64_t batch_size = 64;
  double lr = 1e-3;
  std::string optimizer = "adam";    // adam | sgd (momentum 0.9, Nesterov)
  double weight_decay = 0.0;
  std::string schedule = "cosine";   // cosine (per step, to 0) | step | constant
  int64_t step_epochs = 1;           // step schedule: multiply lr by step_gamma every step_epochs
  double step_gamma = 0.5;
  uint64_t seed = 1;
  int64_t threads = 0;               // 0 = all cores; 1 with a fixed seed gives bit-identical runs
  double val_fraction = 0.1;         // held out of the training data for early stopping (0 = none)
  int64_t patience = 0;              // stop after this many epochs without a better val accuracy (0 = never)
  bool augment = false;              // random shift +-2 px and flip (where the dataset allows)
  int64_t train_limit = 0;           // use only the first N training / test images (0 = all)
  int64_t test_limit = 0;
};

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  double lr = 0;      // at the start of the epoch
  double train_loss = 0, train_accuracy = 0;
  double val_loss = 0, val_accuracy = -1;  // -1 without a validation split
  double seconds = 0;                      // training + validation wall time
  double images_per_second = 0;            // training throughput
};

// Reported while training; the library never prints, the CLI draws the bar.
struct Progress {
  bool epoch_done = false;  // false: a batch update; true: `epoch_metrics` is complete
  int64_t epoch = 0, epochs = 0;
  int64_t batch = 0, batches = 0;
  double loss = 0, accuracy = 0, images_per_second = 0;  // running averages over the epoch so far
  EpochMetrics epoch_metrics;
};
using ProgressFn = std::function<void(const Progress&)>;

struct TrainResult {
  TrainConfig config;
  std::string dataset_name, test_dataset_name;
  std::vector<std::string> class_names;
  data::Preprocess preprocess;  // input geometry + normalization computed on the training split
  std::vector<EpochMetrics> epochs;
  int64_t best_epoch = 0;       // whose weights were kept (best val accuracy; the last without val)
  bool stopped_early = false;
  double test_accuracy = -1, test_loss = -1;  // -1 without a test set
  int64_t train_images = 0, val_images = 0, test_images = 0;
  int64_t threads = 0;
  int64_t param_count = 0;
  double wall_seconds = 0;
};

struct Trained {
  Network network;
  TrainResult result;
};

Trained train(const TrainConfig& config, const ProgressFn& progress = {});

// The metadata the exporter writes for a trained model: preprocessing + labels (data::preprocess_metadata)
// then dataset, accuracy, edgeq_version, seed, arch, epochs.
data::Metadata model_metadata(const TrainResult& result);
// train.json: config, per-epoch metrics, test accuracy, wall time.
std::string train_json(const TrainResult& result);
// Writes DIR/model.onnx (with model_metadata) and DIR/train.json, creating DIR. Returns the model path.
std::string write_outputs(const Trained& trained, const std::string& out_dir, ExportOptions options = {});

}  // namespace edgeq::train
