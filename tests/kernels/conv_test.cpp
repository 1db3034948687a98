// hwy conv2d vs the reference on random shapes (every compiled Highway target), plus range splits,
// guards against out-of-bounds writes, and parameter errors.
#include <algorithm>
#include <cstring>
#include <sstream>

#include "edgeq/kernels.h"
#include "kernels/hwy/pack.h"
#include "kernels/kernel_test_util.h"

namespace edgeq::kernels {
namespace {

using test::GuardedBuffer;

struct ConvCase {
  int64_t batch, in_h, in_w, cin, cout, kh, kw, stride, pad, dilation, groups;
  Activation act;
  std::string str() const {
    std::ostringstream s;
    s << "N" << batch << " " << in_h << "x" << in_w << " cin " << cin << " cout " << cout << " k " << kh << "x" << kw
      << " stride " << stride << " pad " << pad << " dil " << dilation << " groups " << groups << " act "
      << static_cast<int>(act.kind);
    return s.str();
  }
};

Conv2dParams make_params(const ConvCase& c) {
  Conv2dParams p;
  p.filter = {c.cout, c.cin, c.kh, c.kw, c.groups};
  p.batch = c.batch;
  p.in_h = c.in_h;
  p.in_w = c.in_w;
  p.stride_h = p.stride_w = c.stride;
  p.pad_top = p.pad_left = c.pad;
  p.pad_bottom = p.pad_right = c.pad > 0 ? c.pad - (c.kh % 2 == 0 ? 1 : 0) : 0;  // asymmetric for even kernels
  p.pad_bottom = std::max<int64_t>(p.pad_bottom, 0);
  p.pad_right = p.pad_bottom;
  p.dilation_h = p.dilation_w = c.dilation;
  p.out_h = window_output_extent(c.in_h, c.kh, c.stride, p.pad_top, p.pad_bottom, c.dilation);
  p.out_w = window_output_extent(c.in_w, c.kw, c.stride, p.pad_left, p.pad_right, c.dilation);
  p.activation = c.act;
  return p;
}

// Runs one case on the current target: hwy output, computed in `splits` row ranges, vs ref. The hwy
// weights are packed without a call shape (F(2x2, 3x3) for every 3x3 filter that allows it), or with
// `want_tile` >= 0 for the case's shape as the runtime packs them, asserting the Winograd tile chosen.
void check_case(const ConvCase& c, uint32_t seed, int splits, int32_t want_tile = -1) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " case " + c.str());
  std::mt19937 rng(seed);
  const Conv2dParams p = make_params(c);
  const auto input = test::random_floats(rng, static_cast<size_t>(c.batch * c.in_h * c.in_w * c.cin));
  const auto weight = test::random_floats(rng, static_cast<size_t>(c.cout * (c.cin / c.groups) * c.kh * c.kw));
  const auto bias = test::random_floats(rng, static_cast<size_t>(c.cout));
  const size_t out_n = static_cast<size_t>(p.batch * p.out_h * p.out_w * c.cout);

  const PackedConv2dF32 ref_packed = ref::pack_conv2d_f32(p.filter, weight.data(), bias.data());
  std::vector<float> want(out_n);
  ref::conv2d_f32_nhwc(ref_packed, p, input.data(), want.data(), 0, p.total_rows(), nullptr);

  const PackedConv2dF32 packed = hwy::pack_conv2d_f32(p.filter, weight.data(), bias.data(), want_tile >= 0 ? &p : nullptr);
  if (want_tile >= 0) {
    ASSERT_EQ(packed.winograd_tile, want_tile);
  }
  GuardedBuffer scratch(hwy::conv2d_f32_scratch_floats(packed, p));
  GuardedBuffer got(out_n);
  const int64_t rows = p.total_rows();
  for (int s = 0; s < splits; ++s) {
    const int64_t begin = rows * s / splits, end = rows * (s + 1) / splits;
    scratch.poison_all();  // kernels must not depend on scratch contents
    hwy::conv2d_f32_nhwc(packed, p, input.data(), got.data(), begin, end, scratch.data());
  }
  ASSERT_TRUE(got.guards_intact()) << "write outside the output";
  ASSERT_TRUE(scratch.guards_intact()) << "write outside the scratch";
  const int64_t k = (c.cin / c.groups) * c.kh * c.kw;
  int bad = 0;
  for (size_t i = 0; i < out_n && bad < 5; ++i) {
    if (!test::close_enough(got.data()[i], want[i], k)) {
      ADD_FAILURE() << "output " << i << " got " << got.data()[i] << " want " << want[i];
      ++bad;
    }
  }
}

TEST(ConvHwy, MatchesReferenceOnRandomShapes) {
  std::mt19937 rng(test::kSeed);
  const int64_t channel_counts[] = {1, 3, 7, 13, 16, 17, 24, 33};
  const int64_t kernels[][2] = {{1, 1}, {3, 3}, {5, 5}, {1, 3}, {2, 2}};
  const Activation acts[] = {Activation::none(), Activation::relu(), Activation::clip(-0.25f, 0.5f),
                             Activation::leaky_relu(0.1f), Activation::silu()};
  std::vector<ConvCase> cases;
  for (int i = 0; i < 120; ++i) {
    ConvCase c;
    c.batch = 1 + static_cast<int64_t>(rng() % 2);
    c.cin = channel_counts[rng() % 8];
    c.cout = channel_counts[rng() % 8];
    const auto& kern = kernels[rng() % 5];
    c.kh = kern[0];
    c.kw = kern[1];
    c.stride = 1 + static_cast<int64_t>(rng() % 2);
    c.dilation = (rng() % 4 == 0) ? 2 : 1;
    c.pad = static_cast<int64_t>(rng() % 3);
    c.in_h = 3 + static_cast<int64_t>(rng() % 9) + (c.kh - 1) * c.dilation;
    c.in_w = 3 + static_cast<int64_t>(rng() % 9) + (c.kw - 1) * c.dilation;
    c.groups = 1;
    c.act = acts[rng() % 5];
    cases.push_back(c);
  }
  // Depthwise on random shapes: 3x3 and 5x5, strides 1-2, dilation, pads 0-2, rows wide enough for the
  // four-pixel path between the bordered columns, channel counts with and without a partial vector.
  const int64_t dw_channels[] = {8, 16, 17, 32, 40, 48, 64, 96};
  for (int i = 0; i < 40; ++i) {
    ConvCase c;
    c.batch = 1 + static_cast<int64_t>(rng() % 2);
    c.cin = c.cout = c.groups = dw_channels[rng() % 8];
    c.kh = c.kw = (rng() % 2) ? 5 : 3;
    c.stride = 1 + static_cast<int64_t>(rng() % 2);
    c.dilation = (rng() % 4 == 0) ? 2 : 1;
    c.pad = static_cast<int64_t>(rng() % 3);
    c.in_h = 2 + static_cast<int64_t>(rng() % 6) + (c.kh - 1) * c.dilation;
    c.in_w = 4 + static_cast<int64_t>(rng() % 20) + (c.kw - 1) * c.dilation;
    c.act = acts[rng() % 5];
    cases.push_back(c);
  }
  // Fixed cases: the cnn-s / cnn-m layers, depthwise, grouped, depthwise with multiplier.
  cases.push_back({1, 28, 28, 1, 16, 3, 3, 1, 1, 1, 1, Activation::relu()});
  cases.push_back({1, 14, 14, 16, 32, 3, 3, 1, 1, 1, 1, Activation::relu()});
  cases.push_back({1, 28, 28, 1, 32, 3, 3, 1, 1, 1, 1, Activation::relu()});
  cases.push_back({1, 14, 14, 32, 64, 3, 3, 1, 1, 1, 1, Activation::relu()});
  cases.push_back({1, 7, 7, 64, 128, 3, 3, 1, 1, 1, 1, Activation::relu()});
  cases.push_back({2, 9, 11, 17, 17, 3, 3, 1, 1, 1, 17, Activation::clip(0.0f, 6.0f)});
  cases.push_back({1, 12, 10, 33, 33, 3, 3, 2, 1, 1, 33, Activation::none()});
  cases.push_back({1, 10, 10, 24, 24, 5, 5, 1, 2, 2, 24, Activation::relu()});
  cases.push_back({1, 8, 8, 12, 18, 3, 3, 1, 1, 1, 3, Activation::relu()});
  cases.push_back({2, 7, 9, 8, 40, 1, 1, 1, 0, 1, 2, Activation::none()});
  cases.push_back({1, 6, 6, 4, 8, 3, 3, 1, 1, 1, 4, Activation::relu()});  // depthwise, multiplier 2
  // Winograd F(2x2, 3x3) path (3x3, stride 1, >= 32 input channels, >= 100 output pixels): odd output
  // sizes, batch, pads 0-2; below 100 pixels the same convs run direct.
  cases.push_back({2, 11, 13, 33, 20, 3, 3, 1, 1, 1, 1, Activation::relu()});
  cases.push_back({1, 14, 12, 40, 17, 3, 3, 1, 0, 1, 1, Activation::clip(-0.1f, 0.2f)});
  cases.push_back({1, 9, 12, 32, 48, 3, 3, 1, 2, 1, 1, Activation::leaky_relu(0.2f)});
  cases.push_back({2, 9, 7, 33, 20, 3, 3, 1, 1, 1, 1, Activation::relu()});
  cases.push_back({1, 7, 7, 64, 50, 3, 3, 1, 1, 1, 1, Activation::none()});
  // Single input channel 3x3: partial panels, strides, dilation, no padding, batch.
  cases.push_back({2, 9, 7, 1, 17, 3, 3, 2, 1, 1, 1, Activation::clip(-0.2f, 0.4f)});
  cases.push_back({1, 11, 10, 1, 33, 3, 3, 1, 0, 2, 1, Activation::leaky_relu(0.3f)});
  cases.push_back({1, 5, 13, 1, 5, 3, 3, 1, 2, 1, 1, Activation::none()});
  test::for_each_target([&](const std::string&) {
    for (size_t i = 0; i < cases.size(); ++i) {
      check_case(cases[i], test::kSeed + static_cast<uint32_t>(i), 1 + static_cast<int>(i % 3));
      if (HasFatalFailure() || testing::Test::HasFailure()) return;
    }
  });
}

// Depthwise 3x3 / 5x5 at stride 1 / 2, undilated (the sliding-block path): rows wide enough for several
// blocks and the last block moved back over the one before it, narrow ones with no whole block, pads
// 0-2 (checked border columns and padding rows), a partial channel vector (the per-vector path), every
// activation, batches and row splits; every compiled target.
TEST(ConvHwy, DepthwiseBlocksMatchReference) {
  const Activation acts[] = {Activation::none(), Activation::relu(), Activation::clip(0.0f, 6.0f),
                             Activation::leaky_relu(0.1f), Activation::silu()};
  std::vector<ConvCase> cases;
  const int64_t widths[] = {5, 9, 17, 30, 61};
  // 80: border pixels four vectors at a time, then one; 40, 24, 20: a channel tail past the last full
  // vector (24 and 40 on AVX-512, 20 on AVX2), run as one more vector overlapping the one before.
  const int64_t channels[] = {16, 48, 40, 80, 24, 20};
  int i = 0;
  for (int64_t k : {3, 5})
    for (int64_t stride : {1, 2})
      for (int64_t pad = 0; pad <= 2; ++pad)
        for (int64_t w : widths) {
          if (w + 2 * pad < k) continue;
          const int64_t c = channels[i % 6];
          cases.push_back({1 + i % 2, 4 + i % 5 + k - 1, w, c, c, k, k, stride, pad, 1, c, acts[i % 5]});
          ++i;
        }
  test::for_each_target([&](const std::string&) {
    for (size_t j = 0; j < cases.size(); ++j) {
      check_case(cases[j], test::kSeed + 1000 + static_cast<uint32_t>(j), 1 + static_cast<int>(j % 3));
      if (HasFatalFailure() || testing::Test::HasFailure()) return;
    }
  });
}

// Pointwise convs (1x1, stride 1, no padding, ungrouped: a gemm over the input in place): every panel
// group shape (1..7 panels, the last partial), pixel counts that leave partial tiles, pixel blocks (4096
// input floats) crossed by row splits, batches, every activation; every compiled target.
TEST(ConvHwy, PointwiseMatchesReference) {
  const Activation acts[] = {Activation::none(), Activation::relu(), Activation::clip(0.0f, 6.0f),
                             Activation::leaky_relu(0.1f), Activation::silu()};
  const int64_t shapes[][5] = {// batch, h, w, cin, cout
                               {1, 40, 41, 16, 96}, {2, 9, 7, 32, 16},  {1, 5, 5, 24, 144}, {1, 7, 7, 320, 100},
                               {1, 30, 30, 3, 17},  {2, 3, 5, 8, 1},    {1, 13, 11, 1, 33}, {1, 6, 6, 96, 49},
                               {3, 1, 1, 40, 24},   {1, 4, 4, 1000, 112}, {1, 2, 3, 17, 7}};
  std::vector<ConvCase> cases;
  for (size_t i = 0; i < std::size(shapes); ++i) {
    const auto& s = shapes[i];
    cases.push_back({s[0], s[1], s[2], s[3], s[4], 1, 1, 1, 0, 1, 1, acts[i % 5]});
  }
  test::for_each_target([&](const std::string&) {
    for (size_t i = 0; i < cases.size(); ++i) {
      check_case(cases[i], test::kSeed + 1500 + static_cast<uint32_t>(i), 1 + static_cast<int>(i % 3));
      if (HasFatalFailure() || testing::Test::HasFailure()) return;
    }
  });
}

// The small-cin direct path (3x3, 1..4 input channels, conv_small_cin.cpp): odd output channel counts
// (partial panels, tiles of one and two panels, 5 panels as 2 + 2 + 1), strides, pads, dilations, batches and
// row splits; every compiled target.
TEST(ConvHwy, SmallInputChannelsMatchReference) {
  std::mt19937 rng(test::kSeed + 1);
  const int64_t cout_counts[] = {1, 5, 16, 17, 31, 32, 33, 64, 65};
  const Activation acts[] = {Activation::none(), Activation::relu(), Activation::clip(-0.25f, 0.5f),
                             Activation::leaky_relu(0.1f), Activation::silu()};
  std::vector<ConvCase> cases;
  for (int64_t cin = 1; cin <= 4; ++cin) {
    for (int i = 0; i < 12; ++i) {
      ConvCase c;
      c.batch = 1 + static_cast<int64_t>(rng() % 3);
      c.cin = cin;
      c.cout = cout_counts[rng() % 9];
      c.kh = c.kw = 3;
      c.stride = 1 + static_cast<int64_t>(rng() % 2);
      c.dilation = rng() % 4 == 0 ? 2 : 1;
      c.pad = static_cast<int64_t>(rng() % 3);
      c.in_h = 1 + static_cast<int64_t>(rng() % 12) + 2 * c.dilation;
      c.in_w = 1 + static_cast<int64_t>(rng() % 20) + 2 * c.dilation;  // out_w: every tile-width remainder
      c.groups = 1;
      c.act = acts[rng() % 5];
      cases.push_back(c);
    }
  }
  test::for_each_target([&](const std::string&) {
    for (size_t i = 0; i < cases.size(); ++i) {
      check_case(cases[i], test::kSeed + 1000 + static_cast<uint32_t>(i), 1 + static_cast<int>(i % 4));
      if (HasFatalFailure() || testing::Test::HasFailure()) return;
    }
  });
}

TEST(ConvHwy, SmallInputChannelPathIsChosenAtPackTime) {
  std::vector<float> w(32 * 5 * 9, 0.1f);
  EXPECT_EQ(hwy::pack_conv2d_f32({32, 1, 3, 3, 1}, w.data(), nullptr).method, hwy::kConvMethodSmallCin);
  EXPECT_EQ(hwy::pack_conv2d_f32({7, 4, 3, 3, 1}, w.data(), nullptr).method, hwy::kConvMethodSmallCin);
  EXPECT_EQ(hwy::pack_conv2d_f32({32, 5, 3, 3, 1}, w.data(), nullptr).method, hwy::kConvMethodPanels);
  EXPECT_EQ(hwy::pack_conv2d_f32({32, 2, 1, 1, 1}, w.data(), nullptr).method, hwy::kConvMethodPanels);
  EXPECT_EQ(hwy::pack_conv2d_f32({4, 4, 3, 3, 2}, w.data(), nullptr).method, hwy::kConvMethodPanels);  // grouped
}

// Stride-1 depthwise rows run in pairs when both windows are inside the image (AVX-512 targets): the
// pairs' sums must be the single rows' bits (the same taps in the same order), checked by running the
// conv whole and one output row per call (a range of one row never pairs).
TEST(ConvHwy, DepthwiseRowPairsGiveTheSingleRowBits) {
  std::mt19937 rng(test::kSeed + 7);
  test::for_each_target([&](const std::string&) {
    for (int64_t k : {3, 5}) {
      for (const Activation& act : {Activation::clip(0.0f, 6.0f), Activation::silu()}) {
        const ConvCase c{2, 13, 21, 48, 48, k, k, 1, k / 2, 1, 48, act};
        SCOPED_TRACE(c.str());
        const Conv2dParams p = make_params(c);
        const auto input = test::random_floats(rng, static_cast<size_t>(c.batch * c.in_h * c.in_w * c.cin));
        const auto weight = test::random_floats(rng, static_cast<size_t>(c.cout * k * k));
        const auto bias = test::random_floats(rng, static_cast<size_t>(c.cout));
        const PackedConv2dF32 packed = hwy::pack_conv2d_f32(p.filter, weight.data(), bias.data());
        const size_t out_n = static_cast<size_t>(p.batch * p.out_h * p.out_w * c.cout);
        std::vector<float> whole(out_n), by_row(out_n);
        hwy::conv2d_f32_nhwc(packed, p, input.data(), whole.data(), 0, p.total_rows(), nullptr);
        for (int64_t r = 0; r < p.total_rows(); ++r) hwy::conv2d_f32_nhwc(packed, p, input.data(), by_row.data(), r, r + 1, nullptr);
        ASSERT_EQ(std::memcmp(whole.data(), by_row.data(), out_n * sizeof(float)), 0);
      }
    }
  });
}

TEST(ConvHwy, RangeWritesOnlyItsRows) {
  const ConvCase c{2, 6, 5, 3, 20, 3, 3, 1, 1, 1, 1, Activation::none()};
  const Conv2dParams p = make_params(c);
  std::mt19937 rng(test::kSeed);
  const auto input = test::random_floats(rng, static_cast<size_t>(c.batch * c.in_h * c.in_w * c.cin));
  const auto weight = test::random_floats(rng, static_cast<size_t>(c.cout * c.cin * 9));
  const PackedConv2dF32 packed = hwy::pack_conv2d_f32(p.filter, weight.data(), nullptr);
  std::vector<float> scratch(hwy::conv2d_f32_scratch_floats(packed, p));
  GuardedBuffer out(static_cast<size_t>(p.total_rows() * p.out_w * c.cout));
  const int64_t begin = 4, end = 9;  // spans the two images
  hwy::conv2d_f32_nhwc(packed, p, input.data(), out.data(), begin, end, scratch.data());
  const size_t row_floats = static_cast<size_t>(p.out_w * c.cout);
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t row = static_cast<int64_t>(i / row_floats);
    ASSERT_EQ(out.is_poison(i), row < begin || row >= end) << "float " << i << " row " << row;
  }
}

// Winograd F(4x4, 3x3), packed for the call's shape: maps whose sizes are not multiples of 4 (the last
// tile row / column partly outside), pads 0-2, batch 2, row splits inside a tile row, a partial last
// channel vector on both sides, every activation; every compiled target.
TEST(ConvHwy, WinogradF43MatchesReference) {
  const std::vector<ConvCase> cases = {
      {1, 22, 22, 64, 64, 3, 3, 1, 1, 1, 1, Activation::relu()},
      {1, 20, 21, 32, 40, 3, 3, 1, 1, 1, 1, Activation::relu()},
      {2, 21, 23, 67, 20, 3, 3, 1, 1, 1, 1, Activation::none()},
      {1, 27, 19, 64, 33, 3, 3, 1, 0, 1, 1, Activation::clip(-0.1f, 0.2f)},
      {1, 19, 27, 80, 48, 3, 3, 1, 2, 1, 1, Activation::leaky_relu(0.2f)},
      {2, 20, 20, 96, 17, 3, 3, 1, 1, 1, 1, Activation::silu()},
  };
  test::for_each_target([&](const std::string&) {
    for (size_t i = 0; i < cases.size(); ++i) {
      check_case(cases[i], test::kSeed + 500 + static_cast<uint32_t>(i), 1 + static_cast<int>(i % 3), 4);
      if (HasFatalFailure() || testing::Test::HasFailure()) return;
    }
  });
}

// The tile the runtime's packing chooses: none on small maps, at stride 2 or with few input channels
// (where the shapeless packing adds F(2x2, 3x3)); from 32 input channels F(2x2, 3x3) from 100 output
// pixels, F(4x4, 3x3) from 400.
TEST(ConvHwy, WinogradTileFollowsTheCallShape) {
  std::vector<float> w(64 * 64 * 9, 0.1f);
  auto tile = [&](int64_t cin, int64_t size, int64_t stride) {
    ConvCase c{1, size, size, cin, 64, 3, 3, stride, 1, 1, 1, Activation::none()};
    const Conv2dParams p = make_params(c);
    const PackedConv2dF32 packed = hwy::pack_conv2d_f32(p.filter, w.data(), nullptr, &p);
    EXPECT_EQ(hwy::conv2d_f32_packing(p.filter, p), packed.winograd_tile);
    EXPECT_EQ(packed.winograd_weights != nullptr, packed.winograd_tile != 0);
    return packed.winograd_tile;
  };
  EXPECT_EQ(tile(64, 56, 1), 4);
  EXPECT_EQ(tile(32, 20, 1), 4);
  EXPECT_EQ(tile(32, 19, 1), 2);  // 361 pixels
  EXPECT_EQ(tile(64, 10, 1), 2);
  EXPECT_EQ(tile(16, 56, 1), 0);
  EXPECT_EQ(tile(64, 7, 1), 0);   // 49 pixels: direct only, no transformed weights packed
  EXPECT_EQ(tile(64, 56, 2), 0);  // stride 2
}

TEST(ConvHwy, WinogradPathIsChosenForWideStrideOne3x3OnLargerMaps) {
  std::vector<float> w(64 * 32 * 9, 0.1f);
  const PackedConv2dF32 wide = hwy::pack_conv2d_f32({64, 32, 3, 3, 1}, w.data(), nullptr);
  const PackedConv2dF32 narrow = hwy::pack_conv2d_f32({64, 16, 3, 3, 1}, w.data(), nullptr);
  Conv2dParams p;
  p.filter = wide.filter;
  p.in_h = p.in_w = p.out_h = p.out_w = 14;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  EXPECT_NE(wide.winograd_weights, nullptr);
  EXPECT_EQ(narrow.winograd_weights, nullptr);
  EXPECT_EQ(hwy::conv2d_f32_row_alignment(wide, p), 2);
  p.in_h = p.in_w = p.out_h = p.out_w = 7;  // small map: direct path (kWinogradMinOutputPixels)
  EXPECT_EQ(hwy::conv2d_f32_row_alignment(wide, p), 1);
  p.in_h = p.in_w = 14;
  p.stride_h = p.stride_w = 2;
  p.out_h = p.out_w = 7;
  EXPECT_EQ(hwy::conv2d_f32_row_alignment(wide, p), 1);  // stride 2: direct path
}

// scale_conv2d_f32_input_channels: the conv through the scaled view (both families, every packed
// method: 1x1 panels, 3x3 small-cin, depthwise, grouped, a Winograd-sized 3x3) equals the reference
// conv of the input with each channel multiplied by its scale; the packed source is left unchanged.
TEST(ConvHwy, InputChannelScaleViewEqualsScaledInput) {
  const ConvCase cases[] = {
      {1, 7, 9, 40, 24, 1, 1, 1, 0, 1, 1, Activation::none()},  {2, 6, 5, 3, 20, 3, 3, 2, 1, 1, 1, Activation::relu()},
      {1, 8, 8, 48, 48, 3, 3, 1, 1, 1, 48, Activation::silu()}, {1, 5, 6, 12, 18, 3, 3, 1, 1, 1, 3, Activation::none()},
      {1, 12, 12, 32, 20, 3, 3, 1, 1, 1, 1, Activation::none()},
  };
  std::mt19937 rng(test::kSeed);
  test::for_each_target([&](const std::string&) {
    for (const ConvCase& c : cases) {
      SCOPED_TRACE(c.str());
      const Conv2dParams p = make_params(c);
      const auto input = test::random_floats(rng, static_cast<size_t>(c.batch * c.in_h * c.in_w * c.cin));
      const auto weight = test::random_floats(rng, static_cast<size_t>(c.cout * (c.cin / c.groups) * c.kh * c.kw));
      const auto bias = test::random_floats(rng, static_cast<size_t>(c.cout));
      const auto scale = test::random_floats(rng, static_cast<size_t>(c.cin), 0.0f, 2.0f);
      std::vector<float> scaled_input(input.size());
      for (size_t i = 0; i < input.size(); ++i) scaled_input[i] = input[i] * scale[i % static_cast<size_t>(c.cin)];
      const size_t out_n = static_cast<size_t>(p.batch * p.out_h * p.out_w * c.cout);
      const PackedConv2dF32 ref_packed = ref::pack_conv2d_f32(p.filter, weight.data(), bias.data());
      std::vector<float> want(out_n), ref_got(out_n);
      ref::conv2d_f32_nhwc(ref_packed, p, scaled_input.data(), want.data(), 0, p.total_rows(), nullptr);
      const auto ref_dst = aligned_alloc_shared(ref_packed.weight_floats * sizeof(float));
      const PackedConv2dF32 ref_view = ref::scale_conv2d_f32_input_channels(ref_packed, scale.data(), reinterpret_cast<float*>(ref_dst.get()));
      ref::conv2d_f32_nhwc(ref_view, p, input.data(), ref_got.data(), 0, p.total_rows(), nullptr);

      const PackedConv2dF32 packed = hwy::pack_conv2d_f32(p.filter, weight.data(), bias.data());
      const std::vector<float> packed_before(packed.weights, packed.weights + packed.weight_floats);
      const auto dst = aligned_alloc_shared(packed.weight_floats * sizeof(float));
      const PackedConv2dF32 view = hwy::scale_conv2d_f32_input_channels(packed, scale.data(), reinterpret_cast<float*>(dst.get()));
      EXPECT_EQ(view.winograd_weights, nullptr);
      EXPECT_EQ(std::vector<float>(packed.weights, packed.weights + packed.weight_floats), packed_before);
      std::vector<float> scratch(hwy::conv2d_f32_scratch_floats(view, p));
      GuardedBuffer got(out_n);
      hwy::conv2d_f32_nhwc(view, p, input.data(), got.data(), 0, p.total_rows(), scratch.data());
      ASSERT_TRUE(got.guards_intact());
      const int64_t k = (c.cin / c.groups) * c.kh * c.kw;
      for (size_t i = 0; i < out_n; ++i) {
        ASSERT_TRUE(test::close_enough(got.data()[i], want[i], k)) << "hwy output " << i << " got " << got.data()[i] << " want " << want[i];
        ASSERT_TRUE(test::close_enough(ref_got[i], want[i], k)) << "ref output " << i << " got " << ref_got[i] << " want " << want[i];
      }
    }
  });
}

TEST(ConvHwy, RejectsMismatchedFamilyAndShapes) {
  const Conv2dFilter f{8, 4, 3, 3, 1};
  std::vector<float> w(8 * 4 * 9, 0.5f);
  const PackedConv2dF32 ref_packed = ref::pack_conv2d_f32(f, w.data(), nullptr);
  Conv2dParams p;
  p.filter = f;
  p.in_h = p.in_w = 5;
  p.out_h = p.out_w = 3;
  std::vector<float> in(5 * 5 * 4), out(3 * 3 * 8);
  EXPECT_THROW(hwy::conv2d_f32_nhwc(ref_packed, p, in.data(), out.data(), 0, 3, nullptr), Error);
  const PackedConv2dF32 packed = hwy::pack_conv2d_f32(f, w.data(), nullptr);
  p.out_h = 4;  // wrong for 5x5 with a 3x3 kernel and no padding
  EXPECT_THROW(hwy::conv2d_f32_nhwc(packed, p, in.data(), out.data(), 0, 3, nullptr), Error);
  p.out_h = 3;
  EXPECT_THROW(hwy::conv2d_f32_nhwc(packed, p, in.data(), out.data(), 0, 4, nullptr), Error);  // range > rows
  EXPECT_THROW(hwy::pack_conv2d_f32({8, 6, 3, 3, 4}, w.data(), nullptr), Error);  // 6 % 4 != 0
}

}  // namespace
}  // namespace edgeq::kernels
