// edgeq data: datasets and image preprocessing for training, evaluation and prediction.
// Owns: dataset SPEC parsing (`fashion-mnist[:train|test]`, `sign-mnist:FILE.csv`, `folder:DIR`), the
// readers (IDX gzip, Sign Language MNIST CSV, PNG/JPEG folders), normalization statistics, deterministic
// shuffles and validation splits, light augmentation, and image decode + resize + normalize.
// Images are kept as u8 pixels (compact) and turned into float NCHW tensors on demand.
// Depends on core only (zlib and stb underneath); never on LibTorch.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgeq/core.h"

namespace edgeq::data {

// Where Debian's dataset-fashion-mnist puts the IDX files; EDGEQ_FASHION_MNIST_DIR overrides it.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Image decode budget: width x height x channels (the larger of the file's and the requested count,
// x2 for 16-bit PNG) that a decoder may allocate, checked from the image header BEFORE decoding.
// 64 MiB holds a 4096x4096 RGBA or 8192x8192 grayscale image; an 8192x8192 RGB PNG (192 MiB
// decoded, a few hundred KB on disk) is refused. Override per call (Preprocess, DatasetOptions).
inline constexpr int64_t kDefaultMaxImageBytes = int64_t{64} << 20;
// Largest side of a decoded image and of a model's input image (stb is built with the same limit).
inline constexpr int64_t kMaxImageSide = 8192;
// Ceiling on an IDX file's data (its dims' product) before anything is allocated or inflated: a gzip'd
// IDX inflates to exactly what its dims declare, and never past this (Fashion-MNIST train is 47 MB).
inline constexpr int64_t kMaxIdxBytes = int64_t{1} << 30;

// Normalization applied after scaling pixels to [0, 1]: x = (p / 255 - mean[c]) / std[c].
// One value per channel; a single value applies to every channel.
struct Normalization {
  std::vector<float> mean{0.f};
  std::vector<float> std{1.f};
};

// What a model expects: the preprocessing stored in its metadata (see train's exporter).
struct Preprocess {
  int64_t channels = 1;  // 1 = grayscale, 3 = RGB
  int64_t height = 28;
  int64_t width = 28;
  Normalization norm;
  // Not from the metadata: what the caller lets one image decode to (see kDefaultMaxImageBytes).
  int64_t max_image_bytes = kDefaultMaxImageBytes;
};

struct Dataset {
  std::string name;                      // canonical spec, e.g. "fashion-mnist:test"
  std::string source;                    // file or directory read
  std::vector<std::string> class_names;  // index = label
  int64_t channels = 1, height = 28, width = 28;
  std::vector<uint8_t> pixels;           // size() * channels * height * width, NCHW per image
  std::vector<int64_t> labels;           // in [0, class_names.size())
  bool flip_ok = false;                  // horizontal flip keeps the label (clothes yes, hand signs no)

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_elems() const { return channels * height * width; }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  const uint8_t* image(int64_t index) const { return pixels.data() + index * image_elems(); }
};

// Options for load_dataset. `default_split` applies when a fashion-mnist spec names none.
// Folder images are converted to `channels` and resized to height x width; IDX and CSV datasets
// are 28x28 grayscale and must match if set (0 = take the file's own).
struct DatasetOptions {
  std::string default_split = "train";
  int64_t channels = 0, height = 0, width = 0;
  int64_t limit = 0;  // keep only the first `limit` images (0 = all); tests and quick runs
  int64_t max_image_bytes = kDefaultMaxImageBytes;  // per folder image, see kDefaultMaxImageBytes
};

// Parses a SPEC and reads it. Errors: kInvalidArgument for an unknown spec, kNotFound for a missing
// file, kParse naming file and record/line for bad content.
Dataset load_dataset(const std::string& spec, const DatasetOptions& options = {});

// The readers behind the specs, for direct use and tests.
// IDX pair (gzip or plain, gzip detected by magic bytes): images idx3 u8, labels idx1 u8. Dims are
// checked (product against kMaxIdxBytes) before any allocation; gzip data is inflated only up to what
// the dims declare (the first `limit` records when limit > 0): a stream that inflates further is an error.
Dataset load_idx(const std::string& images_path, const std::string& labels_path, int64_t limit = 0);
// The same from bytes in memory; the names stand for the paths in messages.
Dataset load_idx_from_bytes(std::string_view images, std::string_view labels, const std::string& images_name,
                            const std::string& labels_name, int64_t limit = 0);
// Sign Language MNIST CSV: header `label,pixel1,...,pixel784`, labels 0..24 without 9 (J), remapped to
// 24 contiguous classes A..Y. Bytes from the file are quoted in errors through printable().
Dataset load_sign_mnist_csv(const std::string& path, int64_t limit = 0);
Dataset load_sign_mnist_csv_from_bytes(std::string_view text, const std::string& name, int64_t limit = 0);
// One subfolder per class (sorted by name), PNG/JPEG/BMP files inside (sorted), others ignored.
Dataset load_image_folder(const std::string& dir, int64_t channels, int64_t height, int64_t width, int64_t limit = 0,
                          int64_t max_image_bytes = kDefaultMaxImageBytes);

const std::vector<std::string>& fashion_mnist_class_names();
const std::vector<std::string>& sign_mnist_class_names();

// Per-channel mean and std of the pixels scaled to [0, 1], over the given images (all if empty).
Normalization compute_normalization(const Dataset& ds, std::span<const int64_t> indices = {});

// The images at `indices` as a float tensor [n, C, H, W], normalized.
Tensor make_images(const Dataset& ds, std::span<const int64_t> indices, const Normalization& norm);
// The same images channels-last, [n, H, W, C]: the input layout of models converted from TensorFlow/TFLite.
Tensor to_channels_last(const Tensor& nchw);
// The labels at `indices` as an int64 tensor [n].
Tensor make_labels(const Dataset& ds, std::span<const int64_t> indices);

// Light augmentation for training: a random shift of up to max_shift pixels (zero fill) and, if the
// dataset allows it, a horizontal flip with probability 1/2.
struct Augment {
  int64_t max_shift = 2;
  bool flip = true;
};
// Like make_images, with each image augmented; draws from rng, so a fixed seed repeats exactly.
Tensor make_augmented_images(const Dataset& ds, std::span<const int64_t> indices, const Normalization& norm,
                             const Augment& augment, std::mt19937_64& rng);

// 0..n-1 in an order fixed by seed (Fisher-Yates on a mt19937_64, identical on every platform).
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed);
void shuffle_in_place(std::vector<int64_t>& indices, std::mt19937_64& rng);

// Splits 0..n-1 (shuffled by seed) into train and validation parts; validation gets
// round(n * val_fraction) images, both keep the seed's order.
struct Split {
  std::vector<int64_t> train;
  std::vector<int64_t> val;
};
Split split_train_val(int64_t n, double val_fraction, uint64_t seed);

// Decodes a PNG/JPEG/BMP held in memory (name is for messages), converts it to pp.channels, resizes it
// to pp.height x pp.width (area-averaging when shrinking, bilinear when enlarging) and normalizes:
// a float tensor [1, C, H, W]. Throws Error(kParse) naming `name` when the bytes are not an image or
// are truncated (a header promising more pixel data than the file holds), and Error(kInvalidArgument)
// naming `name`, its size and the budget when the header's size exceeds pp.max_image_bytes (checked
// before decoding).
Tensor decode_image(std::string_view bytes, const Preprocess& pp, const std::string& name);
Tensor load_image(const std::string& path, const Preprocess& pp);
// u8 pixels already at the model's size, [C, H, W] (pp.channels x pp.height x pp.width), normalized into a
// float tensor [1, C, H, W]. Error(kInvalidArgument) when the count is not C*H*W.
Tensor pixels_to_tensor(std::span<const uint8_t> chw, const Preprocess& pp);
// The same decode + convert + resize, stopping at u8 pixels [C, H, W] (what the folder reader keeps).
std::vector<uint8_t> decode_image_u8(std::string_view bytes, int64_t channels, int64_t height, int64_t width,
                                     const std::string& name, int64_t max_image_bytes = kDefaultMaxImageBytes);

// ---------------------------------------------------------------------------------------------
// Model metadata (ONNX metadata_props) describing how to feed a model: written by train's exporter,
// read by eval/predict/serve. Keys and value formats:
//   labels    JSON array of class names, index = logit index     ["T-shirt/top", "Trouser", ...]
//   mean, std JSON arrays, one value per channel (see Normalization) [0.286]
//   channels, height, width   decimal integers                      1, 28, 28
// (train adds dataset, accuracy, edgeq_version, seed, arch, ...; quant adds calibration_method.)
using Metadata = std::vector<std::pair<std::string, std::string>>;
inline constexpr const char* kMetaLabels = "labels";
inline constexpr const char* kMetaMean = "mean";
inline constexpr const char* kMetaStd = "std";
inline constexpr const char* kMetaChannels = "channels";
inline constexpr const char* kMetaHeight = "height";
inline constexpr const char* kMetaWidth = "width";

Metadata preprocess_metadata(const Preprocess& pp, const std::vector<std::string>& labels);
// Reads the keys above; `model_name` names the model in errors (kInvalidModel for a malformed value,
// e.g. channels other than 1 or 3, a side past kMaxImageSide, a non-finite mean/std; kNotFound for a
// missing key).
Preprocess preprocess_from_metadata(const Metadata& meta, const std::string& model_name);
// load_dataset's options for images as a model with this preprocessing takes them.
DatasetOptions dataset_options_for(const Preprocess& pp, const std::string& default_split, int64_t limit = 0);
std::vector<std::string> labels_from_metadata(const Metadata& meta, const std::string& model_name);
// The same, but empty when the model carries no labels (a file from another exporter); a malformed
// 'labels' value is still an error.
std::vector<std::string> labels_from_metadata_if_any(const Metadata& meta, const std::string& model_name);

// A classifier's answer for one row of its output: the k most probable classes, most probable first.
// Probabilities are the softmax of the row, unless the row already is a distribution (values in [0, 1]
// summing to 1 within 1e-3: a model that ends in Softmax).
struct ClassScore {
  int64_t index = 0;
  float probability = 0;
};
std::vector<ClassScore> top_classes(std::span<const float> row, int64_t k);
// labels[index], or "class <index>" when the model carries fewer labels.
std::string class_label(const std::vector<std::string>& labels, int64_t index);

}  // namespace edgeq::data
