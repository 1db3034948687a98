// int8 kernels: hwy vs ref must be bit-exact (same int32 sums, same requantize_u8 epilogue) on random
// shapes, every Highway target; the rounding is half-to-even; extreme operands do not saturate.
#include <iostream>
#include <sstream>
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include "edgeq/kernels.h"
#include "kernels/kernel_test_util.h"

namespace edgeq::kernels {
namespace {

using test::GuardedBytes;
using test::random_u8;

// The CPU offers the Armv8.2 dot product (what makes NEON's int8 product SDOT).
bool cpu_has_dotprod() {
#if defined(__aarch64__)
  return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
  return false;
#endif
}

std::vector<int8_t> random_s8(std::mt19937& rng, size_t n) {
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(static_cast<int>(rng() & 0xff) - 128);
  return v;
}

TEST(Requantize, RoundsHalfToEvenAndClamps) {
  EXPECT_EQ(requantize_u8(3, 0.5f, 0, 0, 255), 2);     // 1.5 -> 2
  EXPECT_EQ(requantize_u8(5, 0.5f, 0, 0, 255), 2);     // 2.5 -> 2
  EXPECT_EQ(requantize_u8(-3, 0.5f, 10, 0, 255), 8);   // -1.5 -> -2
  EXPECT_EQ(requantize_u8(7, 0.5f, 100, 0, 255), 104); // 3.5 -> 4
  EXPECT_EQ(requantize_u8(1 << 30, 1.0f, 0, 0, 255), 255);
  EXPECT_EQ(requantize_u8(-(1 << 30), 1.0f, 128, 0, 255), 0);
  EXPECT_EQ(requantize_u8(-50, 1.0f, 128, 128, 255), 128);  // fused ReLU: output_min = zero point
}

struct QConvCase {
  int64_t batch, in_h, in_w, cin, cout, kh, kw, stride, pad, dilation, groups;
  std::string str() const {
    std::ostringstream s;
    s << "N" << batch << " " << in_h << "x" << in_w << " cin " << cin << " cout " << cout << " k " << kh << "x" << kw
      << " stride " << stride << " pad " << pad << " dil " << dilation << " groups " << groups;
    return s.str();
  }
};

// Operands: random, or extreme (every x - zero point = +-255, every weight -128 or 127, so every pair sum
// lies far outside int16 and Winograd's intermediates reach their bounds).
enum class Operands { kRandom, kExtremeHigh, kExtremeLow, kExtremeMixed };

// A conv case's operands: random, or extreme (see Operands).
struct QConvOperands {
  Conv2dParams p;
  std::vector<uint8_t> input;
  std::vector<int8_t> weight;
  std::vector<int32_t> bias;
  std::vector<float> mult;
  QuantU8Params q;
};

QConvOperands make_qconv(const QConvCase& c, uint32_t seed, Operands operands) {
  std::mt19937 rng(seed);
  QConvOperands o;
  Conv2dParams& p = o.p;
  p.filter = {c.cout, c.cin, c.kh, c.kw, c.groups};
  p.batch = c.batch;
  p.in_h = c.in_h;
  p.in_w = c.in_w;
  p.stride_h = p.stride_w = c.stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = c.pad;
  p.dilation_h = p.dilation_w = c.dilation;
  p.out_h = window_output_extent(c.in_h, c.kh, c.stride, c.pad, c.pad, c.dilation);
  p.out_w = window_output_extent(c.in_w, c.kw, c.stride, c.pad, c.pad, c.dilation);
  const int64_t k = (c.cin / c.groups) * c.kh * c.kw;
  o.input = random_u8(rng, static_cast<size_t>(c.batch * c.in_h * c.in_w * c.cin));
  o.weight = random_s8(rng, static_cast<size_t>(c.cout * k));
  o.bias.resize(static_cast<size_t>(c.cout));
  for (auto& b : o.bias) b = static_cast<int32_t>(rng() % 20001) - 10000;
  o.mult.resize(static_cast<size_t>(c.cout));
  for (auto& m : o.mult) m = (0.5f + static_cast<float>(rng() % 1000) / 1000.0f) * 40.0f / (5500.0f * std::sqrt(static_cast<float>(k)));
  QuantU8Params& q = o.q;
  q.input_zero_point = static_cast<int32_t>(rng() % 256);
  q.output_zero_point = static_cast<int32_t>(rng() % 256);
  if (rng() % 3 == 0) q.output_min = q.output_zero_point;  // fused ReLU
  if (operands != Operands::kRandom) {
    // x = 255 with zero point 0 (or x = 0 with zero point 255), weights all -128, all 127, or mixed:
    // |acc| near 9 * cin * 255 * 128; the multiplier maps that range onto the output codes.
    const bool low = operands == Operands::kExtremeLow;
    std::fill(o.input.begin(), o.input.end(), low ? 0 : 255);
    q.input_zero_point = low ? 255 : 0;
    q.output_min = 0;
    for (size_t i = 0; i < o.weight.size(); ++i)  // mixed: 1 in 3 is 127, so sums stay large
      o.weight[i] = operands == Operands::kExtremeMixed ? (i % 3 == 0 ? 127 : -128) : (low ? 127 : -128);
    for (auto& m : o.mult) m = 100.0f / (9.0f * static_cast<float>(k) * 255.0f * 128.0f) * (0.5f + static_cast<float>(rng() % 100) / 100.0f);
  }
  return o;
}

// The reference conv's output bytes.
std::vector<uint8_t> ref_qconv(const QConvOperands& o) {
  std::vector<uint8_t> want(static_cast<size_t>(o.p.total_rows() * o.p.out_w * o.p.filter.out_channels));
  const auto ref_packed = ref::pack_conv2d_qu8_qc8w(o.p, o.weight.data(), o.bias.data(), o.mult.data());
  ref::conv2d_qu8_qc8w_nhwc(ref_packed, o.p, o.q, o.input.data(), want.data(), 0, o.p.total_rows(), nullptr);
  return want;
}

// Runs `call(b, e, scratch)` over `rows` rows in `splits` ranges with odd-addressed scratch, and checks
// the output against `want` byte for byte with intact guards.
template <class Call>
void check_split_output(const std::vector<uint8_t>& want, int64_t rows, int splits, size_t scratch_bytes, GuardedBytes& got,
                        const Call& call) {
  // Scratch at an odd address: the kernel must align it itself within the queried size.
  std::vector<std::byte> scratch(scratch_bytes + 1);
  for (int s = 0; s < splits; ++s) call(rows * s / splits, rows * (s + 1) / splits, scratch.data() + 1);
  ASSERT_TRUE(got.guards_intact());
  int distinct = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(static_cast<int>(got.data()[i]), static_cast<int>(want[i])) << "output " << i;
    distinct += want[i] != want[0];
  }
  if (want.size() > 16) {
    EXPECT_GT(distinct, 0) << "degenerate case: all outputs equal";
  }
}

void check_qconv(const QConvCase& c, uint32_t seed, int splits, Operands operands = Operands::kRandom) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " case " + c.str() + " operands " +
               std::to_string(static_cast<int>(operands)));
  const QConvOperands o = make_qconv(c, seed, operands);
  const std::vector<uint8_t> want = ref_qconv(o);
  const auto packed = hwy::pack_conv2d_qu8_qc8w(o.p, o.weight.data(), o.bias.data(), o.mult.data());
  GuardedBytes got(want.size());
  check_split_output(want, o.p.total_rows(), splits, hwy::conv2d_qu8_qc8w_scratch_bytes(packed, o.p), got,
                     [&](int64_t b, int64_t e, std::byte* scratch) {
                       hwy::conv2d_qu8_qc8w_nhwc(packed, o.p, o.q, o.input.data(), got.data(), b, e, scratch);
                     });
}

// The fused conv + 2x2 max pool against the reference conv then the reference u8 max pool.
void check_qconv_pool(const QConvCase& c, uint32_t seed, int splits, Operands operands = Operands::kRandom) {
  SCOPED_TRACE("pooled, seed " + std::to_string(seed) + " case " + c.str() + " operands " +
               std::to_string(static_cast<int>(operands)));
  const QConvOperands o = make_qconv(c, seed, operands);
  const std::vector<uint8_t> conv = ref_qconv(o);
  Pool2dParams pp;
  pp.batch = o.p.batch;
  pp.channels = c.cout;
  pp.in_h = o.p.out_h;
  pp.in_w = o.p.out_w;
  pp.out_h = o.p.out_h / 2;
  pp.out_w = o.p.out_w / 2;
  pp.kernel_h = pp.kernel_w = pp.stride_h = pp.stride_w = 2;
  std::vector<uint8_t> want(static_cast<size_t>(pp.total_rows() * pp.out_w * c.cout));
  ref::max_pool2d_u8_nhwc(pp, conv.data(), want.data(), 0, pp.total_rows());
  const auto packed = hwy::pack_conv2d_qu8_qc8w(o.p, o.weight.data(), o.bias.data(), o.mult.data());
  ASSERT_TRUE(hwy::conv2d_qu8_qc8w_maxpool2_supported(packed, o.p));
  GuardedBytes got(want.size());
  check_split_output(want, pp.total_rows(), splits, hwy::conv2d_qu8_qc8w_scratch_bytes(packed, o.p), got,
                     [&](int64_t b, int64_t e, std::byte* scratch) {
                       hwy::conv2d_qu8_qc8w_maxpool2_nhwc(packed, o.p, o.q, o.input.data(), got.data(), b, e, scratch);
                     });
}

QConvCase conv3x3(int64_t batch, int64_t h, int64_t w, int64_t cin, int64_t cout, int64_t pad) {
  return {batch, h, w, cin, cout, 3, 3, 1, pad, 1, 1};
}

TEST(QuantizedHwy, ConvMatchesReferenceExactly) {
  std::mt19937 rng(test::kSeed);
  const int64_t channel_counts[] = {1, 3, 7, 13, 16, 17, 24, 33};
  const int64_t kernels[][2] = {{1, 1}, {3, 3}, {5, 5}, {1, 3}};
  std::vector<QConvCase> cases;
  for (int i = 0; i < 60; ++i) {
    QConvCase c;
    c.batch = 1 + static_cast<int64_t>(rng() % 2);
    c.cin = channel_counts[rng() % 8];
    c.cout = channel_counts[rng() % 8];
    c.kh = kernels[rng() % 4][0];
    c.kw = kernels[rng() % 4][1];
    c.stride = 1 + static_cast<int64_t>(rng() % 2);
    c.dilation = rng() % 4 == 0 ? 2 : 1;
    c.pad = static_cast<int64_t>(rng() % 3);
    c.in_h = 3 + static_cast<int64_t>(rng() % 8) + (c.kh - 1) * c.dilation;
    c.in_w = 3 + static_cast<int64_t>(rng() % 8) + (c.kw - 1) * c.dilation;
    c.groups = 1;
    cases.push_back(c);
  }
  cases.push_back({1, 28, 28, 1, 16, 3, 3, 1, 1, 1, 1});   // cnn-s conv1
  cases.push_back({1, 14, 14, 16, 32, 3, 3, 1, 1, 1, 1});  // cnn-s conv2
  cases.push_back({1, 7, 7, 64, 128, 3, 3, 1, 1, 1, 1});   // cnn-m conv3
  cases.push_back({2, 8, 9, 12, 18, 3, 3, 1, 1, 1, 3});    // grouped
  cases.push_back({1, 9, 9, 16, 16, 3, 3, 2, 1, 1, 16});   // depthwise
  test::for_each_target([&](const std::string&) {
    for (size_t i = 0; i < cases.size(); ++i) {
      check_qconv(cases[i], test::kSeed + static_cast<uint32_t>(i), 1 + static_cast<int>(i % 3));
      if (testing::Test::HasFailure()) return;
    }
  });
}

// 3x3 stride-1 ungrouped convs with 16..1024 input channels take the exact integer Winograd path:
// odd sizes (partial tiles), pads 0..2, odd output channel counts, batches, row splits inside tiles,
// several bands per call, and the channel bound.
TEST(QuantizedHwy, WinogradMatchesReferenceExactly) {
  std::mt19937 rng(test::kSeed + 100);
  const int64_t cins[] = {16, 17, 24, 31, 32, 48, 64};
  const int64_t couts[] = {1, 13, 16, 17, 33, 64};
  std::vector<QConvCase> cases;
  for (int i = 0; i < 24; ++i)
    cases.push_back(conv3x3(1 + static_cast<int64_t>(rng() % 2), 3 + static_cast<int64_t>(rng() % 12),
                            3 + static_cast<int64_t>(rng() % 12), cins[rng() % 7], couts[rng() % 6],
                            static_cast<int64_t>(rng() % 3)));
  cases.push_back(conv3x3(1, 14, 14, 32, 64, 1));    // cnn-m conv2
  cases.push_back(conv3x3(1, 7, 7, 64, 128, 1));     // cnn-m conv3
  cases.push_back(conv3x3(2, 45, 38, 32, 20, 1));    // several bands and chunks per image
  cases.push_back(conv3x3(1, 4, 5, 1024, 16, 1));    // the largest exact channel count
  cases.push_back(conv3x3(1, 4, 3, 1025, 17, 1));    // just past it: direct path
  test::for_each_target([&](const std::string&) {
    for (size_t i = 0; i < cases.size() && !testing::Test::HasFailure(); ++i) {
      // splits 1..5: with 5 the ranges start and end inside 2-row tiles
      check_qconv(cases[i], test::kSeed + 200 + static_cast<uint32_t>(i), 1 + static_cast<int>(i % 5));
    }
  });
}

// Direct paths: 3x3 over one input channel (the register-resident weights path, also at stride 2 and
// dilation 2 in h), long reductions over several bands, grouped and w-dilated convs (im2col rows).
TEST(QuantizedHwy, DirectPathsMatchReferenceExactly) {
  std::vector<QConvCase> cases = {
      {1, 28, 28, 1, 32, 3, 3, 1, 1, 1, 1},   // cnn-m conv1
      {2, 9, 13, 1, 17, 3, 3, 1, 0, 1, 1},    {1, 11, 10, 1, 40, 3, 3, 2, 1, 1, 1},
      {1, 12, 12, 1, 5, 3, 3, 1, 2, 2, 1},    {1, 100, 90, 8, 24, 3, 3, 1, 1, 1, 1},  // 2 bands
      {1, 64, 70, 3, 16, 5, 5, 2, 2, 1, 1},   {2, 10, 11, 6, 9, 3, 3, 1, 1, 2, 1},    // w-dilated: im2col
      {1, 9, 8, 12, 30, 3, 3, 1, 1, 1, 3},    {1, 10, 10, 8, 8, 3, 3, 1, 1, 1, 8},    // grouped, depthwise
      {1, 7, 9, 5, 7, 1, 3, 1, 1, 1, 1},      {1, 6, 6, 2, 3, 3, 3, 1, 1, 1, 1},     // cin*kw even/odd runs
      {1, 9, 9, 2, 20, 3, 2, 1, 1, 1, 1},     {2, 8, 7, 4, 16, 3, 1, 2, 1, 1, 1},    // 3 runs of 2 pairs, cin > 1
  };
  test::for_each_target([&](const std::string&) {
    for (size_t i = 0; i < cases.size() && !testing::Test::HasFailure(); ++i)
      check_qconv(cases[i], test::kSeed + 300 + static_cast<uint32_t>(i), 1 + static_cast<int>(i % 4));
  });
}

// Depthwise convs (groups == in == out channels, 3x3 / 5x5, stride 1 / 2, dilation 1) take the depthwise
// method on every target: channels 1..200 (tails of every vector width; AVX3_DL's 64-channel blocks with
// and without 16-channel panels after them), sizes 1..20 and, for the first 16 cases, up to 48 (several
// bands of rows), strides per axis, asymmetric pads 0..2, per-tensor or per-channel multipliers, with and
// without bias, clamped output ranges; byte for byte against the reference, over row splits.
TEST(QuantizedHwy, DepthwiseMatchesReferenceExactly) {
  std::mt19937 rng(test::kSeed + 500);
  const int64_t fixed_channels[] = {1, 7, 15, 16, 17, 31, 32, 33, 96, 144, 200, 64, 128, 192, 80, 136};
  struct DwCase {
    QConvOperands o;
    bool bias;
    std::string name;
  };
  std::vector<DwCase> cases;
  for (int i = 0; cases.size() < 120; ++i) {
    QConvCase c{};
    c.batch = 1 + static_cast<int64_t>(rng() % 2);
    const int64_t fixed = static_cast<int64_t>(std::size(fixed_channels));
    c.cin = c.cout = c.groups = i < fixed ? fixed_channels[i] : 1 + static_cast<int64_t>(rng() % 200);
    c.kh = c.kw = rng() % 2 ? 3 : 5;
    c.stride = 1;
    c.dilation = 1;
    c.pad = 2;  // make_qconv's symmetric geometry, replaced below
    const uint32_t extent = i < fixed ? 48 : 20;
    c.in_h = 1 + static_cast<int64_t>(rng() % extent);
    c.in_w = 1 + static_cast<int64_t>(rng() % extent);
    QConvOperands o = make_qconv(c, test::kSeed + 600 + static_cast<uint32_t>(i), Operands::kRandom);
    Conv2dParams& p = o.p;
    p.stride_h = 1 + static_cast<int64_t>(rng() % 2);
    p.stride_w = 1 + static_cast<int64_t>(rng() % 2);
    p.pad_top = static_cast<int64_t>(rng() % 3);
    p.pad_bottom = static_cast<int64_t>(rng() % 3);
    p.pad_left = static_cast<int64_t>(rng() % 3);
    p.pad_right = static_cast<int64_t>(rng() % 3);
    if (p.in_h + p.pad_top + p.pad_bottom < c.kh || p.in_w + p.pad_left + p.pad_right < c.kw) continue;  // no output
    p.out_h = window_output_extent(p.in_h, c.kh, p.stride_h, p.pad_top, p.pad_bottom, 1);
    p.out_w = window_output_extent(p.in_w, c.kw, p.stride_w, p.pad_left, p.pad_right, 1);
    if (rng() % 2) std::fill(o.mult.begin(), o.mult.end(), o.mult[0]);  // per-tensor weight scale
    if (rng() % 3 == 0) {                                                 // Clip / ReLU6-like range
      o.q.output_min = static_cast<int32_t>(rng() % 64);  // at least 128 codes wide: not all outputs clamped
      o.q.output_max = o.q.output_min + 128 + static_cast<int32_t>(rng() % 64);
    }
    const bool bias = rng() % 4 != 0;
    std::ostringstream name;
    name << "C " << c.cin << " " << p.in_h << "x" << p.in_w << " k " << c.kh << " stride " << p.stride_h << "x"
         << p.stride_w << " pads " << p.pad_top << "," << p.pad_left << "," << p.pad_bottom << "," << p.pad_right
         << (bias ? "" : " no bias") << " out [" << o.q.output_min << ", " << o.q.output_max << "]";
    cases.push_back({std::move(o), bias, name.str()});
  }
  test::for_each_target([&](const std::string& target) {
    for (size_t i = 0; i < cases.size() && !testing::Test::HasFailure(); ++i) {
      const QConvOperands& o = cases[i].o;
      SCOPED_TRACE(target + " case " + std::to_string(i) + ": " + cases[i].name);
      const int32_t* bias = cases[i].bias ? o.bias.data() : nullptr;
      std::vector<uint8_t> want(static_cast<size_t>(o.p.total_rows() * o.p.out_w * o.p.filter.out_channels));
      const auto ref_packed = ref::pack_conv2d_qu8_qc8w(o.p, o.weight.data(), bias, o.mult.data());
      ref::conv2d_qu8_qc8w_nhwc(ref_packed, o.p, o.q, o.input.data(), want.data(), 0, o.p.total_rows(), nullptr);
      const auto packed = hwy::pack_conv2d_qu8_qc8w(o.p, o.weight.data(), bias, o.mult.data());
      // AVX512-VNNI packs the depthwise quads (vpdpbusd over up to 4 kernel rows), the others int32 taps.
      const bool vnni = hwy::q8_product() == hwy::Q8Product::kVnni;
      ASSERT_EQ(packed.depthwise_weights != nullptr, !vnni) << "not packed for the depthwise method";
      ASSERT_EQ(packed.quad_weights != nullptr, vnni) << "not packed for the depthwise quads";
      GuardedBytes got(want.size());
      check_split_output(want, o.p.total_rows(), 1 + static_cast<int>(i % 4), hwy::conv2d_qu8_qc8w_scratch_bytes(packed, o.p),
                         got, [&](int64_t b, int64_t e, std::byte* scratch) {
                           hwy::conv2d_qu8_qc8w_nhwc(packed, o.p, o.q, o.input.data(), got.data(), b, e, scratch);
                         });
    }
  });
}

// Pointwise convs (1x1, stride 1, no padding, in_channels % 4 == 0: AVX3_DL reads the input in place as
// a gemm): every panel-group shape (1..7 panels, the last partial), pixel counts that leave 1..7-row
// tiles, pixel blocks (16 KB of input) and row splits inside them, batches, extreme operands; with
// padding, stride 2 or 3 input channels the conv takes the general path, checked alike.
TEST(QuantizedHwy, PointwiseMatchesReferenceExactly) {
  std::vector<QConvCase> cases = {
      {1, 112, 112, 16, 96, 1, 1, 1, 0, 1, 1},  // MobileNetV2's first expansion: blocks of 1024 pixels
      {2, 9, 7, 32, 16, 1, 1, 1, 0, 1, 1},    {1, 5, 5, 24, 144, 1, 1, 1, 0, 1, 1},  {1, 7, 7, 320, 100, 1, 1, 1, 0, 1, 1},
      {1, 70, 70, 4, 17, 1, 1, 1, 0, 1, 1},   {2, 3, 5, 8, 1, 1, 1, 1, 0, 1, 1},     {1, 13, 11, 12, 33, 1, 1, 1, 0, 1, 1},
      {1, 6, 6, 96, 49, 1, 1, 1, 0, 1, 1},    {1, 4, 4, 1024, 112, 1, 1, 1, 0, 1, 1}, {3, 1, 1, 40, 24, 1, 1, 1, 0, 1, 1},
      {1, 9, 9, 16, 32, 1, 1, 1, 1, 1, 1},    {1, 9, 9, 16, 32, 1, 1, 2, 0, 1, 1},   {1, 9, 9, 6, 32, 1, 1, 1, 0, 1, 1},
  };
  test::for_each_target([&](const std::string&) {
    for (size_t i = 0; i < cases.size() && !testing::Test::HasFailure(); ++i) {
      check_qconv(cases[i], test::kSeed + 600 + static_cast<uint32_t>(i), 1 + static_cast<int>(i % 3));
      if (i % 4 == 0) check_qconv(cases[i], test::kSeed + 650 + static_cast<uint32_t>(i), 2, Operands::kExtremeMixed);
    }
  });
}

TEST(QuantizedHwy, ConvExtremeOperandsAreExact) {
  const std::vector<QConvCase> cases = {
      conv3x3(1, 7, 7, 64, 128, 1),    conv3x3(1, 6, 5, 1024, 16, 1), conv3x3(1, 5, 6, 17, 20, 0),  // Winograd
      conv3x3(1, 10, 9, 1, 32, 1),     conv3x3(1, 6, 6, 1025, 16, 1),                               // direct
      {1, 8, 8, 6, 10, 3, 3, 1, 1, 2, 1}, {1, 8, 8, 12, 12, 3, 3, 1, 1, 1, 3},                         // im2col
      {1, 9, 8, 40, 40, 3, 3, 1, 1, 1, 40}, {1, 9, 11, 33, 33, 5, 5, 2, 2, 1, 33},                     // depthwise
  };
  test::for_each_target([&](const std::string&) {
    for (size_t i = 0; i < cases.size() && !testing::Test::HasFailure(); ++i)
      for (Operands o : {Operands::kExtremeHigh, Operands::kExtremeLow, Operands::kExtremeMixed})
        check_qconv(cases[i], test::kSeed + 400 + static_cast<uint32_t>(i), 1 + static_cast<int>(i % 3), o);
  });
}

// The conv + 2x2 max pool fusion, on every target: the Winograd shapes everywhere, any ungrouped
// shape with the VNNI quads (strides, 1 input channel, odd sizes whose last row and column the pool
// drops, batches, splits, several bands, extreme operands); unsupported methods say so and refuse.
TEST(QuantizedHwy, ConvMaxPoolMatchesConvThenPool) {
  const std::vector<QConvCase> winograd = {
      conv3x3(1, 14, 14, 32, 64, 1), conv3x3(1, 7, 7, 64, 128, 1), conv3x3(2, 9, 11, 17, 20, 1),
      conv3x3(1, 14, 14, 16, 32, 1), conv3x3(1, 45, 38, 32, 20, 1), conv3x3(2, 6, 5, 24, 33, 0),
  };
  const std::vector<QConvCase> direct = {
      {1, 28, 28, 1, 32, 3, 3, 1, 1, 1, 1}, {1, 28, 28, 1, 16, 3, 3, 1, 1, 1, 1}, {2, 13, 9, 3, 17, 3, 3, 1, 1, 1, 1},
      {1, 15, 15, 8, 24, 3, 3, 2, 1, 1, 1}, {1, 100, 90, 8, 24, 3, 3, 1, 1, 1, 1}, {1, 9, 9, 5, 7, 1, 1, 1, 0, 1, 1},
  };
  const QConvCase grouped = {1, 10, 10, 8, 8, 3, 3, 1, 1, 1, 8};
  test::for_each_target([&](const std::string&) {
    for (size_t i = 0; i < winograd.size() && !testing::Test::HasFailure(); ++i)
      check_qconv_pool(winograd[i], test::kSeed + 500 + static_cast<uint32_t>(i), 1 + static_cast<int>(i % 3));
    check_qconv_pool(winograd[1], test::kSeed + 510, 2, Operands::kExtremeMixed);
    const bool vnni = hwy::q8_quads();  // the quad kernels fuse the pool
    for (size_t i = 0; i < direct.size() && !testing::Test::HasFailure(); ++i) {
      const QConvOperands o = make_qconv(direct[i], 1, Operands::kRandom);
      const auto packed = hwy::pack_conv2d_qu8_qc8w(o.p, o.weight.data(), o.bias.data(), o.mult.data());
      ASSERT_EQ(hwy::conv2d_qu8_qc8w_maxpool2_supported(packed, o.p), vnni) << direct[i].str();
      if (vnni) {
        check_qconv_pool(direct[i], test::kSeed + 520 + static_cast<uint32_t>(i), 1 + static_cast<int>(i % 3));
        check_qconv_pool(direct[i], test::kSeed + 530 + static_cast<uint32_t>(i), 2, Operands::kExtremeLow);
      } else {
        std::vector<uint8_t> out(static_cast<size_t>(o.p.total_rows() * o.p.out_w * direct[i].cout));
        std::vector<std::byte> scratch(hwy::conv2d_qu8_qc8w_scratch_bytes(packed, o.p));
        EXPECT_THROW(hwy::conv2d_qu8_qc8w_maxpool2_nhwc(packed, o.p, o.q, o.input.data(), out.data(), 0, 1, scratch.data()),
                     Error);
      }
    }
    const QConvOperands g = make_qconv(grouped, 1, Operands::kRandom);
    const auto gp = hwy::pack_conv2d_qu8_qc8w(g.p, g.weight.data(), g.bias.data(), g.mult.data());
    EXPECT_FALSE(hwy::conv2d_qu8_qc8w_maxpool2_supported(gp, g.p));  // grouped: no quads, no Winograd
  });
}

TEST(QuantizedHwy, RowAlignmentNamesWinogradTiles) {
  Conv2dParams p;
  p.filter = {64, 32, 3, 3, 1};
  p.in_h = p.in_w = p.out_h = p.out_w = 14;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  std::vector<int8_t> w(static_cast<size_t>(64 * 32 * 9), 1);
  std::vector<float> mult(64, 1e-3f);
  test::for_each_target([&](const std::string&) {
    // The quad targets run the direct quad kernel instead of Winograd (one output row is one unit).
    const auto packed = hwy::pack_conv2d_qu8_qc8w(p, w.data(), nullptr, mult.data());
    EXPECT_EQ(hwy::conv2d_qu8_qc8w_row_alignment(packed, p), hwy::q8_quads() ? 1 : 2);
  });
  p.stride_h = p.stride_w = 2;
  p.out_h = p.out_w = 7;
  const auto packed = hwy::pack_conv2d_qu8_qc8w(p, w.data(), nullptr, mult.data());
  EXPECT_EQ(hwy::conv2d_qu8_qc8w_row_alignment(packed, p), 1);
  const auto ref_packed = ref::pack_conv2d_qu8_qc8w(p, w.data(), nullptr, mult.data());
  EXPECT_EQ(ref::conv2d_qu8_qc8w_row_alignment(ref_packed, p), 1);
}

void check_qgemm(int64_t m, int64_t k, int64_t n, BLayout layout, uint32_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " M " + std::to_string(m) + " K " + std::to_string(k) + " N " +
               std::to_string(n));
  std::mt19937 rng(seed);
  const int64_t lda = k + 5, ldc = n + 3;
  const auto a = random_u8(rng, static_cast<size_t>(m * lda));
  const auto b = random_s8(rng, static_cast<size_t>(k * n));
  std::vector<int32_t> bias(static_cast<size_t>(n));
  for (auto& x : bias) x = static_cast<int32_t>(rng() % 20001) - 10000;
  std::vector<float> mult(static_cast<size_t>(n));
  for (auto& x : mult) x = (0.5f + static_cast<float>(rng() % 1000) / 1000.0f) * 40.0f / (5500.0f * std::sqrt(static_cast<float>(k)));
  QuantU8Params q;
  q.input_zero_point = static_cast<int32_t>(rng() % 256);
  q.output_zero_point = static_cast<int32_t>(rng() % 256);
  std::vector<uint8_t> want(static_cast<size_t>(m * ldc), 0);
  const auto ref_packed = ref::pack_gemm_qu8_qc8w(b.data(), k, n, layout, bias.data(), mult.data());
  ref::gemm_qu8_qc8w(ref_packed, q, a.data(), lda, want.data(), ldc, {0, m, 0, n}, nullptr);
  const auto packed = hwy::pack_gemm_qu8_qc8w(b.data(), k, n, layout, bias.data(), mult.data());
  std::vector<std::byte> scratch(hwy::gemm_qu8_qc8w_scratch_bytes(packed));
  GuardedBytes got(static_cast<size_t>(m * ldc));
  const int64_t n_mid = n > 16 ? (n / 2) / 16 * 16 : n;
  const int64_t m_mid = m / 2;  // row ranges that start past 0, as a thread split makes them
  for (const GemmRange& r : {GemmRange{0, m_mid, 0, n_mid}, GemmRange{m_mid, m, 0, n_mid}, GemmRange{0, m, n_mid, n}})
    hwy::gemm_qu8_qc8w(packed, q, a.data(), lda, got.data(), ldc, r, scratch.data());
  ASSERT_TRUE(got.guards_intact());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      if (j >= n) {
        ASSERT_EQ(got.data()[at], GuardedBytes::kPoison) << "wrote padding column " << j;
      } else {
        ASSERT_EQ(static_cast<int>(got.data()[at]), static_cast<int>(want[at])) << "C[" << i << "][" << j << "]";
      }
    }
  // The int32 form (MatMulInteger): the same sums before requantizing, the same ranges, the padding
  // columns (sentinel) untouched; the reference's sums requantize to its own u8 output.
  constexpr int32_t kSentinel = -123456789;
  std::vector<int32_t> want32(static_cast<size_t>(m * ldc), kSentinel), got32(static_cast<size_t>(m * ldc), kSentinel);
  ref::gemm_qu8_qc8w_s32(ref_packed, q.input_zero_point, a.data(), lda, want32.data(), ldc, {0, m, 0, n}, nullptr);
  for (const GemmRange& r : {GemmRange{0, m_mid, 0, n_mid}, GemmRange{m_mid, m, 0, n_mid}, GemmRange{0, m, n_mid, n}})
    hwy::gemm_qu8_qc8w_s32(packed, q.input_zero_point, a.data(), lda, got32.data(), ldc, r, scratch.data());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      ASSERT_EQ(got32[at], want32[at]) << "int32 C[" << i << "][" << j << "]";
      if (j < n)
        ASSERT_EQ(requantize_u8(want32[at], mult[j], q.output_zero_point, q.output_min, q.output_max), want[at]);
      else
        ASSERT_EQ(want32[at], kSentinel);
    }
}

TEST(QuantizedHwy, GemmMatchesReferenceExactly) {
  std::mt19937 rng(test::kSeed);
  const int64_t sizes[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 65, 129};
  test::for_each_target([&](const std::string&) {
    check_qgemm(1, 1568, 128, BLayout::kNK, test::kSeed);  // cnn-s fc1 at batch 1
    check_qgemm(64, 1152, 245, BLayout::kNK, test::kSeed + 1);
    check_qgemm(1, 1151, 100, BLayout::kKN, test::kSeed + 50);  // batch 1: 4-panel passes + a partial panel
    check_qgemm(1, 3, 67, BLayout::kNK, test::kSeed + 51);
    check_qgemm(1, 1152, 245, BLayout::kNK, test::kSeed + 52);  // cnn-m fc1: two 8-panel passes, the last partial
    check_qgemm(1, 1030, 205, BLayout::kKN, test::kSeed + 53);  // 8 + 4 + 1 panels, K % 4 = 2
    for (int i = 0; i < 30 && !testing::Test::HasFailure(); ++i)
      check_qgemm(sizes[rng() % 13], sizes[rng() % 13], sizes[rng() % 13], rng() % 2 ? BLayout::kKN : BLayout::kNK,
                  test::kSeed + 2 + static_cast<uint32_t>(i));
  });
}

// The quad layout exists exactly where a kernel reads it: packed while AVX3_DL dispatches or NEON runs
// the dot product (so the exactness tests above run the quad kernels there), for ungrouped filters only,
// and never elsewhere.
TEST(QuantizedHwy, QuadLayoutIsPackedForTheQuadTargetsOnly) {
  std::vector<int8_t> w(static_cast<size_t>(64 * 32 * 9), 3);
  std::vector<float> mult(64, 1e-3f);
  bool saw_vnni = false;
  test::for_each_target([&](const std::string& name) {
    const bool vnni = hwy::q8_quads();
    EXPECT_EQ(vnni, name == "AVX3_DL" || (name == "NEON" && cpu_has_dotprod()));
    saw_vnni |= vnni;
    Conv2dParams cp;
    cp.filter = {64, 32, 3, 3, 1};
    const auto conv = hwy::pack_conv2d_qu8_qc8w(cp, w.data(), nullptr, mult.data());
    EXPECT_EQ(conv.quad_weights != nullptr, vnni);
    if (vnni) {
      EXPECT_EQ(conv.row_quads, 24);             // 3 x 32 bytes per kernel row
      EXPECT_EQ(conv.col_sums[5], 3 * 32 * 9);  // every weight 3
    }
    Conv2dParams gp;
    gp.filter = {64, 32, 3, 3, 2};
    const auto grouped = hwy::pack_conv2d_qu8_qc8w(gp, w.data(), nullptr, mult.data());
    EXPECT_EQ(grouped.quad_weights, nullptr);
    const auto gemm = hwy::pack_gemm_qu8_qc8w(w.data(), 1030, 17, BLayout::kKN, nullptr, mult.data());
    EXPECT_EQ(gemm.quad_weights != nullptr, vnni);
    EXPECT_EQ(gemm.weights_s8 == nullptr, vnni);  // one layout: the one this target's kernel reads
    if (vnni) {
      EXPECT_EQ(gemm.k_quads, 258);
      EXPECT_EQ(gemm.col_sums[16], 3 * 1030);
    }
  });
  std::cout << (saw_vnni ? "quad kernels tested (AVX3_DL or NEON dot product)\n"
                         : "no AVX3_DL or dot product on this CPU: quad kernels not run\n");
}

// One method per conv, decided at pack time from the filter, the stride / dilation and the target, and
// only its layout packed: the packed bytes are exactly that layout + bias + multipliers.
TEST(QuantizedHwy, ConvPacksOnlyTheLayoutOfItsMethod) {
  auto r64 = [](int64_t v) { return static_cast<size_t>((v + 63) / 64 * 64); };
  std::vector<int8_t> w(static_cast<size_t>(64 * 32 * 9), 1);
  std::vector<float> mult(64, 1e-3f);
  const size_t epilogue = 2 * r64(64 * 4);  // int32 bias + float multipliers, 4 panels of 16
  test::for_each_target([&](const std::string& name) {
    const bool vnni = hwy::q8_quads();
    for (int64_t stride : {1, 2}) {
      Conv2dParams p;
      p.filter = {64, 32, 3, 3, 1};
      p.stride_h = p.stride_w = stride;
      const auto packed = hwy::pack_conv2d_qu8_qc8w(p, w.data(), nullptr, mult.data());
      SCOPED_TRACE(name + " stride " + std::to_string(stride));
      if (vnni) {  // quads: [4 panels][3 rows][24 quads][16][4] + column sums
        EXPECT_NE(packed.quad_weights, nullptr);
        EXPECT_EQ(packed.weights, nullptr);
        EXPECT_EQ(packed.winograd_weights, nullptr);
        EXPECT_EQ(packed.storage_bytes, r64(4 * 3 * 24 * 16 * 4) + r64(4 * 16 * 4) + epilogue);
      } else if (stride == 1) {  // Winograd: int16 [16][4 panels][32 / 2][16][2]
        EXPECT_NE(packed.winograd_weights, nullptr);
        EXPECT_EQ(packed.weights, nullptr);
        EXPECT_EQ(packed.quad_weights, nullptr);
        EXPECT_EQ(packed.storage_bytes, r64(16 * 4 * 32 * 16 * 2) + epilogue);
      } else {  // rows: int16 [4 panels][3 rows][48 pairs][16][2], 2 bytes each
        EXPECT_NE(packed.weights, nullptr);
        EXPECT_EQ(packed.winograd_weights, nullptr);
        EXPECT_EQ(packed.quad_weights, nullptr);
        EXPECT_EQ(packed.storage_bytes, r64(4 * 3 * 48 * 16 * 2 * 2) + epilogue);
      }
      // A call with another stride than packed for is refused, not run on a layout that is not there.
      Conv2dParams other = p;
      other.stride_h = other.stride_w = 3 - stride;
      other.in_h = other.in_w = 8;
      other.out_h = other.out_w = (8 - 3) / other.stride_h + 1;
      if (!vnni) {
        EXPECT_THROW(hwy::conv2d_qu8_qc8w_scratch_bytes(packed, other), Error);
      }
    }
  });
}

TEST(QuantizedHwy, ExtremeOperandsDoNotSaturate) {
  // x = 255 with zero point 0 against w = -128 everywhere: every int16 pair sum is -65280, far outside
  // int16 (where vpmaddubsw would saturate); the int32 total must be exact.
  const int64_t k = 2048, n = 80;  // 80: the batch-1 4-panel path and a single panel
  std::vector<uint8_t> a(static_cast<size_t>(k), 255);
  std::vector<int8_t> b(static_cast<size_t>(k * n), -128);
  std::vector<float> mult(static_cast<size_t>(n), 1.0f / 524288.0f);  // acc = -66846720 -> -127.5 -> -128
  QuantU8Params q;
  q.output_zero_point = 200;
  test::for_each_target([&](const std::string&) {
    const auto packed = hwy::pack_gemm_qu8_qc8w(b.data(), k, n, BLayout::kKN, nullptr, mult.data());
    std::vector<std::byte> scratch(hwy::gemm_qu8_qc8w_scratch_bytes(packed));
    std::vector<uint8_t> c(static_cast<size_t>(n));
    hwy::gemm_qu8_qc8w(packed, q, a.data(), k, c.data(), n, {0, 1, 0, n}, scratch.data());
    for (uint8_t v : c) ASSERT_EQ(v, 72);  // round(-127.5) = -128 (half to even) + 200
  });
}

}  // namespace
}  // namespace edgeq::kernels
