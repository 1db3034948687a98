// Data movement, any dtype (copied by element size): Transpose, Concat, Split, Slice, Pad, Gather.
// Concat along channels keeps NHWC when its inputs are (DenseNet/Inception-style blocks).
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "runtime/ops/common.h"

namespace edgeq::runtime::detail {

namespace {

// dst (contiguous, shape `dims`) = src viewed with element strides `st` from element offset `base`.
void copy_strided(const std::byte* src, std::byte* dst, const Shape& dims, const std::vector<int64_t>& st, int64_t base,
                  size_t es, int64_t row_begin, int64_t row_end) {
  const size_t r = dims.size();
  if (r == 0) {
    if (row_begin == 0 && row_end > 0) std::memcpy(dst, src + base * es, es);
    return;
  }
  const int64_t inner = dims[r - 1], sin = st[r - 1];
  for (int64_t row = row_begin; row < row_end; ++row) {
    int64_t rem = row, off = base;
    for (size_t d = r - 1; d-- > 0;) {
      off += (rem % dims[d]) * st[d];
      rem /= dims[d];
    }
    std::byte* out = dst + row * inner * es;
    const std::byte* in = src + off * es;
    if (sin == 1) {
      std::memcpy(out, in, static_cast<size_t>(inner) * es);
    } else {
      switch (es) {
        case 4:
          for (int64_t i = 0; i < inner; ++i) std::memcpy(out + i * 4, in + i * sin * 4, 4);
          break;
        default:
          for (int64_t i = 0; i < inner; ++i) std::memcpy(out + i * es, in + i * sin * es, es);
      }
    }
  }
}

int64_t rows_of(const Shape& dims) {
  int64_t r = 1;
  for (size_t i = 0; i + 1 < dims.size(); ++i) r *= dims[i];
  return dims.empty() ? 1 : r;
}

class StridedCopyKernel final : public Kernel {
 public:
  int32_t in = -1, out = -1;
  Shape dims;
  std::vector<int64_t> strides;
  int64_t base = 0;
  size_t es = 4;
  void run(const ExecContext& ctx) const override {
    const auto* src = ctx.at<const std::byte>(in);
    auto* dst = ctx.at<std::byte>(out);
    const int64_t rows = rows_of(dims);
    if (rows * (dims.empty() ? 1 : dims.back()) < kParallelGrain)
      copy_strided(src, dst, dims, strides, base, es, 0, rows);
    else
      ctx.parallel(rows, [&](int64_t b, int64_t e) { copy_strided(src, dst, dims, strides, base, es, b, e); });
  }
};

size_t elem_size(const Builder& b, DType d) {
  const size_t es = dtype_size(d);
  if (es == 0) b.unsupported(std::string("dtype ") + dtype_name(d));
  return es;
}

// Copies `parts` blocks: part p copies outer x len[p] bytes between (src, src_pitch) and (dst, dst_pitch).
struct Block {
  int32_t slot;
  int64_t offset;  // bytes into the concatenated row
  int64_t bytes;   // per outer row
};

class ConcatKernel final : public Kernel {
 public:
  std::vector<Block> parts;
  int32_t out = -1;
  int64_t outer = 1, row_bytes = 0;
  bool split = false;  // Split: copy from the one input (out) into the parts
  void run(const ExecContext& ctx) const override {
    auto* whole = ctx.at<std::byte>(out);
    for (const Block& p : parts) {
      auto* part = ctx.at<std::byte>(p.slot);
      for (int64_t o = 0; o < outer; ++o) {
        if (split)
          std::memcpy(part + o * p.bytes, whole + o * row_bytes + p.offset, static_cast<size_t>(p.bytes));
        else
          std::memcpy(whole + o * row_bytes + p.offset, part + o * p.bytes, static_cast<size_t>(p.bytes));
      }
    }
  }
};

}  // namespace

void compile_transpose(Builder& b) {
  const Value& x = b.input(0);
  const size_t r = x.shape.size();
  auto perm = b.node().attr_ints("perm");
  if (perm.empty())
    for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
  if (perm.size() != r) b.invalid("perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(r));
  std::vector<bool> seen(r, false);
  for (auto& p : perm) {
    p = normalize_axis(p, static_cast<int64_t>(r), b);
    if (seen[p]) b.invalid("perm repeats an axis");
    seen[p] = true;
  }
  const auto st = strides_of(x.shape);
  auto k = std::make_unique<StridedCopyKernel>();
  for (size_t i = 0; i < r; ++i) {
    k->dims.push_back(x.shape[perm[i]]);
    k->strides.push_back(st[perm[i]]);
  }
  k->es = elem_size(b, x.dtype);
  k->in = b.input_plain(0);
  k->out = b.output(0, x.dtype, k->dims);
  b.emit(std::move(k));
}

void compile_slice(Builder& b) {
  const Value& x = b.input(0);
  const int64_t r = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> starts, ends, axes, steps;
  if (b.opset() < 10) {
    starts = b.node().attr_ints("starts");
    ends = b.node().attr_ints("ends");
    axes = b.node().attr_ints("axes");
  } else {
    starts = tensor_to_i64(b.require_constant(1, "starts"));
    ends = tensor_to_i64(b.require_constant(2, "ends"));
    if (b.has_input(3)) axes = tensor_to_i64(b.require_constant(3, "axes"));
    if (b.has_input(4)) steps = tensor_to_i64(b.require_constant(4, "steps"));
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    b.invalid("starts, ends, axes and steps differ in length");
  Shape out = x.shape;
  const auto st = strides_of(x.shape);
  std::vector<int64_t> strides = st;
  int64_t base = 0;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t a = normalize_axis(axes[i], r, b);
    const int64_t dim = x.shape[a], step = steps[i];
    if (step == 0) b.invalid("step 0");
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
    }
    const int64_t len = step > 0 ? std::max<int64_t>(0, (e - s + step - 1) / step) : std::max<int64_t>(0, (s - e - step - 1) / -step);
    out[a] = len;
    if (len > 0) base += s * st[a];
    strides[a] = st[a] * step;
  }
  auto k = std::make_unique<StridedCopyKernel>();
  k->dims = out;
  k->strides = strides;
  k->base = base;
  k->es = elem_size(b, x.dtype);
  k->in = b.input_plain(0);
  k->out = b.output(0, x.dtype, out);
  if (numel(out) == 0) {
    b.output_constant(0, Tensor(x.dtype, out));
    return;
  }
  b.emit(std::move(k));
}

void compile_concat(Builder& b) {
  const Value& first = b.input(0);
  const int64_t r = static_cast<int64_t>(first.shape.size());
  const int64_t axis = normalize_axis(b.node().attr_int("axis", 0), r, b);
  Shape out = first.shape;
  out[axis] = 0;
  bool nhwc = r == 4 && axis == 1 && b.channels_last();
  bool any_nhwc = false;
  for (size_t i = 0; i < b.num_inputs(); ++i) {
    if (!b.has_input(i)) continue;
    const Value& v = b.input(i);
    if (v.dtype != first.dtype || static_cast<int64_t>(v.shape.size()) != r) b.invalid("inputs differ in dtype or rank");
    for (int64_t d = 0; d < r; ++d)
      if (d != axis && v.shape[d] != first.shape[d]) b.invalid("input " + std::to_string(i) + " shape " + shape_str(v.shape) + " does not match");
    out[axis] += v.shape[axis];
    if (!v.is_constant() && v.layout == Layout::kNHWC) any_nhwc = true;
  }
  nhwc = nhwc && any_nhwc;
  const size_t es = elem_size(b, first.dtype);
  auto k = std::make_unique<ConcatKernel>();
  // NHWC concat along C = concat along the last physical axis: outer = N*H*W.
  int64_t outer = 1, inner = 1;
  if (nhwc) {
    outer = out[0] * out[2] * out[3];
  } else {
    for (int64_t d = 0; d < axis; ++d) outer *= out[d];
    for (int64_t d = axis + 1; d < r; ++d) inner *= out[d];
  }
  int64_t offset = 0;
  for (size_t i = 0; i < b.num_inputs(); ++i) {
    if (!b.has_input(i)) continue;
    const Value& v = b.input(i);
    const int64_t bytes = v.shape[axis] * inner * static_cast<int64_t>(es);
    if (bytes == 0) continue;
    k->parts.push_back({nhwc ? b.input_nhwc(i) : b.input_plain(i), offset, bytes});
    offset += bytes;
  }
  k->outer = outer;
  k->row_bytes = offset;
  k->out = b.output(0, first.dtype, out, nhwc ? Layout::kNHWC : Layout::kPlain);
  if (nhwc) k->label = b.node().label() + " [nhwc]";
  b.emit(std::move(k));
}

void compile_split(Builder& b) {
  const Value& x = b.input(0);
  const int64_t r = static_cast<int64_t>(x.shape.size());
  const int64_t axis = normalize_axis(b.node().attr_int("axis", 0), r, b);
  std::vector<int64_t> sizes;
  if (b.opset() >= 13) {
    if (b.has_input(1)) sizes = tensor_to_i64(b.require_constant(1, "split"));
  } else {
    sizes = b.node().attr_ints("split");
  }
  const int64_t outputs = static_cast<int64_t>(b.num_outputs());
  if (sizes.empty()) {
    if (x.shape[axis] % outputs != 0) b.invalid("axis length not divisible by the output count");
    sizes.assign(static_cast<size_t>(outputs), x.shape[axis] / outputs);
  }
  if (static_cast<int64_t>(sizes.size()) != outputs) b.invalid("split has " + std::to_string(sizes.size()) + " sizes for " + std::to_string(outputs) + " outputs");
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  if (total != x.shape[axis]) b.invalid("split sizes do not add up to the axis length");
  const size_t es = elem_size(b, x.dtype);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
  for (int64_t d = axis + 1; d < r; ++d) inner *= x.shape[d];
  auto k = std::make_unique<ConcatKernel>();
  k->split = true;
  k->outer = outer;
  k->row_bytes = x.shape[axis] * inner * static_cast<int64_t>(es);
  k->out = b.input_plain(0);
  int64_t offset = 0;
  for (int64_t o = 0; o < outputs; ++o) {
    Shape s = x.shape;
    s[axis] = sizes[o];
    const int64_t bytes = sizes[o] * inner * static_cast<int64_t>(es);
    const int32_t slot = b.output(static_cast<size_t>(o), x.dtype, s);
    if (bytes > 0) k->parts.push_back({slot, offset, bytes});
    offset += bytes;
  }
  b.emit(std::move(k));
}

namespace {
// Row by row over the last dim: a row whose outer indices fall outside the input (constant mode) is
// the fill; otherwise its inside run is one copy and only its padded ends are mapped one by one (the
// element-wise odometer took 0.9 ms on one of BlazeFace's channel pads). Shapes and pads are the
// physical ones: for a channels-last value the compiler passes them in NHWC order.
class PadKernel final : public Kernel {
 public:
  enum class Mode { kConstant, kReflect, kEdge } mode = Mode::kConstant;
  int32_t in = -1, out = -1, value_slot = -1;
  Shape in_shape, out_shape;
  std::vector<int64_t> pad_begin;
  std::vector<std::byte> value;  // constant fill, one element
  size_t es = 4;
  // The input index output index i - pad reads along a dim of n, or -1 for the constant fill.
  int64_t source_index(int64_t i, int64_t n) const {
    if (i >= 0 && i < n) return i;
    if (mode == Mode::kConstant) return -1;
    if (mode == Mode::kEdge) return std::clamp<int64_t>(i, 0, n - 1);
    const int64_t period = 2 * (n - 1);  // reflect without repeating the edge
    if (period == 0) return 0;
    i = ((i % period) + period) % period;
    return i >= n ? period - i : i;
  }
  void run(const ExecContext& ctx) const override {
    const auto* src = ctx.at<const std::byte>(in);
    auto* dst = ctx.at<std::byte>(out);
    const std::byte* fill = value_slot >= 0 ? ctx.at<const std::byte>(value_slot) : value.data();
    const size_t r = out_shape.size();
    const int64_t total = numel(out_shape);
    if (total == 0) return;
    if (r == 0) {
      std::memcpy(dst, src, es);
      return;
    }
    const auto ist = strides_of(in_shape);
    const int64_t row_out = out_shape[r - 1], row_in = in_shape[r - 1], pad = pad_begin[r - 1];
    const int64_t lo = std::clamp<int64_t>(pad, 0, row_out), hi = std::clamp<int64_t>(pad + row_in, lo, row_out);
    std::vector<int64_t> idx(r - 1, 0);  // the output row's outer indices (an odometer, last fastest)
    std::vector<std::byte> fill_row(static_cast<size_t>(row_out) * es);  // a whole row of the constant
    for (int64_t j = 0; j < row_out; ++j) std::memcpy(fill_row.data() + static_cast<size_t>(j) * es, fill, es);
    for (int64_t row = 0; row < total / row_out; ++row) {
      std::byte* drow = dst + static_cast<size_t>(row * row_out) * es;
      int64_t off = 0;
      bool inside = true;
      for (size_t d = 0; d + 1 < r && inside; ++d) {
        const int64_t i = source_index(idx[d] - pad_begin[d], in_shape[d]);
        inside = i >= 0;
        off += i * ist[d];
      }
      if (!inside) {
        std::memcpy(drow, fill_row.data(), fill_row.size());
      } else {
        const std::byte* srow = src + static_cast<size_t>(off) * es;
        if (hi > lo) std::memcpy(drow + static_cast<size_t>(lo) * es, srow + static_cast<size_t>(lo - pad) * es, static_cast<size_t>(hi - lo) * es);
        if (mode == Mode::kConstant) {  // the ends are the fill
          std::memcpy(drow, fill_row.data(), static_cast<size_t>(lo) * es);
          std::memcpy(drow + static_cast<size_t>(hi) * es, fill_row.data(), static_cast<size_t>(row_out - hi) * es);
        } else {
          for (int64_t j = 0; j < row_out; ++j) {
            if (j == lo) j = std::max(hi, lo);  // the copied run
            if (j >= row_out) break;
            std::memcpy(drow + static_cast<size_t>(j) * es, srow + static_cast<size_t>(source_index(j - pad, row_in)) * es, es);
          }
        }
      }
      for (size_t d = r - 1; d-- > 0;) {
        if (++idx[d] < out_shape[d]) break;
        idx[d] = 0;
      }
    }
  }
};
}  // namespace

void compile_pad(Builder& b) {
  const Value& x = b.input(0);
  const size_t r = x.shape.size();
  const std::string mode = b.node().attr_string("mode", "constant");
  std::vector<int64_t> pads;
  auto k = std::make_unique<PadKernel>();
  k->es = elem_size(b, x.dtype);
  k->value.assign(k->es, std::byte{0});
  if (b.opset() < 11) {
    pads = b.node().attr_ints("pads");
    if (x.dtype != DType::kF32) b.unsupported("Pad (opset < 11) on non-float data");
    const float v = b.node().attr_float("value", 0.f);
    std::memcpy(k->value.data(), &v, 4);
  } else {
    pads = tensor_to_i64(b.require_constant(1, "pads"));
    if (b.has_input(3)) b.unsupported("the axes input");
    if (b.has_input(2)) {
      if (b.input(2).dtype != x.dtype || numel(b.input(2).shape) != 1) b.invalid("constant_value must be a scalar of the data's dtype");
      if (const Tensor* t = b.constant(2))
        std::memcpy(k->value.data(), t->raw(), k->es);
      else
        k->value_slot = b.input_plain(2);
    }
  }
  if (pads.size() != 2 * r) b.invalid("pads must have " + std::to_string(2 * r) + " values");
  if (mode == "constant")
    k->mode = PadKernel::Mode::kConstant;
  else if (mode == "reflect")
    k->mode = PadKernel::Mode::kReflect;
  else if (mode == "edge")
    k->mode = PadKernel::Mode::kEdge;
  else
    b.unsupported("mode '" + mode + "'");
  Shape out(r);
  for (size_t d = 0; d < r; ++d) {
    out[d] = x.shape[d] + pads[d] + pads[d + r];
    if (out[d] < 0) b.invalid("pads remove more than the dim");
    if (k->mode != PadKernel::Mode::kConstant && (pads[d] < 0 || pads[d + r] < 0)) b.unsupported("negative pads in reflect/edge mode");
    if (k->mode == PadKernel::Mode::kReflect && (pads[d] >= x.shape[d] || pads[d + r] >= x.shape[d]) && (pads[d] || pads[d + r]))
      b.invalid("reflect pads must be smaller than the dim");
    if (k->mode != PadKernel::Mode::kConstant && x.shape[d] == 0 && (pads[d] || pads[d + r])) b.invalid("cannot pad an empty dim in this mode");
  }
  k->pad_begin.assign(pads.begin(), pads.begin() + static_cast<int64_t>(r));
  if (r == 4 && !x.is_constant() && x.layout == Layout::kNHWC && (x.dtype == DType::kF32 || x.dtype == DType::kU8)) {
    // Channels-last in and out (BlazeFace pads channels between convs): the same kernel over NHWC order.
    auto nhwc = [](const auto& v) { return std::decay_t<decltype(v)>{v[0], v[2], v[3], v[1]}; };
    k->in_shape = nhwc(x.shape);
    k->out_shape = nhwc(out);
    k->pad_begin = nhwc(k->pad_begin);
    k->in = b.input_nhwc(0);
    k->out = b.output(0, x.dtype, out, Layout::kNHWC);
    k->label = b.node().label() + " [nhwc]";
    b.emit(std::move(k));
    return;
  }
  k->in_shape = x.shape;
  k->out_shape = out;
  k->in = b.input_plain(0);
  k->out = b.output(0, x.dtype, out);
  b.emit(std::move(k));
}

namespace {
template <typename I>
class GatherKernel final : public Kernel {
 public:
  int32_t data = -1, indices = -1, out = -1;
  int64_t outer = 1, axis_len = 0, n_idx = 0, inner_bytes = 0;
  void run(const ExecContext& ctx) const override {
    const auto* src = ctx.at<const std::byte>(data);
    const I* idx = ctx.at<const I>(indices);
    auto* dst = ctx.at<std::byte>(out);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < n_idx; ++j) {
        int64_t i = static_cast<int64_t>(idx[j]);
        if (i < 0) i += axis_len;
        if (i < 0 || i >= axis_len)
          throw Error(ErrorCode::kInvalidArgument, label + ": index " + std::to_string(idx[j]) + " out of range [" +
                                                       std::to_string(-axis_len) + ", " + std::to_string(axis_len) + ")");
        std::memcpy(dst + (o * n_idx + j) * inner_bytes, src + (o * axis_len + i) * inner_bytes, static_cast<size_t>(inner_bytes));
      }
  }
};
}  // namespace

void compile_gather(Builder& b) {
  const Value& x = b.input(0);
  const Value& ind = b.input(1);
  const int64_t r = static_cast<int64_t>(x.shape.size());
  if (r == 0) b.invalid("data must have rank >= 1");
  const int64_t axis = normalize_axis(b.node().attr_int("axis", 0), r, b);
  const size_t es = elem_size(b, x.dtype);
  Shape out(x.shape.begin(), x.shape.begin() + axis);
  out.insert(out.end(), ind.shape.begin(), ind.shape.end());
  out.insert(out.end(), x.shape.begin() + axis + 1, x.shape.end());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
  for (int64_t d = axis + 1; d < r; ++d) inner *= x.shape[d];
  auto fill = [&](auto k) {
    k->outer = outer;
    k->axis_len = x.shape[axis];
    k->n_idx = numel(ind.shape);
    k->inner_bytes = inner * static_cast<int64_t>(es);
    k->data = b.input_plain(0);
    k->indices = b.input_plain(1);
    k->out = b.output(0, x.dtype, out);
    k->label = b.node().label();
    b.emit(std::move(k));
  };
  if (ind.dtype == DType::kI64)
    fill(std::make_unique<GatherKernel<int64_t>>());
  else if (ind.dtype == DType::kI32)
    fill(std::make_unique<GatherKernel<int32_t>>());
  else
    b.unsupported(std::string("indices of dtype ") + dtype_name(ind.dtype));
}

}  // namespace edgeq::runtime::detail
