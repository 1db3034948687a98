// Session: optimized channels-last plans against the unoptimized plain-layout plan of the same graph
// (a different code path for every op: no fusion, no folding, NCHW loops), batch changes, threads,
// concurrent runs, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <thread>

#include "edgeq/runtime.h"
#include "graph_builder.h"

using edgeq::DType;
using edgeq::Shape;
using edgeq::Tensor;
using edgeq::onnx::Attribute;
using edgeq::runtime::Session;
using edgeq::runtime::SessionOptions;
using edgeq::testing::GraphBuilder;
using edgeq::testing::max_abs_diff;
using edgeq::testing::random_tensor;

namespace {

// A small residual CNN touching the fused and layout-aware paths: Conv+BN+Relu, MaxPool, depthwise
// Conv+Clip (ReLU6), residual Add, Concat on channels, AveragePool, GlobalAveragePool, Flatten, Gemm, Softmax.
edgeq::onnx::Model residual_cnn(int64_t batch = -1, int64_t channels = 3) {
  GraphBuilder g;
  g.input("x", Shape{batch, channels, 20, 18});
  g.random_init("w1", {8, channels, 3, 3}).random_init("b1", {8}, 0.1f);
  g.random_init("bn_s", {8}, 0.2f).random_init("bn_b", {8}, 0.2f).random_init("bn_m", {8}, 0.2f);
  std::vector<float> var(8);
  for (int i = 0; i < 8; ++i) var[i] = 0.5f + 0.1f * i;
  g.init("bn_v", Tensor::from_f32({8}, var));
  g.random_init("wd", {8, 1, 3, 3}).random_init("bd", {8}, 0.1f);
  g.random_init("w3", {8, 8, 1, 1}).random_init("w4", {5, 16, 3, 3});
  g.init("lo", Tensor::from_f32({}, std::vector<float>{0.f})).init("hi", Tensor::from_f32({}, std::vector<float>{6.f}));
  g.random_init("fc_w", {7, 5}).random_init("fc_b", {7}, 0.1f);
  g.node("Conv", {"x", "w1", "b1"}, {"c1"}, {Attribute::make_ints("pads", {1, 1, 1, 1})});
  g.node("BatchNormalization", {"c1", "bn_s", "bn_b", "bn_m", "bn_v"}, {"bn1"});
  g.node("Relu", {"bn1"}, {"r1"});
  g.node("MaxPool", {"r1"}, {"p1"}, {Attribute::make_ints("kernel_shape", {2, 2}), Attribute::make_ints("strides", {2, 2})});
  g.node("Conv", {"p1", "wd", "bd"}, {"d1"}, {Attribute::make_int("group", 8), Attribute::make_ints("pads", {1, 1, 1, 1})});
  g.node("Clip", {"d1", "lo", "hi"}, {"d1r"});
  g.node("Conv", {"d1r", "w3"}, {"c3"});
  g.node("Add", {"c3", "p1"}, {"res"});
  g.node("Concat", {"res", "p1"}, {"cat"}, {Attribute::make_int("axis", 1)});
  g.node("Conv", {"cat", "w4"}, {"c4"}, {Attribute::make_ints("strides", {2, 2}), Attribute::make_ints("pads", {0, 1, 1, 0})});
  g.node("AveragePool", {"c4"}, {"a4"}, {Attribute::make_ints("kernel_shape", {2, 2}), Attribute::make_ints("pads", {1, 1, 1, 1}),
                                         Attribute::make_int("count_include_pad", 0)});
  g.node("GlobalAveragePool", {"a4"}, {"gap"});
  g.node("Flatten", {"gap"}, {"flat"});
  g.node("Gemm", {"flat", "fc_w", "fc_b"}, {"logits"}, {Attribute::make_int("transB", 1)});
  g.node("Softmax", {"logits"}, {"prob"}, {Attribute::make_int("axis", 1)});
  g.output("logits").output("prob");
  return g.build();
}

// Graph input "x" ([2, 3, h, w]) through a 3x3 conv to "c" ([2, channels, h, w]): a value the optimized
// plan holds channels-last, for ops with a channels-last path to consume.
void add_channels_last_value(GraphBuilder& g, int64_t h, int64_t w, int64_t channels) {
  g.input("x", Shape{2, 3, h, w});
  g.random_init("w", {channels, 3, 3, 3}).random_init("b", {channels}, 0.1f);
  g.node("Conv", {"x", "w", "b"}, {"c"}, {Attribute::make_ints("pads", {1, 1, 1, 1})});
}

SessionOptions reference_options() {
  SessionOptions o;
  o.optimize = false;
  o.channels_last = false;
  return o;
}

TEST(Session, OptimizedChannelsLastMatchesPlainReference) {
  const Tensor x = random_tensor({2, 3, 20, 18}, 11);
  Session ref(residual_cnn(), reference_options());
  Session fast(residual_cnn());
  const auto want = ref.run({x});
  const auto got = fast.run({x});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].shape(), (Shape{2, 7}));
  EXPECT_LE(max_abs_diff(got[0], want[0]), 1e-4f) << "seed 11, input [2,3,20,18]";
  EXPECT_LE(max_abs_diff(got[1], want[1]), 1e-5f);
  // The passes did their job: BN folded, activations fused, Relu/Clip nodes gone.
  for (const auto& n : fast.optimized_model().graph.nodes) {
    EXPECT_NE(n.op_type, "BatchNormalization");
    EXPECT_NE(n.op_type, "Relu");
    EXPECT_NE(n.op_type, "Clip");
  }
  const auto info = fast.plan_info({{2, 3, 20, 18}});
  bool saw_nhwc = false;
  for (const auto& l : info.step_labels) saw_nhwc = saw_nhwc || l.find("nhwc") != std::string::npos;
  EXPECT_TRUE(saw_nhwc);
}

TEST(Session, BatchSizeMayChangeBetweenCalls) {
  Session s(residual_cnn());
  const Tensor x3 = random_tensor({3, 3, 20, 18}, 5);
  const auto all = s.run({x3});
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t per = 3 * 20 * 18;
    Tensor xi = Tensor::from_f32({1, 3, 20, 18}, std::span<const float>(x3.data<float>() + i * per, per));
    const auto one = s.run({xi});
    for (int64_t j = 0; j < 7; ++j) EXPECT_NEAR(one[0].data<float>()[j], all[0].data<float>()[i * 7 + j], 1e-5f) << "image " << i;
  }
}

TEST(Session, TwoThreadsAndOddChannelsMatch) {
  for (int64_t c : {1, 3, 13}) {
    const Tensor x = random_tensor({1, c, 20, 18}, 3);
    Session ref(residual_cnn(-1, c), reference_options());
    SessionOptions two;
    two.threads = 2;
    Session fast(residual_cnn(-1, c), two);
    EXPECT_LE(max_abs_diff(fast.run({x})[0], ref.run({x})[0]), 1e-4f) << "channels " << c;
  }
}

TEST(Session, ConcurrentRunsGiveTheSameAnswers) {
  SessionOptions two;
  two.threads = 2;
  Session s(residual_cnn(), two);
  std::vector<Tensor> inputs, expected;
  for (uint32_t i = 0; i < 4; ++i) {
    inputs.push_back(random_tensor({1 + i % 2, 3, 20, 18}, 100 + i));
    expected.push_back(s.run({inputs.back()})[0]);
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 50; ++rep) {
        const size_t k = static_cast<size_t>(t + rep) % inputs.size();
        if (max_abs_diff(s.run({inputs[k]})[0], expected[k]) != 0.f) ++mismatches;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// Image i of a batch, as a batch of one.
Tensor image(const Tensor& batch, int64_t i) {
  Shape one = batch.shape();
  one[0] = 1;
  Tensor t(batch.dtype(), one);
  std::memcpy(t.raw(), static_cast<const std::byte*>(batch.raw()) + static_cast<size_t>(i) * t.nbytes(), t.nbytes());
  return t;
}

// Pack once: a second and third batch size compile plans that read the very packed weights of the
// first (the session's packed bytes do not grow), and each image of a batch gets the bits batch 1 gives.
TEST(Session, PlansOfEveryBatchSizeShareThePackedWeights) {
  Session s(residual_cnn());
  const size_t packed = s.plan_info({Shape{1, 3, 20, 18}}).packed_bytes;
  EXPECT_GT(packed, 4u * (8 * 3 * 9 + 5 * 16 * 9));  // the conv and gemm weights, at least
  EXPECT_EQ(s.cache_stats().packed_bytes, packed);
  EXPECT_EQ(s.cache_stats().plans_compiled, 1u);
  for (int64_t n : {3, 8}) {
    const Tensor x = random_tensor({n, 3, 20, 18}, 40 + static_cast<uint32_t>(n));
    const Tensor y = s.run({x})[0];
    EXPECT_EQ(s.plan_info({x.shape()}).packed_bytes, packed) << "batch " << n;
    EXPECT_EQ(s.cache_stats().packed_bytes, packed) << "batch " << n << " packed its weights again";
    for (int64_t i = 0; i < n; ++i) {
      const Tensor yi = s.run({image(x, i)})[0];
      EXPECT_EQ(std::memcmp(yi.raw(), image(y, i).raw(), yi.nbytes()), 0) << "batch " << n << " image " << i;
    }
  }
  EXPECT_EQ(s.cache_stats().plans_compiled, 3u);
}

// The plan cache keeps the most recently used plans and never evicts the one compiled at construction.
TEST(Session, PlanCacheEvictsTheLeastRecentlyUsedButNeverTheFirstPlan) {
  SessionOptions o;
  o.max_cached_plans = 2;
  Session s(residual_cnn(), o);
  auto run = [&](int64_t n) { s.run({random_tensor({n, 3, 20, 18}, 7)}); };
  for (int64_t n : {2, 3, 4}) run(n);
  EXPECT_EQ(s.cache_stats().plans_compiled, 4u);
  EXPECT_EQ(s.cache_stats().cached_plans, 2u);
  run(1);  // the construction-time plan is still there
  run(4);  // and so is the most recent one
  EXPECT_EQ(s.cache_stats().plans_compiled, 4u);
  run(2);  // evicted long ago
  EXPECT_EQ(s.cache_stats().plans_compiled, 5u);
}

// 8 callers at once, on new and cached batch sizes (compiles race with runs and with each other), give
// the bits of serial runs; one plan per shape survives however many threads compiled it.
TEST(Session, EightConcurrentCallersGiveTheSerialBits) {
  SessionOptions two;
  two.threads = 2;
  Session serial(residual_cnn());
  Session s(residual_cnn(), two);
  std::vector<Tensor> inputs, expected;
  for (uint32_t i = 0; i < 8; ++i) {
    inputs.push_back(random_tensor({1 + i % 4, 3, 20, 18}, 200 + i));
    expected.push_back(serial.run({inputs.back()})[0]);
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        const size_t k = static_cast<size_t>(t + rep) % inputs.size();
        const Tensor y = s.run({inputs[k]})[0];
        if (std::memcmp(y.raw(), expected[k].raw(), y.nbytes()) != 0) ++mismatches;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(s.cache_stats().cached_plans, 4u);
  EXPECT_EQ(s.cache_stats().packed_bytes, serial.cache_stats().packed_bytes);
}

// Two sessions on one shared pool, each run from its own threads at once: no deadlock (the test ends),
// the pool's size is the sessions' thread count, and the bits are those of a single-threaded session.
TEST(Session, SessionsSharingOnePoolRunConcurrently) {
  SessionOptions shared;
  shared.thread_pool = std::make_shared<edgeq::ThreadPool>(2, 50);
  shared.threads = 7;  // ignored: the pool decides
  Session a(residual_cnn(), shared), b(residual_cnn(-1, 5), shared);
  EXPECT_EQ(a.threads(), 2);
  EXPECT_EQ(b.threads(), 2);
  Session a1(residual_cnn()), b1(residual_cnn(-1, 5));
  const Tensor xa = random_tensor({2, 3, 20, 18}, 301), xb = random_tensor({3, 5, 20, 18}, 302);
  const Tensor ya = a1.run({xa})[0], yb = b1.run({xb})[0];
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 30; ++rep) {
        const bool use_a = (t + rep) % 2 == 0;
        const Tensor y = (use_a ? a : b).run({use_a ? xa : xb})[0];
        if (std::memcmp(y.raw(), (use_a ? ya : yb).raw(), y.nbytes()) != 0) ++mismatches;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Session, UnsupportedNodesAreAllListedAtCreation) {
  GraphBuilder g;
  g.input("x", {1, 4});
  g.node("Einsum", {"x"}, {"a"}, {Attribute::make_string("equation", "ij->ij")}, "first_bad");
  g.node("Relu", {"a"}, {"b"});
  g.node("NonZero", {"b"}, {"c"}, {}, "second_bad");
  g.output("c", DType::kI64);
  try {
    Session s(g.build());
    FAIL() << "expected Error(kUnsupported)";
  } catch (const edgeq::Error& e) {
    EXPECT_EQ(e.code(), edgeq::ErrorCode::kUnsupported);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("first_bad"), std::string::npos) << msg;
    EXPECT_NE(msg.find("second_bad"), std::string::npos) << msg;
    EXPECT_NE(msg.find("2 unsupported"), std::string::npos) << msg;
  }
}

TEST(Session, UnsupportedAttributeIsReportedAtCreationNotRun) {
  GraphBuilder g;
  g.input("x", {1, 1, 4, 4});
  g.node("Resize", {"x", "", "sc"}, {"y"}, {Attribute::make_string("nearest_mode", "stochastic")}, "odd_resize");
  g.init("sc", Tensor::from_f32({4}, std::vector<float>{1, 1, 2, 2}));
  g.output("y");
  try {
    Session s(g.build());
    FAIL() << "expected Error(kUnsupported)";
  } catch (const edgeq::Error& e) {
    EXPECT_EQ(e.code(), edgeq::ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("odd_resize"), std::string::npos) << e.what();
  }
}

TEST(Session, WrongInputsGiveClearErrors) {
  Session s(residual_cnn(1));
  auto expect_error = [&](const std::vector<Tensor>& in, const char* needle) {
    try {
      s.run(in);
      ADD_FAILURE() << "expected an error mentioning " << needle;
    } catch (const edgeq::Error& e) {
      EXPECT_EQ(e.code(), edgeq::ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({}, "expected 1 input");
  expect_error({random_tensor({1, 3, 20}, 1)}, "rank");
  expect_error({random_tensor({1, 3, 20, 17}, 1)}, "'x' has shape");
  expect_error({Tensor(DType::kI64, {1, 3, 20, 18})}, "dtype");
  try {
    s.run(std::map<std::string, Tensor>{{"nope", random_tensor({1, 3, 20, 18}, 1)}});
    ADD_FAILURE() << "expected an error for a missing input";
  } catch (const edgeq::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'x' is missing"), std::string::npos) << e.what();
  }
}

TEST(Session, ArenaReusesMemoryAcrossLifetimes) {
  // A chain of 12 element-wise ops on 64 KB tensors: lifetimes overlap pairwise only.
  GraphBuilder g;
  g.input("x", {1, 16384});
  std::string prev = "x";
  for (int i = 0; i < 12; ++i) {
    std::string out = "t";  // (not "t" + to_string: GCC 12 -O3 warns -Wrestrict on that, falsely)
    out += std::to_string(i);
    g.node(i % 2 ? "Sigmoid" : "Tanh", {prev}, {out});
    prev = out;
  }
  g.output(prev);
  Session s(g.build());
  const auto info = s.plan_info({{1, 16384}});
  EXPECT_EQ(info.steps, 12u);
  EXPECT_LE(info.arena_bytes, 3u * 16384u * 4u) << "12 buffers of 64 KB should share at most 3 slots";
  const Tensor x = random_tensor({1, 16384}, 9);
  const auto y = s.run({x});
  float v = x.data<float>()[123];
  for (int i = 0; i < 12; ++i) v = i % 2 ? 1.f / (1.f + std::exp(-v)) : std::tanh(v);
  EXPECT_NEAR(y[0].data<float>()[123], v, 1e-5f);
}

TEST(Session, ShapeArithmeticFoldsAway) {
  // torch.onnx-style dynamic flatten: Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
  GraphBuilder g;
  g.input("x", {-1, 2, 3, 4});
  g.init("zero", Tensor::from_i64({}, std::vector<int64_t>{0}));
  g.init("minus1", Tensor::from_i64({1}, std::vector<int64_t>{-1}));
  g.init("axes0", Tensor::from_i64({1}, std::vector<int64_t>{0}));
  g.node("Shape", {"x"}, {"s"});
  g.node("Gather", {"s", "zero"}, {"n"}, {Attribute::make_int("axis", 0)});
  g.node("Unsqueeze", {"n", "axes0"}, {"n1"});
  g.node("Concat", {"n1", "minus1"}, {"shape"}, {Attribute::make_int("axis", 0)});
  g.node("Reshape", {"x", "shape"}, {"y"});
  g.output("y");
  Session s(g.build());
  const Tensor x = random_tensor({3, 2, 3, 4}, 4);
  const auto y = s.run({x});
  EXPECT_EQ(y[0].shape(), (Shape{3, 24}));
  EXPECT_EQ(s.plan_info({{3, 2, 3, 4}}).steps, 0u) << "a reshape is a view: no kernel";
  EXPECT_EQ(max_abs_diff(y[0], x.reshaped({3, 24})), 0.f);
}

TEST(Session, ExtraOutputsExposeIntermediates) {
  SessionOptions o;
  o.extra_outputs = {"r1"};
  Session s(residual_cnn(), o);
  ASSERT_EQ(s.outputs().size(), 3u);
  const auto y = s.run({random_tensor({1, 3, 20, 18}, 2)});
  EXPECT_EQ(y[2].shape(), (Shape{1, 8, 20, 18}));
  for (int64_t i = 0; i < y[2].numel(); ++i) ASSERT_GE(y[2].data<float>()[i], 0.f) << "r1 is a Relu output";
}

TEST(Session, FlattenOfChannelsLastFeedsGemmWithPermutedWeights) {
  // Conv -> Flatten -> Gemm (weights permuted, no transpose) and the flattened value also read by a
  // Relu and exposed as an output (those need the plain order: a conversion is inserted).
  for (int64_t trans_b : {0, 1}) {
    GraphBuilder g;
    g.input("x", {2, 3, 5, 4});
    g.random_init("w", {6, 3, 3, 3}).random_init("fc", trans_b ? Shape{7, 120} : Shape{120, 7}).random_init("fb", {7});
    g.node("Conv", {"x", "w"}, {"c"}, {Attribute::make_ints("pads", {1, 1, 1, 1})});
    g.node("Flatten", {"c"}, {"f"});
    g.node("Gemm", {"f", "fc", "fb"}, {"y"}, {Attribute::make_int("transB", trans_b)});
    g.node("Relu", {"f"}, {"fr"});
    g.output("y").output("fr").output("f");
    const Tensor x = random_tensor({2, 3, 5, 4}, 21);
    Session ref(g.build(), reference_options());
    Session fast(g.build());
    const auto want = ref.run({x});
    const auto got = fast.run({x});
    for (size_t i = 0; i < 3; ++i) EXPECT_LE(max_abs_diff(got[i], want[i]), 1e-5f) << "output " << i << " transB " << trans_b;
    bool permuted = false;
    for (const auto& l : fast.plan_info({{2, 3, 5, 4}}).step_labels) permuted = permuted || l.find("nhwc-permuted") != std::string::npos;
    EXPECT_TRUE(permuted);
  }
}

TEST(EvaluateNode, FoldsWithTheRuntimeKernels) {
  edgeq::onnx::Node n;
  n.op_type = "Mul";
  n.inputs = {"a", "b"};
  n.outputs = {"c"};
  const auto r = edgeq::runtime::evaluate_node(
      n, {Tensor::from_f32({2, 1}, std::vector<float>{2, 3}), Tensor::from_f32({3}, std::vector<float>{1, 10, 100})});
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ((*r)[0].shape(), (Shape{2, 3}));
  EXPECT_FLOAT_EQ((*r)[0].data<float>()[5], 300.f);
  n.op_type = "NoSuchOp";
  EXPECT_FALSE(edgeq::runtime::evaluate_node(n, {}).has_value());
}

// DynamicQuantizeLinear on lengths around the 8-wide range chains and the SIMD quantizer's vectors,
// against the ONNX definition written out: range [min(0, min x), max(0, max x)], scale = range / 255,
// zero point and values rounded half to even; the extremes placed at the very end and start.
TEST(DynamicQuantizeLinear, MatchesTheOnnxFormulaOnEveryLength) {
  for (int64_t n : {1, 7, 8, 9, 31, 64, 1568, 1571}) {
    for (int variant = 0; variant < 3; ++variant) {
      SCOPED_TRACE("n " + std::to_string(n) + " variant " + std::to_string(variant));
      GraphBuilder g;
      g.input("x", Shape{n});
      g.node("DynamicQuantizeLinear", {"x"}, {"y", "s", "z"});
      g.output("y", DType::kU8).output("s").output("z", DType::kU8);
      Session session(g.build());
      Tensor x = random_tensor({n}, static_cast<uint32_t>(n * 3 + variant), 2.f);
      float* xs = x.data<float>();
      if (variant == 1) xs[n - 1] = 9.5f;                              // the maximum in the tail
      if (variant == 2) for (int64_t i = 0; i < n; ++i) xs[i] = std::fabs(xs[i]) + 0.5f;  // all positive: min is 0
      float lo = 0.f, hi = 0.f;
      for (int64_t i = 0; i < n; ++i) lo = std::min(lo, xs[i]), hi = std::max(hi, xs[i]);
      const float scale = (hi - lo) / 255.f;
      const float zp = std::clamp(std::nearbyint(-lo / scale), 0.f, 255.f);
      const auto out = session.run({x});
      ASSERT_EQ(out.size(), 3u);
      EXPECT_EQ(out[1].data<float>()[0], scale);
      EXPECT_EQ(out[2].data<uint8_t>()[0], static_cast<uint8_t>(zp));
      for (int64_t i = 0; i < n; ++i) {
        const float q = std::clamp(std::nearbyint(xs[i] / scale) + zp, 0.f, 255.f);
        ASSERT_EQ(out[0].data<uint8_t>()[i], static_cast<uint8_t>(q)) << "element " << i << " = " << xs[i];
      }
    }
  }
}

// Dynamic int8's fully-connected layer as the quantizer writes it: DynamicQuantizeLinear, then
// MatMulInteger with constant symmetric s8 weights and the run-time zero point (the packed int8 path),
// against the definition computed here from the session's own quantized input: int32 sum of
// (y - zero point) * w. M and N around the 16-column panels, K odd.
TEST(MatMulInteger, PackedPathGivesTheIntegerSums) {
  for (int64_t m : {1, 3, 9}) {
    for (int64_t n : {1, 16, 35}) {
      const int64_t k = 37;
      SCOPED_TRACE("M " + std::to_string(m) + " N " + std::to_string(n));
      GraphBuilder g;
      g.input("x", Shape{m, k});
      Tensor w(DType::kI8, {k, n});
      std::mt19937 rng(static_cast<uint32_t>(m * 100 + n));
      for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
      Tensor wz(DType::kI8, {});
      wz.data<int8_t>()[0] = 0;
      g.init("w", w).init("wz", wz);
      g.node("DynamicQuantizeLinear", {"x"}, {"y", "s", "z"});
      g.node("MatMulInteger", {"y", "w", "z", "wz"}, {"acc"});
      g.output("acc", DType::kI32).output("y", DType::kU8).output("z", DType::kU8);
      Session session(g.build());
      const auto plan = session.plan_info({Shape{m, k}});
      bool packed = false;
      for (const auto& label : plan.step_labels) packed |= label.find("[int8 packed]") != std::string::npos;
      EXPECT_TRUE(packed) << "MatMulInteger with constant s8 weights should take the packed int8 kernel";
      const auto out = session.run({random_tensor({m, k}, static_cast<uint32_t>(m + n), 3.f)});
      const uint8_t* y = out[1].data<uint8_t>();
      const int32_t z = out[2].data<uint8_t>()[0];
      ASSERT_EQ(out[0].shape(), (Shape{m, n}));
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          int32_t want = 0;
          for (int64_t p = 0; p < k; ++p) want += (static_cast<int32_t>(y[i * k + p]) - z) * w.data<int8_t>()[p * n + j];
          ASSERT_EQ(out[0].data<int32_t>()[i * n + j], want) << "acc[" << i << "][" << j << "]";
        }
    }
  }
}

// A depthwise QLinearConv (group == channels) compiles to the int8 depthwise kernel, and gives the bits
// of the plain QLinearConv loops (channels_last off): 3x3 and 5x5, stride 1 and 2, asymmetric pads,
// channel counts off the vector widths, per-channel and per-tensor weight scales.
TEST(QLinearConv, DepthwiseTakesTheDepthwiseKernelWithThePlainBits) {
  struct Case {
    int64_t channels, kernel, stride;
    std::vector<int64_t> pads;
    bool per_channel;
  };
  const Case cases[] = {{35, 3, 1, {1, 1, 1, 1}, true}, {20, 5, 2, {2, 1, 1, 2}, false}, {96, 3, 2, {0, 1, 1, 0}, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE("C " + std::to_string(c.channels) + " k " + std::to_string(c.kernel) + " stride " + std::to_string(c.stride));
    const int64_t ch = c.channels, h = 13, w = 11;
    std::mt19937 rng(static_cast<uint32_t>(ch * 10 + c.kernel));
    auto scalar_f32 = [](float v) { return Tensor::from_f32({}, std::vector<float>{v}); };
    auto scalar_u8 = [](uint8_t v) {
      Tensor t(DType::kU8, {});
      t.data<uint8_t>()[0] = v;
      return t;
    };
    Tensor weight(DType::kI8, {ch, 1, c.kernel, c.kernel});
    for (int64_t i = 0; i < weight.numel(); ++i) weight.data<int8_t>()[i] = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
    const int64_t scales = c.per_channel ? ch : 1;
    std::vector<float> w_scale(static_cast<size_t>(scales));
    for (auto& v : w_scale) v = 0.002f + 0.001f * static_cast<float>(rng() % 10);
    Tensor w_zero(DType::kI8, {scales});  // zero-filled: symmetric weights
    Tensor bias(DType::kI32, {ch});
    for (int64_t i = 0; i < ch; ++i) bias.data<int32_t>()[i] = static_cast<int32_t>(rng() % 2001) - 1000;
    GraphBuilder g;
    g.input("x", Shape{1, ch, h, w}, DType::kU8);
    g.init("xs", scalar_f32(0.02f)).init("xz", scalar_u8(117)).init("w", weight);
    g.init("ws", Tensor::from_f32({scales}, w_scale)).init("wz", w_zero).init("ys", scalar_f32(0.05f));
    g.init("yz", scalar_u8(98)).init("b", bias);
    g.node("QLinearConv", {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"}, {"y"},
           {Attribute::make_int("group", ch), Attribute::make_ints("kernel_shape", {c.kernel, c.kernel}),
            Attribute::make_ints("strides", {c.stride, c.stride}), Attribute::make_ints("pads", c.pads)});
    g.output("y", DType::kU8);
    Session fast(g.build());
    SessionOptions plain_options;
    plain_options.channels_last = false;
    Session plain(g.build(), plain_options);
    const auto plan = fast.plan_info({Shape{1, ch, h, w}});
    std::string labels;
    for (const auto& l : plan.step_labels) labels += l + "\n";
    EXPECT_NE(labels.find("depthwise"), std::string::npos) << labels;
    Tensor x(DType::kU8, {1, ch, h, w});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<uint8_t>()[i] = static_cast<uint8_t>(rng() % 256);
    const Tensor a = fast.run({x})[0], b = plain.run({x})[0];
    ASSERT_EQ(a.shape(), b.shape());
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0) << "depthwise kernel differs from the plain QLinearConv";
  }
}

}  // namespace

// A constant read by a node that folds while the plan compiles (its other input is a Shape, known only
// then) and then by a node that runs: the second must not get the slot the folded node was given (retired
// with it). ShuffleNetV2's exported shape arithmetic did this and read a null pointer.
TEST(Session, ConstantReadByAFoldedNodeAndThenByARunningOne) {
  GraphBuilder g(13);
  g.input("x", {-1}, DType::kI64)  // open: Shape(x) is known to the plan compiler, not to the graph passes
      .init("c", Tensor::from_i64({1}, std::vector<int64_t>{2}))
      .node("Shape", {"x"}, {"n"})
      .node("Mul", {"n", "c"}, {"twice_n"})  // folds in the plan compiler: c's plain slot is made and retired
      .node("Mul", {"x", "c"}, {"scaled"})   // runs: reads c again
      .node("Add", {"scaled", "twice_n"}, {"y"})
      .output("y", DType::kI64);
  Session s(g.build());
  const auto y = s.run(std::vector<Tensor>{Tensor::from_i64({3}, std::vector<int64_t>{1, 10, 100})})[0];
  ASSERT_EQ(y.numel(), 3);
  EXPECT_EQ(y.data<int64_t>()[0], 1 * 2 + 6);
  EXPECT_EQ(y.data<int64_t>()[1], 10 * 2 + 6);
  EXPECT_EQ(y.data<int64_t>()[2], 100 * 2 + 6);
}

// DQ -> Conv -> LeakyRelu -> Q: the activation fusion gives the Conv a LeakyRelu epilogue, which the integer
// kernels cannot apply (their epilogue only clamps). The group must stay in float, not become a
// QLinearConv that drops the LeakyRelu (the negative outputs would lose their 0.1 factor).
TEST(Session, QdqConvWithAnActivationTheIntegerEpilogueLacksStaysFloat) {
  GraphBuilder g(13);
  auto scalar_f32 = [](float v) { return Tensor::from_f32({}, std::vector<float>{v}); };
  Tensor xz(DType::kU8, {}), yz(DType::kU8, {}), wq(DType::kI8, {4, 3, 3, 3}), wz(DType::kI8, {});
  xz.data<uint8_t>()[0] = 128;
  yz.data<uint8_t>()[0] = 200;  // room below zero for the LeakyRelu's negative side
  std::mt19937 rng(5);
  for (int64_t i = 0; i < wq.numel(); ++i) wq.data<int8_t>()[i] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  g.input("x", {1, 3, 6, 6})
      .init("xs", scalar_f32(0.02f)).init("xz", xz).init("w", wq).init("ws", scalar_f32(0.01f)).init("wz", wz)
      .init("ys", scalar_f32(0.01f)).init("yz", yz)
      .node("QuantizeLinear", {"x", "xs", "xz"}, {"xq"})
      .node("DequantizeLinear", {"xq", "xs", "xz"}, {"xd"})
      .node("DequantizeLinear", {"w", "ws", "wz"}, {"wd"})
      .node("Conv", {"xd", "wd"}, {"c"}, {Attribute::make_ints("pads", {1, 1, 1, 1})})
      .node("LeakyRelu", {"c"}, {"a"}, {Attribute::make_float("alpha", 0.1f)})
      .node("QuantizeLinear", {"a", "ys", "yz"}, {"yq"})
      .node("DequantizeLinear", {"yq", "ys", "yz"}, {"y"})
      .output("y");
  SessionOptions as_written;
  as_written.optimize = false;
  Session fused(g.build()), plain(g.build(), as_written);
  const Tensor x = random_tensor({1, 3, 6, 6}, 11, 1.f);
  const Tensor a = fused.run({x})[0], b = plain.run({x})[0];
  int negative = 0;
  for (int64_t i = 0; i < b.numel(); ++i) negative += b.data<float>()[i] < 0.f;
  ASSERT_GT(negative, 0) << "the case must have negative LeakyRelu outputs";
  EXPECT_LE(max_abs_diff(a, b), 0.0101f) << "more than one quantization step from the model as written";
}

// Conv -> Sigmoid -> Mul(conv, sigmoid) (EfficientNet's SiLU) runs as one Conv with a Silu epilogue, with the
// bits of the three nodes run one by one; a second reader of the Sigmoid keeps the nodes as they are.
TEST(Session, ConvSigmoidMulFusesIntoTheSiluEpilogue) {
  for (bool sigmoid_has_another_reader : {false, true}) {
    SCOPED_TRACE(sigmoid_has_another_reader ? "sigmoid read twice" : "plain SiLU");
    GraphBuilder g(13);
    g.input("x", {1, 8, 9, 9}).random_init("w", {24, 8, 3, 3}).random_init("b", {24})
        .node("Conv", {"x", "w", "b"}, {"c"}, {Attribute::make_ints("pads", {1, 1, 1, 1})})
        .node("Sigmoid", {"c"}, {"s"})
        .node("Mul", {"s", "c"}, {"y"})
        .output("y");
    if (sigmoid_has_another_reader) g.node("Neg", {"s"}, {"z"}).output("z");
    SessionOptions as_written;
    as_written.optimize = false;
    Session fused(g.build()), plain(g.build(), as_written);
    std::string labels;
    for (const auto& l : fused.plan_info({Shape{1, 8, 9, 9}}).step_labels) labels += l + "\n";
    EXPECT_EQ(labels.find("silu") != std::string::npos, !sigmoid_has_another_reader) << labels;
    EXPECT_EQ(labels.find("Sigmoid") == std::string::npos, !sigmoid_has_another_reader) << labels;
    const Tensor x = random_tensor({1, 8, 9, 9}, 3, 2.f);
    const Tensor a = fused.run({x})[0], b = plain.run({x})[0];
    EXPECT_LE(max_abs_diff(a, b), 1e-5f);
  }
}

// A 3x3 conv runs the Winograd transform its map size calls for (F(4x4, 3x3) at 24x24, F(2x2, 3x3) at
// 12x12, direct at 8x8; the plan's label says which), with the outputs of the graph run as written.
TEST(Session, ConvWinogradTileFollowsTheMapSize) {
  const std::pair<int64_t, const char*> cases[] = {{24, "winograd 4x4"}, {12, "winograd 2x2"}, {8, nullptr}};
  for (const auto& [hw, note] : cases) {
    SCOPED_TRACE(std::to_string(hw) + "x" + std::to_string(hw));
    GraphBuilder g(13);
    g.input("x", {1, 32, hw, hw}).random_init("w", {40, 32, 3, 3}).random_init("b", {40})
        .node("Conv", {"x", "w", "b"}, {"c"}, {Attribute::make_ints("pads", {1, 1, 1, 1})})
        .node("Relu", {"c"}, {"y"})
        .output("y");
    SessionOptions as_written;
    as_written.optimize = false;
    Session fused(g.build()), plain(g.build(), as_written);
    std::string labels;
    for (const auto& l : fused.plan_info({Shape{1, 32, hw, hw}}).step_labels) labels += l + "\n";
    if (note) {
      EXPECT_NE(labels.find(note), std::string::npos) << labels;
    } else {
      EXPECT_EQ(labels.find("winograd"), std::string::npos) << labels;
    }
    const Tensor x = random_tensor({1, 32, hw, hw}, 7, 1.f);
    EXPECT_LE(max_abs_diff(fused.run({x})[0], plain.run({x})[0]), 1e-4f);
  }
}

// MobileNetV2's inverted residual: 1x1 expand (Clip 0..6) -> depthwise KxK (Relu) -> 1x1 project, its first
// block's RGB stem (3x3 stride 2, padded) -> depthwise -> project, and the two-stage chains, on maps large
// enough to run depth-first (one step, strips of fewer rows than the map;
// the label says so). Outputs equal, to the bit, the same plan with the chain's intermediate values
// exposed (which keeps every conv a step of its own): stride 1 and 2, 3x3 and 5x5, uneven pads, batch 2,
// 1-3 threads (task splits inside an image and across images). A wrong strip origin, overlap or pad fails it.
TEST(Session, InvertedResidualRunsDepthFirstWithTheLayerByLayerBits) {
  struct Case {
    const char* name;
    bool expand, project;
    int64_t k, stride;
    std::vector<int64_t> pads;  // top, left, bottom, right
    int64_t n, h, w;  // the first conv's input map
    int threads;
    bool stem = false;  // the first conv: 3 channels, 3x3 stride 2, pads 1 (else 8 channels, 1x1)
  };
  const Case cases[] = {
      {"expand dw project, 3x3 s1", true, true, 3, 1, {1, 1, 1, 1}, 1, 48, 121, 1},
      {"expand dw project, 3x3 s2, batch 2, 3 threads", true, true, 3, 2, {1, 1, 1, 1}, 2, 47, 118, 3},
      {"expand dw project, 5x5 s2 uneven pads", true, true, 5, 2, {1, 2, 2, 1}, 1, 61, 120, 2},
      {"expand dw, 5x5 s1", true, false, 5, 1, {2, 2, 2, 2}, 2, 45, 119, 2},
      {"dw project, 3x3 s1, no top pad", false, true, 3, 1, {0, 1, 2, 1}, 2, 49, 124, 3},
      {"stem dw project, batch 2, 3 threads", true, true, 3, 1, {1, 1, 1, 1}, 2, 97, 241, 3, true},
  };
  constexpr int64_t kExp = 64, kOut = 24;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    GraphBuilder g(13);
    const int64_t cin = !c.expand ? kExp : (c.stem ? 3 : 8);
    g.input("x", {c.n, cin, c.h, c.w});
    std::string v = "x";
    std::vector<std::string> intermediates;
    auto scalar = [](float f) { return Tensor::from_f32({}, std::vector<float>{f}); };
    if (c.expand) {
      const int64_t ek = c.stem ? 3 : 1;
      g.random_init("we", {kExp, cin, ek, ek}).random_init("be", {kExp}).init("lo", scalar(0.f)).init("hi", scalar(6.f))
          .node("Conv", {v, "we", "be"}, {"e0"},
                {Attribute::make_ints("pads", std::vector<int64_t>(4, ek / 2)), Attribute::make_ints("strides", {ek / 2 + 1, ek / 2 + 1})})
          .node("Clip", {"e0", "lo", "hi"}, {"e"});
      v = "e";
      intermediates.push_back(v);
    }
    g.random_init("wd", {kExp, 1, c.k, c.k}).random_init("bd", {kExp})
        .node("Conv", {v, "wd", "bd"}, {"d0"},
              {Attribute::make_int("group", kExp), Attribute::make_ints("pads", c.pads),
               Attribute::make_ints("strides", {c.stride, c.stride})})
        .node("Relu", {"d0"}, {"d"});
    v = "d";
    if (c.project) {
      intermediates.push_back(v);
      g.random_init("wp", {kOut, kExp, 1, 1}).random_init("bp", {kOut}).node("Conv", {v, "wp", "bp"}, {"y"});
      v = "y";
    }
    g.output(v);
    SessionOptions fused_options, layered_options, as_written;
    fused_options.threads = layered_options.threads = c.threads;
    layered_options.extra_outputs = intermediates;
    as_written.optimize = false;
    Session fused(g.build(), fused_options), layered(g.build(), layered_options), plain(g.build(), as_written);
    const Shape shape{c.n, cin, c.h, c.w};
    const auto fused_labels = fused.plan_info({shape}).step_labels;
    std::string chain;
    for (const auto& l : fused_labels)
      if (l.find("depth-first") != std::string::npos) chain = l;
    std::string all;
    for (const auto& l : fused_labels) all += l + "\n";
    ASSERT_FALSE(chain.empty()) << "no depth-first step:\n" << all;
    const size_t stages = std::count(chain.begin(), chain.end(), '+') + 1;
    EXPECT_EQ(stages, intermediates.size() + 1) << chain;
    const int64_t dw_in_h = c.stem ? (c.h - 1) / 2 + 1 : c.h;
    const int64_t out_h = (dw_in_h + c.pads[0] + c.pads[2] - c.k) / c.stride + 1;
    const int64_t strip = std::stoll(chain.substr(chain.find("depth-first, ") + 13));
    EXPECT_LT(strip * c.threads, c.n * out_h) << "the tasks should run several strips: " << chain;
    for (const auto& l : layered.plan_info({shape}).step_labels) EXPECT_EQ(l.find("depth-first"), std::string::npos) << l;
    const Tensor x = random_tensor(shape, 17, 1.f);
    const Tensor a = fused.run({x})[0], b = layered.run({x})[0];
    ASSERT_EQ(a.shape(), b.shape());
    EXPECT_EQ(max_abs_diff(a, b), 0.f);
    EXPECT_LE(max_abs_diff(a, plain.run({x})[0]), 1e-4f);
  }
}

// Squeeze-excitation: x -> GlobalAveragePool -> Conv -> Relu -> Conv -> Sigmoid/HardSigmoid = s, then
// Mul(x, s) read by a Conv: the Conv takes s (its label says onto which copy: the weights when they are
// smaller than the image, else the image, and always for Winograd-sized 3x3s), no Mul step is left, and
// the outputs are the unfused graph's (NHWC and plain NCHW, batch 2, a one-channel scale, either operand
// order). A Mul read twice, or a scale not from a global pool (a constant), stays a Mul.
TEST(Session, SqueezeExcitationScaleFusesIntoTheConvThatReadsIt) {
  struct Case {
    const char* name;
    int64_t n, c, hw, m, k, scale_channels;
    bool swapped, hard, mul_read_twice, constant_scale;
    const char* note;  // expected in the Conv's label; nullptr: no fusion
  };
  const Case cases[] = {
      {"large map", 2, 16, 12, 8, 1, 16, false, false, false, false, "scaled weights"},
      {"small map", 1, 64, 3, 96, 1, 64, true, true, false, false, "scaled input"},
      {"one scale channel", 2, 16, 10, 24, 1, 1, false, false, false, false, "scaled weights"},
      {"winograd 3x3", 1, 32, 12, 32, 3, 32, false, false, false, false, "scaled input"},
      {"mul read twice", 1, 16, 8, 8, 1, 16, false, false, true, false, nullptr},
      {"constant scale", 1, 16, 8, 8, 1, 16, false, false, false, true, nullptr},
  };
  for (const Case& c : cases) {
    for (bool channels_last : {true, false}) {
      SCOPED_TRACE(std::string(c.name) + (channels_last ? " nhwc" : " nchw"));
      GraphBuilder g(13);
      g.input("x", {c.n, c.c, c.hw, c.hw});
      if (c.constant_scale) {
        g.random_init("s", {1, c.c, 1, 1});
      } else {
        g.random_init("w1", {4, c.c, 1, 1}).random_init("b1", {4}).random_init("w2", {c.scale_channels, 4, 1, 1})
            .node("GlobalAveragePool", {"x"}, {"gap"})
            .node("Conv", {"gap", "w1", "b1"}, {"r0"})
            .node("Relu", {"r0"}, {"r1"})
            .node("Conv", {"r1", "w2"}, {"r2"})
            .node(c.hard ? "HardSigmoid" : "Sigmoid", {"r2"}, {"s"});
      }
      g.node("Mul", c.swapped ? std::vector<std::string>{"s", "x"} : std::vector<std::string>{"x", "s"}, {"xs"})
          .random_init("w", {c.m, c.c, c.k, c.k}).random_init("b", {c.m})
          .node("Conv", {"xs", "w", "b"}, {"y"}, {Attribute::make_ints("pads", std::vector<int64_t>(4, c.k / 2))})
          .output("y");
      if (c.mul_read_twice) g.node("Neg", {"xs"}, {"z"}).output("z");
      SessionOptions fused_options, as_written;
      fused_options.channels_last = channels_last;
      as_written.optimize = false;
      Session fused(g.build(), fused_options), plain(g.build(), as_written);
      std::string labels;
      for (const auto& l : fused.plan_info({Shape{c.n, c.c, c.hw, c.hw}}).step_labels) labels += l + "\n";
      const std::string note = c.note ? (channels_last ? c.note : "scaled input") : "scaled";
      EXPECT_EQ(labels.find(note) != std::string::npos, c.note != nullptr) << labels;
      EXPECT_EQ(labels.find("Mul") == std::string::npos, c.note != nullptr) << labels;
      const Tensor x = random_tensor({c.n, c.c, c.hw, c.hw}, 5, 2.f);
      const Tensor a = fused.run({x})[0], b = plain.run({x})[0];
      EXPECT_LE(max_abs_diff(a, b), 2e-5f * static_cast<float>(c.c * c.k * c.k));
    }
  }
}

// DQ -> Sigmoid / Tanh [-> Mul with the DQ's output: SiLU, either operand order] -> Q becomes one
// QLinearLookup node whose bytes are the chain's (the table is the chain's kernels on the 256 codes), also
// between two integer convs (NHWC); a second reader of the Sigmoid keeps the chain in float, a second
// reader of the DQ's output keeps the DQ.
TEST(Session, QdqSigmoidChainsRunAsOneLookupWithTheChainsBytes) {
  struct Case {
    const char* name;
    const char* f;
    int mul;  // 0: none, 1: Mul(xd, s), 2: Mul(s, xd)
    bool convs, sigmoid_read_twice, dq_read_twice;
  };
  const Case cases[] = {{"sigmoid", "Sigmoid", 0, false, false, false}, {"tanh", "Tanh", 0, false, false, false},
                        {"silu", "Sigmoid", 1, false, false, false},    {"silu swapped", "Sigmoid", 2, false, false, false},
                        {"silu between convs", "Sigmoid", 1, true, false, false},
                        {"sigmoid read twice", "Sigmoid", 1, false, true, false},
                        {"dq read twice", "Sigmoid", 1, false, false, true}};
  auto scalar_f32 = [](float v) { return Tensor::from_f32({}, std::vector<float>{v}); };
  auto u8 = [](uint8_t v) {
    Tensor t(DType::kU8, {});
    t.data<uint8_t>()[0] = v;
    return t;
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    GraphBuilder g(13);
    g.input("x", {1, 8, 5, 7}).init("xs", scalar_f32(0.05f)).init("xz", u8(128)).init("ys", scalar_f32(0.021f)).init("yz", u8(40));
    g.node("QuantizeLinear", {"x", "xs", "xz"}, {"xq"});
    std::string in = "xq";
    if (c.convs) {
      Tensor w(DType::kI8, {8, 8, 3, 3}), wz(DType::kI8, {});
      std::mt19937 rng(21);
      for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
      g.init("w", w).init("ws", scalar_f32(0.004f)).init("wz", wz)
          .node("DequantizeLinear", {"xq", "xs", "xz"}, {"x0"})
          .node("DequantizeLinear", {"w", "ws", "wz"}, {"wd"})
          .node("Conv", {"x0", "wd"}, {"c0"}, {Attribute::make_ints("pads", {1, 1, 1, 1})})
          .node("QuantizeLinear", {"c0", "xs", "xz"}, {"c0q"});
      in = "c0q";
    }
    g.node("DequantizeLinear", {in, "xs", "xz"}, {"xd"}).node(c.f, {"xd"}, {"s"});
    std::string pre_q = "s";
    if (c.mul) {
      g.node("Mul", c.mul == 1 ? std::vector<std::string>{"xd", "s"} : std::vector<std::string>{"s", "xd"}, {"m"});
      pre_q = "m";
    }
    g.node("QuantizeLinear", {pre_q, "ys", "yz"}, {"yq"});
    if (c.convs) {
      g.node("DequantizeLinear", {"yq", "ys", "yz"}, {"y0"})
          .node("Conv", {"y0", "wd"}, {"c1"}, {Attribute::make_ints("pads", {1, 1, 1, 1})})
          .node("QuantizeLinear", {"c1", "xs", "xz"}, {"c1q"})
          .node("DequantizeLinear", {"c1q", "xs", "xz"}, {"y"});
    } else {
      g.node("DequantizeLinear", {"yq", "ys", "yz"}, {"y"});
    }
    g.output("y");
    if (c.sigmoid_read_twice) g.node("Neg", {"s"}, {"z"}).output("z");
    if (c.dq_read_twice) g.node("Neg", {"xd"}, {"z"}).output("z");
    SessionOptions as_written;
    as_written.optimize = false;
    Session fused(g.build()), plain(g.build(), as_written);
    std::string labels = "\n";
    for (const auto& l : fused.plan_info({Shape{1, 8, 5, 7}}).step_labels) labels += l + "\n";
    const bool fuses = !c.sigmoid_read_twice;
    EXPECT_EQ(labels.find("QLinearLookup") != std::string::npos, fuses) << labels;
    EXPECT_EQ(labels.find("\n" + std::string(c.f) + " '") == std::string::npos, fuses) << labels;
    if (c.convs) {
      const size_t at = labels.find("QLinearLookup");
      EXPECT_NE(labels.find("[int8 nhwc]", at), std::string::npos) << labels;
    }
    if (c.dq_read_twice) {
      EXPECT_NE(labels.find("DequantizeLinear"), std::string::npos) << labels;
    }
    const Tensor x = random_tensor({1, 8, 5, 7}, 17, 6.f);
    const auto a = fused.run({x}), b = plain.run({x});
    ASSERT_EQ(a.size(), b.size());
    for (size_t o = 0; o < a.size(); ++o) EXPECT_EQ(max_abs_diff(a[o], b[o]), 0.f) << "output " << o;
    std::set<float> distinct(b[0].data<float>(), b[0].data<float>() + b[0].numel());
    EXPECT_GT(distinct.size(), 20u) << "the case must reach many codes";
  }
}

// DQ(x), DQ(W), DQ(bias) -> Gemm with no QuantizeLinear after it (the classifier when the logits stay
// float): a QGemm with float output on the packed int8 kernel (int8 weights: a quarter of the bytes to
// stream), within float rounding of the graph run as written.
TEST(Session, QdqGemmWithFloatOutputRunsOnTheInt8Kernel) {
  const int64_t m = 3, k = 70, n = 37;
  GraphBuilder g(13);
  auto scalar_f32 = [](float v) { return Tensor::from_f32({}, std::vector<float>{v}); };
  Tensor xz(DType::kU8, {}), wq(DType::kI8, {n, k}), wz(DType::kI8, {n}), bq(DType::kI32, {n});
  xz.data<uint8_t>()[0] = 120;
  std::mt19937 rng(9);
  for (int64_t i = 0; i < wq.numel(); ++i) wq.data<int8_t>()[i] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  for (int64_t i = 0; i < n; ++i) bq.data<int32_t>()[i] = static_cast<int32_t>(rng() % 4001) - 2000;
  std::vector<float> ws(static_cast<size_t>(n)), bs(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    ws[i] = 0.001f + 0.0005f * static_cast<float>(rng() % 8);
    bs[i] = 0.03f * ws[i];  // bias scale = x scale * w scale, as quantizers write it
  }
  g.input("x", {m, k})
      .init("xs", scalar_f32(0.03f)).init("xz", xz).init("w", wq).init("ws", Tensor::from_f32({n}, ws)).init("wz", wz)
      .init("b", bq).init("bs", Tensor::from_f32({n}, bs))
      .node("QuantizeLinear", {"x", "xs", "xz"}, {"xq"})
      .node("DequantizeLinear", {"xq", "xs", "xz"}, {"xd"})
      .node("DequantizeLinear", {"w", "ws", "wz"}, {"wd"}, {Attribute::make_int("axis", 0)})
      .node("DequantizeLinear", {"b", "bs"}, {"bd"}, {Attribute::make_int("axis", 0)})
      .node("Gemm", {"xd", "wd", "bd"}, {"y"}, {Attribute::make_int("transB", 1)})
      .output("y");
  SessionOptions as_written;
  as_written.optimize = false;
  Session fused(g.build()), plain(g.build(), as_written);
  std::string labels;
  for (const auto& l : fused.plan_info({Shape{m, k}}).step_labels) labels += l + "\n";
  EXPECT_NE(labels.find("int8 packed, float out"), std::string::npos) << labels;
  const Tensor x = random_tensor({m, k}, 21, 2.f);
  const Tensor a = fused.run({x})[0], b = plain.run({x})[0];
  float peak = 0.f;
  for (int64_t i = 0; i < b.numel(); ++i) peak = std::max(peak, std::fabs(b.data<float>()[i]));
  ASSERT_GT(peak, 0.1f);
  EXPECT_LE(max_abs_diff(a, b), 1e-5f * peak) << "beyond float rounding of the as-written graph";
}

// ConvTranspose with constant weights (2-D, group 1) runs as a channels-last gemm + scatter; with the
// weights fed as an input it runs the reference loop. Both on the same numbers: strides 1-3, kernels
// 1x1-4x4, pads, output_padding, dilations, auto_pad, output_shape, with and without bias, channel
// counts around the 16-wide panels, batch 2, 1 and 3 threads, a product block smaller than the image.
TEST(Session, ConvTransposeGemmPathMatchesTheReferenceLoop) {
  struct Case {
    int64_t cin, cout, h, w, k;
    std::vector<Attribute> attrs;
    bool bias;
  };
  const std::vector<Case> cases = {
      {16, 8, 6, 7, 2, {Attribute::make_ints("strides", {2, 2})}, true},
      {5, 17, 5, 4, 3, {Attribute::make_ints("strides", {2, 2}), Attribute::make_ints("pads", {1, 1, 1, 1}),
                        Attribute::make_ints("output_padding", {1, 1})}, false},
      {33, 3, 4, 6, 4, {Attribute::make_ints("strides", {2, 2}), Attribute::make_ints("pads", {1, 2, 1, 0})}, true},
      {7, 9, 5, 5, 3, {Attribute::make_ints("dilations", {2, 1}), Attribute::make_ints("pads", {0, 1, 2, 1})}, true},
      {8, 40, 3, 5, 3, {Attribute::make_ints("strides", {3, 2}), Attribute::make_string("auto_pad", "SAME_UPPER")}, true},
      {4, 6, 4, 4, 3, {Attribute::make_ints("strides", {2, 2}), Attribute::make_ints("output_shape", {8, 9})}, false},
      {12, 16, 9, 8, 1, {}, true},
      // 64 x 64 input pixels with 4 * 64 products each: more than one product block per image.
      {24, 64, 64, 64, 2, {Attribute::make_ints("strides", {2, 2})}, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const Tensor w = random_tensor({c.cin, c.cout, c.k, c.k}, 101 + static_cast<uint32_t>(i), 0.3f);
    const Tensor bias = random_tensor({c.cout}, 201 + static_cast<uint32_t>(i), 0.5f);
    auto build = [&](bool constant_weights) {
      GraphBuilder g;
      g.input("x", Shape{2, c.cin, c.h, c.w});
      std::vector<std::string> ins = {"x", "w"};
      if (constant_weights) {
        g.init("w", w);
      } else {
        g.input("w", Shape{c.cin, c.cout, c.k, c.k});
      }
      if (c.bias) {
        g.init("b", bias);
        ins.push_back("b");
      }
      g.node("ConvTranspose", ins, {"y"}, c.attrs, "up").output("y");
      return g;
    };
    const Tensor x = random_tensor({2, c.cin, c.h, c.w}, 11 + static_cast<uint32_t>(i));
    const GraphBuilder constant = build(true);
    Session reference(build(false).build());
    const Tensor want = reference.run(std::vector<Tensor>{x, w})[0];
    bool reference_loop = true;
    for (const auto& l : reference.plan_info({x.shape(), w.shape()}).step_labels)
      reference_loop = reference_loop && l.find("gemm") == std::string::npos;
    EXPECT_TRUE(reference_loop) << "case " << i;
    for (int threads : {1, 3}) {
      SessionOptions o;
      o.threads = threads;
      Session fast(constant.build(), o);
      bool gemm = false;
      for (const auto& l : fast.plan_info({x.shape()}).step_labels) gemm = gemm || l.find("gemm") != std::string::npos;
      EXPECT_TRUE(gemm) << "case " << i;
      const Tensor got = fast.run({x})[0];
      ASSERT_EQ(got.shape(), want.shape()) << "case " << i;
      EXPECT_LT(max_abs_diff(got, want), 1e-4f) << "case " << i << ", " << threads << " threads";
    }
  }
}


// Resize of a channels-last image in height and width runs per output pixel over channel rows
// (ResizeNhwcKernel); the plain reference plan runs the general gather. Nearest (every nearest_mode),
// linear and cubic, up and down, scales and sizes, several coordinate modes, batch 2, 1 and 3 threads.
TEST(Session, ChannelsLastResizeMatchesThePlainGather) {
  struct Case {
    std::string mode, ctm, nearest;
    std::vector<float> scales;
    std::vector<int64_t> sizes;
    bool channels_last = true;  // false: the channel dim is remapped too, the general gather must run
  };
  const std::vector<Case> cases = {
      {"nearest", "asymmetric", "floor", {1, 1, 2, 2}, {}},
      {"nearest", "half_pixel", "round_prefer_floor", {1, 1, 3, 1.5f}, {}},
      {"nearest", "align_corners", "round_prefer_ceil", {}, {2, 5, 7, 11}},
      {"nearest", "tf_half_pixel_for_nn", "round_prefer_floor", {1, 1, 0.5f, 0.6f}, {}},
      // Channel c reads channel c + 1 here ((c + 0.5) rounded up): not a height/width resize.
      {"nearest", "tf_half_pixel_for_nn", "ceil", {1, 1, 0.5f, 0.6f}, {}, false},
      {"linear", "half_pixel", "", {1, 1, 2, 2}, {}},
      {"linear", "align_corners", "", {}, {2, 5, 13, 4}},
      {"linear", "pytorch_half_pixel", "", {1, 1, 0.5f, 1.7f}, {}},
      {"cubic", "asymmetric", "", {1, 1, 1.5f, 2.5f}, {}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    GraphBuilder g;
    add_channels_last_value(g, 9, 8, 5);
    g.init("roi", Tensor::from_f32({0}, {}));
    std::vector<std::string> ins = {"c", "roi"};
    if (!c.scales.empty()) {
      g.init("scales", Tensor::from_f32({4}, c.scales));
      ins.push_back("scales");
    } else {
      g.init("scales", Tensor::from_f32({0}, {}));
      g.init("sizes", Tensor::from_i64({4}, c.sizes));
      ins.push_back("scales");
      ins.push_back("sizes");
    }
    std::vector<Attribute> attrs = {Attribute::make_string("mode", c.mode), Attribute::make_string("coordinate_transformation_mode", c.ctm)};
    if (!c.nearest.empty()) attrs.push_back(Attribute::make_string("nearest_mode", c.nearest));
    g.node("Resize", ins, {"y"}, attrs, "up").output("y");
    const Tensor x = random_tensor({2, 3, 9, 8}, 31 + static_cast<uint32_t>(i));
    Session ref(g.build(), reference_options());
    const Tensor want = ref.run({x})[0];
    for (int threads : {1, 3}) {
      SessionOptions o;
      o.threads = threads;
      Session fast(g.build(), o);
      bool nhwc = false;
      for (const auto& l : fast.plan_info({x.shape()}).step_labels)
        nhwc = nhwc || (l.find("Resize") != std::string::npos && l.find("[nhwc]") != std::string::npos);
      EXPECT_EQ(nhwc, c.channels_last) << "case " << i;
      const Tensor got = fast.run({x})[0];
      ASSERT_EQ(got.shape(), want.shape()) << "case " << i;
      EXPECT_LT(max_abs_diff(got, want), 1e-5f) << "case " << i << ", " << threads << " threads";
    }
  }
}

// Pad of a channels-last value stays channels-last (the rows of the NHWC order, channel pads included);
// the plain reference plan pads NCHW. Constant (with a run-time fill value and with negative pads),
// edge and reflect modes, pads on every dim, batch 2.
TEST(Session, ChannelsLastPadMatchesThePlainPad) {
  struct Case {
    std::string mode;
    std::vector<int64_t> pads;  // begin N C H W, end N C H W
    bool runtime_value;
  };
  const std::vector<Case> cases = {
      {"constant", {0, 0, 0, 0, 0, 4, 0, 0}, false},   // BlazeFace: channels 5 -> 9
      {"constant", {0, 2, 1, 0, 0, 1, 0, 3}, true},    // a fill value fed at run time
      {"constant", {1, 0, -1, 2, 0, 3, 2, -2}, false}, // batch padded, rows and columns cropped
      {"edge", {0, 1, 2, 1, 0, 0, 1, 2}, false},
      {"reflect", {0, 2, 3, 1, 0, 1, 2, 3}, false},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    GraphBuilder g;
    add_channels_last_value(g, 7, 6, 5);
    g.init("pads", Tensor::from_i64({8}, c.pads));
    std::vector<std::string> ins = {"c", "pads"};
    std::vector<Tensor> feed = {random_tensor({2, 3, 7, 6}, 41 + static_cast<uint32_t>(i))};
    if (c.runtime_value) {
      g.input("v", Shape{});
      ins.push_back("v");
      feed.push_back(Tensor::from_f32({}, std::vector<float>{2.5f}));
    }
    g.node("Pad", ins, {"y"}, {Attribute::make_string("mode", c.mode)}, "pad").output("y");
    Session ref(g.build(), reference_options());
    const Tensor want = ref.run(feed)[0];
    Session fast(g.build());
    std::vector<Shape> shapes;
    for (const auto& t : feed) shapes.push_back(t.shape());
    bool nhwc = false;
    for (const auto& l : fast.plan_info(shapes).step_labels) nhwc = nhwc || (l.find("Pad") != std::string::npos && l.find("[nhwc]") != std::string::npos);
    EXPECT_TRUE(nhwc) << "case " << i;
    const Tensor got = fast.run(feed)[0];
    ASSERT_EQ(got.shape(), want.shape()) << "case " << i;
    EXPECT_LT(max_abs_diff(got, want), 1e-5f) << "case " << i;
  }
}

// LSTM, GRU and RNN with constant weights run x W^T and h R^T on the packed gemm kernels; with the
// weights fed as inputs, the reference's double sums. Both on the same numbers: forward, reverse,
// bidirectional, batch-first layout, sequence_lens, initial states, peepholes, clip, no bias, GRU with
// and without linear_before_reset.
TEST(Session, PackedRecurrentLayersMatchTheReferenceSums) {
  struct Case {
    std::string op, direction;
    int64_t layout;
    bool bias, lens, states, peepholes;
    float clip;
    int64_t linear_before_reset = 0;
  };
  const std::vector<Case> cases = {
      {"LSTM", "forward", 0, true, false, false, false, 0.f},
      {"LSTM", "bidirectional", 0, true, true, true, true, 0.f},
      {"LSTM", "reverse", 1, false, false, true, false, 0.5f},
      {"RNN", "bidirectional", 0, true, true, true, false, 0.f},
      {"RNN", "forward", 1, false, false, false, false, 0.f},
      {"GRU", "bidirectional", 0, true, true, true, false, 0.f, 0},
      {"GRU", "forward", 1, true, false, true, false, 0.f, 1},
      {"GRU", "reverse", 0, false, false, false, false, 0.f, 0},
  };
  const int64_t seq = 7, batch = 3, input = 20, hidden = 17;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const int64_t dirs = c.direction == "bidirectional" ? 2 : 1, gates = c.op == "LSTM" ? 4 : c.op == "GRU" ? 3 : 1;
    const uint32_t seed = 300 + 10 * static_cast<uint32_t>(i);
    const Shape xs = c.layout ? Shape{batch, seq, input} : Shape{seq, batch, input};
    const Shape ss = c.layout ? Shape{batch, dirs, hidden} : Shape{dirs, batch, hidden};
    const Tensor w = random_tensor({dirs, gates * hidden, input}, seed, 0.3f), r = random_tensor({dirs, gates * hidden, hidden}, seed + 1, 0.3f);
    const Tensor bias = random_tensor({dirs, 2 * gates * hidden}, seed + 2, 0.3f), p = random_tensor({dirs, 3 * hidden}, seed + 3, 0.3f);
    const Tensor h0 = random_tensor(ss, seed + 4), c0 = random_tensor(ss, seed + 5);
    const Tensor lens = Tensor::from_i64({batch}, std::vector<int64_t>{7, 4, 6});
    const Tensor x = random_tensor(xs, seed + 6);
    auto build = [&](bool constant) {
      GraphBuilder g;
      g.input("x", xs);
      if (constant) {
        g.init("w", w).init("r", r);
        if (c.bias) g.init("b", bias);
        if (c.peepholes) g.init("p", p);
      } else {
        g.input("w", w.shape()).input("r", r.shape());
        if (c.bias) g.input("b", bias.shape());
        if (c.peepholes) g.input("p", p.shape());
      }
      if (c.lens) g.init("lens", lens);
      if (c.states) g.init("h0", h0).init("c0", c0);
      std::vector<std::string> ins = {"x", "w", "r", c.bias ? "b" : "", c.lens ? "lens" : "", c.states ? "h0" : ""};
      if (c.op == "LSTM") {
        ins.push_back(c.states ? "c0" : "");
        ins.push_back(c.peepholes ? "p" : "");
      }
      while (!ins.empty() && ins.back().empty()) ins.pop_back();
      std::vector<Attribute> attrs = {Attribute::make_int("hidden_size", hidden), Attribute::make_string("direction", c.direction),
                                      Attribute::make_int("layout", c.layout)};
      if (c.clip > 0) attrs.push_back(Attribute::make_float("clip", c.clip));
      if (c.op == "GRU") attrs.push_back(Attribute::make_int("linear_before_reset", c.linear_before_reset));
      g.node(c.op, ins, {"y", "y_h"}, attrs, "rnn").output("y").output("y_h");
      return g;
    };
    std::vector<Tensor> ref_feed = {x, w, r};
    if (c.bias) ref_feed.push_back(bias);
    if (c.peepholes) ref_feed.push_back(p);
    Session reference(build(false).build());
    Session packed(build(true).build());
    bool uses_gemm = false;
    for (const auto& l : packed.plan_info({x.shape()}).step_labels) uses_gemm = uses_gemm || l.find("[packed gemm]") != std::string::npos;
    EXPECT_TRUE(uses_gemm) << "case " << i;
    const auto want = reference.run(ref_feed);
    const auto got = packed.run(std::vector<Tensor>{x});
    ASSERT_EQ(got.size(), 2u);
    for (size_t o = 0; o < 2; ++o) {
      ASSERT_EQ(got[o].shape(), want[o].shape()) << "case " << i;
      EXPECT_LT(max_abs_diff(got[o], want[o]), 1e-5f) << "case " << i << ", output " << o;
    }
  }
}

// ReduceMean over height and width of a channels-last value runs GlobalAveragePool's NHWC kernel
// (keepdims 1 and 0, axes as an attribute and as an input, negative axes); other axes keep the
// general reduction. Against the plain reference plan.
TEST(Session, SpatialReduceMeanOfChannelsLastUsesThePoolKernel) {
  struct Case {
    int64_t opset;
    std::vector<int64_t> axes;
    int64_t keepdims;
    bool pool_kernel;
  };
  const std::vector<Case> cases = {{13, {2, 3}, 0, true}, {13, {-1, -2}, 1, true}, {18, {2, 3}, 0, true}, {13, {1, 2}, 1, false}};
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    GraphBuilder g(c.opset);
    add_channels_last_value(g, 7, 6, 20);
    std::vector<Attribute> attrs = {Attribute::make_int("keepdims", c.keepdims)};
    std::vector<std::string> ins = {"c"};
    if (c.opset >= 18) {
      g.init("axes", Tensor::from_i64({static_cast<int64_t>(c.axes.size())}, c.axes));
      ins.push_back("axes");
    } else {
      attrs.push_back(Attribute::make_ints("axes", c.axes));
    }
    g.node("ReduceMean", ins, {"y"}, attrs, "mean").output("y");
    const Tensor x = random_tensor({2, 3, 7, 6}, 51 + static_cast<uint32_t>(i));
    Session ref(g.build(), reference_options());
    Session fast(g.build());
    bool pool = false;
    for (const auto& l : fast.plan_info({x.shape()}).step_labels) pool = pool || (l.find("ReduceMean") != std::string::npos && l.find("[nhwc]") != std::string::npos);
    EXPECT_EQ(pool, c.pool_kernel) << "case " << i;
    const Tensor want = ref.run({x})[0], got = fast.run({x})[0];
    ASSERT_EQ(got.shape(), want.shape()) << "case " << i;
    EXPECT_LT(max_abs_diff(got, want), 1e-5f) << "case " << i;
  }
}
