// What edgeq bench (its edgeq rows) and edgeq-torch's bench-peer (the libtorch-eager row) share, so
// both engines are fed and scored alike: batches cut from one set of samples, logits over a whole
// evaluation set in fixed-size batches, and top-1 / agreement / max logit difference of those logits.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "edgeq/core.h"

namespace edgeq::cli {

// `count` seeded uniform [0, 1) float32 samples of shape `sample`: [count, sample...].
Tensor uniform_samples(const Shape& sample, int64_t count, uint32_t seed);

// Samples start, start + 1, ... start + count - 1 of `samples` ([n, ...] float32), wrapping past its end.
Tensor slice_samples(const Tensor& samples, int64_t start, int64_t count);

// run's output on the first `limit` of `samples` (all when limit is 0), in batches of `batch`:
// [n, classes] row-major; *classes set from the output. Error(kUnsupported) when an output is not
// [batch, classes].
std::vector<float> logits_on(const std::function<Tensor(const Tensor&)>& run, const Tensor& samples, int64_t batch,
                             int64_t* classes, int64_t limit = 0);

// Scores of one engine's logits ([n, classes]): top-1 against `labels` (when given, >= n of them),
// and top-1 agreement and max absolute logit difference against `reference` (when it holds n x classes
// values for the same samples).
struct LogitScores {
  std::optional<double> top1, agreement, max_logit_diff;
};
LogitScores score_logits(std::span<const float> logits, int64_t classes, std::span<const int64_t> labels,
                         std::span<const float> reference);

}  // namespace edgeq::cli
