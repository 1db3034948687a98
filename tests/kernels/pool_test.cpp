// hwy pooling vs the reference: max is bit-exact, average within the f32 tolerance; windows with
// padding, ceil_mode-style extra outputs, dilation, count_include_pad, odd channel counts.
#include <sstream>

#include "edgeq/kernels.h"
#include "kernels/kernel_test_util.h"

namespace edgeq::kernels {
namespace {

using test::GuardedBuffer;

TEST(PoolHwy, MatchesReference) {
  std::mt19937 rng(test::kSeed);
  const int64_t channel_counts[] = {1, 3, 7, 13, 16, 17, 24, 33};
  test::for_each_target([&](const std::string&) {
    for (int i = 0; i < 60; ++i) {
      Pool2dParams p;
      p.batch = 1 + static_cast<int64_t>(rng() % 2);
      p.channels = channel_counts[rng() % 8];
      p.kernel_h = 1 + static_cast<int64_t>(rng() % 3);
      p.kernel_w = 1 + static_cast<int64_t>(rng() % 3);
      p.stride_h = 1 + static_cast<int64_t>(rng() % 2);
      p.stride_w = 1 + static_cast<int64_t>(rng() % 2);
      p.dilation_h = p.dilation_w = rng() % 5 == 0 ? 2 : 1;
      p.pad_top = p.pad_bottom = static_cast<int64_t>(rng() % p.kernel_h);  // pads < kernel, as ONNX requires
      p.pad_left = p.pad_right = static_cast<int64_t>(rng() % p.kernel_w);
      p.in_h = 4 + static_cast<int64_t>(rng() % 8) + (p.kernel_h - 1) * p.dilation_h;
      p.in_w = 4 + static_cast<int64_t>(rng() % 8) + (p.kernel_w - 1) * p.dilation_w;
      p.count_include_pad = rng() % 2 == 0;
      const bool ceil_mode = rng() % 3 == 0;
      p.out_h = window_output_extent(p.in_h, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h);
      p.out_w = window_output_extent(p.in_w, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, p.dilation_w);
      if (ceil_mode) {  // one more window that starts inside the input, as ceil_mode would add
        if ((p.out_h) * p.stride_h - p.pad_top < p.in_h) ++p.out_h;
        if ((p.out_w) * p.stride_w - p.pad_left < p.in_w) ++p.out_w;
      }
      std::ostringstream name;
      name << "case " << i << " N" << p.batch << " C" << p.channels << " " << p.in_h << "x" << p.in_w << " k "
           << p.kernel_h << "x" << p.kernel_w << " s " << p.stride_h << "," << p.stride_w << " d " << p.dilation_h
           << " pads " << p.pad_top << "," << p.pad_left << " include_pad " << p.count_include_pad << " ceil "
           << ceil_mode;
      SCOPED_TRACE(name.str());
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

TEST(PoolHwy, KnownValues) {
  // 1 image, 2x2 input, 1 channel, 2x2 window, pad 1, stride 2: four windows each seeing one input.
  Pool2dParams p;
  p.channels = 1;
  p.in_h = p.in_w = 2;
  p.kernel_h = p.kernel_w = 2;
  p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  p.out_h = p.out_w = 2;
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
