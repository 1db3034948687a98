// Calibration tensors from files (--calib tensors:DIR): what a model whose inputs are no images (audio
// features, token ids, several inputs, 128-channel maps) is calibrated with. Every file is split into
// samples and the samples regrouped into batches the model accepts.
#include <algorithm>
#include <cstring>
#include <filesystem>

#include "edgeq/quant.h"

namespace edgeq::quant {

namespace fs = std::filesystem;

namespace {

bool is_tensor_file(const fs::path& p) { return p.extension() == ".npy" || p.extension() == ".pb"; }

Tensor read_tensor_file(const fs::path& p) {
  const std::string bytes = read_file(p.string());
  return p.extension() == ".npy" ? parse_npy(bytes, p.string()) : onnx::parse_tensor_proto(bytes, p.string());
}

std::vector<fs::path> sorted_entries(const fs::path& dir, bool want_dirs) {
  std::vector<fs::path> r;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (want_dirs ? e.is_directory() : (e.is_regular_file() && is_tensor_file(e.path()))) r.push_back(e.path());
  }
  std::sort(r.begin(), r.end());
  return r;
}

// One set: a tensor per model input, read from SET/input_<k>.npy or .pb.
std::vector<Tensor> read_set(const fs::path& set, size_t n_inputs) {
  std::vector<Tensor> tensors;
  for (size_t k = 0; k < n_inputs; ++k) {
    const fs::path npy = set / ("input_" + std::to_string(k) + ".npy"), pb = set / ("input_" + std::to_string(k) + ".pb");
    const bool has_npy = fs::exists(npy), has_pb = fs::exists(pb);
    if (has_npy == has_pb)
      throw Error(ErrorCode::kInvalidArgument, set.string() + ": " + (has_npy ? "both input_" + std::to_string(k) + ".npy and .pb"
                                                                               : "no input_" + std::to_string(k) + ".npy or .pb") +
                                                   " (one file per model input, input_0 .. input_" + std::to_string(n_inputs - 1) + ")");
    tensors.push_back(read_tensor_file(has_npy ? npy : pb));
  }
  return tensors;
}

// Sample `i` of a batch tensor, as [1, ...].
Tensor sample_of(const Tensor& batch, int64_t i) {
  Shape s = batch.shape();
  s[0] = 1;
  Tensor t(batch.dtype(), s);
  const size_t bytes = t.nbytes();
  if (bytes > 0) std::memcpy(t.raw(), static_cast<const std::byte*>(batch.raw()) + static_cast<size_t>(i) * bytes, bytes);
  return t;
}

// Samples [first, first + n) concatenated along dim 0 (all of one shape).
Tensor concat_samples(const std::vector<Tensor>& samples, size_t first, size_t n) {
  Shape s = samples[first].shape();
  s[0] = static_cast<int64_t>(n);
  Tensor t(samples[first].dtype(), s);
  const size_t bytes = samples[first].nbytes();
  for (size_t i = 0; i < n; ++i)
    if (bytes > 0) std::memcpy(static_cast<std::byte*>(t.raw()) + i * bytes, samples[first + i].raw(), bytes);
  return t;
}

}  // namespace

TensorBatches load_tensor_batches(const std::string& dir, const std::vector<onnx::ValueInfo>& inputs, int64_t batch, bool exact_batch,
                                  int64_t max_samples) {
  if (inputs.empty()) throw Error(ErrorCode::kInvalidArgument, "the model has no inputs to calibrate");
  const std::string problem = fs::is_directory(dir) ? "" : "is not a directory";
  if (!problem.empty()) throw Error(ErrorCode::kNotFound, "--calib tensors:" + dir + " " + problem);
  // The sets in name order, read one at a time as the samples are needed: a folder of thousands of
  // files costs only the first --calib-samples' worth of memory.
  const auto set_dirs = sorted_entries(dir, true);
  const auto files = set_dirs.empty() ? sorted_entries(dir, false) : std::vector<fs::path>{};
  if (set_dirs.empty() && inputs.size() != 1)
    throw Error(ErrorCode::kInvalidArgument, dir + ": the model takes " + std::to_string(inputs.size()) +
                                                 " inputs: give one subdirectory per sample set holding input_0 .. input_" +
                                                 std::to_string(inputs.size() - 1) + " (.npy or .pb)");
  const size_t n_sets = set_dirs.empty() ? files.size() : set_dirs.size();
  if (n_sets == 0) throw Error(ErrorCode::kInvalidArgument, dir + ": no .npy or .pb files and no sample-set subdirectories");
  auto read_nth = [&](size_t s) {
    return set_dirs.empty() ? std::vector<Tensor>{read_tensor_file(files[s])} : read_set(set_dirs[s], inputs.size());
  };

  // Split every set into samples: a tensor of the input's rank is a batch, one of rank - 1 a sample.
  std::vector<std::vector<Tensor>> samples(inputs.size());
  size_t n_samples = 0;
  for (size_t s = 0; s < n_sets && static_cast<int64_t>(n_samples) < max_samples; ++s) {
    const std::vector<Tensor> set = read_nth(s);
    int64_t count = -1;
    for (size_t k = 0; k < inputs.size(); ++k) {
      Tensor t = set[k];
      const auto rank = static_cast<int64_t>(inputs[k].shape.size());
      if (inputs[k].has_shape && t.rank() == rank - 1) {
        Shape with_batch = t.shape();
        with_batch.insert(with_batch.begin(), 1);
        t = t.reshaped(with_batch);
      } else if (inputs[k].has_shape && t.rank() != rank) {
        throw Error(ErrorCode::kInvalidArgument, "calibration tensor " + std::to_string(s) + " for input '" + inputs[k].name + "' is " +
                                                     shape_str(t.shape()) + ", the model expects " + shape_str(inputs[k].shape) +
                                                     " (a batch) or one sample of it");
      }
      if (t.rank() == 0) throw Error(ErrorCode::kInvalidArgument, "calibration tensor " + std::to_string(s) + " for input '" + inputs[k].name + "' is a scalar");
      if (count >= 0 && t.shape()[0] != count)
        throw Error(ErrorCode::kInvalidArgument, "calibration set " + std::to_string(s) + " holds " + std::to_string(count) + " samples for input '" +
                                                     inputs[0].name + "' and " + std::to_string(t.shape()[0]) + " for '" + inputs[k].name + "'");
      count = t.shape()[0];
      for (int64_t i = 0; i < count; ++i) samples[k].push_back(sample_of(t, i));
    }
    n_samples += static_cast<size_t>(count);
  }
  n_samples = std::min(n_samples, static_cast<size_t>(max_samples));

  // Regroup: consecutive samples of one shape per batch (a sequence model's lengths may vary).
  TensorBatches out;
  size_t first = 0;
  while (first < n_samples) {
    size_t n = 1;
    auto same_shape = [&](size_t i) {
      for (size_t k = 0; k < inputs.size(); ++k)
        if (samples[k][i].shape() != samples[k][first].shape()) return false;
      return true;
    };
    while (n < static_cast<size_t>(batch) && first + n < n_samples && same_shape(first + n)) ++n;
    if (exact_batch && n < static_cast<size_t>(batch)) {  // the model takes no other batch size
      out.left_out += static_cast<int64_t>(n);
      first += n;
      continue;
    }
    std::vector<Tensor> b;
    for (size_t k = 0; k < inputs.size(); ++k) b.push_back(concat_samples(samples[k], first, n));
    out.batches.push_back(std::move(b));
    first += n;
  }
  out.samples = static_cast<int64_t>(n_samples) - out.left_out;
  return out;
}

}  // namespace edgeq::quant
