// hwy pooling vs the reference: max (f32 and u8) is bit-exact, average within the f32 tolerance;
// windows with padding, ceil_mode-style extra outputs, dilation, count_include_pad, odd channel counts.
#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "edgeq/kernels.h"
#include "kernels/kernel_test_util.h"

namespace edgeq::kernels {
namespace {

using test::GuardedBuffer;

// A random pool shape: channels from `channel_counts`, kernels 1..3, strides 1..2, sometimes dilation 2,
// pads < kernel (as ONNX requires), and in a third of the cases one more output per axis, as ceil_mode
// adds (a window that starts inside the input but reaches past the padded end). `name` describes it.
Pool2dParams random_pool_params(std::mt19937& rng, const std::vector<int64_t>& channel_counts, std::string& name) {
  Pool2dParams p;
  p.batch = 1 + static_cast<int64_t>(rng() % 2);
  p.channels = channel_counts[rng() % channel_counts.size()];
  p.kernel_h = 1 + static_cast<int64_t>(rng() % 3);
  p.kernel_w = 1 + static_cast<int64_t>(rng() % 3);
  p.stride_h = 1 + static_cast<int64_t>(rng() % 2);
  p.stride_w = 1 + static_cast<int64_t>(rng() % 2);
  p.dilation_h = p.dilation_w = rng() % 5 == 0 ? 2 : 1;
  p.pad_top = p.pad_bottom = static_cast<int64_t>(rng() % p.kernel_h);
  p.pad_left = p.pad_right = static_cast<int64_t>(rng() % p.kernel_w);
  p.in_h = 4 + static_cast<int64_t>(rng() % 8) + (p.kernel_h - 1) * p.dilation_h;
  p.in_w = 4 + static_cast<int64_t>(rng() % 8) + (p.kernel_w - 1) * p.dilation_w;
  p.count_include_pad = rng() % 2 == 0;
  const bool ceil_mode = rng() % 3 == 0;
  p.out_h = window_output_extent(p.in_h, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h);
  p.out_w = window_output_extent(p.in_w, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, p.dilation_w);
  if (ceil_mode) {
    if ((p.out_h) * p.stride_h - p.pad_top < p.in_h) ++p.out_h;
    if ((p.out_w) * p.stride_w - p.pad_left < p.in_w) ++p.out_w;
  }
  std::ostringstream out;
  out << "N" << p.batch << " C" << p.channels << " " << p.in_h << "x" << p.in_w << " k " << p.kernel_h << "x"
      << p.kernel_w << " s " << p.stride_h << "," << p.stride_w << " d " << p.dilation_h << " pads " << p.pad_top
      << "," << p.pad_left << " out " << p.out_h << "x" << p.out_w << " include_pad " << p.count_include_pad
      << " ceil " << ceil_mode;
  name = out.str();
  return p;
}

// One image, square input, window, stride and pads.
Pool2dParams square_pool(int64_t channels, int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin,
                         int64_t pad_end, int64_t out) {
  Pool2dParams p;
  p.channels = channels;
  p.in_h = p.in_w = in;
  p.kernel_h = p.kernel_w = kernel;
  p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = pad_begin;
  p.pad_bottom = p.pad_right = pad_end;
  p.out_h = p.out_w = out;
  return p;
}

// Channel counts around the whole-vector blocks of every target (4 vectors: 16 floats on SSE4, 32 on
// AVX2, 64 on AVX-512) and past them.
TEST(PoolHwy, MatchesReference) {
  std::mt19937 rng(test::kSeed);
  const std::vector<int64_t> channel_counts = {1, 3, 7, 13, 16, 17, 24, 33, 64, 80, 150};
  test::for_each_target([&](const std::string&) {
    for (int i = 0; i < 60; ++i) {
      std::string name;
      const Pool2dParams p = random_pool_params(rng, channel_counts, name);
      SCOPED_TRACE("seed " + std::to_string(test::kSeed) + " case " + std::to_string(i) + " " + name);
      const auto input = test::random_floats(rng, static_cast<size_t>(p.batch * p.in_h * p.in_w * p.channels));
      const size_t out_n = static_cast<size_t>(p.total_rows() * p.out_w * p.channels);
      for (bool is_max : {true, false}) {
        std::vector<float> want(out_n);
        GuardedBuffer got(out_n);
        const int64_t mid = p.total_rows() / 2;
        if (is_max) {
          ref::max_pool2d_f32_nhwc(p, input.data(), want.data(), 0, p.total_rows());
          hwy::max_pool2d_f32_nhwc(p, input.data(), got.data(), 0, mid);
          hwy::max_pool2d_f32_nhwc(p, input.data(), got.data(), mid, p.total_rows());
        } else {
          ref::avg_pool2d_f32_nhwc(p, input.data(), want.data(), 0, p.total_rows());
          hwy::avg_pool2d_f32_nhwc(p, input.data(), got.data(), 0, mid);
          hwy::avg_pool2d_f32_nhwc(p, input.data(), got.data(), mid, p.total_rows());
        }
        ASSERT_TRUE(got.guards_intact());
        for (size_t j = 0; j < out_n; ++j) {
          if (is_max) {
            ASSERT_EQ(got.data()[j], want[j]) << "max output " << j;
          } else {
            ASSERT_TRUE(test::close_enough(got.data()[j], want[j], p.kernel_h * p.kernel_w))
                << "avg output " << j << " got " << got.data()[j] << " want " << want[j];
          }
        }
      }
    }
  });
}

// u8 max: bit-exact; channel counts around every target's u8 vector (16, 32, 64 lanes) and blocks of 4
// of them (256 on AVX-512); random bytes above 127 catch a signed max.
TEST(PoolHwy, MaxU8MatchesReference) {
  std::mt19937 rng(test::kSeed);
  const std::vector<int64_t> channel_counts = {1, 3, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 256, 300};
  test::for_each_target([&](const std::string&) {
    for (int i = 0; i < 60; ++i) {
      std::string name;
      const Pool2dParams p = random_pool_params(rng, channel_counts, name);
      SCOPED_TRACE("seed " + std::to_string(test::kSeed) + " case " + std::to_string(i) + " " + name);
      const auto input = test::random_u8(rng, static_cast<size_t>(p.batch * p.in_h * p.in_w * p.channels));
      const size_t out_n = static_cast<size_t>(p.total_rows() * p.out_w * p.channels);
      std::vector<uint8_t> want(out_n);
      test::GuardedBytes got(out_n);
      const int64_t mid = p.total_rows() / 2;
      ref::max_pool2d_u8_nhwc(p, input.data(), want.data(), 0, p.total_rows());
      hwy::max_pool2d_u8_nhwc(p, input.data(), got.data(), 0, mid);
      hwy::max_pool2d_u8_nhwc(p, input.data(), got.data(), mid, p.total_rows());
      ASSERT_TRUE(got.guards_intact());
      for (size_t j = 0; j < out_n; ++j) ASSERT_EQ(got.data()[j], want[j]) << "output " << j;
    }
  });
}

// The 2x2 max pool after a conv (hwy's interior fast path): even inputs (every window inside), odd
// inputs in ceil mode (the last window of each axis clipped to one column/row, the general path), pads,
// stride 1, and channel counts around the 128/256/512-bit vector widths, f32 and u8, every target.
TEST(PoolHwy, MaxTwoByTwoMatchesReference) {
  std::mt19937 rng(test::kSeed + 1);
  struct Case {
    int64_t in, stride, pad_begin, pad_end, out;
  };
  const Case cases[] = {{28, 2, 0, 0, 14}, {14, 2, 0, 0, 7}, {7, 2, 0, 0, 4}, {7, 2, 1, 0, 4}, {6, 1, 0, 0, 5}};
  test::for_each_target([&](const std::string&) {
    for (const Case& k : cases) {
      for (int64_t channels : {1, 8, 16, 17, 32, 33, 64, 100}) {
        const Pool2dParams p = square_pool(channels, k.in, 2, k.stride, k.pad_begin, k.pad_end, k.out);
        SCOPED_TRACE("in " + std::to_string(k.in) + " stride " + std::to_string(k.stride) + " pad " +
                     std::to_string(k.pad_begin) + " C" + std::to_string(channels));
        const size_t in_n = static_cast<size_t>(k.in * k.in * channels);
        const size_t out_n = static_cast<size_t>(k.out * k.out * channels);
        const auto in_f = test::random_floats(rng, in_n);
        std::vector<float> want_f(out_n);
        GuardedBuffer got_f(out_n);
        ref::max_pool2d_f32_nhwc(p, in_f.data(), want_f.data(), 0, k.out);
        hwy::max_pool2d_f32_nhwc(p, in_f.data(), got_f.data(), 0, k.out);
        ASSERT_TRUE(got_f.guards_intact());
        for (size_t j = 0; j < out_n; ++j) ASSERT_EQ(got_f.data()[j], want_f[j]) << "f32 output " << j;
        const auto in_u = test::random_u8(rng, in_n);
        std::vector<uint8_t> want_u(out_n);
        test::GuardedBytes got_u(out_n);
        ref::max_pool2d_u8_nhwc(p, in_u.data(), want_u.data(), 0, k.out);
        hwy::max_pool2d_u8_nhwc(p, in_u.data(), got_u.data(), 0, k.out);
        ASSERT_TRUE(got_u.guards_intact());
        for (size_t j = 0; j < out_n; ++j) ASSERT_EQ(got_u.data()[j], want_u[j]) << "u8 output " << j;
      }
    }
  });
}

TEST(PoolHwy, MaxU8KnownValues) {
  // 1 image, 3x3 input, 2 channels, 2x2 window, stride 2, pad 1 on the top/left only: the first window
  // of each axis is clipped to one tap; bytes above 127 must win (unsigned compare).
  const Pool2dParams p = square_pool(/*channels=*/2, /*in=*/3, /*kernel=*/2, /*stride=*/2, /*pad_begin=*/1,
                                     /*pad_end=*/0, /*out=*/2);
  // channel 0: 0..8, channel 1: 200, 10, 255, 1, 2, 3, 128, 4, 5
  const uint8_t in[18] = {0, 200, 1, 10, 2, 255, 3, 1, 4, 2, 5, 3, 6, 128, 7, 4, 8, 5};
  uint8_t out[8] = {};
  ref::max_pool2d_u8_nhwc(p, in, out, 0, 2);
  const uint8_t want[8] = {0, 200, 2, 255, 6, 128, 8, 5};
  for (int j = 0; j < 8; ++j) EXPECT_EQ(out[j], want[j]) << "ref output " << j;
  std::fill(out, out + 8, uint8_t{0});
  hwy::max_pool2d_u8_nhwc(p, in, out, 0, 2);
  for (int j = 0; j < 8; ++j) EXPECT_EQ(out[j], want[j]) << "hwy output " << j;
}

TEST(PoolHwy, GlobalAveragePool) {
  std::mt19937 rng(test::kSeed);
  test::for_each_target([&](const std::string&) {
    for (int64_t channels : {1, 7, 16, 17, 33}) {
      const int64_t batch = 3, spatial = 49;
      const auto input = test::random_floats(rng, static_cast<size_t>(batch * spatial * channels));
      std::vector<float> want(static_cast<size_t>(batch * channels));
      GuardedBuffer got(static_cast<size_t>(batch * channels));
      ref::global_avg_pool_f32_nhwc(input.data(), want.data(), spatial, channels, 0, batch);
      hwy::global_avg_pool_f32_nhwc(input.data(), got.data(), spatial, channels, 0, 1);
      hwy::global_avg_pool_f32_nhwc(input.data(), got.data(), spatial, channels, 1, batch);
      ASSERT_TRUE(got.guards_intact());
      for (size_t j = 0; j < want.size(); ++j)
        ASSERT_TRUE(test::close_enough(got.data()[j], want[j], spatial)) << "C" << channels << " output " << j;
    }
  });
}

// onnxruntime's QLinearGlobalAveragePool: int32 sums minus zero point x pixels, one float multiplier,
// ties to even; hwy gives ref's bytes on every target for channel counts around the lane count.
TEST(PoolHwy, QLinearGlobalAveragePoolU8) {
  {
    const uint8_t ties[] = {1, 2, 3, 4}, up[] = {1, 2, 3, 5}, shifted[] = {11, 12, 13, 14};
    const float m = qlinear_global_avg_pool_multiplier(1.f, 1.f, 4);
    uint8_t y = 0;
    ref::qlinear_global_avg_pool_u8_nhwc(ties, &y, 4, 1, 0, m, 0, 0, 1);
    EXPECT_EQ(y, 2);  // 10 / 4 = 2.5 -> 2
    ref::qlinear_global_avg_pool_u8_nhwc(up, &y, 4, 1, 0, m, 0, 0, 1);
    EXPECT_EQ(y, 3);  // 2.75
    ref::qlinear_global_avg_pool_u8_nhwc(shifted, &y, 4, 1, 10, m, 7, 0, 1);
    EXPECT_EQ(y, 9);  // (50 - 40) / 4 = 2.5 -> 2, + 7
    EXPECT_THROW(ref::qlinear_global_avg_pool_u8_nhwc(ties, &y, 0, 1, 0, m, 0, 0, 1), Error);
    EXPECT_THROW(hwy::qlinear_global_avg_pool_u8_nhwc(ties, &y, int64_t{1} << 23, 1, 0, m, 0, 0, 1), Error);
  }
  std::mt19937 rng(test::kSeed);
  test::for_each_target([&](const std::string&) {
    for (int64_t channels : {1, 3, 8, 15, 16, 17, 33, 64}) {
      for (int64_t spatial : {1, 4, 49}) {
        SCOPED_TRACE("channels " + std::to_string(channels) + " spatial " + std::to_string(spatial));
        const int64_t batch = 2;
        const auto x = test::random_u8(rng, static_cast<size_t>(batch * spatial * channels));
        const int32_t xz = static_cast<int32_t>(rng() % 256), yz = static_cast<int32_t>(rng() % 256);
        const float m = qlinear_global_avg_pool_multiplier(0.05f, 0.03f + 0.01f * static_cast<float>(channels % 5), spatial);
        std::vector<uint8_t> want(static_cast<size_t>(batch * channels));
        test::GuardedBytes got(want.size());
        ref::qlinear_global_avg_pool_u8_nhwc(x.data(), want.data(), spatial, channels, xz, m, yz, 0, batch);
        hwy::qlinear_global_avg_pool_u8_nhwc(x.data(), got.data(), spatial, channels, xz, m, yz, 0, batch);
        ASSERT_TRUE(got.guards_intact());
        for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got.data()[i], want[i]) << i;
      }
    }
  });
}

TEST(PoolHwy, KnownValues) {
  // 1 image, 2x2 input, 1 channel, 2x2 window, pad 1, stride 2: four windows each seeing one input.
  Pool2dParams p = square_pool(/*channels=*/1, /*in=*/2, /*kernel=*/2, /*stride=*/2, /*pad_begin=*/1,
                               /*pad_end=*/1, /*out=*/2);
  const float in[4] = {1, 2, 3, 4};
  float out[4];
  p.count_include_pad = true;
  hwy::avg_pool2d_f32_nhwc(p, in, out, 0, 2);
  EXPECT_FLOAT_EQ(out[0], 0.25f);
  EXPECT_FLOAT_EQ(out[3], 1.0f);
  p.count_include_pad = false;
  hwy::avg_pool2d_f32_nhwc(p, in, out, 0, 2);
  EXPECT_FLOAT_EQ(out[0], 1.0f);
  EXPECT_FLOAT_EQ(out[3], 4.0f);
  hwy::max_pool2d_f32_nhwc(p, in, out, 0, 2);
  EXPECT_FLOAT_EQ(out[1], 2.0f);
}

}  // namespace
}  // namespace edgeq::kernels
