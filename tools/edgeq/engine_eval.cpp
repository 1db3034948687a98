#include "engine_eval.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace edgeq::cli {
namespace {

int64_t argmax(const float* row, int64_t n) { return std::max_element(row, row + n) - row; }

}  // namespace

Tensor uniform_samples(const Shape& sample, int64_t count, uint32_t seed) {
  Shape shape = {count};
  shape.insert(shape.end(), sample.begin(), sample.end());
  Tensor t(DType::kF32, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = uniform(rng);
  return t;
}

Tensor slice_samples(const Tensor& samples, int64_t start, int64_t count) {
  Shape shape = samples.shape();
  const int64_t per = samples.numel() / shape[0];
  shape[0] = count;
  Tensor t(DType::kF32, shape);
  for (int64_t i = 0; i < count; ++i)
    std::copy_n(samples.data<float>() + ((start + i) % samples.shape()[0]) * per, per, t.data<float>() + i * per);
  return t;
}

std::vector<float> logits_on(const std::function<Tensor(const Tensor&)>& run, const Tensor& samples, int64_t batch,
                             int64_t* classes, int64_t limit) {
  std::vector<float> logits;
  const int64_t n = limit > 0 ? std::min(limit, samples.shape()[0]) : samples.shape()[0];
  for (int64_t start = 0; start < n; start += batch) {
    const Tensor out = run(slice_samples(samples, start, std::min(batch, n - start)));
    if (out.rank() != 2) throw Error(ErrorCode::kUnsupported, "the first output is " + shape_str(out.shape()) + ", not [batch, classes]");
    *classes = out.shape()[1];
    logits.insert(logits.end(), out.data<float>(), out.data<float>() + out.numel());
  }
  return logits;
}

LogitScores score_logits(std::span<const float> logits, int64_t classes, std::span<const int64_t> labels,
                         std::span<const float> reference) {
  LogitScores s;
  if (classes < 1 || logits.empty()) return s;
  const int64_t n = static_cast<int64_t>(logits.size()) / classes;
  if (static_cast<int64_t>(labels.size()) >= n) {
    int64_t correct = 0;
    for (int64_t i = 0; i < n; ++i) correct += argmax(logits.data() + i * classes, classes) == labels[static_cast<size_t>(i)];
    s.top1 = static_cast<double>(correct) / static_cast<double>(n);
  }
  if (reference.size() == logits.size()) {
    int64_t agree = 0;
    double max_diff = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float* a = logits.data() + i * classes;
      const float* b = reference.data() + i * classes;
      agree += argmax(a, classes) == argmax(b, classes);
      for (int64_t c = 0; c < classes; ++c) max_diff = std::max(max_diff, static_cast<double>(std::fabs(a[c] - b[c])));
    }
    s.agreement = static_cast<double>(agree) / static_cast<double>(n);
    s.max_logit_diff = max_diff;
  }
  return s;
}

}  // namespace edgeq::cli
