// Calibration statistics on known distributions and the scale/zero-point math.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "edgeq/quant.h"

namespace edgeq::quant {
namespace {

TEST(QuantMinMax, ExactAndContainsZero) {
  auto c = make_collector({});
  const std::vector<float> a{0.5f, 2.f, 1.25f}, b{3.75f, 1.f};
  c->add(a);
  c->add(b);
  const Range r = c->range();
  EXPECT_EQ(r.min, 0.f);  // extended to 0: zero must be representable
  EXPECT_EQ(r.max, 3.75f);
  auto s = make_collector({});
  const std::vector<float> neg{-7.5f, -1.f};
  s->add(neg);
  EXPECT_EQ(s->range().min, -7.5f);
  EXPECT_EQ(s->range().max, 0.f);
}

TEST(QuantMinMax, EmptyIsAnError) { EXPECT_THROW(make_collector({})->range(), Error); }

TEST(QuantPercentile, KnownHistogram) {
  // 0..9999 once each (in two batches, so the histogram grows): the 99% upper cut sits at ~9900.
  CollectorOptions o;
  o.method = CalibrationMethod::kPercentile;
  o.percentile = 99.0;
  auto c = make_collector(o);
  std::vector<float> lo, hi;
  for (int i = 0; i < 10000; ++i) (i < 2000 ? lo : hi).push_back(static_cast<float>(i));
  c->add(lo);
  c->add(hi);
  const Range r = c->range();
  const float bin = 2 * 2000.f * 8 / 2 / 2048;  // R grew from 1999 to 15992: width R / 2048 ~ 7.8
  EXPECT_EQ(r.min, 0.f);
  EXPECT_NEAR(r.max, 9900.f, 2 * bin) << "max " << r.max;
  // 100% keeps the observed maximum exactly (clamped to it).
  o.percentile = 100.0;
  auto full = make_collector(o);
  full->add(lo);
  full->add(hi);
  EXPECT_EQ(full->range().max, 9999.f);
}

TEST(QuantPercentile, SignedTailsCutSeparately) {
  CollectorOptions o;
  o.method = CalibrationMethod::kPercentile;
  o.percentile = 99.0;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 3.f);
  std::vector<float> v(200000);
  for (auto& x : v) x = u(rng);
  auto c = make_collector(o);
  c->add(v);
  const Range r = c->range();
  EXPECT_NEAR(r.min, -1.f + 0.04f, 0.01f);  // 1% of a width-4 uniform = 0.04 per tail
  EXPECT_NEAR(r.max, 3.f - 0.04f, 0.01f);
}

TEST(QuantEntropy, ThresholdBelowMaxOnLongTail) {
  // Laplace-like bulk plus a few far outliers: KL keeps the bulk and clips the tail.
  std::mt19937 rng(1234);
  std::exponential_distribution<float> e(1.f);
  std::vector<float> v;
  for (int i = 0; i < 100000; ++i) v.push_back(e(rng));
  for (int i = 0; i < 5; ++i) v.push_back(60.f + i);
  CollectorOptions o;
  o.method = CalibrationMethod::kEntropy;
  auto c = make_collector(o);
  c->add(v);
  const Range r = c->range();
  EXPECT_EQ(r.min, 0.f);
  EXPECT_LT(r.max, 30.f) << "threshold " << r.max << " should cut the outliers at 60..64";
  EXPECT_GT(r.max, 5.f) << "threshold " << r.max << " should keep the bulk of exp(1)";
}

TEST(QuantEntropy, UniformKeepsNearlyAll) {
  // No tail to cut: the best threshold is close to the max.
  std::vector<double> hist(2048, 100.0);
  const float t = entropy_threshold(hist, 10.f, 128);
  EXPECT_GT(t, 9.f);
  EXPECT_LE(t, 10.f);
}

TEST(QuantQParams, ZeroExactlyRepresentable) {
  for (DType dt : {DType::kU8, DType::kI8}) {
    for (Range r : {Range{-1.3f, 2.7f}, Range{0.f, 6.f}, Range{0.37f, 5.f}, Range{-4.f, -0.5f}, Range{-0.001f, 100.f}}) {
      const QParams qp = activation_qparams(r, dt);
      const Tensor zero = Tensor::from_f32({1}, std::vector<float>{0.f});
      const Tensor back = dequantize_tensor(quantize_tensor(zero, qp), qp);
      EXPECT_EQ(back.data<float>()[0], 0.f) << dtype_name(dt) << " range [" << r.min << ", " << r.max << "]";
    }
  }
  const QParams u = activation_qparams({0.f, 6.f}, DType::kU8);
  EXPECT_EQ(u.zero_point[0], 0);
  EXPECT_FLOAT_EQ(u.scale[0], 6.f / 255.f);
  const QParams s = activation_qparams({0.f, 6.f}, DType::kI8);
  EXPECT_EQ(s.zero_point[0], -128);  // a ReLU range uses all 256 levels in int8 too
}

TEST(QuantQParams, RoundHalfToEven) {
  EXPECT_EQ(round_half_even(2.5f), 2);
  EXPECT_EQ(round_half_even(3.5f), 4);
  EXPECT_EQ(round_half_even(-2.5f), -2);
  EXPECT_EQ(round_half_even(-0.5f), 0);
  EXPECT_EQ(round_half_even(1.5f), 2);
  // Through quantize_tensor with scale 1: ties go to even, results saturate.
  QParams qp{DType::kU8, {1.f}, {0}, -1};
  const Tensor x = Tensor::from_f32({6}, std::vector<float>{0.5f, 1.5f, 2.5f, 254.5f, 300.f, -3.f});
  const Tensor q = quantize_tensor(x, qp);
  const std::vector<int> want{0, 2, 2, 254, 255, 0};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(q.data<uint8_t>()[i], want[i]) << "x=" << x.data<float>()[i];
}

TEST(QuantQParams, WeightsSymmetricPerChannel) {
  const Tensor w = Tensor::from_f32({2, 3}, std::vector<float>{1.f, -2.f, 0.5f, 0.f, 0.f, 0.f});
  const QParams qp = weight_qparams(w, 0);
  ASSERT_EQ(qp.scale.size(), 2u);
  EXPECT_FLOAT_EQ(qp.scale[0], 2.f / 127.f);
  EXPECT_EQ(qp.scale[1], 1.f);  // all-zero channel: any scale, kept finite
  const Tensor q = quantize_tensor(w, qp);
  EXPECT_EQ(q.data<int8_t>()[1], -127);  // symmetric: -128 is never used
  EXPECT_EQ(q.data<int8_t>()[2], 32);    // 0.5 / (2/127) = 31.75
  const QParams b = bias_qparams(0.1f, qp);
  EXPECT_FLOAT_EQ(b.scale[0], 0.1f * 2.f / 127.f);
  EXPECT_EQ(b.dtype, DType::kI32);
}

TEST(QuantSqnr, Definition) {
  const std::vector<float> x{3.f, 4.f}, y{3.f, 4.5f};
  EXPECT_NEAR(sqnr_db(x, y), 20 * std::log10(5.0 / 0.5), 1e-9);
  EXPECT_TRUE(std::isinf(sqnr_db(x, x)));
}

}  // namespace
}  // namespace edgeq::quant
