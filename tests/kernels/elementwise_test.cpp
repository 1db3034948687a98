// hwy element-wise kernels vs the reference: add/sub/mul/div/activations bit-exact, sigmoid/tanh/softmax
// within 1e-6 absolute (polynomial approximations); lengths around the lane count.
#include <array>
#include <cmath>
#include <limits>

#include "edgeq/kernels.h"
#include "kernels/kernel_test_util.h"

namespace edgeq::kernels {
namespace {

using test::GuardedBuffer;

const size_t kLengths[] = {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100};

TEST(ElementwiseHwy, BinaryAndActivationsAreExact) {
  std::mt19937 rng(test::kSeed);
  const Activation acts[] = {Activation::none(), Activation::relu(), Activation::clip(-0.5f, 0.25f),
                             Activation::leaky_relu(0.01f)};
  test::for_each_target([&](const std::string&) {
    for (size_t n : kLengths) {
      SCOPED_TRACE("n " + std::to_string(n));
      const auto a = test::random_floats(rng, n), b = test::random_floats(rng, n, 0.5f, 2.0f);
      using Fn = void (*)(const float*, const float*, float*, size_t);
      const std::pair<Fn, Fn> binaries[] = {{ref::add_f32, hwy::add_f32}, {ref::sub_f32, hwy::sub_f32},
                                            {ref::mul_f32, hwy::mul_f32}, {ref::div_f32, hwy::div_f32}};
      for (const auto& [ref_fn, hwy_fn] : binaries) {
        std::vector<float> want(n);
        GuardedBuffer got(n);
        ref_fn(a.data(), b.data(), want.data(), n);
        hwy_fn(a.data(), b.data(), got.data(), n);
        ASSERT_TRUE(got.guards_intact());
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(got.data()[i], want[i]) << i;
      }
      for (const Activation& act : acts) {
        std::vector<float> want(n);
        GuardedBuffer got(n);
        ref::activation_f32(a.data(), want.data(), n, act);
        hwy::activation_f32(a.data(), got.data(), n, act);
        ASSERT_TRUE(got.guards_intact());
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(got.data()[i], want[i]) << i;
        const size_t channels = 1 + n % 19;
        const auto bias = test::random_floats(rng, channels);
        ref::bias_activation_f32(a.data(), bias.data(), want.data(), n, channels, act);
        hwy::bias_activation_f32(a.data(), bias.data(), got.data(), n, channels, act);
        ASSERT_TRUE(got.guards_intact());
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(got.data()[i], want[i]) << "bias " << i;
      }
    }
  });
}

// QuantizeLinear to uint8: same bytes as ref, ties to even, saturation at both ends, every tail length.
TEST(ElementwiseHwy, QuantizeU8IsExact) {
  EXPECT_EQ([] { uint8_t q; ref::quantize_f32_u8(std::array<float, 1>{2.5f}.data(), &q, 1, 1.f, 0); return q; }(), 2);
  EXPECT_EQ([] { uint8_t q; ref::quantize_f32_u8(std::array<float, 1>{3.5f}.data(), &q, 1, 1.f, 0); return q; }(), 4);
  std::mt19937 rng(test::kSeed);
  test::for_each_target([&](const std::string&) {
    for (size_t n : kLengths) {
      SCOPED_TRACE("n " + std::to_string(n));
      const float scale = 0.02f + 0.01f * static_cast<float>(n % 7);
      const int32_t zp = static_cast<int32_t>(n * 37 % 256);
      auto x = test::random_floats(rng, n, -4.f, 4.f);
      for (size_t i = 0; i + 3 < n; i += 4) x[i] = (static_cast<float>(i % 11) - 5.f + 0.5f) * scale;  // exact ties
      if (n > 2) x[1] = 1e6f, x[2] = -1e6f;  // saturate high and low
      std::vector<uint8_t> want(n);
      test::GuardedBytes got(n);
      ref::quantize_f32_u8(x.data(), want.data(), n, scale, zp);
      hwy::quantize_f32_u8(x.data(), got.data(), n, scale, zp);
      ASSERT_TRUE(got.guards_intact());
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(got.data()[i], want[i]) << i << " x " << x[i];
      if (n > 2) {
        EXPECT_EQ(want[1], 255);
        EXPECT_EQ(want[2], 0);
      }
    }
  });
}

// A 256-entry lookup: every code maps through the table (both halves, the 64-byte blocks and the masked
// tail), in place too, on every target and tail length; guards intact.
TEST(ElementwiseHwy, LookupU8MapsEveryCodeThroughTheTable) {
  std::mt19937 rng(test::kSeed + 7);
  std::array<uint8_t, 256> table;
  for (auto& t : table) t = static_cast<uint8_t>(rng());
  test::for_each_target([&](const std::string&) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{256}, size_t{1000}, size_t{4099}}) {
      SCOPED_TRACE("n " + std::to_string(n));
      std::vector<uint8_t> x(n);
      for (size_t i = 0; i < n; ++i) x[i] = static_cast<uint8_t>(i < 256 ? i : rng());
      test::GuardedBytes got(n);
      hwy::lookup_u8(x.data(), got.data(), n, table.data());
      ASSERT_TRUE(got.guards_intact());
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(got.data()[i], table[x[i]]) << i << " code " << int{x[i]};
      hwy::lookup_u8(x.data(), x.data(), n, table.data());  // in place
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(x[i], got.data()[i]) << "in place, " << i;
    }
  });
}

// Three planes into pixels (NCHW -> NHWC of an RGB image): hwy equals ref and the definition on every
// target, for lengths around the vector widths (the shuffled blocks and the scalar tail), planes further
// apart than the run; nothing written past 3 n.
TEST(ElementwiseHwy, Interleave3PutsThePlanesIntoPixels) {
  std::mt19937 rng(test::kSeed + 9);
  test::for_each_target([&](const std::string&) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{16}, size_t{17}, size_t{63}, size_t{64}, size_t{65}, size_t{1000}, size_t{4099}}) {
      SCOPED_TRACE("n " + std::to_string(n));
      const int64_t plane = static_cast<int64_t>(n) + 5;
      const auto xf = test::random_floats(rng, static_cast<size_t>(3 * plane));
      const auto xu = test::random_u8(rng, static_cast<size_t>(3 * plane));
      GuardedBuffer f(3 * n), fr(3 * n);
      test::GuardedBytes u(3 * n), ur(3 * n);
      hwy::interleave3_f32(xf.data(), plane, f.data(), n);
      ref::interleave3_f32(xf.data(), plane, fr.data(), n);
      hwy::interleave3_u8(xu.data(), plane, u.data(), n);
      ref::interleave3_u8(xu.data(), plane, ur.data(), n);
      ASSERT_TRUE(f.guards_intact());
      ASSERT_TRUE(u.guards_intact());
      for (size_t i = 0; i < n; ++i)
        for (size_t c = 0; c < 3; ++c) {
          const size_t src = c * static_cast<size_t>(plane) + i;
          ASSERT_EQ(f.data()[3 * i + c], xf[src]) << "pixel " << i << " channel " << c;
          ASSERT_EQ(fr.data()[3 * i + c], xf[src]) << "ref, pixel " << i << " channel " << c;
          ASSERT_EQ(u.data()[3 * i + c], xu[src]) << "pixel " << i << " channel " << c;
          ASSERT_EQ(ur.data()[3 * i + c], xu[src]) << "ref, pixel " << i << " channel " << c;
        }
    }
  });
}

// onnxruntime's QLinearAdd: hwy gives ref's bytes on every target and tail length, ref gives
// onnxruntime's on the one input (of 40 x 4096 random ones, onnxruntime-node 1.30) where the order of the
// roundings shows: the unfused a * ra + b * rb would give 129.
TEST(ElementwiseHwy, QLinearAddU8IsExact) {
  {
    const QLinearAddParams p = qlinear_add_params(0.19324635f, 110, 0.112884134f, 69, 0.0525140539f, 61);
    EXPECT_EQ(qlinear_add_u8_one(166, 5, p), 130);
    uint8_t y = 0;
    const uint8_t a = 166, b = 5;
    ref::qlinear_add_u8(&a, &b, &y, 1, p);
    EXPECT_EQ(y, 130);
    // Saturation at both ends.
    EXPECT_EQ(qlinear_add_u8_one(255, 255, qlinear_add_params(1.f, 0, 1.f, 0, 1.f, 0)), 255);
    EXPECT_EQ(qlinear_add_u8_one(0, 0, qlinear_add_params(1.f, 200, 1.f, 200, 1.f, 0)), 0);
  }
  std::mt19937 rng(test::kSeed);
  test::for_each_target([&](const std::string&) {
    for (size_t n : kLengths) {
      SCOPED_TRACE("n " + std::to_string(n));
      std::uniform_real_distribution<float> scale(0.001f, 0.2f);
      const QLinearAddParams p = qlinear_add_params(scale(rng), static_cast<int32_t>(rng() % 256), scale(rng),
                                                    static_cast<int32_t>(rng() % 256), scale(rng), static_cast<int32_t>(rng() % 256));
      const auto a = test::random_u8(rng, n), b = test::random_u8(rng, n);
      std::vector<uint8_t> want(n);
      test::GuardedBytes got(n);
      ref::qlinear_add_u8(a.data(), b.data(), want.data(), n, p);
      hwy::qlinear_add_u8(a.data(), b.data(), got.data(), n, p);
      ASSERT_TRUE(got.guards_intact());
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(got.data()[i], want[i]) << i;
    }
  });
}

TEST(ElementwiseHwy, TranscendentalsWithinTolerance) {
  std::mt19937 rng(test::kSeed);
  test::for_each_target([&](const std::string&) {
    for (size_t n : kLengths) {
      SCOPED_TRACE("n " + std::to_string(n));
      const auto x = test::random_floats(rng, n, -12.0f, 12.0f);
      using Fn = void (*)(const float*, float*, size_t);
      const std::pair<Fn, Fn> unaries[] = {{ref::sigmoid_f32, hwy::sigmoid_f32}, {ref::tanh_f32, hwy::tanh_f32},
                                           {ref::softmax_row_f32, hwy::softmax_row_f32}};
      for (const auto& [ref_fn, hwy_fn] : unaries) {
        std::vector<float> want(n);
        GuardedBuffer got(n);
        ref_fn(x.data(), want.data(), n);
        hwy_fn(x.data(), got.data(), n);
        ASSERT_TRUE(got.guards_intact());
        for (size_t i = 0; i < n; ++i)
          ASSERT_NEAR(got.data()[i], want[i], 1e-6 + 1e-5 * std::fabs(want[i])) << "x " << x[i];
      }
    }
  });
}

// The sigmoid's edges (its exp underflows below -87.3, a cut-off the polynomial path must handle; the
// infinities; NaN propagates), and Silu's fused epilogue = x * the Sigmoid kernel's value bit for bit
// (the fusion pass relies on it: Sigmoid then Mul and the fused Silu give the same model outputs).
TEST(ElementwiseHwy, SigmoidLimitsAndSiluIsXTimesSigmoid) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {-inf, -1e30f, -100.0f, -88.0f, -87.4f, -87.3f, -87.0f, -20.0f, -1e-30f, -0.0f, 0.0f,
                          1e-30f, 0.5f, 20.0f, 87.0f, 88.0f, 100.0f, 1e30f, inf};
  std::mt19937 rng(test::kSeed);
  const auto wide = test::random_floats(rng, 301, -100.0f, 100.0f);
  x.insert(x.end(), wide.begin(), wide.end());
  test::for_each_target([&](const std::string&) {
    const size_t n = x.size();
    std::vector<float> want(n);
    GuardedBuffer got(n), silu(n);
    ref::sigmoid_f32(x.data(), want.data(), n);
    hwy::sigmoid_f32(x.data(), got.data(), n);
    hwy::activation_f32(x.data(), silu.data(), n, Activation::silu());
    ASSERT_TRUE(got.guards_intact());
    ASSERT_TRUE(silu.guards_intact());
    for (size_t i = 0; i < n; ++i) {
      ASSERT_NEAR(got.data()[i], want[i], 1e-6 + 1e-5 * std::fabs(want[i])) << "x " << x[i];
      ASSERT_GE(got.data()[i], 0.0f) << "x " << x[i];
      ASSERT_LE(got.data()[i], 1.0f) << "x " << x[i];
      const float product = x[i] * got.data()[i];
      if (std::isnan(product)) {
        ASSERT_TRUE(std::isnan(silu.data()[i])) << "x " << x[i];
      } else {
        ASSERT_EQ(silu.data()[i], product) << "x " << x[i];
      }
    }
    const float nan = std::numeric_limits<float>::quiet_NaN();
    float nan_out = 0.0f;
    hwy::sigmoid_f32(&nan, &nan_out, 1);
    ASSERT_TRUE(std::isnan(nan_out));
  });
}

}  // namespace
}  // namespace edgeq::kernels
