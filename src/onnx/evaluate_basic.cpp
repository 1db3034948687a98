// The built-in constant evaluator: the shape-arithmetic ops torch.onnx.export emits around Reshape
// (Shape → Gather → Unsqueeze → Concat → Reshape), on int64 and float32. Anything else: nullopt.
#include <cmath>
#include <cstring>

#include "edgeq/onnx.h"

namespace edgeq::onnx {
namespace {

using Outputs = std::optional<std::vector<Tensor>>;

// Reads an integer tensor (int32/int64) as int64 values.
std::vector<int64_t> ints_of(const Tensor& t) {
  std::vector<int64_t> v(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::kI64) std::memcpy(v.data(), t.raw(), t.nbytes());
  else if (t.dtype() == DType::kI32) for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<int32_t>()[i];
  else throw Error(ErrorCode::kUnsupported, std::string("expected an integer tensor, got ") + dtype_name(t.dtype()));
  return v;
}

int64_t norm_axis(int64_t axis, int64_t rank, const Node& n) {
  if (axis < -rank || axis >= rank) throw Error(ErrorCode::kInvalidModel, n.label() + ": axis " + std::to_string(axis) + " out of range");
  return axis < 0 ? axis + rank : axis;
}

// Axes from the attribute (older opsets) or from input 1 (opset 13+).
std::vector<int64_t> axes_of(const Node& n, const std::vector<Tensor>& in) {
  if (in.size() > 1 && !in[1].empty()) return ints_of(in[1]);
  return n.attr_ints("axes");
}

double get(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kF32: return t.data<float>()[i];
    case DType::kF64: return t.data<double>()[i];
    case DType::kI64: return static_cast<double>(t.data<int64_t>()[i]);
    case DType::kI32: return t.data<int32_t>()[i];
    case DType::kI8: return t.data<int8_t>()[i];
    case DType::kU8: case DType::kBool: return t.data<uint8_t>()[i];
    default: throw Error(ErrorCode::kUnsupported, std::string("constant folding of ") + dtype_name(t.dtype()));
  }
}

void put(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DType::kF32: t.data<float>()[i] = static_cast<float>(v); break;
    case DType::kF64: t.data<double>()[i] = v; break;
    case DType::kI64: t.data<int64_t>()[i] = static_cast<int64_t>(v); break;
    case DType::kI32: t.data<int32_t>()[i] = static_cast<int32_t>(v); break;
    case DType::kI8: t.data<int8_t>()[i] = static_cast<int8_t>(v); break;
    case DType::kU8: t.data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
    case DType::kBool: t.data<uint8_t>()[i] = v != 0; break;
    default: throw Error(ErrorCode::kUnsupported, std::string("constant folding of ") + dtype_name(t.dtype()));
  }
}

Outputs binary(const Node& n, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || (a.dtype() != DType::kF32 && a.dtype() != DType::kI64)) return std::nullopt;
  size_t rank = std::max(a.shape().size(), b.shape().size());
  Shape out(rank), sa(rank, 1), sb(rank, 1);
  std::copy(a.shape().begin(), a.shape().end(), sa.begin() + static_cast<long>(rank - a.shape().size()));
  std::copy(b.shape().begin(), b.shape().end(), sb.begin() + static_cast<long>(rank - b.shape().size()));
  for (size_t i = 0; i < rank; ++i) {
    if (sa[i] != sb[i] && sa[i] != 1 && sb[i] != 1)
      throw Error(ErrorCode::kInvalidModel, n.label() + ": shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) + " do not broadcast");
    out[i] = sa[i] == 1 ? sb[i] : sa[i];
  }
  Tensor r(a.dtype(), out);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t o = 0; o < r.numel(); ++o) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < rank; ++d) {
      ia = ia * sa[d] + (sa[d] == 1 ? 0 : idx[d]);
      ib = ib * sb[d] + (sb[d] == 1 ? 0 : idx[d]);
    }
    double x = get(a, ia), y = get(b, ib), v;
    if (n.op_type == "Add") v = x + y;
    else if (n.op_type == "Sub") v = x - y;
    else if (n.op_type == "Mul") v = x * y;
    else {
      if (a.dtype() == DType::kI64) {
        if (y == 0) throw Error(ErrorCode::kInvalidModel, n.label() + ": integer division by zero");
        v = static_cast<double>(static_cast<int64_t>(x) / static_cast<int64_t>(y));
      } else {
        v = static_cast<float>(x) / static_cast<float>(y);
      }
    }
    put(r, o, v);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
  return std::vector<Tensor>{r};
}

Outputs gather(const Node& n, const Tensor& data, const Tensor& indices) {
  int64_t axis = norm_axis(n.attr_int("axis", 0), data.rank(), n);
  auto idx = ints_of(indices);
  Shape out;
  for (int64_t d = 0; d < axis; ++d) out.push_back(data.shape()[static_cast<size_t>(d)]);
  for (int64_t d : indices.shape()) out.push_back(d);
  for (int64_t d = axis + 1; d < data.rank(); ++d) out.push_back(data.shape()[static_cast<size_t>(d)]);
  int64_t outer = 1, inner = 1, dim = data.shape()[static_cast<size_t>(axis)];
  for (int64_t d = 0; d < axis; ++d) outer *= data.shape()[static_cast<size_t>(d)];
  for (int64_t d = axis + 1; d < data.rank(); ++d) inner *= data.shape()[static_cast<size_t>(d)];
  Tensor r(data.dtype(), out);
  size_t es = dtype_size(data.dtype());
  auto* dst = static_cast<char*>(r.raw());
  const auto* src = static_cast<const char*>(data.raw());
  for (int64_t o = 0; o < outer; ++o)
    for (size_t k = 0; k < idx.size(); ++k) {
      int64_t i = idx[k] < 0 ? idx[k] + dim : idx[k];
      if (i < 0 || i >= dim) throw Error(ErrorCode::kInvalidModel, n.label() + ": index " + std::to_string(idx[k]) + " out of range");
      std::memcpy(dst + ((o * static_cast<int64_t>(idx.size()) + static_cast<int64_t>(k)) * inner) * static_cast<int64_t>(es),
                  src + ((o * dim + i) * inner) * static_cast<int64_t>(es), static_cast<size_t>(inner) * es);
    }
  return std::vector<Tensor>{r};
}

Outputs concat(const Node& n, const std::vector<Tensor>& in) {
  if (in.empty() || in[0].empty()) return std::nullopt;
  int64_t axis = norm_axis(n.attr_int("axis", 0), in[0].rank(), n);
  Shape out = in[0].shape();
  out[static_cast<size_t>(axis)] = 0;
  for (const auto& t : in) {
    if (t.dtype() != in[0].dtype() || t.rank() != in[0].rank()) return std::nullopt;
    out[static_cast<size_t>(axis)] += t.shape()[static_cast<size_t>(axis)];
  }
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out[static_cast<size_t>(d)];
  Tensor r(in[0].dtype(), out);
  auto* dst = static_cast<char*>(r.raw());
  size_t es = dtype_size(r.dtype());
  for (int64_t o = 0; o < outer; ++o)
    for (const auto& t : in) {
      size_t chunk = static_cast<size_t>(t.numel() / std::max<int64_t>(outer, 1)) * es;
      std::memcpy(dst, static_cast<const char*>(t.raw()) + static_cast<size_t>(o) * chunk, chunk);
      dst += chunk;
    }
  return std::vector<Tensor>{r};
}

Outputs slice(const Node& n, const std::vector<Tensor>& in) {
  const Tensor& data = in[0];
  std::vector<int64_t> starts, ends, axes, steps;
  if (in.size() >= 3) {
    starts = ints_of(in[1]);
    ends = ints_of(in[2]);
    if (in.size() > 3 && !in[3].empty()) axes = ints_of(in[3]);
    if (in.size() > 4 && !in[4].empty()) steps = ints_of(in[4]);
  } else {
    starts = n.attr_ints("starts");
    ends = n.attr_ints("ends");
    axes = n.attr_ints("axes");
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size()) return std::nullopt;
  size_t rank = data.shape().size();
  std::vector<int64_t> st(rank, 0), sp(rank, 1);
  Shape out = data.shape();
  for (size_t k = 0; k < axes.size(); ++k) {
    size_t a = static_cast<size_t>(norm_axis(axes[k], static_cast<int64_t>(rank), n));
    int64_t dim = data.shape()[a], step = steps[k];
    if (step == 0) throw Error(ErrorCode::kInvalidModel, n.label() + ": slice step 0");
    int64_t s = starts[k] < 0 ? starts[k] + dim : starts[k];
    int64_t e = ends[k] < 0 ? ends[k] + dim : ends[k];
    if (step > 0) { s = std::clamp<int64_t>(s, 0, dim); e = std::clamp<int64_t>(e, 0, dim); }
    else { s = std::clamp<int64_t>(s, 0, dim - 1); e = std::clamp<int64_t>(e, -1, dim - 1); }
    int64_t len = step > 0 ? (e - s + step - 1) / step : (s - e + (-step) - 1) / (-step);
    out[a] = std::max<int64_t>(len, 0);
    st[a] = s;
    sp[a] = step;
  }
  Tensor r(data.dtype(), out);
  size_t es = dtype_size(data.dtype());
  std::vector<int64_t> idx(rank, 0), stride(rank, 1);
  for (size_t d = rank; d-- > 1;) stride[d - 1] = stride[d] * data.shape()[d];
  for (int64_t o = 0; o < r.numel(); ++o) {
    int64_t src = 0;
    for (size_t d = 0; d < rank; ++d) src += (st[d] + idx[d] * sp[d]) * stride[d];
    std::memcpy(static_cast<char*>(r.raw()) + static_cast<size_t>(o) * es, static_cast<const char*>(data.raw()) + static_cast<size_t>(src) * es, es);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
  return std::vector<Tensor>{r};
}

Outputs reshape_like(const Node& n, const std::vector<Tensor>& in) {
  const Tensor& x = in[0];
  const Shape& s = x.shape();
  const std::string& op = n.op_type;
  Shape out;
  if (op == "Reshape") {
    auto target = ints_of(in.at(1));
    bool allowzero = n.attr_int("allowzero", 0) != 0;
    int64_t infer = -1, known = 1;
    for (size_t i = 0; i < target.size(); ++i) {
      int64_t d = target[i];
      if (d == 0 && !allowzero) d = i < s.size() ? s[i] : throw Error(ErrorCode::kInvalidModel, n.label() + ": 0 copies a missing dim");
      if (d == -1) { infer = static_cast<int64_t>(i); out.push_back(1); continue; }
      out.push_back(d);
      known *= d;
    }
    if (infer >= 0) {
      if (known == 0 || x.numel() % known) throw Error(ErrorCode::kInvalidModel, n.label() + ": cannot infer -1");
      out[static_cast<size_t>(infer)] = x.numel() / known;
    }
  } else if (op == "Flatten") {
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += x.rank();
    int64_t a = 1;
    for (int64_t d = 0; d < axis; ++d) a *= s[static_cast<size_t>(d)];
    out = {a, a ? x.numel() / a : 0};
  } else if (op == "Squeeze") {
    auto axes = axes_of(n, in);
    std::vector<bool> drop(s.size(), false);
    for (int64_t a : axes) drop[static_cast<size_t>(norm_axis(a, x.rank(), n))] = true;
    for (size_t d = 0; d < s.size(); ++d)
      if (!(axes.empty() ? s[d] == 1 : drop[d])) out.push_back(s[d]);
  } else {  // Unsqueeze
    auto axes = axes_of(n, in);
    int64_t rank = x.rank() + static_cast<int64_t>(axes.size());
    std::vector<bool> add(static_cast<size_t>(rank), false);
    for (int64_t a : axes) add[static_cast<size_t>(norm_axis(a, rank, n))] = true;
    size_t k = 0;
    for (int64_t d = 0; d < rank; ++d) out.push_back(add[static_cast<size_t>(d)] ? 1 : s[k++]);
  }
  return std::vector<Tensor>{x.clone().reshaped(out)};
}

}  // namespace

std::optional<std::vector<Tensor>> evaluate_basic(const Node& n, const std::vector<Tensor>& in) {
  const std::string& op = n.op_type;
  if (!n.domain.empty() || in.empty()) return std::nullopt;
  if (op == "Identity") return std::vector<Tensor>{in[0]};
  if (op == "Shape") {
    auto dims = in[0].shape();
    int64_t r = static_cast<int64_t>(dims.size());
    int64_t start = n.attr_int("start", 0), end = n.attr_int("end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r);
    end = std::clamp<int64_t>(end, start, r);
    std::vector<int64_t> v(dims.begin() + start, dims.begin() + end);
    return std::vector<Tensor>{Tensor::from_i64({static_cast<int64_t>(v.size())}, v)};
  }
  if (op == "Cast") {
    int64_t to = n.attr_int("to", 0);
    if (!dtype_known(static_cast<int32_t>(to))) return std::nullopt;
    Tensor r(static_cast<DType>(to), in[0].shape());
    for (int64_t i = 0; i < r.numel(); ++i) put(r, i, get(in[0], i));
    return std::vector<Tensor>{r};
  }
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze") return reshape_like(n, in);
  if (op == "Concat") return concat(n, in);
  if (op == "Gather" && in.size() == 2) return gather(n, in[0], in[1]);
  if (op == "Slice") return slice(n, in);
  if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && in.size() == 2) return binary(n, in[0], in[1]);
  if (op == "ConstantOfShape") {
    Shape shape = ints_of(in[0]);
    const Attribute* value = n.find_attr("value");
    Tensor r(value && !value->t.empty() ? value->t.dtype() : DType::kF32, shape);
    if (value && !value->t.empty() && value->t.numel() == 1)
      for (int64_t i = 0; i < r.numel(); ++i) put(r, i, get(value->t, 0));
    return std::vector<Tensor>{r};
  }
  return std::nullopt;
}

}  // namespace edgeq::onnx
