// Helpers shared by the operator files.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "edgeq/kernels.h"
#include "runtime/builder.h"

namespace edgeq::runtime::detail {

// The activation fused into a Conv/Gemm node by the activation-fusion pass (internal attributes
// "edgeq.activation", "edgeq.clip_min", "edgeq.clip_max", "edgeq.alpha").
kernels::Activation fused_activation(const onnx::Node& node);
std::string activation_note(const kernels::Activation& act);

// Plan-level fusion (conv.cpp): a channels-last depthwise conv with the conv that feeds it and the 1x1
// conv that reads it (when only they read the values between) runs as one depth-first step when its
// large maps would otherwise go to memory and back. Before plan_memory; `threads` as the plan was
// compiled for.
void fuse_depth_first_convs(Plan& plan, int threads);
// The mean over height and width of the node's input 0, a channels-last rank-4 f32 value, as output 0
// of `out_shape` ([N, C, 1, 1] or [N, C]): GlobalAveragePool's NHWC kernel, also ReduceMean's over the
// spatial axes (ShuffleNet's head).
void emit_spatial_mean_nhwc(Builder& b, const Shape& out_shape);

// Calls F.template operator()<T>() for the C++ type of `d`; false when the dtype is not numeric.
template <typename F>
bool dispatch_numeric(DType d, F&& f) {
  switch (d) {
    case DType::kF32: f.template operator()<float>(); return true;
    case DType::kF64: f.template operator()<double>(); return true;
    case DType::kI8: f.template operator()<int8_t>(); return true;
    case DType::kU8: f.template operator()<uint8_t>(); return true;
    case DType::kI16: f.template operator()<int16_t>(); return true;
    case DType::kU16: f.template operator()<uint16_t>(); return true;
    case DType::kI32: f.template operator()<int32_t>(); return true;
    case DType::kU32: f.template operator()<uint32_t>(); return true;
    case DType::kI64: f.template operator()<int64_t>(); return true;
    case DType::kU64: f.template operator()<uint64_t>(); return true;
    default: return false;
  }
}

// Output-row work split into one task per thread (a task runs on exactly one thread, so it can own
// scratch slice `task`): fn(row_begin, row_end, task). Split points fall on multiples of `align` (a
// kernel's row alignment: a Winograd tile spans two rows, so an odd split would compute it twice).
inline int64_t row_tasks(int threads, int64_t rows) { return std::max<int64_t>(1, std::min<int64_t>(threads, rows)); }
template <typename Fn>
void run_row_tasks(const ExecContext& ctx, int64_t rows, int64_t align, Fn&& fn) {
  const int64_t tasks = row_tasks(ctx.threads(), rows);
  if (tasks <= 1) {
    fn(int64_t{0}, rows, int64_t{0});
    return;
  }
  // Even shares rounded to the nearest multiple of align (rounding down would give the last task the rest).
  auto split = [&](int64_t t) { return t >= tasks ? rows : std::min(rows, (rows * t / tasks + align / 2) / align * align); };
  ctx.parallel(tasks, [&](int64_t tb, int64_t te) {
    for (int64_t t = tb; t < te; ++t)
      if (split(t) < split(t + 1)) fn(split(t), split(t + 1), t);
  });
}

// Row-major strides of a shape (in elements).
std::vector<int64_t> strides_of(const Shape& s);

// What permute_flat_nhwc_rows reads of flat_dims (C, H, W; not the batch): part of a pack's key.
inline std::string flat_nhwc_key(const Shape& flat_dims) {
  return " nhwc-permuted " + std::to_string(flat_dims[1]) + "x" + std::to_string(flat_dims[2]) + "x" + std::to_string(flat_dims[3]);
}

// B of a Gemm whose A is a flattened channels-last value (Layout::kFlatNHWC, from [N, C, H, W] =
// flat_dims): A's K index is h*W*C + w*C + c instead of c*H*W + h*W + w, so B's K rows are permuted
// once here instead of A every run. trans_b: B is [N, K] (else [K, N]).
template <typename T>
std::vector<T> permute_flat_nhwc_rows(const T* b, int64_t k, int64_t n, bool trans_b, const Shape& flat_dims) {
  const int64_t c = flat_dims[1], hw = flat_dims[2] * flat_dims[3];
  std::vector<T> out(static_cast<size_t>(k * n));
  auto source_row = [&](int64_t kn) { return (kn % c) * hw + kn / c; };
  // Loops ordered so that the writes are sequential (a strided write per element made this the
  // slowest part of loading a model with a large fully connected layer).
  if (trans_b) {
    for (int64_t j = 0; j < n; ++j)
      for (int64_t kn = 0; kn < k; ++kn) out[j * k + kn] = b[j * k + source_row(kn)];
  } else {
    for (int64_t kn = 0; kn < k; ++kn) {
      const T* src = b + source_row(kn) * n;
      std::copy(src, src + n, out.begin() + kn * n);
    }
  }
  return out;
}

// MatMul with numpy semantics: rank-1 operands promoted, batch dims broadcast.
struct MatMulGeometry {
  Shape out;                 // the output shape
  int64_t batch = 1, m = 0, k = 0, n = 0;
  std::vector<int64_t> a_offset, b_offset;  // per output batch, in elements
  bool b_is_matrix = false;  // B is plain 2-D: A's leading dims fold into a_rows rows of one GEMM
  int64_t a_rows = 0;
};
MatMulGeometry matmul_geometry(const Builder& b, Shape sa, Shape sb);
// Gemm: 2-D A and B, optionally transposed (one batch).
MatMulGeometry gemm_geometry(const Builder& b, const Shape& sa, const Shape& sb, bool trans_a, bool trans_b);

// Minimum elements per thread before an element-wise op is split across the pool.
inline constexpr int64_t kParallelGrain = 16384;

// fn(begin, end) over n elements: one call below kParallelGrain, else split across the pool.
template <typename Fn>
void run_elements(const ExecContext& ctx, int64_t n, Fn&& fn) {
  if (n < kParallelGrain)
    fn(int64_t{0}, n);
  else
    ctx.parallel(n, fn);
}

}  // namespace edgeq::runtime::detail
