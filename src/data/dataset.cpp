// Dataset SPEC parsing, normalization statistics, batches, augmentation, shuffles and splits.
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "edgeq/data.h"
#include "normalize.h"

namespace edgeq::data {
namespace {

// Draws in [0, n) from the raw 64-bit output: std::uniform_int_distribution differs between standard
// libraries, this does not, so a seed means the same order everywhere. The modulo bias is < n / 2^64.
uint64_t draw_below(std::mt19937_64& rng, uint64_t n) { return rng() % n; }

std::string fashion_mnist_file(const std::string& dir, const std::string& stem) {
  namespace fs = std::filesystem;
  const std::string gz = dir + "/" + stem + ".gz";
  if (fs::exists(gz)) return gz;
  if (fs::exists(dir + "/" + stem)) return dir + "/" + stem;
  throw Error(ErrorCode::kNotFound, gz + ": Fashion-MNIST file not found (install dataset-fashion-mnist or set "
                                         "EDGEQ_FASHION_MNIST_DIR)");
}

Dataset load_fashion_mnist(const std::string& split, int64_t limit) {
  const char* env = std::getenv("EDGEQ_FASHION_MNIST_DIR");
  const std::string dir = env && *env ? env : kFashionMnistDir;
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string images = fashion_mnist_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels = fashion_mnist_file(dir, prefix + "-labels-idx1-ubyte");
  Dataset ds = load_idx(images, labels, limit);
  ds.class_names = fashion_mnist_class_names();
  for (int64_t i = 0; i < ds.size(); ++i)
    if (ds.labels[static_cast<size_t>(i)] >= ds.num_classes())
      throw Error(ErrorCode::kParse, labels + ": record " + std::to_string(i) + ": label " +
                                         std::to_string(ds.labels[static_cast<size_t>(i)]) + " out of range 0..9");
  ds.flip_ok = true;  // a mirrored shirt is still a shirt
  ds.name = "fashion-mnist:" + split;
  return ds;
}

void check_fixed_geometry(const Dataset& ds, const DatasetOptions& o) {
  auto mismatch = [&](int64_t want, int64_t have) { return want != 0 && want != have; };
  if (mismatch(o.channels, ds.channels) || mismatch(o.height, ds.height) || mismatch(o.width, ds.width))
    throw Error(ErrorCode::kInvalidArgument,
                ds.name + ": images are " + std::to_string(ds.channels) + "x" + std::to_string(ds.height) + "x" +
                    std::to_string(ds.width) + ", the model expects " + std::to_string(o.channels) + "x" +
                    std::to_string(o.height) + "x" + std::to_string(o.width));
}

}  // namespace

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

Dataset load_dataset(const std::string& spec, const DatasetOptions& options) {
  const size_t colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  Dataset ds;
  if (kind == "fashion-mnist") {
    const std::string split = arg.empty() ? options.default_split : arg;
    if (split != "train" && split != "test")
      throw Error(ErrorCode::kInvalidArgument, "dataset '" + spec + "': split must be train or test, not '" + split + "'");
    ds = load_fashion_mnist(split, options.limit);
    check_fixed_geometry(ds, options);
  } else if (kind == "sign-mnist") {
    if (arg.empty()) throw Error(ErrorCode::kInvalidArgument, "dataset '" + spec + "': expected sign-mnist:FILE.csv");
    ds = load_sign_mnist_csv(arg, options.limit);
    ds.name = "sign-mnist:" + arg;
    check_fixed_geometry(ds, options);
  } else if (kind == "folder") {
    if (arg.empty()) throw Error(ErrorCode::kInvalidArgument, "dataset '" + spec + "': expected folder:DIR");
    ds = load_image_folder(arg, options.channels ? options.channels : 1, options.height ? options.height : 28,
                           options.width ? options.width : 28, options.limit, options.max_image_bytes);
    ds.name = "folder:" + arg;
  } else {
    throw Error(ErrorCode::kInvalidArgument, "unknown dataset '" + spec +
                                                 "' (expected fashion-mnist[:train|test], sign-mnist:FILE.csv or "
                                                 "folder:DIR)");
  }
  return ds;
}

void check_normalization(const Normalization& norm, int64_t channels) {
  auto ok_size = [&](size_t n) { return n == 1 || static_cast<int64_t>(n) == channels; };
  if (!ok_size(norm.mean.size()) || !ok_size(norm.std.size()))
    throw Error(ErrorCode::kInvalidArgument, "normalization needs 1 or " + std::to_string(channels) +
                                                 " values for mean and std, got " + std::to_string(norm.mean.size()) +
                                                 " and " + std::to_string(norm.std.size()));
  for (float s : norm.std)
    if (!(s > 0.f)) throw Error(ErrorCode::kInvalidArgument, "normalization std must be > 0, got " + std::to_string(s));
}

void normalize_image(const uint8_t* pixels, int64_t channels, int64_t plane, const Normalization& norm, float* out) {
  for (int64_t c = 0; c < channels; ++c) {
    const float mean = norm.mean.size() == 1 ? norm.mean[0] : norm.mean[static_cast<size_t>(c)];
    const float std = norm.std.size() == 1 ? norm.std[0] : norm.std[static_cast<size_t>(c)];
    // Same arithmetic order as the exported metadata describes: (p / 255 - mean) / std.
    for (int64_t i = 0; i < plane; ++i) out[c * plane + i] = (static_cast<float>(pixels[c * plane + i]) / 255.f - mean) / std;
  }
}

Normalization compute_normalization(const Dataset& ds, std::span<const int64_t> indices) {
  const int64_t plane = ds.height * ds.width;
  const int64_t count = indices.empty() ? ds.size() : static_cast<int64_t>(indices.size());
  if (count == 0) throw Error(ErrorCode::kInvalidArgument, ds.name + ": cannot compute normalization of no images");
  Normalization norm;
  norm.mean.assign(static_cast<size_t>(ds.channels), 0.f);
  norm.std.assign(static_cast<size_t>(ds.channels), 0.f);
  for (int64_t c = 0; c < ds.channels; ++c) {
    // Integer sums are exact, so the statistics do not depend on the summation order.
    uint64_t sum = 0, sum_sq = 0;
    for (int64_t k = 0; k < count; ++k) {
      const int64_t idx = indices.empty() ? k : indices[static_cast<size_t>(k)];
      const uint8_t* p = ds.image(idx) + c * plane;
      for (int64_t i = 0; i < plane; ++i) {
        sum += p[i];
        sum_sq += static_cast<uint64_t>(p[i]) * p[i];
      }
    }
    const double n = static_cast<double>(count) * static_cast<double>(plane);
    const double mean = static_cast<double>(sum) / n;
    const double var = std::max(static_cast<double>(sum_sq) / n - mean * mean, 0.0);
    norm.mean[static_cast<size_t>(c)] = static_cast<float>(mean / 255.0);
    norm.std[static_cast<size_t>(c)] = static_cast<float>(std::max(std::sqrt(var) / 255.0, 1e-6));
  }
  return norm;
}

Tensor make_images(const Dataset& ds, std::span<const int64_t> indices, const Normalization& norm) {
  check_normalization(norm, ds.channels);
  const auto n = static_cast<int64_t>(indices.size());
  Tensor out(DType::kF32, {n, ds.channels, ds.height, ds.width});
  float* dst = out.data<float>();
  for (int64_t k = 0; k < n; ++k) {
    const int64_t idx = indices[static_cast<size_t>(k)];
    if (idx < 0 || idx >= ds.size())
      throw Error(ErrorCode::kInvalidArgument, ds.name + ": image index " + std::to_string(idx) + " out of range");
    normalize_image(ds.image(idx), ds.channels, ds.height * ds.width, norm, dst + k * ds.image_elems());
  }
  return out;
}

Tensor to_channels_last(const Tensor& nchw) {
  if (nchw.rank() != 4 || nchw.dtype() != DType::kF32)
    throw Error(ErrorCode::kInvalidArgument, "to_channels_last needs a float32 [N, C, H, W] tensor, not " + std::string(dtype_name(nchw.dtype())) +
                                                 " " + shape_str(nchw.shape()));
  const int64_t n = nchw.shape()[0], c = nchw.shape()[1], plane = nchw.shape()[2] * nchw.shape()[3];
  Tensor out(DType::kF32, {n, nchw.shape()[2], nchw.shape()[3], c});
  const float* src = nchw.data<float>();
  float* dst = out.data<float>();
  for (int64_t k = 0; k < n; ++k)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < plane; ++p) dst[(k * plane + p) * c + ch] = src[(k * c + ch) * plane + p];
  return out;
}

Tensor make_labels(const Dataset& ds, std::span<const int64_t> indices) {
  Tensor out(DType::kI64, {static_cast<int64_t>(indices.size())});
  int64_t* dst = out.data<int64_t>();
  for (size_t k = 0; k < indices.size(); ++k) {
    if (indices[k] < 0 || indices[k] >= ds.size())
      throw Error(ErrorCode::kInvalidArgument, ds.name + ": label index " + std::to_string(indices[k]) + " out of range");
    dst[k] = ds.labels[static_cast<size_t>(indices[k])];
  }
  return out;
}

Tensor make_augmented_images(const Dataset& ds, std::span<const int64_t> indices, const Normalization& norm,
                             const Augment& augment, std::mt19937_64& rng) {
  check_normalization(norm, ds.channels);
  const auto n = static_cast<int64_t>(indices.size());
  const int64_t h = ds.height, w = ds.width, plane = h * w;
  Tensor out(DType::kF32, {n, ds.channels, h, w});
  std::vector<uint8_t> moved(static_cast<size_t>(ds.image_elems()));
  const uint64_t span = static_cast<uint64_t>(2 * std::max<int64_t>(augment.max_shift, 0) + 1);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t idx = indices[static_cast<size_t>(k)];
    if (idx < 0 || idx >= ds.size())
      throw Error(ErrorCode::kInvalidArgument, ds.name + ": image index " + std::to_string(idx) + " out of range");
    // Always draw the same three numbers per image, so the stream does not depend on the dataset.
    const int64_t dy = static_cast<int64_t>(draw_below(rng, span)) - augment.max_shift;
    const int64_t dx = static_cast<int64_t>(draw_below(rng, span)) - augment.max_shift;
    const bool flip = draw_below(rng, 2) == 1 && augment.flip && ds.flip_ok;
    const uint8_t* src = ds.image(idx);
    std::fill(moved.begin(), moved.end(), uint8_t{0});
    for (int64_t c = 0; c < ds.channels; ++c)
      for (int64_t y = 0; y < h; ++y) {
        const int64_t sy = y - dy;
        if (sy < 0 || sy >= h) continue;
        for (int64_t x = 0; x < w; ++x) {
          const int64_t shifted = x - dx;
          const int64_t sx = flip ? w - 1 - shifted : shifted;
          if (shifted < 0 || shifted >= w) continue;
          moved[static_cast<size_t>(c * plane + y * w + x)] = src[c * plane + sy * w + sx];
        }
      }
    normalize_image(moved.data(), ds.channels, plane, norm, out.data<float>() + k * ds.image_elems());
  }
  return out;
}

void shuffle_in_place(std::vector<int64_t>& indices, std::mt19937_64& rng) {
  for (size_t i = indices.size(); i > 1; --i) std::swap(indices[i - 1], indices[draw_below(rng, i)]);
}

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed) {
  std::vector<int64_t> v(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(i);
  std::mt19937_64 rng(seed);
  shuffle_in_place(v, rng);
  return v;
}

Split split_train_val(int64_t n, double val_fraction, uint64_t seed) {
  if (!(val_fraction >= 0.0 && val_fraction < 1.0))
    throw Error(ErrorCode::kInvalidArgument, "validation fraction must be in [0, 1), got " + std::to_string(val_fraction));
  std::vector<int64_t> order = shuffled_indices(n, seed);
  const auto n_val = static_cast<size_t>(std::llround(static_cast<double>(n) * val_fraction));
  Split s;
  s.val.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_val));
  s.train.assign(order.begin() + static_cast<std::ptrdiff_t>(n_val), order.end());
  return s;
}

}  // namespace edgeq::data
