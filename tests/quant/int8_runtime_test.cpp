// The runtime's int8 path on QDQ files the quantizer writes: the QDQ groups compile to integer kernels
// (QLinearConv on the int8 NHWC kernel, QGemm on the packed int8 gemm, uint8 max pooling), those give
// the same bits as the plain integer loops that follow the ONNX definitions (channels_last off), the
// same bits on 1 and 2 threads, and stay close to the float simulation of the same file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "edgeq/kernels.h"
#include "edgeq/quant.h"
#include "edgeq/runtime.h"
#include "quant/fixtures.h"

namespace edgeq::quant {
namespace {

using namespace test_fixtures;

int count_steps(const runtime::PlanInfo& p, const std::string& a, const std::string& b) {
  int n = 0;
  for (const auto& l : p.step_labels) n += l.find(a) != std::string::npos && l.find(b) != std::string::npos;
  return n;
}

class Int8Runtime : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const Batches calib = make_batches(4, 32, kSeed);
    holdout_ = new Batches(make_batches(4, 64, kSeed + 1));
    model_ = new onnx::Model(quantize(make_cnn(), {}, calib).model);
  }
  static void TearDownTestSuite() {
    delete holdout_;
    delete model_;
  }
  static Batches* holdout_;
  static onnx::Model* model_;
};
Batches* Int8Runtime::holdout_ = nullptr;
onnx::Model* Int8Runtime::model_ = nullptr;

TEST_F(Int8Runtime, QdqGroupsCompileToIntegerKernels) {
  runtime::Session s(*model_);
  const auto plan = s.plan_info({Shape{1, 1, 28, 28}});
  std::string all;
  for (const auto& l : plan.step_labels) all += "  " + l + "\n";
  EXPECT_EQ(count_steps(plan, "QLinearConv", "[int8 nhwc 3x3"), 2) << all;
  EXPECT_EQ(count_steps(plan, "QGemm 'fc1'", "[int8 packed, nhwc-permuted"), 1) << all;
  EXPECT_EQ(count_steps(plan, "MaxPool", "[nhwc u8]"), 2) << all;
  // With AVX512-VNNI both convs take over their 2x2 max pools (the quad kernels fuse any shape);
  // elsewhere only Winograd convs can, and these have 1 and 8 input channels.
  EXPECT_EQ(count_steps(plan, "QLinearConv", "+ MaxPool"), kernels::hwy::q8_quads() ? 2 : 0) << all;
  // No float convolution and no layout conversion is left between the integer layers.
  for (const auto& l : plan.step_labels) EXPECT_NE(l.rfind("Conv '", 0), 0u) << "a float Conv is left: " << l;
  EXPECT_EQ(count_steps(plan, "ToN", ""), 0) << all;
  // The int8 graph has no float weights of the convolutions left to pack.
  for (const auto& n : s.optimized_model().graph.nodes) EXPECT_NE(n.op_type, "Conv") << all;
}

TEST_F(Int8Runtime, KernelsGiveTheBitsOfThePlainIntegerLoops) {
  runtime::Session fast(*model_);
  runtime::SessionOptions plain_opts;
  plain_opts.channels_last = false;
  runtime::Session plain(*model_, plain_opts);
  const auto plan = plain.plan_info({Shape{64, 1, 28, 28}});
  EXPECT_EQ(count_steps(plan, "QLinearConv", "[plain]"), 2);
  for (const auto& batch : *holdout_) {
    const Tensor a = fast.run(batch)[0], b = plain.run(batch)[0];
    ASSERT_EQ(a.shape(), b.shape());
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0) << "int8 kernels differ from the plain QLinearConv/MaxPool loops";
  }
}

// The conv + max pool fusion keeps every observable value: a pool input asked for as an extra output
// stops it (so the unfused plan is the oracle), and the logits are the same bits either way.
TEST_F(Int8Runtime, FusedMaxPoolGivesTheUnfusedBits) {
  runtime::Session fused(*model_);
  std::vector<std::string> pool_inputs;
  for (const auto& n : fused.optimized_model().graph.nodes)
    if (n.op_type == "MaxPool") pool_inputs.push_back(n.inputs[0]);
  ASSERT_EQ(pool_inputs.size(), 2u);
  runtime::SessionOptions o;
  o.extra_outputs = pool_inputs;
  runtime::Session unfused(*model_, o);
  const auto plan = unfused.plan_info({Shape{64, 1, 28, 28}});
  EXPECT_EQ(count_steps(plan, "QLinearConv", "+ MaxPool"), 0);
  EXPECT_EQ(count_steps(plan, "MaxPool", "[nhwc u8]"), 2);
  const auto fused_plan = fused.plan_info({Shape{64, 1, 28, 28}});
  if (kernels::hwy::q8_quads()) {  // no pool step is left, and the conv outputs' memory is gone
    for (const auto& l : fused_plan.step_labels) EXPECT_NE(l.rfind("MaxPool", 0), 0u) << l;
    EXPECT_LT(fused_plan.arena_bytes, plan.arena_bytes);
  }
  for (const auto& batch : *holdout_) {
    const Tensor a = fused.run(batch)[0], b = unfused.run(batch)[0];
    ASSERT_EQ(a.shape(), b.shape());
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
  }
}

// int8 activations (onnxruntime's quantize_static default) run on the uint8 kernels: the codes shift
// by 128 with their zero points, which changes no real value, so the int8-activation file gives the
// very bits of the uint8 one (same ranges, zero points 128 apart) and compiles to the same kernels.
TEST_F(Int8Runtime, Int8ActivationsRunTheUint8KernelsWithTheSameBits) {
  QuantizeOptions o;
  o.activation_type = DType::kI8;
  const Batches calib = make_batches(4, 32, kSeed);
  const onnx::Model s8 = quantize(make_cnn(), o, calib).model;
  int s8_zero_points = 0;
  for (const auto& n : s8.graph.nodes)
    if (n.op_type == "QuantizeLinear" && n.inputs.size() > 2 && s8.graph.initializers.at(n.inputs[2]).dtype() == DType::kI8)
      ++s8_zero_points;
  ASSERT_GT(s8_zero_points, 0) << "the file must really have int8 activations";
  runtime::Session a(*model_), b(s8);
  const auto plan = b.plan_info({Shape{1, 1, 28, 28}});
  std::string all;
  for (const auto& l : plan.step_labels) all += "  " + l + "\n";
  EXPECT_EQ(count_steps(plan, "QLinearConv", "[int8 nhwc 3x3"), 2) << all;
  EXPECT_EQ(count_steps(plan, "[plain", ""), 0) << all;
  for (const auto& batch : *holdout_) {
    const Tensor x = a.run(batch)[0], y = b.run(batch)[0];
    ASSERT_EQ(x.shape(), y.shape());
    EXPECT_EQ(std::memcmp(x.raw(), y.raw(), x.nbytes()), 0);
  }
}

TEST_F(Int8Runtime, TwoThreadsGiveTheSameBits) {
  runtime::Session one(*model_);
  runtime::SessionOptions o2;
  o2.threads = 2;
  runtime::Session two(*model_, o2);
  for (const auto& batch : *holdout_) {
    const Tensor a = one.run(batch)[0], b = two.run(batch)[0];
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
    // Batch 1 splits differently (columns of the gemm, rows of each conv).
    const Tensor first = batch[0].reshaped({64, 784});
    Tensor x1(DType::kF32, {1, 1, 28, 28});
    std::memcpy(x1.raw(), first.raw(), 784 * sizeof(float));
    const Tensor c = one.run(std::vector<Tensor>{x1})[0], d = two.run(std::vector<Tensor>{x1})[0];
    EXPECT_EQ(std::memcmp(c.raw(), d.raw(), c.nbytes()), 0);
    EXPECT_EQ(std::memcmp(c.raw(), a.raw(), c.nbytes()), 0) << "batch 1 differs from row 0 of batch 64";
  }
}

// Pack once on the int8 path: batch 64 compiles a plan over the QLinearConv / QGemm weights batch 1
// packed at construction (the session's packed bytes stay those of one plan).
TEST_F(Int8Runtime, BatchSizesShareTheInt8PackedWeights) {
  runtime::Session s(*model_);
  const size_t packed = s.plan_info({Shape{1, 1, 28, 28}}).packed_bytes;
  EXPECT_GT(packed, 784u * 64u);  // fc1's int8 weights at least
  s.run((*holdout_)[0]);
  EXPECT_EQ(s.plan_info({Shape{64, 1, 28, 28}}).packed_bytes, packed);
  EXPECT_EQ(s.cache_stats().packed_bytes, packed);
  EXPECT_EQ(s.cache_stats().plans_compiled, 2u);
}

TEST_F(Int8Runtime, CloseToTheFloatSimulationOfTheSameFile) {
  runtime::Session s(*model_);
  LogitAgreement ag;
  for (const auto& batch : *holdout_) ag.add(simulate(*model_, batch)[0], s.run(batch)[0]);
  // Integer kernels round each layer's float result once, the simulation rounds float sums: values on
  // a rounding boundary move one step, so logits differ a little and top-1 almost never.
  EXPECT_GE(ag.same_top1 * 100, ag.total * 98) << ag.same_top1 << "/" << ag.total;
  EXPECT_LT(ag.max_diff, 0.05 * ag.max_abs) << "max |int8 - simulation| " << ag.max_diff << " of " << ag.max_abs;
}

// com.microsoft QGemm off the packed path (uint8 weights with a zero point, transposed B, per-column
// scales): the plain loop against the definition written out here.
TEST(QGemmPlain, MatchesTheDefinition) {
  onnx::Model m;
  m.opset_imports[""] = 17;
  m.opset_imports["com.microsoft"] = 1;
  const int64_t M = 3, K = 5, N = 4;
  onnx::ValueInfo a;
  a.name = "a";
  a.dtype = DType::kU8;
  a.has_shape = true;
  a.shape = {M, K};
  a.dim_params = {"", ""};
  m.graph.inputs.push_back(a);
  onnx::ValueInfo y = a;
  y.name = "y";
  y.shape = {M, N};
  m.graph.outputs.push_back(y);
  auto scalar_f = [](float v) {
    Tensor t(DType::kF32, {});
    *t.data<float>() = v;
    return t;
  };
  auto scalar_u8 = [](uint8_t v) {
    Tensor t(DType::kU8, {});
    *t.data<uint8_t>() = v;
    return t;
  };
  Tensor b(DType::kU8, {N, K}), bs(DType::kF32, {N}), bz(DType::kU8, {N}), c(DType::kI32, {N});
  for (int64_t i = 0; i < N * K; ++i) b.data<uint8_t>()[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  for (int64_t j = 0; j < N; ++j) {
    bs.data<float>()[j] = 0.01f * static_cast<float>(j + 1);
    bz.data<uint8_t>()[j] = static_cast<uint8_t>(100 + 10 * j);
    c.data<int32_t>()[j] = static_cast<int32_t>(j * 50 - 70);
  }
  auto& init = m.graph.initializers;
  init["as"] = scalar_f(0.05f);
  init["az"] = scalar_u8(7);
  init["b"] = b;
  init["bs"] = bs;
  init["bz"] = bz;
  init["c"] = c;
  init["ys"] = scalar_f(0.5f);
  init["yz"] = scalar_u8(128);
  onnx::Node q{"q", "QGemm", "com.microsoft", {"a", "as", "az", "b", "bs", "bz", "c", "ys", "yz"}, {"y"}, {}, ""};
  q.set_attr(onnx::Attribute::make_int("transB", 1));
  m.graph.nodes.push_back(q);
  runtime::Session s(m);
  Tensor in(DType::kU8, {M, K});
  for (int64_t i = 0; i < M * K; ++i) in.data<uint8_t>()[i] = static_cast<uint8_t>((i * 53 + 3) % 256);
  const Tensor out = s.run(std::vector<Tensor>{in})[0];
  ASSERT_EQ(out.dtype(), DType::kU8);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      int32_t acc = c.data<int32_t>()[j];
      for (int64_t p = 0; p < K; ++p)
        acc += (in.data<uint8_t>()[i * K + p] - 7) * (b.data<uint8_t>()[j * K + p] - bz.data<uint8_t>()[j]);
      const float r = std::nearbyint(static_cast<float>(acc) * (0.05f * bs.data<float>()[j] / 0.5f)) + 128.f;
      const int want = static_cast<int>(std::clamp(r, 0.f, 255.f));
      EXPECT_EQ(out.data<uint8_t>()[i * N + j], want) << "row " << i << " col " << j << " acc " << acc;
    }
}

}  // namespace
}  // namespace edgeq::quant
