// Reference indexing and shape-making operators, any element type unless arithmetic is needed:
// GatherElements, GatherND, ScatterElements (and the older Scatter), ScatterND, Trilu, Expand, Tile,
// DepthToSpace, SpaceToDepth, OneHot, ReverseSequence, and the compile-time ones (Size, Range, EyeLike).
// Output shapes are known when the plan is compiled: a shape that depends on an input's values
// (Range's bounds, Expand's shape, Tile's repeats) takes that input as a compile-time constant; the
// session keys its plans by such inputs' values.
#include <cmath>
#include <cstring>

#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

namespace {

// int32 / int64 index tensors, read as int64.
struct IndexReader {
  bool wide = true;
  int64_t operator()(const void* p, int64_t k) const {
    return wide ? static_cast<const int64_t*>(p)[k] : static_cast<int64_t>(static_cast<const int32_t*>(p)[k]);
  }
};

IndexReader index_reader(const Builder& b, size_t i) {
  b.check_dtype(i, {DType::kI32, DType::kI64});
  return {b.input(i).dtype == DType::kI64};
}

// i in [-len, len) -> [0, len); anything else is a run-time error naming the node.
int64_t resolve_index(int64_t i, int64_t len, const std::string& where) {
  const int64_t r = i < 0 ? i + len : i;
  if (r < 0 || r >= len)
    throw Error(ErrorCode::kInvalidArgument, where + ": index " + std::to_string(i) + " out of range [" + std::to_string(-len) + ", " +
                                                 std::to_string(len) + ")");
  return r;
}

size_t element_size(const Builder& b, DType d) {
  const size_t es = dtype_size(d);
  if (es == 0 || d == DType::kString) b.unsupported(std::string("dtype ") + dtype_name(d));
  return es;
}

// The multi-index of flat element i of `shape`, dotted with `strides`, skipping dim `skip` (-1: none).
int64_t offset_of(int64_t i, const Shape& shape, const std::vector<int64_t>& strides, int64_t skip, int64_t* skipped) {
  int64_t off = 0;
  for (size_t d = shape.size(); d-- > 0;) {
    const int64_t c = i % shape[d];
    i /= shape[d];
    if (static_cast<int64_t>(d) == skip)
      *skipped = c;
    else
      off += c * strides[d];
  }
  return off;
}

// GatherElements and ScatterElements share the geometry: an index tensor the rank of data, each index
// naming a position along `axis`, and the other coordinates taken from the index's own position.
struct ElementsGeometry {
  Shape index_shape, data_shape;
  std::vector<int64_t> data_strides;
  int64_t axis = 0;
  // Data element addressed by flat index position i holding index value v.
  int64_t data_offset(int64_t i, int64_t v, const std::string& where) const {
    int64_t unused = 0;
    const int64_t base = offset_of(i, index_shape, data_strides, axis, &unused);
    return base + resolve_index(v, data_shape[axis], where) * data_strides[axis];
  }
};

ElementsGeometry elements_geometry(const Builder& b, size_t index_input) {
  ElementsGeometry g;
  g.data_shape = b.input(0).shape;
  g.index_shape = b.input(index_input).shape;
  const int64_t r = static_cast<int64_t>(g.data_shape.size());
  if (r == 0 || static_cast<int64_t>(g.index_shape.size()) != r) b.invalid("indices must have the rank of data (>= 1)");
  g.axis = normalize_axis(b.node().attr_int("axis", 0), r, b);
  for (int64_t d = 0; d < r; ++d)
    if (d != g.axis && g.index_shape[d] > g.data_shape[d]) b.invalid("indices are larger than data outside the axis");
  g.data_strides = strides_of(g.data_shape);
  return g;
}

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction reduction_attr(const Builder& b) {
  const std::string r = b.node().attr_string("reduction", "none");
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max") return Reduction::kMax;
  if (r == "min") return Reduction::kMin;
  b.invalid("reduction '" + r + "' is not none, add, mul, max or min");
}

// dst = reduce(dst, src) for one element of type T.
template <typename T>
void combine(Reduction r, T* dst, const T* src) {
  switch (r) {
    case Reduction::kNone: *dst = *src; break;
    case Reduction::kAdd: *dst = wrapping_add(*dst, *src); break;
    case Reduction::kMul: *dst = wrapping_mul(*dst, *src); break;
    case Reduction::kMax: *dst = std::max(*dst, *src); break;
    case Reduction::kMin: *dst = std::min(*dst, *src); break;
  }
}

// The scatters: out = data, then each update combined into its element. fn(ctx, out bytes) places them.
template <typename Place>
void emit_scatter(Builder& b, Reduction red, Place place) {
  const Value& data = b.input(0);
  if (b.input(2).dtype != data.dtype) b.invalid("updates and data have different dtypes");
  const size_t es = element_size(b, data.dtype);
  const int64_t bytes = numel(data.shape) * static_cast<int64_t>(es);
  const int32_t in = b.input_plain(0), ind = b.input_plain(1), upd = b.input_plain(2), out = b.output(0, data.dtype, data.shape);
  const std::string where = b.node().label();
  auto run = [&]<typename T>() {
    emit_closure(b, [=](const ExecContext& ctx) {
      T* y = ctx.at<T>(out);
      std::memcpy(y, ctx.at<const T>(in), static_cast<size_t>(bytes));
      place(ctx.ptrs[ind], ctx.at<const T>(upd), where, [&](int64_t dst, const T* src) { combine<T>(red, y + dst, src); });
    });
  };
  if (!dispatch_numeric_or_bool(data.dtype, run)) b.unsupported(std::string("dtype ") + dtype_name(data.dtype));
  if (red != Reduction::kNone && data.dtype == DType::kBool) b.unsupported("reductions over bool");
}

// Visits every element of `shape` with its multi-index, row-major.
template <typename Fn>
void for_each_index(const Shape& shape, Fn&& fn) {
  std::vector<int64_t> idx(shape.size(), 0);
  const int64_t n = numel(shape);
  for (int64_t i = 0; i < n; ++i) {
    fn(i, idx);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

// Copies output element i from input element src(i, multi-index), any element type.
template <typename Src>
void emit_gather_by(Builder& b, const Shape& out_shape, Src src) {
  const DType dt = b.input(0).dtype;
  const size_t es = element_size(b, dt);
  const int32_t in = b.input_plain(0), out = b.output(0, dt, out_shape);
  emit_closure(b, [=](const ExecContext& ctx) {
    const auto* x = ctx.at<const std::byte>(in);
    auto* y = ctx.at<std::byte>(out);
    for_each_index(out_shape, [&](int64_t i, const std::vector<int64_t>& idx) { std::memcpy(y + i * es, x + src(idx) * es, es); });
  });
}

// A constant tensor of `dtype` and `shape` with element i = value(i) (converted to the dtype).
template <typename Value>
Tensor make_constant(const Builder& b, DType dtype, const Shape& shape, Value value) {
  Tensor t(dtype, shape);
  const bool ok = dispatch_numeric_or_bool(dtype, [&]<typename T>() {
    T* p = static_cast<T*>(t.raw());
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(value(i));
  });
  if (!ok) b.unsupported(std::string("dtype ") + dtype_name(dtype));
  return t;
}

// Element count past which an output whose size comes from input values is refused, not allocated
// (a hostile Range or Tile would otherwise ask for gigabytes).
constexpr int64_t kMaxMadeElements = int64_t{1} << 27;

}  // namespace

void compile_size(Builder& b) {
  const int64_t n = numel(b.input(0).shape);
  b.output_constant(0, Tensor::from_i64(Shape{}, std::span<const int64_t>(&n, 1)));
}

void compile_gather_elements(Builder& b) {
  const ElementsGeometry g = elements_geometry(b, 1);
  const IndexReader read = index_reader(b, 1);
  const DType dt = b.input(0).dtype;
  const size_t es = element_size(b, dt);
  const int32_t in = b.input_plain(0), ind = b.input_plain(1), out = b.output(0, dt, g.index_shape);
  const std::string where = b.node().label();
  emit_closure(b, [=](const ExecContext& ctx) {
    const auto* x = ctx.at<const std::byte>(in);
    auto* y = ctx.at<std::byte>(out);
    for (int64_t i = 0; i < numel(g.index_shape); ++i)
      std::memcpy(y + i * es, x + g.data_offset(i, read(ctx.ptrs[ind], i), where) * es, es);
  });
}

// ScatterElements (opset 11+) and Scatter (opset 9-10, the same without reductions).
void compile_scatter_elements(Builder& b) {
  const ElementsGeometry g = elements_geometry(b, 1);
  if (b.input(2).shape != g.index_shape) b.invalid("updates must have the shape of indices");
  const IndexReader read = index_reader(b, 1);
  emit_scatter(b, reduction_attr(b), [g, read](const void* ind, const auto* upd, const std::string& where, auto&& put) {
    for (int64_t i = 0; i < numel(g.index_shape); ++i) put(g.data_offset(i, read(ind, i), where), upd + i);
  });
}
void compile_scatter(Builder& b) { compile_scatter_elements(b); }

void compile_scatter_nd(Builder& b) {
  const Shape data = b.input(0).shape, ind = b.input(1).shape;
  if (ind.empty() || ind.back() < 1 || ind.back() > static_cast<int64_t>(data.size())) b.invalid("indices' last dim must be in [1, rank of data]");
  const int64_t depth = ind.back();
  Shape want(ind.begin(), ind.end() - 1);
  want.insert(want.end(), data.begin() + depth, data.end());
  if (b.input(2).shape != want) b.invalid("updates must have shape " + shape_str(want));
  const IndexReader read = index_reader(b, 1);
  const int64_t tuples = numel(Shape(ind.begin(), ind.end() - 1)), slice = numel(Shape(data.begin() + depth, data.end()));
  const auto strides = strides_of(data);
  emit_scatter(b, reduction_attr(b), [=](const void* pi, const auto* upd, const std::string& where, auto&& put) {
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t base = 0;
      for (int64_t k = 0; k < depth; ++k) base += resolve_index(read(pi, t * depth + k), data[k], where) * strides[k];
      for (int64_t e = 0; e < slice; ++e) put(base + e, upd + t * slice + e);
    }
  });
}

void compile_gather_nd(Builder& b) {
  const Shape data = b.input(0).shape, ind = b.input(1).shape;
  const int64_t batch = b.node().attr_int("batch_dims", 0);
  const int64_t r = static_cast<int64_t>(data.size()), q = static_cast<int64_t>(ind.size());
  if (batch < 0 || batch >= std::min(r, q)) b.invalid("batch_dims must be in [0, min(rank of data, rank of indices))");
  for (int64_t d = 0; d < batch; ++d)
    if (data[d] != ind[d]) b.invalid("the batch dims of data and indices differ");
  const int64_t depth = ind.back();
  if (depth < 1 || batch + depth > r) b.invalid("indices' last dim must be in [1, rank of data - batch_dims]");
  Shape out(ind.begin(), ind.end() - 1);
  out.insert(out.end(), data.begin() + batch + depth, data.end());
  const IndexReader read = index_reader(b, 1);
  const int64_t batches = numel(Shape(data.begin(), data.begin() + batch));
  const int64_t per_batch = numel(Shape(ind.begin() + batch, ind.end() - 1));
  const int64_t slice = numel(Shape(data.begin() + batch + depth, data.end()));
  const auto strides = strides_of(data);
  const int64_t batch_stride = batch > 0 ? strides[batch - 1] : 0;
  const DType dt = b.input(0).dtype;
  const size_t es = element_size(b, dt);
  const int32_t in = b.input_plain(0), pi = b.input_plain(1), o = b.output(0, dt, out);
  const std::string where = b.node().label();
  emit_closure(b, [=](const ExecContext& ctx) {
    const auto* x = ctx.at<const std::byte>(in);
    auto* y = ctx.at<std::byte>(o);
    for (int64_t bt = 0; bt < batches; ++bt)
      for (int64_t t = 0; t < per_batch; ++t) {
        const int64_t tuple = bt * per_batch + t;
        int64_t base = bt * batch_stride;
        for (int64_t k = 0; k < depth; ++k) base += resolve_index(read(ctx.ptrs[pi], tuple * depth + k), data[batch + k], where) * strides[batch + k];
        std::memcpy(y + tuple * slice * static_cast<int64_t>(es), x + base * static_cast<int64_t>(es), static_cast<size_t>(slice) * es);
      }
  });
}

void compile_trilu(Builder& b) {
  const Shape shape = b.input(0).shape;
  if (shape.size() < 2) b.invalid("input must have rank >= 2");
  int64_t k = 0;
  if (b.has_input(1)) {
    const auto v = tensor_to_i64(b.require_constant(1, "k"));
    if (v.size() != 1) b.invalid("k must be a scalar");
    k = v[0];
  }
  const bool upper = b.node().attr_int("upper", 1) != 0;
  const DType dt = b.input(0).dtype;
  const size_t es = element_size(b, dt);
  const int64_t rows = shape[shape.size() - 2], cols = shape.back(), n = numel(shape);
  const int32_t in = b.input_plain(0), out = b.output(0, dt, shape);
  emit_closure(b, [=](const ExecContext& ctx) {
    const auto* x = ctx.at<const std::byte>(in);
    auto* y = ctx.at<std::byte>(out);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = i % cols, r = (i / cols) % rows;
      const bool keep = upper ? c - r >= k : c - r <= k;
      if (keep)
        std::memcpy(y + i * static_cast<int64_t>(es), x + i * static_cast<int64_t>(es), es);
      else
        std::memset(y + i * static_cast<int64_t>(es), 0, es);
    }
  });
}

void compile_expand(Builder& b) {
  const auto dims = tensor_to_i64(b.require_constant(1, "the shape"));
  const Shape shape = broadcast_shapes(b.input(0).shape, Shape(dims.begin(), dims.end()), b);
  for (int64_t d : shape)
    if (d < 0) b.invalid("negative dim");
  if (numel(shape) > kMaxMadeElements) b.unsupported("output of " + shape_str(shape) + " is too large");
  const BroadcastIndexer ix(shape, {b.input(0).shape});
  const DType dt = b.input(0).dtype;
  const size_t es = element_size(b, dt);
  const int32_t in = b.input_plain(0), out = b.output(0, dt, shape);
  emit_closure(b, [=](const ExecContext& ctx) {
    const auto* x = ctx.at<const std::byte>(in);
    auto* y = ctx.at<std::byte>(out);
    ix.for_each([&](int64_t i, const int64_t* o) { std::memcpy(y + i * static_cast<int64_t>(es), x + o[0] * static_cast<int64_t>(es), es); });
  });
}

void compile_tile(Builder& b) {
  const Shape in = b.input(0).shape;
  const auto reps = tensor_to_i64(b.require_constant(1, "repeats"));
  if (reps.size() != in.size()) b.invalid("repeats must have one value per input dim");
  Shape out = in;
  for (size_t d = 0; d < in.size(); ++d) {
    if (reps[d] < 0) b.invalid("negative repeat");
    out[d] = in[d] * reps[d];
  }
  if (numel(out) > kMaxMadeElements) b.unsupported("output of " + shape_str(out) + " is too large");
  const auto st = strides_of(in);
  emit_gather_by(b, out, [in, st](const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t d = 0; d < idx.size(); ++d) off += (idx[d] % in[d]) * st[d];
    return off;
  });
}

// DepthToSpace (DCR or CRD) and SpaceToDepth: [N, C, H, W] <-> [N, C/(s*s), H*s, W*s] as index maps.
void compile_depth_to_space(Builder& b) {
  const Shape in = b.input(0).shape;
  const int64_t s = b.node().attr_int("blocksize", 0);
  if (in.size() != 4 || s < 1 || in[1] % (s * s) != 0) b.invalid("needs a rank-4 input whose channels divide by blocksize^2");
  const std::string mode = b.node().attr_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") b.invalid("mode must be DCR or CRD");
  const bool dcr = mode == "DCR";
  const int64_t c = in[1] / (s * s);
  const auto st = strides_of(in);
  emit_gather_by(b, Shape{in[0], c, in[2] * s, in[3] * s}, [=](const std::vector<int64_t>& o) {
    const int64_t bh = o[2] % s, bw = o[3] % s;
    const int64_t ch = dcr ? (bh * s + bw) * c + o[1] : o[1] * s * s + bh * s + bw;
    return o[0] * st[0] + ch * st[1] + (o[2] / s) * st[2] + (o[3] / s) * st[3];
  });
}

void compile_space_to_depth(Builder& b) {
  const Shape in = b.input(0).shape;
  const int64_t s = b.node().attr_int("blocksize", 0);
  if (in.size() != 4 || s < 1 || in[2] % s != 0 || in[3] % s != 0) b.invalid("needs a rank-4 input whose H and W divide by blocksize");
  const int64_t c = in[1];
  const auto st = strides_of(in);
  emit_gather_by(b, Shape{in[0], c * s * s, in[2] / s, in[3] / s}, [=](const std::vector<int64_t>& o) {
    const int64_t block = o[1] / c, ch = o[1] % c;
    return o[0] * st[0] + ch * st[1] + (o[2] * s + block / s) * st[2] + (o[3] * s + block % s) * st[3];
  });
}

void compile_one_hot(Builder& b) {
  const Shape ind = b.input(0).shape;
  const auto depth_v = tensor_to_f32(b.require_constant(1, "depth"));
  if (depth_v.size() != 1 || !(depth_v[0] >= 1) || depth_v[0] > static_cast<float>(kMaxMadeElements)) b.invalid("depth must be one positive number");
  const int64_t depth = static_cast<int64_t>(depth_v[0]);
  if (numel(b.input(2).shape) != 2) b.invalid("values must hold [off, on]");
  const int64_t r = static_cast<int64_t>(ind.size());
  const int64_t axis = normalize_axis(b.node().attr_int("axis", -1), r + 1, b);
  Shape out = ind;
  out.insert(out.begin() + axis, depth);
  if (numel(out) > kMaxMadeElements) b.unsupported("output of " + shape_str(out) + " is too large");
  int64_t inner = 1;
  for (int64_t d = axis; d < r; ++d) inner *= ind[d];
  const DType it = b.input(0).dtype, vt = b.input(2).dtype;
  const size_t es = element_size(b, vt);
  const int32_t pi = b.input_plain(0), pv = b.input_plain(2), o = b.output(0, vt, out);
  const int64_t n = numel(ind);
  bool ok = dispatch_numeric(it, [&]<typename I>() {
    emit_closure(b, [=](const ExecContext& ctx) {
      const I* idx = ctx.at<const I>(pi);
      const auto* values = ctx.at<const std::byte>(pv);
      auto* y = ctx.at<std::byte>(o);
      for (int64_t e = 0; e < n * depth; ++e) std::memcpy(y + e * static_cast<int64_t>(es), values, es);
      for (int64_t i = 0; i < n; ++i) {
        const double v = static_cast<double>(idx[i]);
        if (!(v >= -static_cast<double>(depth) && v < static_cast<double>(depth))) continue;  // out of range: all off
        const int64_t hot = static_cast<int64_t>(v < 0 ? v + static_cast<double>(depth) : v);
        const int64_t outer_i = i / inner, inner_i = i % inner;
        std::memcpy(y + ((outer_i * depth + hot) * inner + inner_i) * static_cast<int64_t>(es), values + es, es);
      }
    });
  });
  if (!ok) b.unsupported(std::string("indices of dtype ") + dtype_name(it));
}

// Range in the inputs' own type: integer ranges are exact (the count in long double, exact for any
// int64 difference), float ones step like numpy.arange.
void compile_range(Builder& b) {
  const DType dt = b.input(0).dtype;
  for (size_t i = 0; i < 3; ++i) {
    if (b.input(i).dtype != dt) b.invalid("start, limit and delta have different dtypes");
    if (numel(b.require_constant(i, i == 0 ? "start" : i == 1 ? "limit" : "delta").shape()) != 1) b.invalid("start, limit and delta must be scalars");
  }
  Tensor out;
  const bool ok = dispatch_numeric(dt, [&]<typename T>() {
    const T s = *static_cast<const T*>(b.constant(0)->raw()), l = *static_cast<const T*>(b.constant(1)->raw()),
            d = *static_cast<const T*>(b.constant(2)->raw());
    if (d == 0) b.invalid("delta must be nonzero");
    const long double count = std::ceil((static_cast<long double>(l) - static_cast<long double>(s)) / static_cast<long double>(d));
    if (!std::isfinite(count)) b.invalid("start, limit and delta must be finite");
    if (count > static_cast<long double>(kMaxMadeElements)) b.unsupported("more than 2^27 elements");
    const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
    out = Tensor(dt, Shape{n});
    T* p = static_cast<T*>(out.raw());
    if constexpr (std::is_integral_v<T>) {  // every value lies in [start, limit): stepping cannot overflow
      for (int64_t i = 0; i < n; ++i) p[i] = i == 0 ? s : static_cast<T>(p[i - 1] + d);
    } else {
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(s + static_cast<T>(i) * d);
    }
  });
  if (!ok) b.unsupported(std::string("dtype ") + dtype_name(dt));
  b.output_constant(0, std::move(out));
}

// ReverseSequence: the first sequence_lens[b] steps along time_axis reversed, per batch entry b.
void compile_reverse_sequence(Builder& b) {
  const Shape shape = b.input(0).shape;
  if (shape.size() < 2) b.invalid("input must have rank >= 2");
  const int64_t batch_axis = b.node().attr_int("batch_axis", 1), time_axis = b.node().attr_int("time_axis", 0);
  if (!((batch_axis == 0 && time_axis == 1) || (batch_axis == 1 && time_axis == 0))) b.invalid("batch_axis and time_axis must be 0 and 1");
  if (b.input(1).shape != Shape{shape[batch_axis]}) b.invalid("sequence_lens must have one value per batch entry");
  const IndexReader read = index_reader(b, 1);
  const auto st = strides_of(shape);
  const DType dt = b.input(0).dtype;
  const size_t es = element_size(b, dt);
  const int32_t in = b.input_plain(0), lens = b.input_plain(1), out = b.output(0, dt, shape);
  const std::string where = b.node().label();
  emit_closure(b, [=](const ExecContext& ctx) {
    const auto* x = ctx.at<const std::byte>(in);
    auto* y = ctx.at<std::byte>(out);
    for_each_index(shape, [&](int64_t i, const std::vector<int64_t>& idx) {
      const int64_t len = read(ctx.ptrs[lens], idx[batch_axis]);
      if (len < 0 || len > shape[time_axis]) throw Error(ErrorCode::kInvalidArgument, where + ": sequence length " + std::to_string(len) + " out of range");
      const int64_t t = idx[time_axis], src_t = t < len ? len - 1 - t : t;
      std::memcpy(y + i * static_cast<int64_t>(es), x + (i + (src_t - t) * st[time_axis]) * static_cast<int64_t>(es), es);
    });
  });
}

// EyeLike: only the input's shape matters, so the output is a constant.
void compile_eye_like(Builder& b) {
  const Shape shape = b.input(0).shape;
  if (shape.size() != 2) b.invalid("input must be 2-D");
  const int64_t to = b.node().attr_int("dtype", static_cast<int64_t>(b.input(0).dtype));
  if (!dtype_known(static_cast<int32_t>(to))) b.unsupported("dtype " + std::to_string(to));
  const int64_t k = b.node().attr_int("k", 0), cols = shape[1];
  b.output_constant(0, make_constant(b, static_cast<DType>(to), shape, [k, cols](int64_t i) { return i % cols - i / cols == k ? 1 : 0; }));
}

}  // namespace edgeq::runtime::detail
