// edgeq kernels: the compute routines the runtime's plan calls, in two families with identical
// signatures:
//   ref::  plain loops, no intrinsics, no threads: the oracle every optimized kernel is tested against.
//   hwy::  Highway (one source, run-time dispatch: SSE4 / AVX2 / AVX-512 on x86; the same source builds
//          with static dispatch for wasm SIMD128 and aarch64 NEON).
//
// Contract (both families):
// - Activations are NHWC (channels last), f32, dense. Weights are packed ONCE, at session compile, by
//   the family's pack_* function; the runtime keeps the returned Packed* value (it owns its storage,
//   copies share it) and hands it back on every run. A packed value must be run by the family that
//   packed it (checked: Error kInvalidArgument otherwise).
// - Kernels are single-threaded, pure, and never allocate while running: each entry takes a range of
//   work (conv/pool: output rows, gemm: rows x columns), so the runtime's thread pool splits a call into
//   disjoint ranges and runs them in parallel. Entries that need scratch memory take it as an argument;
//   the *_scratch_floats/_bytes() queries give the size for ONE call (one per concurrent thread).
// - Inputs are read, outputs written only inside the given range. Activation, output and scratch
//   pointers need no alignment (only pack_gemm_f32_into's destination does).
// - Errors (inconsistent params, wrong family) throw edgeq::Error naming the field; hot entries check
//   cheaply (O(1)) before touching memory.
// - int8 entries (qu8_qc8w: u8 activations, s8 per-channel weights) follow the same pattern; see the
//   int8 section below.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgeq/core.h"

namespace edgeq::kernels {

// ---------------------------------------------------------------------------------------------
// Fused epilogue: applied to (accumulator + bias) before the store.
enum class ActivationKind : uint8_t {
  kNone,       // identity
  kRelu,       // max(x, 0)
  kClip,       // min(max(x, clip_min), clip_max)  (ONNX Clip, ReLU6 = Clip(0, 6))
  kLeakyRelu,  // x < 0 ? alpha * x : x
  kSilu,       // x * sigmoid(x) (Swish; EfficientNet's Conv -> Sigmoid -> Mul), sigmoid as 1 / (1 + exp(-x))
};

struct Activation {
  ActivationKind kind = ActivationKind::kNone;
  float clip_min = 0.0f;   // kClip only
  float clip_max = 0.0f;   // kClip only
  float alpha = 0.01f;     // kLeakyRelu only

  static Activation none() { return {}; }
  static Activation relu() { return {ActivationKind::kRelu, 0.0f, 0.0f, 0.0f}; }
  static Activation clip(float lo, float hi) { return {ActivationKind::kClip, lo, hi, 0.0f}; }
  static Activation leaky_relu(float a) { return {ActivationKind::kLeakyRelu, 0.0f, 0.0f, a}; }
  static Activation silu() { return {ActivationKind::kSilu, 0.0f, 0.0f, 0.0f}; }
};

// Scalar form of the epilogue (ref, and the scalar tails of hwy).
inline float apply_activation(const Activation& act, float x) {
  switch (act.kind) {
    case ActivationKind::kNone: return x;
    case ActivationKind::kRelu: return x > 0.0f ? x : 0.0f;
    case ActivationKind::kClip: return x < act.clip_min ? act.clip_min : (x > act.clip_max ? act.clip_max : x);
    case ActivationKind::kLeakyRelu: return x < 0.0f ? act.alpha * x : x;
    case ActivationKind::kSilu: return x * (1.0f / (1.0f + std::exp(-x)));
  }
  return x;
}

// Which family produced a packed value.
enum class Family : uint8_t { kRef, kHwy };

// Output extent of a sliding window (conv/pool, floor mode): (in + pb + pe - ((k-1)*d + 1)) / s + 1.
// Throws kInvalidArgument when the window does not fit. ceil_mode pools pass their own out extent.
int64_t window_output_extent(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end,
                             int64_t dilation);

// ---------------------------------------------------------------------------------------------
// Conv2d, NHWC.
//   input  [N, in_h, in_w, in_channels]
//   weight (to pack) ONNX OIHW: [out_channels, in_channels / groups, kernel_h, kernel_w]
//   bias   (to pack) [out_channels] or nullptr
//   output [N, out_h, out_w, out_channels]
// Groups: in_channels and out_channels divisible by groups; depthwise = groups == in_channels.

// What packing depends on (not the spatial input size, so one packed filter serves every batch/shape).
struct Conv2dFilter {
  int64_t out_channels = 0;
  int64_t in_channels = 0;  // total over all groups
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t groups = 1;
};

// Per input shape (the runtime fills it at plan time).
struct Conv2dParams {
  Conv2dFilter filter;
  int64_t batch = 1;
  int64_t in_h = 0, in_w = 0;
  int64_t out_h = 0, out_w = 0;  // use window_output_extent()
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  Activation activation;

  // Work unit of conv2d_f32_nhwc: one output row = (image n, output row oh), indexed n * out_h + oh.
  int64_t total_rows() const { return batch * out_h; }
};

// Packed filter + bias. Layout is the family's business (ref: OIHW copy; hwy: panels of
// kPanelChannels output channels, [group][panel][kh][kw][ci][kPanelChannels], zero-padded).
struct PackedConv2dF32 {
  Family family = Family::kRef;
  Conv2dFilter filter;
  int32_t method = 0;                 // family-internal algorithm tag (e.g. hwy depthwise vs panel)
  std::shared_ptr<std::byte> storage; // owns weights and bias
  size_t storage_bytes = 0;           // bytes `storage` holds (0 for a view)
  const float* weights = nullptr;
  const float* bias = nullptr;        // padded copy; zeros when no bias was given
  size_t weight_floats = 0;
  // hwy, 3x3 ungrouped filters with >= 32 input channels: also the Winograd transformed weights
  // (G g G^T, [n x n][panel][ci][16], n = winograd_tile + 2) of F(2x2, 3x3) (winograd_tile 2) or
  // F(4x4, 3x3) (4), used when a call has stride 1, dilation 1 and a map large enough.
  const float* winograd_weights = nullptr;
  int32_t winograd_tile = 0;
};

// Output-channel panel width of the hwy packed layouts (conv and gemm). Independent of the SIMD target,
// so a packed value stays valid whichever target the dispatcher picks.
inline constexpr int64_t kPanelChannels = 16;

// ---------------------------------------------------------------------------------------------
// Gemm: C[M, N] = act(A[M, K] . B[K, N] + bias[N]), A and C row-major with leading dimensions
// lda >= K, ldc >= N. B is packed once (Gemm/MatMul with a constant B; fully-connected layers).
// B source layout: kKN = row-major [K, N] (MatMul, Gemm transB=0); kNK = row-major [N, K] (Gemm
// transB=1, the usual fully-connected form). alpha scales B at pack time (ONNX Gemm alpha); the runtime
// passes bias already multiplied by beta; a bias of shape other than [N] is the runtime's job.
enum class BLayout : uint8_t { kKN, kNK };

struct PackedGemmF32 {
  Family family = Family::kRef;
  int64_t k = 0, n = 0;
  std::shared_ptr<std::byte> storage;  // may be null for a view packed into caller memory
  size_t storage_bytes = 0;            // bytes `storage` holds (0 for a view)
  const float* weights = nullptr;      // ref: [K, N] row-major; hwy: [N/16 panels][K][16], zero-padded
  const float* bias = nullptr;         // [N] (ref) or [round_up(N, 16)] (hwy); zeros when no bias
};

// Work range of gemm_f32: rows [m_begin, m_end) x columns [n_begin, n_end). Split columns at multiples
// of kPanelChannels (a range end may also be N). At M = 1 (batch-1 fully-connected) split columns.
struct GemmRange {
  int64_t m_begin = 0, m_end = 0;
  int64_t n_begin = 0, n_end = 0;
};

// ---------------------------------------------------------------------------------------------
// Pooling, NHWC. Windows that reach beyond the input (padding, ceil_mode) are clipped; max ignores
// padding; average divides by the count of the window's positions that lie inside the input
// (count_include_pad = false) or inside the padded input [-pad_begin, in + pad_end) (true), as ONNX does.
struct Pool2dParams {
  int64_t batch = 1;
  int64_t channels = 0;
  int64_t in_h = 0, in_w = 0;
  int64_t out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  bool count_include_pad = false;  // average pool only

  int64_t total_rows() const { return batch * out_h; }  // work unit: output row n * out_h + oh
};

// ---------------------------------------------------------------------------------------------
// int8 (issue 6): u8 activations (real = scale * (q - zero_point)), s8 weights symmetric per output
// channel, int32 bias (scale = input scale * weight scale[c]), int32 accumulation, exact: the input
// zero point is subtracted before multiplying (widening to int16, never vpmaddubsw's saturating int16
// sums), and every family requantizes with requantize_u8() below, so ref and hwy agree bit for bit.
// Padding contributes real 0 = the input zero point, as ONNX QLinearConv defines.

// ONNX QuantizeLinear semantics: clamp(round_half_to_even(float(acc) * multiplier) + zero_point),
// clamped to [out_min, out_max] (0..255, or narrower for a fused ReLU/Clip). The float product and
// the rounding are the same IEEE operations the SIMD epilogue performs. Clamping before the int
// conversion keeps huge accumulators defined.
inline uint8_t requantize_u8(int32_t acc, float multiplier, int32_t zero_point, int32_t out_min, int32_t out_max) {
  float r = std::nearbyint(static_cast<float>(acc) * multiplier);  // round half to even (default FP env)
  const float lo = static_cast<float>(out_min - zero_point), hi = static_cast<float>(out_max - zero_point);
  r = r < lo ? lo : (r > hi ? hi : r);
  return static_cast<uint8_t>(static_cast<int32_t>(r) + zero_point);
}

// onnxruntime's com.microsoft QLinearAdd on uint8, with the arithmetic of its AVX2 kernel (MLAS
// qladd_avx2.cpp) so that the bytes match: with ra = a_scale / y_scale and rb = b_scale / y_scale (float),
// fixed = y_zp - fma(ra, a_zp, rb * b_zp), y = saturate_u8(round_half_even(fma(a, ra, fma(b, rb, fixed)))).
// That order of roundings (found against onnxruntime-node 1.30 on 40 random scale / zero-point sets x 4096
// inputs: 0 bytes differ; the unfused sum of products differs) is not the ONNX definition's
// quantize(dequantize(a) + dequantize(b)), which can differ by one step at a rounding tie.
struct QLinearAddParams {
  float ratio_a = 1, ratio_b = 1, fixed = 0;
};
inline QLinearAddParams qlinear_add_params(float a_scale, int32_t a_zero_point, float b_scale, int32_t b_zero_point,
                                           float y_scale, int32_t y_zero_point) {
  QLinearAddParams p;
  p.ratio_a = a_scale / y_scale;
  p.ratio_b = b_scale / y_scale;
  const float b_part = p.ratio_b * static_cast<float>(b_zero_point);
  p.fixed = static_cast<float>(y_zero_point) - std::fma(p.ratio_a, static_cast<float>(a_zero_point), b_part);
  return p;
}
inline uint8_t qlinear_add_u8_one(uint8_t a, uint8_t b, const QLinearAddParams& p) {
  const float t = std::fma(static_cast<float>(a), p.ratio_a, std::fma(static_cast<float>(b), p.ratio_b, p.fixed));
  const float r = std::nearbyint(t);
  return static_cast<uint8_t>(r < 0.f ? 0.f : (r > 255.f ? 255.f : r));
}

// onnxruntime's QLinearGlobalAveragePool multiplier: x_scale / (y_scale * spatial), in float as MLAS computes
// it; the output is requantize_u8(sum(x) - x_zero_point * spatial, multiplier, y_zero_point, 0, 255).
inline float qlinear_global_avg_pool_multiplier(float x_scale, float y_scale, int64_t spatial) {
  return x_scale / (y_scale * static_cast<float>(spatial));
}

// Zero points and the output range of one quantized call.
struct QuantU8Params {
  int32_t input_zero_point = 0;
  int32_t output_zero_point = 0;
  int32_t output_min = 0, output_max = 255;  // fused ReLU: output_min = output_zero_point
};

// Packed int8 filter: weights widened to int16 at pack time (hwy: pairs of the reduction interleaved
// per channel, the vpmaddwd layout), bias int32, one requantization multiplier per output channel
// (input_scale * weight_scale[c] / output_scale).
struct PackedConv2dQ8 {
  Family family = Family::kRef;
  Conv2dFilter filter;
  std::shared_ptr<std::byte> storage;
  size_t storage_bytes = 0;  // bytes `storage` holds
  // ref: OIHW. hwy: [group][panel][kh][row_pairs][16][2], a kernel row's (kw, ci) run padded to even.
  const int16_t* weights = nullptr;
  const int32_t* bias = nullptr;
  const float* multipliers = nullptr;
  int64_t k_padded = 0;   // reduction length per group after padding (hwy: kernel_h * 2 * row_pairs)
  int64_t row_pairs = 0;  // hwy: int16 pairs per kernel row, ceil(kernel_w * cin_g / 2)
  // hwy, 3x3 ungrouped filters with 16..1024 input channels: Winograd F(2x2, 3x3) weights (2G) g (2G)^T
  // in int16, [16][panel][winograd_cin / 2][16][2], used when a call has stride 1 and dilation 1.
  const int16_t* winograd_weights = nullptr;
  int64_t winograd_cin = 0;  // in_channels padded to 16
  // hwy, ungrouped, packed while the dispatcher runs AVX3_DL (AVX512-VNNI): the int8 weights in quads
  // for vpdpbusd, [panel][kh][row_quads][16][4], a kernel row's (kw, ci) run padded to a multiple of 4
  // with 0; col_sums[c] = the sum of channel c's weights (the input zero point's correction).
  const int8_t* quad_weights = nullptr;
  const int32_t* col_sums = nullptr;
  int64_t row_quads = 0;  // ceil(kernel_w * cin / 4)
  // hwy, depthwise (groups == in == out channels, kQ8MethodDepthwise): int32 weights [kh * kw][C padded
  // to 16], one vector of channels per tap; on AVX512-VNNI instead s8 quads in quad_weights,
  // [panel][row group of 4 kernel rows][kw][16][4]; col_sums (above) holds each channel's weight sum, and
  // bias and multipliers are indexed by channel.
  const int32_t* depthwise_weights = nullptr;
  // hwy: how every call runs, decided once at pack time from the filter, the stride / dilation and the
  // dispatcher's target (src/kernels/hwy/q8_plan.h, kQ8Method*); only that method's layout is packed
  // (weights, winograd_weights or quad_weights; the others stay null).
  int32_t method = 0;
};

struct PackedGemmQ8 {
  Family family = Family::kRef;
  int64_t k = 0, n = 0, k_padded = 0;
  std::shared_ptr<std::byte> storage;
  size_t storage_bytes = 0;  // bytes `storage` holds
  const int16_t* weights = nullptr;    // ref: [K, N] int16
  const int8_t* weights_s8 = nullptr;  // hwy: int8 [N/16 panels][K/2][16][2] (read as int8: half the bytes)
  const int32_t* bias = nullptr;
  const float* multipliers = nullptr;
  // hwy, packed while the dispatcher runs AVX3_DL: [N/16 panels][k_quads][16][4] for vpdpbusd (u8 A
  // read as is) and the column sums of B (the A zero point's correction), as in PackedConv2dQ8; then
  // the pairs (weights_s8) are not packed, as no kernel of that target reads them.
  const int8_t* quad_weights = nullptr;
  const int32_t* col_sums = nullptr;
  int64_t k_quads = 0;  // ceil(K / 4)
};

// Family entries. Both namespaces declare exactly the same functions.
#define EDGEQ_KERNELS_FAMILY_DECLS                                                                        \
  /* Conv2d NHWC. `call`: the shape the packing is for, when known (hwy: which Winograd transform, if */ \
  /* any, is packed beside the direct weights; any call shape stays correct). */                       \
  PackedConv2dF32 pack_conv2d_f32(const Conv2dFilter& filter, const float* weight_oihw, const float* bias, \
                                  const Conv2dParams* call = nullptr);                                    \
  /* Which packing pack_conv2d_f32(filter, ..., &call) makes, as a number (hwy: the Winograd tile, */     \
  /* 0 / 2 / 4; ref: 0): calls with equal numbers can share one packing. */                              \
  int32_t conv2d_f32_packing(const Conv2dFilter& filter, const Conv2dParams& call);                        \
  /* A view of `packed` whose weights for input channel ci are multiplied by scale[ci] (in_channels */   \
  /* values), written to dst (weight_floats floats, 64-byte aligned, caller-owned; the view shares the */ \
  /* bias): a squeeze-excitation's per-image channel scale moved off the feature map onto the conv that */\
  /* reads it. hwy: the Winograd weights are not scaled, so the view runs the direct method. */           \
  PackedConv2dF32 scale_conv2d_f32_input_channels(const PackedConv2dF32& packed, const float* scale, float* dst); \
  /* Scratch floats one call needs (per concurrent thread). */                                             \
  size_t conv2d_f32_scratch_floats(const PackedConv2dF32& packed, const Conv2dParams& params);             \
  /* Any row split is correct; splitting at multiples of this (2 for Winograd: a tile covers two */     \
  /* output rows, and a split inside a tile computes it twice) avoids duplicated work. */               \
  int64_t conv2d_f32_row_alignment(const PackedConv2dF32& packed, const Conv2dParams& params);           \
  /* Output rows [row_begin, row_end) of total_rows(). */                                                 \
  void conv2d_f32_nhwc(const PackedConv2dF32& packed, const Conv2dParams& params, const float* input,     \
                       float* output, int64_t row_begin, int64_t row_end, float* scratch);                \
                                                                                                          \
  /* Gemm with packed B. */                                                                               \
  PackedGemmF32 pack_gemm_f32(const float* b, int64_t k, int64_t n, BLayout layout, const float* bias,     \
                              float alpha);                                                               \
  /* Same packing into caller memory (e.g. an arena, for MatMul with a B computed at run time): */        \
  /* dst: packed_gemm_f32_floats(k, n) floats, 64-byte aligned (hwy); the view does not own it. */       \
  size_t packed_gemm_f32_floats(int64_t k, int64_t n);                                                    \
  PackedGemmF32 pack_gemm_f32_into(float* dst, const float* b, int64_t k, int64_t n, BLayout layout,      \
                                   const float* bias, float alpha);                                       \
  void gemm_f32(const PackedGemmF32& packed, const float* a, int64_t lda, float* c, int64_t ldc,          \
                const GemmRange& range, const Activation& activation);                                    \
                                                                                                          \
  /* Pools, output rows [row_begin, row_end) of total_rows(). */                                          \
  void max_pool2d_f32_nhwc(const Pool2dParams& params, const float* input, float* output,                \
                           int64_t row_begin, int64_t row_end);                                           \
  /* u8 max pool (int8 path: output keeps the input's scale and zero point; max of codes = code of max). */\
  void max_pool2d_u8_nhwc(const Pool2dParams& params, const uint8_t* input, uint8_t* output,             \
                          int64_t row_begin, int64_t row_end);                                            \
  void avg_pool2d_f32_nhwc(const Pool2dParams& params, const float* input, float* output,                \
                           int64_t row_begin, int64_t row_end);                                           \
  /* [N, H*W, C] -> [N, C], images [n_begin, n_end). */                                                   \
  void global_avg_pool_f32_nhwc(const float* input, float* output, int64_t spatial, int64_t channels,   \
                                int64_t n_begin, int64_t n_end);                                          \
                                                                                                          \
  /* int8 conv2d NHWC, u8 in/out. params.activation is ignored (fold it into output_min/max). */        \
  /* conv: the filter and the stride / dilation it will run with (hwy decides the method from them, */ \
  /* once, and packs only the layout it reads; the input size is not read: one pack serves every shape). */\
  PackedConv2dQ8 pack_conv2d_qu8_qc8w(const Conv2dParams& conv, const int8_t* weight_oihw,               \
                                      const int32_t* bias, const float* multipliers);                     \
  size_t conv2d_qu8_qc8w_scratch_bytes(const PackedConv2dQ8& packed, const Conv2dParams& params);         \
  /* As conv2d_f32_row_alignment: splitting rows at multiples of this avoids duplicated work. */         \
  int64_t conv2d_qu8_qc8w_row_alignment(const PackedConv2dQ8& packed, const Conv2dParams& params);       \
  void conv2d_qu8_qc8w_nhwc(const PackedConv2dQ8& packed, const Conv2dParams& params,                     \
                            const QuantU8Params& quant, const uint8_t* input, uint8_t* output,            \
                            int64_t row_begin, int64_t row_end, void* scratch);                           \
  /* int8 gemm: C[M, N] u8 = requant(A[M, K] u8 . B + bias); same ranges as gemm_f32. */                 \
  PackedGemmQ8 pack_gemm_qu8_qc8w(const int8_t* b, int64_t k, int64_t n, BLayout layout,                 \
                                  const int32_t* bias, const float* multipliers);                         \
  size_t gemm_qu8_qc8w_scratch_bytes(const PackedGemmQ8& packed);                                         \
  void gemm_qu8_qc8w(const PackedGemmQ8& packed, const QuantU8Params& quant, const uint8_t* a,           \
                     int64_t lda, uint8_t* c, int64_t ldc, const GemmRange& range, void* scratch);        \
  /* The same product as int32 sums + bias, not requantized (MatMulInteger; multipliers unused). */     \
  void gemm_qu8_qc8w_s32(const PackedGemmQ8& packed, int32_t a_zero_point, const uint8_t* a,             \
                         int64_t lda, int32_t* c, int64_t ldc, const GemmRange& range, void* scratch);    \
                                                                                                          \
  /* Element-wise over n floats (in-place allowed: out may equal an input). */                            \
  void add_f32(const float* a, const float* b, float* out, size_t n);                                     \
  void sub_f32(const float* a, const float* b, float* out, size_t n);                                     \
  void mul_f32(const float* a, const float* b, float* out, size_t n);                                     \
  void div_f32(const float* a, const float* b, float* out, size_t n);                                     \
  /* out = act(x) */                                                                                      \
  void activation_f32(const float* x, float* out, size_t n, const Activation& activation);                \
  /* out[i] = act(x[i] + bias[i % channels]) : bias add over the channel dim of NHWC rows. */           \
  void bias_activation_f32(const float* x, const float* bias, float* out, size_t n, size_t channels,     \
                           const Activation& activation);                                                 \
  void sigmoid_f32(const float* x, float* out, size_t n);                                                 \
  void tanh_f32(const float* x, float* out, size_t n);                                                    \
  /* Numerically stable softmax of one row of n (subtracts the max). */                                   \
  void softmax_row_f32(const float* x, float* out, size_t n);                                             \
  /* out[i] = qlinear_add_u8_one(a[i], b[i], params) (onnxruntime's QLinearAdd; in-place allowed). */     \
  void qlinear_add_u8(const uint8_t* a, const uint8_t* b, uint8_t* out, size_t n, const QLinearAddParams& params); \
  /* [N, spatial, C] u8 -> [N, C] u8, images [n_begin, n_end): onnxruntime's QLinearGlobalAveragePool, */ \
  /* int32 sums requantized with qlinear_global_avg_pool_multiplier (channels = 1: NCHW planes). */       \
  void qlinear_global_avg_pool_u8_nhwc(const uint8_t* input, uint8_t* output, int64_t spatial,           \
                                       int64_t channels, int32_t input_zero_point, float multiplier,      \
                                       int32_t output_zero_point, int64_t n_begin, int64_t n_end);        \
  /* ONNX QuantizeLinear to uint8, one scale: out = clamp(round_half_even(x / scale) + zp, 0, 255). */  \
  void quantize_f32_u8(const float* x, uint8_t* out, size_t n, float scale, int32_t zero_point);          \
  /* out[i] = table[x[i]], table of 256 (a QDQ unary chain as a lookup; in-place allowed). */            \
  void lookup_u8(const uint8_t* x, uint8_t* out, size_t n, const uint8_t* table);                        \
  /* out[3 i + c] = x[c * plane + i], i < n, c < 3: three planes (an RGB image) into pixels (NCHW -> NHWC). */ \
  void interleave3_f32(const float* x, int64_t plane, float* out, size_t n);                              \
  void interleave3_u8(const uint8_t* x, int64_t plane, uint8_t* out, size_t n);

namespace ref {
EDGEQ_KERNELS_FAMILY_DECLS
}  // namespace ref

namespace hwy {
EDGEQ_KERNELS_FAMILY_DECLS
// Highway target the dispatcher picks on this CPU, e.g. "AVX2" (for logs and bench reports).
std::string target_name();
// Every target compiled into this binary, best first.
std::vector<std::string> compiled_target_names();
// True when the dispatcher runs AVX3_DL (AVX512-VNNI).
bool dispatches_vnni();
// How the hwy int8 kernels multiply on this CPU and dispatched target: the one decision every int8
// pack, plan and kernel reads (q8_product()). kPairs: int16 pairs (x - zero_point) x w, exact int32 sums
// (x86 vpmaddwd, NEON smull + addp; plain loops on EMU128 / SCALAR / WASM). The others multiply u8 x s8
// quads into int32 (the quad layout, sums starting at bias - zero_point * weight sums): kDotProd Armv8.2
// SDOT (NEON target and getauxval(AT_HWCAP) & HWCAP_ASIMDDP; inputs flipped to s8 by x ^ 0x80 = x - 128,
// the 128 * weight sums folded into the start); kVnni AVX512-VNNI vpdpbusd (AVX3_DL).
enum class Q8Product { kPairs, kDotProd, kVnni };
Q8Product q8_product();
// q8_product() != kPairs: int8 packs hold the quad layout only, the kernels read it.
bool q8_quads();
const char* q8_product_name(Q8Product product);
// Tests: caps q8_product() (kPairs: the int16 pair kernels on a quad CPU; kVnni lifts the cap).
void set_q8_product_cap_for_test(Q8Product cap);
// int8 conv2d followed by a 2x2, stride-2, unpadded max pool (floor: out_h / 2 x out_w / 2 outputs per
// image), in one pass: the max of the four int32 sums is requantized once. Exact, i.e. the bytes of
// conv2d_qu8_qc8w_nhwc then max_pool2d_u8_nhwc, when every multiplier is > 0 (requantization is then
// monotone, so it commutes with the max). Supported for the VNNI quad and the Winograd methods (what
// this call would run on the dispatcher's target); rows are pooled output rows of batch * (out_h / 2);
// scratch: conv2d_qu8_qc8w_scratch_bytes. An unsupported call throws.
bool conv2d_qu8_qc8w_maxpool2_supported(const PackedConv2dQ8& packed, const Conv2dParams& params);
// True when `packed` runs the depthwise method (groups == in == out channels, 3x3 / 5x5, stride 1 / 2):
// for plan labels, whichever layout the target packed.
bool conv2d_qu8_qc8w_depthwise(const PackedConv2dQ8& packed);
void conv2d_qu8_qc8w_maxpool2_nhwc(const PackedConv2dQ8& packed, const Conv2dParams& params, const QuantU8Params& quant,
                                   const uint8_t* input, uint8_t* output, int64_t row_begin, int64_t row_end,
                                   void* scratch);
}  // namespace hwy

#undef EDGEQ_KERNELS_FAMILY_DECLS

}  // namespace edgeq::kernels
