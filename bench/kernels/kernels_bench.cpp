// Kernel micro-benchmarks: the cnn-s / cnn-m layers (conv, pools, fully-connected at batch 1 and 64),
// ref vs hwy, single thread. Counters: GMAC/s (multiply-adds per second / 1e9), and for the FMA peak
// benchmark the ceiling the others are a fraction of.
#include <benchmark/benchmark.h>

#include <random>
#include <type_traits>
#include <vector>

#include "edgeq/kernels.h"
#include "fma_peak.h"

namespace edgeq::kernels {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void BM_FmaPeak(benchmark::State& state) {
  float sink = 0.0f;
  int64_t macs = 0;
  for (auto _ : state) macs += bench::run_fma_peak(100000, &sink);
  benchmark::DoNotOptimize(sink);
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(macs) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(hwy::target_name());
}
BENCHMARK(BM_FmaPeak);

// A conv layer 3x3, pad 1, stride 1, + ReLU: args = in_h, in_w, cin, cout, batch[, packed without a shape].
template <bool kHwy>
void BM_Conv3x3(benchmark::State& state) {
  const int64_t h = state.range(0), w = state.range(1), cin = state.range(2), cout = state.range(3), n = state.range(4);
  Conv2dParams p;
  p.filter = {cout, cin, 3, 3, 1};
  p.batch = n;
  p.in_h = h;
  p.in_w = w;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  p.out_h = h;
  p.out_w = w;
  p.activation = Activation::relu();
  const auto input = random_floats(static_cast<size_t>(n * h * w * cin), 1);
  const auto weight = random_floats(static_cast<size_t>(cout * cin * 9), 2);
  const auto bias = random_floats(static_cast<size_t>(cout), 3);
  // Packed for this shape as the runtime packs (its Winograd tile), or with range(5) = 1 as packed
  // without a shape (F(2x2, 3x3) whenever the filter allows it): the two transforms side by side.
  const bool shapeless = state.range(5) != 0;
  const PackedConv2dF32 packed = kHwy ? hwy::pack_conv2d_f32(p.filter, weight.data(), bias.data(), shapeless ? nullptr : &p)
                                      : ref::pack_conv2d_f32(p.filter, weight.data(), bias.data());
  if (kHwy) state.SetLabel(std::string(hwy::target_name()) + " winograd tile " + std::to_string(packed.winograd_tile));
  std::vector<float> scratch(kHwy ? hwy::conv2d_f32_scratch_floats(packed, p) : 0);
  std::vector<float> output(static_cast<size_t>(n * h * w * cout));
  for (auto _ : state) {
    if (kHwy) {
      hwy::conv2d_f32_nhwc(packed, p, input.data(), output.data(), 0, p.total_rows(), scratch.data());
    } else {
      ref::conv2d_f32_nhwc(packed, p, input.data(), output.data(), 0, p.total_rows(), nullptr);
    }
    benchmark::DoNotOptimize(output.data());
  }
  const double macs = static_cast<double>(n * h * w * cout * cin * 9);
  state.counters["GMAC/s"] =
      benchmark::Counter(macs * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}
// cnn-s: conv1 28x28 1->16, conv2 14x14 16->32; cnn-m: 28x28 1->32, 14x14 32->64, 7x7 64->128.
#define CONV_LAYERS(B)                                                                                 \
  B->Args({28, 28, 1, 16, 1, 0})->Args({14, 14, 16, 32, 1, 0})->Args({28, 28, 1, 32, 1, 0})->Args({14, 14, 32, 64, 1, 0}) \
      ->Args({7, 7, 64, 128, 1, 0})->Args({14, 14, 32, 64, 64, 0})
CONV_LAYERS(BENCHMARK_TEMPLATE(BM_Conv3x3, true));
BENCHMARK_TEMPLATE(BM_Conv3x3, false)->Args({14, 14, 16, 32, 1, 0})->Args({7, 7, 64, 128, 1, 0});

// Runs the hwy fp32 conv `p` (batch 1, random operands) and reports its multiply-adds per second.
void run_conv_f32(benchmark::State& state, const Conv2dParams& p) {
  const Conv2dFilter& f = p.filter;
  const int64_t cin_g = f.in_channels / f.groups;
  const auto input = random_floats(static_cast<size_t>(p.in_h * p.in_w * f.in_channels), 1);
  const auto weight = random_floats(static_cast<size_t>(f.out_channels * cin_g * f.kernel_h * f.kernel_w), 2);
  const auto bias = random_floats(static_cast<size_t>(f.out_channels), 3);
  const PackedConv2dF32 packed = hwy::pack_conv2d_f32(f, weight.data(), bias.data());
  std::vector<float> scratch(hwy::conv2d_f32_scratch_floats(packed, p));
  std::vector<float> output(static_cast<size_t>(p.out_h * p.out_w * f.out_channels));
  for (auto _ : state) {
    hwy::conv2d_f32_nhwc(packed, p, input.data(), output.data(), 0, p.total_rows(), scratch.data());
    benchmark::DoNotOptimize(output.data());
  }
  const double macs = static_cast<double>(p.out_h * p.out_w * f.out_channels * cin_g * f.kernel_h * f.kernel_w);
  state.counters["GMAC/s"] =
      benchmark::Counter(macs * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// A stem conv of an RGB image, + ReLU: args = in_h (= in_w), cout, kernel, stride (pad kernel / 2):
// ResNet's 7x7 stride 2 3 -> 64 and MobileNetV2's 3x3 stride 2 3 -> 32 at 224.
void BM_ConvStem(benchmark::State& state) {
  const int64_t h = state.range(0), cout = state.range(1), k = state.range(2), stride = state.range(3);
  Conv2dParams p;
  p.filter = {cout, 3, k, k, 1};
  p.batch = 1;
  p.in_h = p.in_w = h;
  p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = k / 2;
  p.out_h = p.out_w = (h + 2 * (k / 2) - k) / stride + 1;
  p.activation = Activation::relu();
  run_conv_f32(state, p);
}
BENCHMARK(BM_ConvStem)->Args({224, 64, 7, 2})->Args({224, 32, 3, 2});

// Fully-connected C = relu(A . B^T + bias): args = M, K, N.
template <bool kHwy>
void BM_Gemm(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const auto a = random_floats(static_cast<size_t>(m * k), 1);
  const auto b = random_floats(static_cast<size_t>(n * k), 2);
  const auto bias = random_floats(static_cast<size_t>(n), 3);
  const PackedGemmF32 packed = kHwy ? hwy::pack_gemm_f32(b.data(), k, n, BLayout::kNK, bias.data(), 1.0f)
                                    : ref::pack_gemm_f32(b.data(), k, n, BLayout::kNK, bias.data(), 1.0f);
  std::vector<float> c(static_cast<size_t>(m * n));
  for (auto _ : state) {
    if (kHwy) {
      hwy::gemm_f32(packed, a.data(), k, c.data(), n, {0, m, 0, n}, Activation::relu());
    } else {
      ref::gemm_f32(packed, a.data(), k, c.data(), n, {0, m, 0, n}, Activation::relu());
    }
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(m * k * n) * static_cast<double>(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
}
// cnn-s fc1 1568->128, fc2 128->10; cnn-m fc1 1152->245; batch 1 and 64.
BENCHMARK_TEMPLATE(BM_Gemm, true)->Args({1, 1568, 128})->Args({1, 128, 10})->Args({1, 1152, 245})->Args({64, 1568, 128});
BENCHMARK_TEMPLATE(BM_Gemm, false)->Args({1, 1568, 128});

// int8 (u8 x s8 per-channel) conv 3x3 pad 1 and fully-connected, hwy: args as the f32 ones.
// kPool: the fused 2x2 max pool after the conv (conv2d_qu8_qc8w_maxpool2_nhwc).
template <bool kPool>
void BM_Conv3x3Q8(benchmark::State& state) {
  const int64_t h = state.range(0), w = state.range(1), cin = state.range(2), cout = state.range(3), n = state.range(4);
  Conv2dParams p;
  p.filter = {cout, cin, 3, 3, 1};
  p.batch = n;
  p.in_h = p.out_h = h;
  p.in_w = p.out_w = w;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  std::vector<uint8_t> input(static_cast<size_t>(n * h * w * cin), 77);
  std::vector<int8_t> weight(static_cast<size_t>(cout * cin * 9));
  for (size_t i = 0; i < weight.size(); ++i) weight[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 255) - 127);
  std::vector<float> mult(static_cast<size_t>(cout), 1e-4f);
  const PackedConv2dQ8 packed = hwy::pack_conv2d_qu8_qc8w(p, weight.data(), nullptr, mult.data());
  std::vector<std::byte> scratch(hwy::conv2d_qu8_qc8w_scratch_bytes(packed, p));
  std::vector<uint8_t> output(static_cast<size_t>(n * h * w * cout));
  QuantU8Params q;
  q.input_zero_point = 3;
  q.output_zero_point = 128;
  if (kPool && !hwy::conv2d_qu8_qc8w_maxpool2_supported(packed, p)) {
    state.SkipWithError("this conv cannot fuse the pool on this target");
    return;
  }
  for (auto _ : state) {
    if (kPool)
      hwy::conv2d_qu8_qc8w_maxpool2_nhwc(packed, p, q, input.data(), output.data(), 0, n * (h / 2), scratch.data());
    else
      hwy::conv2d_qu8_qc8w_nhwc(packed, p, q, input.data(), output.data(), 0, p.total_rows(), scratch.data());
    benchmark::DoNotOptimize(output.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(n * h * w * cout * cin * 9) *
                                                    static_cast<double>(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
}
CONV_LAYERS(BENCHMARK_TEMPLATE(BM_Conv3x3Q8, false));
// ResNet-18 at 224: its 3x3 stride-1 convs per stage.
BENCHMARK_TEMPLATE(BM_Conv3x3Q8, false)->Args({56, 56, 64, 64, 1})->Args({28, 28, 128, 128, 1})->Args({14, 14, 256, 256, 1})->Args({7, 7, 512, 512, 1});
// ResNet-18's 3x3 layers at 224, each as the runtime packs it and with F(2x2, 3x3) (arg 5 = 1).
BENCHMARK_TEMPLATE(BM_Conv3x3, true)
    ->ArgsProduct({{56}, {56}, {64}, {64}, {1}, {0, 1}})
    ->ArgsProduct({{28}, {28}, {128}, {128}, {1}, {0, 1}})
    ->ArgsProduct({{14}, {14}, {256}, {256}, {1}, {0, 1}})
    ->ArgsProduct({{28}, {28}, {32}, {32}, {1}, {0, 1}})
    ->ArgsProduct({{56}, {56}, {32}, {32}, {1}, {0, 1}})
    ->ArgsProduct({{14}, {14}, {64}, {64}, {1}, {0, 1}})
    ->ArgsProduct({{14}, {14}, {128}, {128}, {1}, {0, 1}})
    ->ArgsProduct({{20}, {20}, {256}, {256}, {1}, {0, 1}})
    ->Args({7, 7, 512, 512, 1, 0});
CONV_LAYERS(BENCHMARK_TEMPLATE(BM_Conv3x3Q8, true));

// A depthwise 3x3, pad 1 layer of one image: the benchmark's args h, w, channels, stride.
Conv2dParams depthwise3x3_params(const benchmark::State& state) {
  const int64_t h = state.range(0), w = state.range(1), c = state.range(2), stride = state.range(3);
  Conv2dParams p;
  p.filter = {c, c, 3, 3, c};
  p.batch = 1;
  p.in_h = h;
  p.in_w = w;
  p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  p.out_h = window_output_extent(h, 3, stride, 1, 1, 1);
  p.out_w = window_output_extent(w, 3, stride, 1, 1, 1);
  return p;
}

// int8 depthwise 3x3 (kQ8MethodDepthwise): MobileNetV2 at 64x64 input, its largest depthwise layers,
// and at 224 its 112x112x96 stride 2, 112x112x32, 56x56x144 stride 1 and 2 (h, w, channels, stride).
void BM_DepthwiseQ8(benchmark::State& state) {
  const Conv2dParams p = depthwise3x3_params(state);
  const int64_t h = p.in_h, w = p.in_w, c = p.filter.in_channels;
  std::vector<uint8_t> input(static_cast<size_t>(h * w * c));
  for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<uint8_t>(i * 29 % 251);
  std::vector<int8_t> weight(static_cast<size_t>(c * 9));
  for (size_t i = 0; i < weight.size(); ++i) weight[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 255) - 127);
  std::vector<float> mult(static_cast<size_t>(c), 1e-3f);
  const PackedConv2dQ8 packed = hwy::pack_conv2d_qu8_qc8w(p, weight.data(), nullptr, mult.data());
  std::vector<std::byte> scratch(hwy::conv2d_qu8_qc8w_scratch_bytes(packed, p));
  std::vector<uint8_t> output(static_cast<size_t>(p.out_h * p.out_w * c));
  QuantU8Params q;
  q.input_zero_point = 3;
  q.output_zero_point = 128;
  for (auto _ : state) {
    hwy::conv2d_qu8_qc8w_nhwc(packed, p, q, input.data(), output.data(), 0, p.total_rows(), scratch.data());
    benchmark::DoNotOptimize(output.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(p.out_h * p.out_w * c * 9) * static_cast<double>(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DepthwiseQ8)->Args({32, 32, 32, 1})->Args({32, 32, 96, 2})->Args({16, 16, 144, 1})->Args({8, 8, 384, 1})->Args({4, 4, 960, 1})
    ->Args({112, 112, 96, 2})->Args({112, 112, 32, 1})->Args({56, 56, 144, 1})->Args({56, 56, 144, 2});

// fp32 depthwise 3x3 + ReLU6 (h, w, channels, stride): MobileNetV2-224's stride-2 112x112x96 (and a
// 16-row slice of it, L2-resident), its 112x112x32, 56x56x144, 14x14x576, 14x14x576 stride 2 and 7x7x960
// layers (rows of 7 outputs: narrower than one block of the sliding kernel), a small L1-resident map.
void BM_DepthwiseF32(benchmark::State& state) {
  Conv2dParams p = depthwise3x3_params(state);
  p.activation = Activation::clip(0.0f, 6.0f);
  run_conv_f32(state, p);
}
BENCHMARK(BM_DepthwiseF32)->Args({10, 34, 16, 1})->Args({112, 112, 96, 2})->Args({16, 112, 96, 2})->Args({112, 112, 32, 1})->Args({56, 56, 144, 1})->Args({14, 14, 576, 1})
    ->Args({14, 14, 576, 2})->Args({7, 7, 960, 1});

// 1x1 convs (pointwise, MobileNetV2-224's expansions and projections), int8 (kHwy kernels) and f32 with
// ReLU6 / clamp: args = h, w, cin, cout.
template <bool kQ8>
void BM_Conv1x1(benchmark::State& state) {
  const int64_t h = state.range(0), w = state.range(1), cin = state.range(2), cout = state.range(3);
  Conv2dParams p;
  p.filter = {cout, cin, 1, 1, 1};
  p.batch = 1;
  p.in_h = p.out_h = h;
  p.in_w = p.out_w = w;
  const size_t in_size = static_cast<size_t>(h * w * cin), out_size = static_cast<size_t>(h * w * cout);
  if constexpr (kQ8) {
    std::vector<uint8_t> input(in_size);
    for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<uint8_t>(i * 29 % 251);
    std::vector<int8_t> weight(static_cast<size_t>(cout * cin));
    for (size_t i = 0; i < weight.size(); ++i) weight[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 255) - 127);
    std::vector<float> mult(static_cast<size_t>(cout), 1e-3f);
    const PackedConv2dQ8 packed = hwy::pack_conv2d_qu8_qc8w(p, weight.data(), nullptr, mult.data());
    std::vector<std::byte> scratch(hwy::conv2d_qu8_qc8w_scratch_bytes(packed, p));
    std::vector<uint8_t> output(out_size);
    QuantU8Params q;
    q.input_zero_point = 3;
    q.output_zero_point = 0;
    q.output_max = 190;  // a ReLU6-style clamp
    for (auto _ : state) {
      hwy::conv2d_qu8_qc8w_nhwc(packed, p, q, input.data(), output.data(), 0, p.total_rows(), scratch.data());
      benchmark::DoNotOptimize(output.data());
    }
  } else {
    p.activation = Activation::clip(0.0f, 6.0f);
    const auto input = random_floats(in_size, 1);
    const auto weight = random_floats(static_cast<size_t>(cout * cin), 2);
    const auto bias = random_floats(static_cast<size_t>(cout), 3);
    const PackedConv2dF32 packed = hwy::pack_conv2d_f32(p.filter, weight.data(), bias.data());
    std::vector<float> scratch(hwy::conv2d_f32_scratch_floats(packed, p));
    std::vector<float> output(out_size);
    for (auto _ : state) {
      hwy::conv2d_f32_nhwc(packed, p, input.data(), output.data(), 0, p.total_rows(), scratch.data());
      benchmark::DoNotOptimize(output.data());
    }
  }
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(h * w * cin * cout) * static_cast<double>(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
}
#define CONV1X1_LAYERS(B) \
  B->Args({112, 112, 16, 96})->Args({112, 112, 32, 16})->Args({56, 56, 24, 144})->Args({56, 56, 144, 24})->Args({14, 14, 96, 576})->Args({7, 7, 320, 1280}) \
      ->Args({3, 3, 320, 1280})->Args({3, 3, 960, 320})
CONV1X1_LAYERS(BENCHMARK_TEMPLATE(BM_Conv1x1, true));
CONV1X1_LAYERS(BENCHMARK_TEMPLATE(BM_Conv1x1, false));

void BM_GemmQ8(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  std::vector<uint8_t> a(static_cast<size_t>(m * k), 77);
  std::vector<int8_t> b(static_cast<size_t>(n * k), -5);
  std::vector<float> mult(static_cast<size_t>(n), 1e-4f);
  const PackedGemmQ8 packed = hwy::pack_gemm_qu8_qc8w(b.data(), k, n, BLayout::kNK, nullptr, mult.data());
  std::vector<std::byte> scratch(hwy::gemm_qu8_qc8w_scratch_bytes(packed));
  std::vector<uint8_t> c(static_cast<size_t>(m * n));
  QuantU8Params q;
  for (auto _ : state) {
    hwy::gemm_qu8_qc8w(packed, q, a.data(), k, c.data(), n, {0, m, 0, n}, scratch.data());
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(m * k * n) * static_cast<double>(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GemmQ8)->Args({1, 1568, 128})->Args({1, 1152, 128})->Args({1, 1152, 245})->Args({64, 1568, 128});

// Stride-2 max pool, f32 or u8 (int8 path): args = in_h, in_w, channels, kernel (2: 2x2, no padding, the
// pool after a conv; 3: 3x3, pad 1, ResNet's after its stem).
template <typename T>
void BM_MaxPool2(benchmark::State& state) {
  Pool2dParams p;
  p.in_h = state.range(0);
  p.in_w = state.range(1);
  p.channels = state.range(2);
  p.kernel_h = p.kernel_w = state.range(3);
  p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = p.kernel_h / 2 * (p.kernel_h % 2);
  p.out_h = (p.in_h + 2 * p.pad_top - p.kernel_h) / 2 + 1;
  p.out_w = (p.in_w + 2 * p.pad_left - p.kernel_w) / 2 + 1;
  const size_t n = static_cast<size_t>(p.in_h * p.in_w * p.channels);
  std::vector<T> input(n);
  if constexpr (std::is_same_v<T, float>) {
    input = random_floats(n, 1);
  } else {
    std::mt19937 rng(1);
    for (T& x : input) x = static_cast<T>(rng() & 0xff);
  }
  std::vector<T> output(static_cast<size_t>(p.out_h * p.out_w * p.channels));
  for (auto _ : state) {
    if constexpr (std::is_same_v<T, float>) {
      hwy::max_pool2d_f32_nhwc(p, input.data(), output.data(), 0, p.total_rows());
    } else {
      hwy::max_pool2d_u8_nhwc(p, input.data(), output.data(), 0, p.total_rows());
    }
    benchmark::DoNotOptimize(output.data());
  }
}
#define POOL_LAYERS(b) \
  b->Args({28, 28, 16, 2})->Args({14, 14, 32, 2})->Args({28, 28, 32, 2})->Args({14, 14, 64, 2})->Args({112, 112, 64, 3})
POOL_LAYERS(BENCHMARK_TEMPLATE(BM_MaxPool2, float));
POOL_LAYERS(BENCHMARK_TEMPLATE(BM_MaxPool2, uint8_t));

// fp32 activations on an L1-resident buffer (so the cost is the math, as in a conv's fused epilogue, not
// memory): bias + Silu (EfficientNet's), the Sigmoid op, and bias + ReLU6 for scale. arg = kind.
void BM_ActivationF32(benchmark::State& state) {
  constexpr size_t kChannels = 64, kCount = 4096;
  const auto x = random_floats(kCount, 1);
  const auto bias = random_floats(kChannels, 2);
  std::vector<float> out(kCount);
  const int64_t kind = state.range(0);
  for (auto _ : state) {
    if (kind == 0) hwy::bias_activation_f32(x.data(), bias.data(), out.data(), kCount, kChannels, Activation::silu());
    if (kind == 1) hwy::sigmoid_f32(x.data(), out.data(), kCount);
    if (kind == 2) hwy::bias_activation_f32(x.data(), bias.data(), out.data(), kCount, kChannels, Activation::clip(0.0f, 6.0f));
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["ns/elem"] = benchmark::Counter(static_cast<double>(kCount) * static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel(kind == 0 ? "bias+silu" : kind == 1 ? "sigmoid" : "bias+relu6");
}
BENCHMARK(BM_ActivationF32)->Arg(0)->Arg(1)->Arg(2);

}  // namespace
}  // namespace edgeq::kernels

BENCHMARK_MAIN();
