// Every subprocess peer (onnxruntime-node, onnxruntime-web in headless chromium, PyTorch) scores an
// evaluation set whose answer is known: a cnn-s that predicts the quadrant of the brightest pixel
// (testing::quadrant_cnn_s), ten samples with that pixel placed by a seeded generator, three labels
// deliberately wrong (top-1 7/10), and reference logits with two samples' argmax moved by +2 (agreement
// 8/10, max logit difference 2). Batches of 4, so the last batch is partial. Each peer skips with the
// reason when node, chromium or Debian's python3-torch is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <unistd.h>

#include "edgeq/bench.h"
#include "edgeq/onnx.h"
#include "run_command.h"
#include "tiny_cnn.h"

namespace edgeq::bench {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSamples = 10, kClasses = 4;
constexpr uint32_t kSeed = 20261125;

struct KnownSet {
  fs::path dir = fs::temp_directory_path() / ("edgeq_peer_eval_" + std::to_string(::getpid()));
  std::string model;
  EvalFiles files;
  std::vector<int64_t> truth;  // the quadrant each sample's brightest pixel is in

  KnownSet() {
    fs::create_directories(dir);
    model = (dir / "quadrant.onnx").string();
    onnx::save_model(testing::quadrant_cnn_s(), model);
    std::mt19937 rng(kSeed);
    std::uniform_real_distribution<float> dim(0.0f, 0.5f);
    std::uniform_int_distribution<int> pos(0, 7);
    Tensor samples(DType::kF32, {kSamples, 1, 8, 8});
    std::vector<float> reference(static_cast<size_t>(kSamples * kClasses));
    for (int64_t s = 0; s < kSamples; ++s) {
      float* image = samples.data<float>() + s * 64;
      for (int i = 0; i < 64; ++i) image[i] = dim(rng);
      const int y = pos(rng), x = pos(rng);
      image[y * 8 + x] = 1.0f;
      truth.push_back((y >= 4 ? 2 : 0) + (x >= 4 ? 1 : 0));
      for (int64_t q = 0; q < kClasses; ++q) {  // the model's exact logits: each quadrant's maximum
        float top = 0;
        for (int yy = 0; yy < 4; ++yy)
          for (int xx = 0; xx < 4; ++xx) top = std::max(top, image[(yy + 4 * (q / 2)) * 8 + xx + 4 * (q % 2)]);
        reference[static_cast<size_t>(s * kClasses + q)] = top;
      }
    }
    std::vector<int64_t> labels = truth;
    for (int64_t s : {1, 4, 8}) labels[static_cast<size_t>(s)] = (truth[static_cast<size_t>(s)] + 1) % kClasses;
    for (int64_t s : {0, 5}) reference[static_cast<size_t>(s * kClasses + (truth[static_cast<size_t>(s)] + 2) % kClasses)] += 2.0f;
    files = write_eval_set(dir.string(), samples, labels, reference);
  }
  ~KnownSet() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  template <typename Options>
  Options options() const {
    Options o;
    o.warmup = 1;
    o.runs = 3;
    o.rounds = 1;
    o.batches = {1};
    o.eval_input = files.input;
    o.eval_labels = files.labels;
    o.eval_reference = files.reference;
    o.eval_batch = 4;
    return o;
  }
};

void expect_known_answer(const OrtModelResult& r) {
  SCOPED_TRACE(r.engine + ", seed " + std::to_string(kSeed));
  ASSERT_EQ(r.status, "ok");
  ASSERT_TRUE(r.eval.has_value()) << "no eval object in the peer's JSON";
  ASSERT_EQ(r.eval->status, "ok");
  EXPECT_EQ(r.eval->samples, kSamples);
  EXPECT_EQ(r.eval->total, kSamples);
  const Row row = r.to_row("quadrant", "fp32");
  ASSERT_TRUE(row.top1 && row.agreement && row.max_logit_diff);
  EXPECT_DOUBLE_EQ(*row.top1, 0.7) << "3 of 10 labels are wrong on purpose";
  EXPECT_DOUBLE_EQ(*row.agreement, 0.8) << "2 of 10 reference argmaxes moved";
  EXPECT_NEAR(*row.max_logit_diff, 2.0, 1e-5);
  EXPECT_EQ(row.note, "");
}

// onnxruntime-node's cases: skipped together when node or the package is missing.
struct BenchPeerEvalNode : ::testing::Test {
  void SetUp() override {
    if (const std::string why = OrtPeer(OrtPeerOptions{}).unavailable_reason(); !why.empty())
      GTEST_SKIP() << "onnxruntime-node: " << why;
  }
  KnownSet set;
  OrtPeerOptions options = set.options<OrtPeerOptions>();
};

TEST_F(BenchPeerEvalNode, ScoresAKnownSet) { expect_known_answer(OrtPeer(options).run(set.model)); }

TEST_F(BenchPeerEvalNode, EvaluatesTheFirstNAndTheRowSaysSo) {
  options.eval_limit = 3;  // samples 0..2: truth, wrong label, truth -> 2 of 3; reference moved for sample 0 -> 2 of 3
  const Row row = OrtPeer(options).run(set.model).to_row("quadrant", "fp32");
  ASSERT_TRUE(row.top1 && row.agreement);
  EXPECT_DOUBLE_EQ(*row.top1, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*row.agreement, 2.0 / 3.0);
  EXPECT_EQ(row.note, "accuracy on the first 3 of 10 samples");
}

TEST_F(BenchPeerEvalNode, AnEvaluationThatCannotRunLeavesTheLatencyAndSaysWhy) {
  const std::vector<float> three_floats = {1, 2, 3};  // not one 8x8 sample
  write_file_atomic(options.eval_input, std::string_view(reinterpret_cast<const char*>(three_floats.data()), 12));
  options.eval_labels.clear();
  options.eval_reference.clear();
  const Row row = OrtPeer(options).run(set.model).to_row("quadrant", "fp32");
  EXPECT_TRUE(row.ok()) << row.status;
  EXPECT_TRUE(row.p50_ms.has_value());
  EXPECT_FALSE(row.top1.has_value());
  EXPECT_NE(row.note.find("not a multiple of one sample"), std::string::npos) << row.note;
}

TEST(BenchPeerEval, OnnxRuntimeWebScoresAKnownSetInHeadlessChromium) {
  KnownSet set;
  OrtWebPeer peer(set.options<OrtWebPeerOptions>());
  if (const std::string why = peer.unavailable_reason(); !why.empty()) GTEST_SKIP() << "onnxruntime-web: " << why;
  expect_known_answer(peer.run(set.model));
}

TEST(BenchPeerEval, PyTorchScoresAKnownSetEagerAndTorchScript) {
  if (!test::python_has("torch") || !test::python_has("onnx"))
    GTEST_SKIP() << "Debian's python3-torch/python3-onnx not importable from /usr/bin/python3";
  KnownSet set;
  TorchPeer peer(set.options<TorchPeerOptions>());
  if (const std::string why = peer.unavailable_reason(); !why.empty()) GTEST_SKIP() << "pytorch: " << why;
  const std::vector<OrtModelResult> results = peer.run(set.model);
  ASSERT_EQ(results.size(), 2u);
  for (const OrtModelResult& r : results) expect_known_answer(r);
}

}  // namespace
}  // namespace edgeq::bench
