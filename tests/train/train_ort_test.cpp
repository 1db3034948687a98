// The exporter against onnxruntime-node: the same file, the same inputs, the same logits as LibTorch
// (max |d| <= 1e-4, identical top-1), untrained for every architecture and trained on 1000 test images.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "edgeq/onnx.h"
#include "edgeq/train.h"
#include "peer.h"

namespace train = edgeq::train;
using edgeq::Tensor;
using edgeq::testing::TempDir;

namespace {

constexpr float kMaxAbsDiff = 1e-4f;

struct Agreement {
  float max_abs_diff = 0;
  int64_t top1_mismatches = 0;
};

Agreement compare(const Tensor& torch_logits, const Tensor& ort_logits, int64_t classes) {
  EXPECT_EQ(torch_logits.numel(), ort_logits.numel());
  Agreement a;
  const float* t = torch_logits.data<float>();
  const float* o = ort_logits.data<float>();
  for (int64_t row = 0; row < torch_logits.numel() / classes; ++row) {
    int64_t bt = 0, bo = 0;
    for (int64_t c = 0; c < classes; ++c) {
      const int64_t i = row * classes + c;
      a.max_abs_diff = std::max(a.max_abs_diff, std::abs(t[i] - o[i]));
      if (t[i] > t[row * classes + bt]) bt = c;
      if (o[i] > o[row * classes + bo]) bo = c;
    }
    a.top1_mismatches += bt != bo;
  }
  return a;
}

Tensor random_images(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  Tensor x(edgeq::DType::kF32, {n, 1, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = nd(rng);
  return x;
}

#define REQUIRE_ORT()                                                             \
  if (auto why = edgeq::testing::ort_unavailable()) GTEST_SKIP() << *why

}  // namespace

TEST(TrainOrtTest, UntrainedArchitecturesMatchOrt) {
  REQUIRE_ORT();
  TempDir tmp("train_ort_untrained");
  const Tensor x = random_images(64, 17);
  for (const std::string& arch : train::arch_names()) {
    for (bool fold : {true, false}) {
      if (!fold && arch != "cnn-bn") continue;
      train::Network net = train::Network::create(arch, 1, 28, 28, 10, 9);
      net.randomize_batchnorm(4);
      const std::string path = tmp.path(arch + (fold ? "" : "-bn") + ".onnx");
      edgeq::onnx::save_model(net.to_onnx({.fold_batchnorm = fold}), path);
      Agreement a = compare(net.forward(x), edgeq::testing::run_ort(path, x, tmp.path()), 10);
      std::printf("%s fold=%d: max |torch - ort| = %.3g over 64 images\n", arch.c_str(), fold, a.max_abs_diff);
      EXPECT_LE(a.max_abs_diff, kMaxAbsDiff) << arch << " fold=" << fold << " seed 9, 64 images seed 17";
      EXPECT_EQ(a.top1_mismatches, 0) << arch << " fold=" << fold;
    }
  }
}

TEST(TrainOrtTest, TrainedModelMatchesOrtOn1000TestImages) {
  REQUIRE_ORT();
  TempDir tmp("train_ort_trained");
  train::TrainConfig c;
  c.arch = "cnn-bn";
  c.epochs = 1;
  c.train_limit = 3000;
  c.test_limit = 1000;
  c.threads = 1;
  c.seed = 11;
  train::Trained t = train::train(c);
  const std::string path = train::write_outputs(t, tmp.path("out"));

  // Feed ORT exactly what the metadata says: the test images preprocessed with the stored mean/std.
  edgeq::onnx::Model m = edgeq::onnx::load_model(path);
  edgeq::data::Preprocess pp = edgeq::data::preprocess_from_metadata(m.metadata, path);
  edgeq::data::Dataset test = edgeq::data::load_dataset("fashion-mnist:test", {.limit = 1000});
  std::vector<int64_t> all(1000);
  for (int64_t i = 0; i < 1000; ++i) all[static_cast<size_t>(i)] = i;
  const Tensor x = edgeq::data::make_images(test, all, pp.norm);
  const Tensor torch_logits = t.network.forward(x);
  const Tensor ort_logits = edgeq::testing::run_ort(path, x, tmp.path());
  Agreement a = compare(torch_logits, ort_logits, 10);
  std::printf("trained cnn-bn: max |torch - ort| = %.3g over 1000 test images, top-1 %.1f %%\n", a.max_abs_diff,
              100.0 * t.result.test_accuracy);
  EXPECT_LE(a.max_abs_diff, kMaxAbsDiff) << "cnn-bn seed 11, 1000 test images";
  EXPECT_EQ(a.top1_mismatches, 0);

  // ORT's top-1 on these images is the accuracy the trainer reported (and wrote into the metadata).
  int64_t correct = 0;
  for (int64_t row = 0; row < 1000; ++row) {
    const float* o = ort_logits.data<float>() + row * 10;
    correct += std::max_element(o, o + 10) - o == test.labels[static_cast<size_t>(row)];
  }
  EXPECT_DOUBLE_EQ(static_cast<double>(correct) / 1000.0, t.result.test_accuracy);
  EXPECT_GT(t.result.test_accuracy, 0.70);
}
