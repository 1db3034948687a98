// Recurrent layers: RNN, GRU and LSTM (opset 7-14): forward, reverse and bidirectional, both layouts,
// sequence_lens, initial states, biases, LSTM peepholes, GRU linear_before_reset, clip and every
// activation the spec lists (with activation_alpha / activation_beta). The reference sums x W^T and
// h R^T in double per gate row. With constant weights the products run on the packed gemm kernels
// instead (CRNN-style OCR recognizers: the bidirectional LSTM was 87 % of the model): the input products
// of every step in one gemm per direction, then one h R^T row per step (GRU without linear_before_reset:
// and (r . h) R_h^T); the gates as the reference computes them.
#include <algorithm>
#include <cmath>

#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

namespace {

enum class Cell { kRnn, kGru, kLstm };

struct Activation {
  enum class Kind { kSigmoid, kTanh, kRelu, kAffine, kLeakyRelu, kThresholdedRelu, kScaledTanh, kHardSigmoid, kElu, kSoftsign, kSoftplus };
  Kind kind = Kind::kTanh;
  float alpha = 0, beta = 0;
  float operator()(float x) const {
    switch (kind) {
      case Kind::kSigmoid: return 1.f / (1.f + std::exp(-x));
      case Kind::kTanh: return std::tanh(x);
      case Kind::kRelu: return std::max(0.f, x);
      case Kind::kAffine: return alpha * x + beta;
      case Kind::kLeakyRelu: return x < 0 ? alpha * x : x;
      case Kind::kThresholdedRelu: return x > alpha ? x : 0.f;
      case Kind::kScaledTanh: return alpha * std::tanh(beta * x);
      case Kind::kHardSigmoid: return std::max(0.f, std::min(1.f, alpha * x + beta));
      case Kind::kElu: return x < 0 ? alpha * std::expm1(x) : x;
      case Kind::kSoftsign: return x / (1 + std::fabs(x));
      case Kind::kSoftplus: return std::log1p(std::exp(x));
    }
    return x;
  }
};

// The activations of each direction: the attribute's names (case as in the spec) or the cell's defaults.
std::vector<Activation> activations(const Builder& b, Cell cell, int64_t dirs) {
  std::vector<std::string> names;
  if (const auto* a = b.node().find_attr("activations")) names = a->strings;
  const std::vector<std::string> defaults = cell == Cell::kRnn   ? std::vector<std::string>{"Tanh"}
                                            : cell == Cell::kGru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                                 : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
  if (names.empty())
    for (int64_t d = 0; d < dirs; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  if (names.size() != defaults.size() * static_cast<size_t>(dirs)) b.invalid("activations must list " + std::to_string(defaults.size()) + " per direction");
  const auto alphas = b.node().attr_floats("activation_alpha"), betas = b.node().attr_floats("activation_beta");
  // Defaults as in the spec (and onnxruntime) where activation_alpha / _beta do not say.
  static const struct {
    const char* name;
    Activation::Kind kind;
    float alpha, beta;
  } kTable[] = {{"Sigmoid", Activation::Kind::kSigmoid, 0, 0},        {"Tanh", Activation::Kind::kTanh, 0, 0},
                {"Relu", Activation::Kind::kRelu, 0, 0},              {"Affine", Activation::Kind::kAffine, 1, 0},
                {"LeakyRelu", Activation::Kind::kLeakyRelu, 0.01f, 0}, {"ThresholdedRelu", Activation::Kind::kThresholdedRelu, 1, 0},
                {"ScaledTanh", Activation::Kind::kScaledTanh, 1, 1},  {"HardSigmoid", Activation::Kind::kHardSigmoid, 0.2f, 0.5f},
                {"Elu", Activation::Kind::kElu, 1, 0},                {"Softsign", Activation::Kind::kSoftsign, 0, 0},
                {"Softplus", Activation::Kind::kSoftplus, 0, 0}};
  std::vector<Activation> r;
  size_t next_alpha = 0, next_beta = 0;
  for (const auto& n : names) {
    const auto* e = std::find_if(std::begin(kTable), std::end(kTable), [&](const auto& t) { return n == t.name; });
    if (e == std::end(kTable)) b.unsupported("activation '" + n + "'");
    Activation a{e->kind, e->alpha, e->beta};
    const bool takes_alpha = e->alpha != 0 || a.kind == Activation::Kind::kLeakyRelu;
    const bool takes_beta = a.kind == Activation::Kind::kAffine || a.kind == Activation::Kind::kScaledTanh || a.kind == Activation::Kind::kHardSigmoid;
    if (takes_alpha && next_alpha < alphas.size()) a.alpha = alphas[next_alpha++];
    if (takes_beta && next_beta < betas.size()) a.beta = betas[next_beta++];
    r.push_back(a);
  }
  return r;
}

struct Recurrence {
  Cell cell;
  int64_t seq = 0, batch = 0, input = 0, hidden = 0, dirs = 1, gates = 1;
  bool layout_batch_first = false, reverse_only = false, linear_before_reset = false;
  float clip = 0;  // 0: none
  std::vector<Activation> act;  // per direction: f[, g[, h]]
  // Constant W and R packed per direction (bias folded in: Wb into w, Rb into r), or empty: reference sums.
  std::vector<kernels::PackedGemmF32> w_packed, r_packed;
  std::vector<kernels::PackedGemmF32> rh_packed;  // GRU without linear_before_reset: R_h with Rb_h (r_packed: z, r rows only)
  int32_t pre_all = -1;  // scratch: the input products of every step, [S * B][G * H]
  bool default_lstm = false;  // Sigmoid, Tanh, Tanh in every direction, no clip
  // Slots (-1 when absent).
  int32_t x = -1, w = -1, r = -1, bias = -1, lens = -1, h0 = -1, c0 = -1, peep = -1, y = -1, y_h = -1, y_c = -1;
  bool lens_wide = true;
};

void run_recurrence(const Recurrence& q, const ExecContext& ctx) {
  const int64_t H = q.hidden, G = q.gates, I = q.input, B = q.batch, S = q.seq;
  const float* X = ctx.at<const float>(q.x);
  auto x_at = [&](int64_t t, int64_t b) { return X + (q.layout_batch_first ? (b * S + t) : (t * B + b)) * I; };
  // Y is [S, dirs, B, H] ([B, S, dirs, H] batch-first); Y_h / Y_c [dirs, B, H] ([B, dirs, H]).
  auto y_at = [&](int64_t t, int64_t d, int64_t b) {
    return q.layout_batch_first ? ((b * S + t) * q.dirs + d) * H : ((t * q.dirs + d) * B + b) * H;
  };
  auto state_at = [&](int64_t d, int64_t b) { return q.layout_batch_first ? (b * q.dirs + d) * H : (d * B + b) * H; };
  float* Y = q.y >= 0 ? ctx.at<float>(q.y) : nullptr;
  if (Y) std::fill(Y, Y + S * q.dirs * B * H, 0.f);  // steps past a sequence's length stay 0
  std::vector<float> h(static_cast<size_t>(H)), c(h), z(h), reset(h), next(h);
  std::vector<float> pre_sums(static_cast<size_t>(G * H)), rh(pre_sums), gate(pre_sums), gate_in(pre_sums), reset_h(h), rh_h(h);
  const bool packed = !q.w_packed.empty();
  float* pre_all = packed ? ctx.at<float>(q.pre_all) : nullptr;
  for (int64_t d = 0; d < q.dirs; ++d) {
    if (packed)  // X's rows (steps and batch entries in either layout order) times W^T + Wb, all at once
      kernels::hwy::gemm_f32(q.w_packed[static_cast<size_t>(d)], X, I, pre_all, G * H, {0, S * B, 0, G * H}, kernels::Activation::none());
    const bool backward = q.reverse_only || d == 1;
    const float* W = ctx.at<const float>(q.w) + d * G * H * I;
    const float* R = ctx.at<const float>(q.r) + d * G * H * H;
    const float* Wb = q.bias >= 0 ? ctx.at<const float>(q.bias) + d * 2 * G * H : nullptr;
    const float* P = q.peep >= 0 ? ctx.at<const float>(q.peep) + d * 3 * H : nullptr;
    const Activation* act = q.act.data() + d * (q.cell == Cell::kRnn ? 1 : q.cell == Cell::kGru ? 2 : 3);
    auto f = [&](float v) { return act[0](q.clip > 0 ? std::clamp(v, -q.clip, q.clip) : v); };
    auto g = [&](float v) { return act[q.cell == Cell::kRnn ? 0 : 1](q.clip > 0 ? std::clamp(v, -q.clip, q.clip) : v); };
    for (int64_t b = 0; b < B; ++b) {
      int64_t len = S;
      if (q.lens >= 0) {
        len = q.lens_wide ? ctx.at<const int64_t>(q.lens)[b] : ctx.at<const int32_t>(q.lens)[b];
        if (len < 0 || len > S) throw Error(ErrorCode::kInvalidArgument, "recurrent layer: sequence length " + std::to_string(len) + " out of range");
      }
      for (int64_t j = 0; j < H; ++j) {
        h[j] = q.h0 >= 0 ? ctx.at<const float>(q.h0)[state_at(d, b) + j] : 0.f;
        c[j] = q.c0 >= 0 ? ctx.at<const float>(q.c0)[state_at(d, b) + j] : 0.f;
      }
      for (int64_t step = 0; step < len; ++step) {
        const int64_t t = backward ? len - 1 - step : step;
        const float* xt = x_at(t, b);
        const float* pre = pre_sums.data();  // x W^T + Wb of this step
        if (packed) {
          pre = pre_all + (xt - X) / I * G * H;
          const kernels::PackedGemmF32& r_packed = q.r_packed[static_cast<size_t>(d)];
          kernels::hwy::gemm_f32(r_packed, h.data(), H, rh.data(), G * H, {0, 1, 0, r_packed.n}, kernels::Activation::none());
        } else {
          for (int64_t k = 0; k < G * H; ++k) {  // pre = x W^T + Wb; rh = h R^T + Rb
            double a = Wb ? Wb[k] : 0.0, e = Wb ? Wb[G * H + k] : 0.0;
            for (int64_t i = 0; i < I; ++i) a += static_cast<double>(xt[i]) * W[k * I + i];
            for (int64_t i = 0; i < H; ++i) e += static_cast<double>(h[i]) * R[k * H + i];
            pre_sums[k] = static_cast<float>(a);
            rh[k] = static_cast<float>(e);
          }
        }
        if (q.cell == Cell::kRnn) {
          for (int64_t j = 0; j < H; ++j) h[j] = f(pre[j] + rh[j]);
        } else if (q.cell == Cell::kGru) {  // gates z, r, h
          for (int64_t j = 0; j < H; ++j) {
            z[j] = f(pre[j] + rh[j]);
            reset[j] = f(pre[H + j] + rh[H + j]);
          }
          const bool packed_reset = packed && !q.linear_before_reset;
          if (packed_reset) {  // (r . h) R_h^T + Rb_h, the products as the reference forms them
            for (int64_t i = 0; i < H; ++i) reset_h[i] = reset[i] * h[i];
            kernels::hwy::gemm_f32(q.rh_packed[static_cast<size_t>(d)], reset_h.data(), H, rh_h.data(), H, {0, 1, 0, H},
                                   kernels::Activation::none());
          }
          for (int64_t j = 0; j < H; ++j) {
            double e = packed_reset ? rh_h[j] : rh[2 * H + j];  // h R_h^T + Rb_h
            if (!q.linear_before_reset && !packed) {  // the reset applies to h before R_h: (r . h) R_h^T + Rb_h
              e = Wb ? Wb[G * H + 2 * H + j] : 0.0;
              for (int64_t i = 0; i < H; ++i) e += static_cast<double>(reset[i] * h[i]) * R[(2 * H + j) * H + i];
            }
            const float hh = g(pre[2 * H + j] + (q.linear_before_reset ? reset[j] * static_cast<float>(e) : static_cast<float>(e)));
            next[j] = (1 - z[j]) * hh + z[j] * h[j];
          }
          h.swap(next);
        } else if (packed && q.default_lstm) {
          // Sigmoid, Tanh, Tanh without clip: the gates as arrays through the vector kernels (the scalar
          // std::exp / std::tanh per value were most of a packed LSTM's time). Same formulas and order.
          float* in = gate_in.data();
          float* out = gate.data();
          for (int64_t j = 0; j < H; ++j) {
            in[j] = pre[j] + rh[j] + (P ? P[j] * c[j] : 0.f);                  // i
            in[H + j] = pre[2 * H + j] + rh[2 * H + j] + (P ? P[2 * H + j] * c[j] : 0.f);  // f
            in[2 * H + j] = pre[3 * H + j] + rh[3 * H + j];                    // c
          }
          kernels::hwy::sigmoid_f32(in, out, static_cast<size_t>(2 * H));
          kernels::hwy::tanh_f32(in + 2 * H, out + 2 * H, static_cast<size_t>(H));
          for (int64_t j = 0; j < H; ++j) {
            c[j] = out[H + j] * c[j] + out[j] * out[2 * H + j];
            in[j] = pre[H + j] + rh[H + j] + (P ? P[H + j] * c[j] : 0.f);  // o
          }
          kernels::hwy::sigmoid_f32(in, out, static_cast<size_t>(H));
          kernels::hwy::tanh_f32(c.data(), out + H, static_cast<size_t>(H));
          for (int64_t j = 0; j < H; ++j) h[j] = out[j] * out[H + j];
        } else {  // LSTM gates i, o, f, c; peepholes i, o, f
          for (int64_t j = 0; j < H; ++j) {
            const float gi = f(pre[j] + rh[j] + (P ? P[j] * c[j] : 0.f));
            const float gf = f(pre[2 * H + j] + rh[2 * H + j] + (P ? P[2 * H + j] * c[j] : 0.f));
            const float gc = g(pre[3 * H + j] + rh[3 * H + j]);
            c[j] = gf * c[j] + gi * gc;
            const float go = f(pre[H + j] + rh[H + j] + (P ? P[H + j] * c[j] : 0.f));
            h[j] = go * act[2](c[j]);
          }
        }
        if (Y) std::copy(h.begin(), h.end(), Y + y_at(t, d, b));
      }
      if (q.y_h >= 0) std::copy(h.begin(), h.end(), ctx.at<float>(q.y_h) + state_at(d, b));
      if (q.y_c >= 0) std::copy(c.begin(), c.end(), ctx.at<float>(q.y_c) + state_at(d, b));
    }
  }
}

void compile_recurrent(Builder& b, Cell cell) {
  const auto& node = b.node();
  Recurrence q;
  q.cell = cell;
  q.gates = cell == Cell::kRnn ? 1 : cell == Cell::kGru ? 3 : 4;
  for (size_t i : {size_t{0}, size_t{1}, size_t{2}}) b.check_dtype(i, {DType::kF32});
  const std::string direction = node.attr_string("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional") b.invalid("direction '" + direction + "'");
  q.dirs = direction == "bidirectional" ? 2 : 1;
  q.reverse_only = direction == "reverse";
  q.layout_batch_first = node.attr_int("layout", 0) != 0;
  q.linear_before_reset = node.attr_int("linear_before_reset", 0) != 0;
  q.clip = node.attr_float("clip", 0.f);
  if (q.clip < 0) b.invalid("clip must be positive");
  if (node.attr_int("input_forget", 0) != 0) b.unsupported("input_forget=1");
  const Shape xs = b.input(0).shape;
  if (xs.size() != 3) b.invalid("X must be 3-D");
  q.seq = xs[q.layout_batch_first ? 1 : 0];
  q.batch = xs[q.layout_batch_first ? 0 : 1];
  q.input = xs[2];
  q.hidden = node.attr_int("hidden_size", 0);
  if (q.hidden < 1) b.invalid("hidden_size must be positive");
  const int64_t gh = q.gates * q.hidden;
  if (b.input(1).shape != Shape{q.dirs, gh, q.input}) b.invalid("W must be " + shape_str({q.dirs, gh, q.input}));
  if (b.input(2).shape != Shape{q.dirs, gh, q.hidden}) b.invalid("R must be " + shape_str({q.dirs, gh, q.hidden}));
  const Shape state = q.layout_batch_first ? Shape{q.batch, q.dirs, q.hidden} : Shape{q.dirs, q.batch, q.hidden};
  auto optional = [&](size_t i, const Shape& want, const char* what) {
    if (!b.has_input(i)) return int32_t{-1};
    b.check_dtype(i, {DType::kF32});
    if (b.input(i).shape != want) b.invalid(std::string(what) + " must be " + shape_str(want));
    return b.input_plain(i);
  };
  q.act = activations(b, cell, q.dirs);
  if (cell == Cell::kLstm && q.clip == 0) {
    q.default_lstm = true;
    for (size_t i = 0; i < q.act.size(); ++i)
      q.default_lstm = q.default_lstm && q.act[i].kind == (i % 3 == 0 ? Activation::Kind::kSigmoid : Activation::Kind::kTanh);
  }
  q.x = b.input_plain(0);
  q.w = b.input_plain(1);
  q.r = b.input_plain(2);
  q.bias = optional(3, {q.dirs, 2 * gh}, "B");
  if (b.has_input(4)) {
    b.check_dtype(4, {DType::kI32, DType::kI64});
    if (b.input(4).shape != Shape{q.batch}) b.invalid("sequence_lens must have one value per batch entry");
    q.lens_wide = b.input(4).dtype == DType::kI64;
    q.lens = b.input_plain(4);
  }
  q.h0 = optional(5, state, "initial_h");
  if (cell == Cell::kLstm) {
    q.c0 = optional(6, state, "initial_c");
    q.peep = optional(7, {q.dirs, 3 * q.hidden}, "P");
  }
  const Tensor* w_const = b.constant(1);
  const Tensor* r_const = b.constant(2);
  const Tensor* bias_const = b.has_input(3) ? b.constant(3) : nullptr;
  if (w_const && r_const && (!b.has_input(3) || bias_const)) {
    for (int64_t d = 0; d < q.dirs; ++d) {
      const float* wb = bias_const ? bias_const->data<float>() + d * 2 * gh : nullptr;
      const std::string dir = " dir " + std::to_string(d);
      q.w_packed.push_back(b.packed<kernels::PackedGemmF32>("recurrent_w" + dir, {w_const, bias_const}, [&] {
        return kernels::hwy::pack_gemm_f32(w_const->data<float>() + d * gh * q.input, q.input, gh, kernels::BLayout::kNK, wb, 1.0f);
      }));
      // GRU without linear_before_reset: R's z and r rows here, its h rows apply to (r . h) below.
      const bool reset_first = cell == Cell::kGru && !q.linear_before_reset;
      const int64_t r_rows = reset_first ? 2 * q.hidden : gh;
      q.r_packed.push_back(b.packed<kernels::PackedGemmF32>("recurrent_r" + dir + " rows " + std::to_string(r_rows), {r_const, bias_const}, [&] {
        return kernels::hwy::pack_gemm_f32(r_const->data<float>() + d * gh * q.hidden, q.hidden, r_rows, kernels::BLayout::kNK,
                                           wb ? wb + gh : nullptr, 1.0f);
      }));
      if (reset_first)
        q.rh_packed.push_back(b.packed<kernels::PackedGemmF32>("recurrent_rh" + dir, {r_const, bias_const}, [&] {
          return kernels::hwy::pack_gemm_f32(r_const->data<float>() + (d * gh + 2 * q.hidden) * q.hidden, q.hidden, q.hidden,
                                             kernels::BLayout::kNK, wb ? wb + gh + 2 * q.hidden : nullptr, 1.0f);
        }));
    }
    q.pre_all = b.scratch(static_cast<size_t>(q.seq * q.batch * gh) * sizeof(float));
  }
  const Shape y_shape = q.layout_batch_first ? Shape{q.batch, q.seq, q.dirs, q.hidden} : Shape{q.seq, q.dirs, q.batch, q.hidden};
  if (b.has_output(0)) q.y = b.output(0, DType::kF32, y_shape);
  if (b.has_output(1)) q.y_h = b.output(1, DType::kF32, state);
  if (cell == Cell::kLstm && b.has_output(2)) q.y_c = b.output(2, DType::kF32, state);
  auto k = std::make_unique<ClosureKernel>([q](const ExecContext& ctx) { run_recurrence(q, ctx); });
  k->label = node.label() + (q.w_packed.empty() ? "" : " [packed gemm]");
  b.emit(std::move(k));
}

}  // namespace

void compile_rnn(Builder& b) { compile_recurrent(b, Cell::kRnn); }
void compile_gru(Builder& b) { compile_recurrent(b, Cell::kGru); }
void compile_lstm(Builder& b) { compile_recurrent(b, Cell::kLstm); }

}  // namespace edgeq::runtime::detail
