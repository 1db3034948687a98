// Gemm and MatMul. A constant B (fully-connected layers) is packed once for the kernels module, with
// alpha folded into it and beta*C folded into the bias when C is a per-column vector. Everything else
// (B computed at run time, transA, a full [M, N] C, batched MatMul with broadcasting) runs a plain loop.
#include <cmath>
#include <cstring>

#include "runtime/ops/common.h"

namespace edgeq::runtime::detail {

namespace {

class PackedGemmKernel final : public Kernel {
 public:
  kernels::PackedGemmF32 packed;
  kernels::Activation act;
  int32_t a = -1, c = -1;
  int64_t m = 0, k = 0, n = 0;

  void run(const ExecContext& ctx) const override {
    const float* A = ctx.at<const float>(a);
    float* C = ctx.at<float>(c);
    const int threads = ctx.threads();
    if (threads <= 1 || m * n * k < 32768) {
      kernels::hwy::gemm_f32(packed, A, k, C, n, {0, m, 0, n}, act);
      return;
    }
    if (m >= threads) {  // split rows
      ctx.parallel(m, [&](int64_t b, int64_t e) { kernels::hwy::gemm_f32(packed, A, k, C, n, {b, e, 0, n}, act); });
      return;
    }
    // Few rows (batch 1): split columns in whole panels.
    const int64_t panels = (n + kernels::kPanelChannels - 1) / kernels::kPanelChannels;
    ctx.parallel(panels, [&](int64_t b, int64_t e) {
      kernels::hwy::gemm_f32(packed, A, k, C, n,
                             {0, m, b * kernels::kPanelChannels, std::min(n, e * kernels::kPanelChannels)}, act);
    });
  }
};

// C = act(alpha * op(A) op(B) + beta * C0) with C0 broadcast to [M, N]; batched with broadcasting
// for MatMul (batch strides 0 where an operand is broadcast).
class PlainGemmKernel final : public Kernel {
 public:
  int32_t a = -1, b = -1, c0 = -1, y = -1;
  int64_t batch = 1, m = 0, k = 0, n = 0;
  std::vector<int64_t> a_batch_offset, b_batch_offset;  // per output batch, in elements
  bool trans_a = false, trans_b = false;
  float alpha = 1.f, beta = 1.f;
  int64_t c0_rs = 0, c0_cs = 0;  // strides of C0 over [M, N] (0 = broadcast)
  kernels::Activation act;

  void run(const ExecContext& ctx) const override {
    const float* A = ctx.at<const float>(a);
    const float* B = ctx.at<const float>(b);
    const float* C0 = c0 >= 0 ? ctx.at<const float>(c0) : nullptr;
    float* Y = ctx.at<float>(y);
    ctx.parallel(batch * m, [&](int64_t rb, int64_t re) {
      std::vector<float> acc(static_cast<size_t>(n));
      for (int64_t r = rb; r < re; ++r) {
        const int64_t bi = r / m, i = r % m;
        const float* Ab = A + a_batch_offset[bi];
        const float* Bb = B + b_batch_offset[bi];
        std::fill(acc.begin(), acc.end(), 0.f);
        for (int64_t p = 0; p < k; ++p) {
          const float av = trans_a ? Ab[p * m + i] : Ab[i * k + p];
          if (trans_b) {
            for (int64_t j = 0; j < n; ++j) acc[j] += av * Bb[j * k + p];
          } else {
            const float* brow = Bb + p * n;
            for (int64_t j = 0; j < n; ++j) acc[j] += av * brow[j];
          }
        }
        float* yr = Y + r * n;
        for (int64_t j = 0; j < n; ++j) {
          float v = alpha * acc[j];
          if (C0) v += beta * C0[i * c0_rs + j * c0_cs];
          yr[j] = kernels::apply_activation(act, v);
        }
      }
    });
  }
};

}  // namespace

void compile_gemm(Builder& b) {
  const auto& node = b.node();
  b.check_dtype(0, {DType::kF32});
  b.check_dtype(1, {DType::kF32});
  const Value& va = b.input(0);
  const Value& vb = b.input(1);
  const bool ta = node.attr_int("transA", 0) != 0, tb = node.attr_int("transB", 0) != 0;
  const float alpha = node.attr_float("alpha", 1.f), beta = node.attr_float("beta", 1.f);
  const MatMulGeometry g = gemm_geometry(b, va.shape, vb.shape, ta, tb);
  const int64_t m = g.m, k = g.k, n = g.n;
  const kernels::Activation act = fused_activation(node);
  Shape cshape;
  if (b.has_input(2)) {
    b.check_dtype(2, {DType::kF32});
    cshape = b.input(2).shape;
    broadcast_shapes(cshape, Shape{m, n}, b);
    if (cshape.size() > 2 || (cshape.size() >= 1 && cshape.back() != n && cshape.back() != 1) ||
        (cshape.size() == 2 && cshape[0] != m && cshape[0] != 1))
      b.invalid("C " + shape_str(cshape) + " does not broadcast to [M, N]");
  }
  const Tensor* bconst = b.constant(1);
  const Tensor* cconst = b.has_input(2) ? b.constant(2) : nullptr;
  const bool c_is_row = !b.has_input(2) || (cconst && (cshape.size() < 2 || cshape[0] == 1));
  if (bconst && !ta && c_is_row) {
    std::vector<float> bias(static_cast<size_t>(n), 0.f);
    if (cconst) {
      const float* cv = cconst->data<float>();
      const bool per_col = !cshape.empty() && cshape.back() == n;
      for (int64_t j = 0; j < n; ++j) bias[j] = beta * cv[per_col ? j : 0];
    }
    auto kern = std::make_unique<PackedGemmKernel>();
    const bool flat_nhwc = va.layout == Layout::kFlatNHWC;
    const std::string what = "gemm_f32 " + std::to_string(k) + "x" + std::to_string(n) + (tb ? " nk" : " kn") + " alpha " +
                             std::to_string(alpha) + " beta " + std::to_string(beta) +
                             (flat_nhwc ? flat_nhwc_key(va.flat_dims) : "");
    kern->packed = b.packed<kernels::PackedGemmF32>(what, {bconst, cconst}, [&] {
      const float* bdata = bconst->data<float>();
      std::vector<float> permuted;
      if (flat_nhwc) {
        permuted = permute_flat_nhwc_rows(bdata, k, n, tb, va.flat_dims);
        bdata = permuted.data();
      }
      return kernels::hwy::pack_gemm_f32(bdata, k, n, tb ? kernels::BLayout::kNK : kernels::BLayout::kKN, bias.data(), alpha);
    });
    kern->act = act;
    kern->m = m;
    kern->k = k;
    kern->n = n;
    kern->a = flat_nhwc ? b.input_flat_nhwc(0) : b.input_plain(0);
    kern->c = b.output(0, DType::kF32, Shape{m, n});
    kern->label = node.label() + " [packed" + std::string(flat_nhwc ? ", nhwc-permuted" : "") + activation_note(act) + "]";
    b.emit(std::move(kern));
    return;
  }
  auto kern = std::make_unique<PlainGemmKernel>();
  kern->m = m;
  kern->k = k;
  kern->n = n;
  kern->trans_a = ta;
  kern->trans_b = tb;
  kern->alpha = alpha;
  kern->beta = beta;
  kern->act = act;
  kern->a_batch_offset = {0};
  kern->b_batch_offset = {0};
  kern->a = b.input_plain(0);
  kern->b = b.input_plain(1);
  if (b.has_input(2)) {
    kern->c0 = b.input_plain(2);
    Shape c2(2, 1);
    for (size_t i = 0; i < cshape.size(); ++i) c2[2 - cshape.size() + i] = cshape[i];
    kern->c0_rs = c2[0] == 1 ? 0 : c2[1];
    kern->c0_cs = c2[1] == 1 ? 0 : 1;
  }
  kern->y = b.output(0, DType::kF32, Shape{m, n});
  kern->label = node.label() + " [plain" + activation_note(act) + "]";
  b.emit(std::move(kern));
}

MatMulGeometry gemm_geometry(const Builder& b, const Shape& sa, const Shape& sb, bool ta, bool tb) {
  if (sa.size() != 2 || sb.size() != 2) b.invalid("A and B must be 2-D");
  MatMulGeometry g;
  g.m = ta ? sa[1] : sa[0];
  g.k = ta ? sa[0] : sa[1];
  g.n = tb ? sb[0] : sb[1];
  if ((tb ? sb[1] : sb[0]) != g.k) b.invalid("inner dimensions differ: A " + shape_str(sa) + ", B " + shape_str(sb));
  g.out = {g.m, g.n};
  g.a_offset = {0};
  g.b_offset = {0};
  g.a_rows = g.m;
  g.b_is_matrix = true;
  return g;
}

MatMulGeometry matmul_geometry(const Builder& b, Shape sa, Shape sb) {
  if (sa.empty() || sb.empty()) b.invalid("MatMul inputs must have rank >= 1");
  const bool a_vec = sa.size() == 1, b_vec = sb.size() == 1;
  if (a_vec) sa.insert(sa.begin(), 1);
  if (b_vec) sb.push_back(1);
  MatMulGeometry g;
  g.m = sa[sa.size() - 2];
  g.k = sa.back();
  g.n = sb.back();
  if (sb[sb.size() - 2] != g.k) b.invalid("inner dimensions differ: " + shape_str(b.input(0).shape) + " x " + shape_str(b.input(1).shape));
  const Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  const Shape batch = broadcast_shapes(ba, bb, b);
  g.out = batch;
  if (!a_vec) g.out.push_back(g.m);
  if (!b_vec) g.out.push_back(g.n);
  g.b_is_matrix = bb.empty() && !b_vec;
  g.a_rows = g.m;
  for (int64_t d : ba) g.a_rows *= d;
  g.batch = numel(batch);
  // Batch offsets with broadcasting: walk the output batch index, map to each operand's index.
  auto offsets = [&](const Shape& own, int64_t mat) {
    std::vector<int64_t> r(static_cast<size_t>(g.batch));
    const size_t rank = batch.size();
    Shape padded(rank, 1);
    for (size_t i = 0; i < own.size(); ++i) padded[rank - own.size() + i] = own[i];
    const auto st = strides_of(padded);
    for (int64_t idx = 0; idx < g.batch; ++idx) {
      int64_t rem = idx, off = 0;
      for (size_t d = rank; d-- > 0;) {
        const int64_t i = rem % batch[d];
        rem /= batch[d];
        if (padded[d] != 1) off += i * st[d];
      }
      r[idx] = off * mat;
    }
    return r;
  };
  g.a_offset = offsets(ba, g.m * g.k);
  g.b_offset = offsets(bb, g.k * g.n);
  return g;
}

void compile_matmul(Builder& b) {
  b.check_dtype(0, {DType::kF32});
  b.check_dtype(1, {DType::kF32});
  const MatMulGeometry g = matmul_geometry(b, b.input(0).shape, b.input(1).shape);
  const Tensor* bconst = b.constant(1);
  if (bconst && g.b_is_matrix) {  // A's leading dims fold into M: one packed GEMM
    auto kern = std::make_unique<PackedGemmKernel>();
    kern->packed = b.packed<kernels::PackedGemmF32>("matmul_f32 " + std::to_string(g.k) + "x" + std::to_string(g.n), {bconst}, [&] {
      return kernels::hwy::pack_gemm_f32(bconst->data<float>(), g.k, g.n, kernels::BLayout::kKN, nullptr, 1.f);
    });
    kern->m = g.a_rows;
    kern->k = g.k;
    kern->n = g.n;
    kern->a = b.input_plain(0);
    kern->c = b.output(0, DType::kF32, g.out);
    kern->label = b.node().label() + " [packed]";
    b.emit(std::move(kern));
    return;
  }
  auto kern = std::make_unique<PlainGemmKernel>();
  kern->batch = g.batch;
  kern->m = g.m;
  kern->k = g.k;
  kern->n = g.n;
  kern->a_batch_offset = g.a_offset;
  kern->b_batch_offset = g.b_offset;
  kern->a = b.input_plain(0);
  kern->b = b.input_plain(1);
  kern->y = b.output(0, DType::kF32, g.out);
  kern->label = b.node().label() + " [plain]";
  b.emit(std::move(kern));
}

}  // namespace edgeq::runtime::detail
