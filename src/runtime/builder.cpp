// Builder: the per-node compile context (see builder.h) and the layout conversions it inserts.
#include "runtime/builder.h"

#include <algorithm>
#include <cstring>

#include "runtime/ops/layout.h"

namespace edgeq::runtime::detail {

namespace {

// Converts between NCHW and NHWC for a whole rank-4 value (any element size).
class LayoutKernel final : public Kernel {
 public:
  LayoutKernel(int32_t in, int32_t out, Shape nchw, size_t elem, bool to_nhwc)
      : in_(in), out_(out), shape_(std::move(nchw)), elem_(elem), to_nhwc_(to_nhwc) {}
  void run(const ExecContext& ctx) const override {
    const void* src = ctx.ptrs[in_];
    void* dst = ctx.ptrs[out_];
    const int64_t n = shape_[0], c = shape_[1], hw = shape_[2] * shape_[3];
    ctx.parallel(n * (to_nhwc_ ? hw : c), [&](int64_t b, int64_t e) {
      convert_layout_range(src, dst, n, c, hw, elem_, to_nhwc_, b, e);
    });
  }

 private:
  int32_t in_, out_;
  Shape shape_;
  size_t elem_;
  bool to_nhwc_;
};

bool layout_is_identity(const Shape& s) { return s.size() == 4 && (s[1] == 1 || s[2] * s[3] == 1); }

bool is_random_op(const std::string& op) {
  return op == "RandomNormal" || op == "RandomUniform" || op == "RandomNormalLike" || op == "RandomUniformLike" ||
         op == "Multinomial" || op == "Bernoulli";
}

}  // namespace

Value* Builder::find(const std::string& name) {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

int32_t Builder::new_slot(Slot s) {
  plan_.slots.push_back(std::move(s));
  return static_cast<int32_t>(plan_.slots.size() - 1);
}

const Value& Builder::input(size_t i) const {
  if (!has_input(i)) invalid("input " + std::to_string(i) + " is missing");
  auto it = values_.find(node_->inputs[i]);
  if (it == values_.end()) invalid("input '" + node_->inputs[i] + "' is not defined");
  return it->second;
}

const Tensor* Builder::constant(size_t i) const {
  if (!has_input(i)) return nullptr;
  return input(i).constant.get();
}

const Tensor& Builder::require_constant(size_t i, const char* what) const {
  const Tensor* t = constant(i);
  if (!t) {
    const Value& v = input(i);
    if (v.slot >= 0 && plan_.slots[v.slot].kind == Slot::Kind::kInput)
      const_cast<Builder*>(this)->wanted_inputs.insert(node_->inputs[i]);
  }
  if (!t) unsupported(std::string(what) + " (input " + std::to_string(i) + ") must be known when the plan is compiled");
  return *t;
}

void Builder::unsupported(const std::string& reason) const {
  throw Error(ErrorCode::kUnsupported, node_->label() + ": " + reason);
}

void Builder::invalid(const std::string& reason) const {
  throw Error(ErrorCode::kInvalidModel, node_->label() + ": " + reason);
}

void Builder::check_dtype(size_t i, std::initializer_list<DType> allowed) const {
  const DType d = input(i).dtype;
  for (DType a : allowed)
    if (a == d) return;
  unsupported(std::string("input ") + std::to_string(i) + " has dtype " + dtype_name(d) + ", not supported");
}

namespace {
thread_local std::vector<int32_t>* g_touched = nullptr;  // slots the current node's kernels use
void touch(int32_t slot) {
  if (g_touched && slot >= 0) g_touched->push_back(slot);
}
}  // namespace

int32_t Builder::convert(const std::string& name, Value& v, Layout to) {
  int32_t& cached = to == Layout::kNHWC ? v.nhwc_slot : v.plain_slot;
  // A slot made while compiling a node that was then folded is dead (fold() retires every slot of the
  // node): a constant read again by a later node needs a new one (ShuffleNetV2's shape arithmetic
  // read a null pointer here).
  if (cached >= 0 && plan_.slots[static_cast<size_t>(cached)].kind == Slot::Kind::kDead) cached = -1;
  if (cached >= 0) return cached;
  if (v.is_constant()) {  // constants are plain; an NHWC copy is made now, once
    Slot s;
    s.kind = Slot::Kind::kConstant;
    if (to == Layout::kPlain) {
      s.constant = *v.constant;
    } else {
      Tensor t(v.dtype, Shape{v.shape[0], v.shape[2], v.shape[3], v.shape[1]});
      convert_layout_range(v.constant->raw(), t.raw(), v.shape[0], v.shape[1], v.shape[2] * v.shape[3],
                           dtype_size(v.dtype), true, 0, v.shape[0] * v.shape[2] * v.shape[3]);
      s.constant = t;
    }
    s.bytes = s.constant.nbytes();
    return cached = new_slot(std::move(s));
  }
  if (v.layout == to) return cached = v.slot;
  if (v.layout == Layout::kFlatNHWC) {
    if (to != Layout::kPlain) throw Error(ErrorCode::kInternal, "'" + name + "': a flattened value has no NHWC form");
    Slot s;  // plain [N, C, H, W] bytes are plain [N, C*H*W] bytes
    s.bytes = static_cast<size_t>(numel(v.shape)) * dtype_size(v.dtype);
    const int32_t out = new_slot(std::move(s));
    auto k = std::make_unique<LayoutKernel>(v.slot, out, v.flat_dims, dtype_size(v.dtype), false);
    k->label = "ToNCHW '" + name + "' (flattened)";
    push_layout_kernel(std::move(k), v.slot, out);
    return cached = out;
  }
  if (layout_is_identity(v.shape)) {
    Slot s;
    s.kind = Slot::Kind::kAlias;
    s.alias_of = v.slot;
    plan_.alias_order.push_back(static_cast<int32_t>(plan_.slots.size()));
    return cached = new_slot(std::move(s));
  }
  Slot s;
  s.bytes = static_cast<size_t>(numel(v.shape)) * dtype_size(v.dtype);
  const int32_t out = new_slot(std::move(s));
  auto k = std::make_unique<LayoutKernel>(v.slot, out, v.shape, dtype_size(v.dtype), to == Layout::kNHWC);
  k->label = std::string(to == Layout::kNHWC ? "ToNHWC" : "ToNCHW") + " '" + name + "'";
  push_layout_kernel(std::move(k), v.slot, out);
  return cached = out;
}

// A conversion is scheduled where it is first needed; its two slots live at least that long.
void Builder::push_layout_kernel(std::unique_ptr<Kernel> k, int32_t in, int32_t out) {
  plan_.kernels.push_back(std::move(k));
  const int32_t idx = static_cast<int32_t>(plan_.kernels.size() - 1);
  plan_.slots[in].use_span(idx, idx);
  plan_.slots[out].use_span(idx, idx);
}

int32_t Builder::plain_slot_of(const std::string& name) {
  Value* v = find(name);
  if (!v) throw Error(ErrorCode::kInvalidModel, "value '" + name + "' is not defined");
  return convert(name, *v, Layout::kPlain);
}

int32_t Builder::input_plain(size_t i) {
  input(i);
  const std::string& name = node_->inputs[i];
  const int32_t s = convert(name, values_[name], Layout::kPlain);
  touch(s);
  return s;
}

int32_t Builder::input_any(size_t i, Layout* layout) {
  const Value& v = input(i);
  if (v.is_constant() || v.layout != Layout::kNHWC) {
    *layout = Layout::kPlain;
    return input_plain(i);
  }
  *layout = v.layout;
  touch(v.slot);
  return v.slot;
}

int32_t Builder::input_nhwc(size_t i) {
  const Value& v = input(i);
  if (v.shape.size() != 4) unsupported("channels-last needs a rank-4 input");
  const std::string& name = node_->inputs[i];
  const int32_t s = convert(name, values_[name], Layout::kNHWC);
  touch(s);
  return s;
}

int32_t Builder::output(size_t i, DType dtype, Shape shape, Layout layout) {
  if (!has_output(i)) {  // an omitted optional output still needs somewhere to be written
    Slot s;
    s.bytes = static_cast<size_t>(numel(shape)) * dtype_size(dtype);
    const int32_t id = new_slot(std::move(s));
    touch(id);
    return id;
  }
  Slot s;
  s.bytes = static_cast<size_t>(numel(shape)) * dtype_size(dtype);
  const int32_t id = new_slot(std::move(s));
  Value v;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.layout = layout_is_identity(v.shape) ? Layout::kPlain : layout;
  v.slot = id;
  values_[node_->outputs[i]] = std::move(v);
  touch(id);
  return id;
}

void Builder::output_view(size_t i, size_t in, Shape shape) {
  if (!has_output(i)) return;
  const Value& src = input(in);
  Value v;
  v.dtype = src.dtype;
  v.shape = std::move(shape);
  if (src.is_constant()) {
    v.constant = std::make_shared<Tensor>(src.constant->reshaped(v.shape));
  } else {
    const int32_t base = input_plain(in);
    Slot s;
    s.kind = Slot::Kind::kAlias;
    s.alias_of = base;
    v.slot = new_slot(std::move(s));
    plan_.alias_order.push_back(v.slot);
    touch(v.slot);
  }
  values_[node_->outputs[i]] = std::move(v);
}

void Builder::output_flat_nhwc(size_t i, size_t in, Shape shape) {
  if (!has_output(i)) return;
  const Value& src = input(in);
  if (src.is_constant() || src.layout != Layout::kNHWC || src.shape.size() != 4)
    throw Error(ErrorCode::kInternal, node_->label() + ": output_flat_nhwc needs a channels-last input");
  Value v;
  v.dtype = src.dtype;
  v.shape = std::move(shape);
  v.layout = Layout::kFlatNHWC;
  v.flat_dims = src.shape;
  v.slot = src.slot;  // the same bytes: a view
  touch(v.slot);
  values_[node_->outputs[i]] = std::move(v);
}

int32_t Builder::input_flat_nhwc(size_t i) {
  const Value& v = input(i);
  if (v.layout != Layout::kFlatNHWC) throw Error(ErrorCode::kInternal, node_->label() + ": input is not a flattened NHWC value");
  touch(v.slot);
  return v.slot;
}

void Builder::output_constant(size_t i, Tensor t) {
  if (!has_output(i)) return;
  Value v;
  v.dtype = t.dtype();
  v.shape = t.shape();
  v.constant = std::make_shared<Tensor>(std::move(t));
  values_[node_->outputs[i]] = std::move(v);
}

int32_t Builder::scratch(size_t bytes) {
  Slot s;
  s.bytes = bytes;
  const int32_t id = new_slot(std::move(s));
  touch(id);
  return id;
}

void Builder::emit(std::unique_ptr<Kernel> k) {
  if (k->label.empty()) k->label = node_->label();
  plan_.kernels.push_back(std::move(k));
}

void Builder::compile_node(const onnx::Node& node) {
  CompileFn fn = find_op(node.op_type, node.domain);
  if (!fn) throw Error(ErrorCode::kUnsupported, node.label() + ": operator not implemented");
  node_ = &node;
  for (size_t i = 0; i < node.inputs.size(); ++i)
    if (!node.inputs[i].empty() && !find(node.inputs[i]))
      invalid("input '" + node.inputs[i] + "' is not produced by any node, input or initializer");
  const size_t first_kernel = plan_.kernels.size();
  const size_t first_slot = plan_.slots.size();
  const size_t first_pack = plan_.packs.size();
  bool all_constant = !is_random_op(node.op_type);
  for (size_t i = 0; i < node.inputs.size() && all_constant; ++i)
    if (!node.inputs[i].empty() && !find(node.inputs[i])->is_constant()) all_constant = false;
  node_folds_ = all_constant;
  std::vector<int32_t> touched;
  g_touched = &touched;
  try {
    fn(*this);
  } catch (...) {
    g_touched = nullptr;
    plan_.kernels.resize(first_kernel);
    plan_.packs.resize(first_pack);
    throw;
  }
  g_touched = nullptr;
  // Every kernel of this node may touch every slot it was handed: one interval covers them.
  if (plan_.kernels.size() > first_kernel) {
    const int32_t a = static_cast<int32_t>(first_kernel), z = static_cast<int32_t>(plan_.kernels.size() - 1);
    for (int32_t s : touched) plan_.slots[s].use_span(a, z);
  }
  if (all_constant && plan_.kernels.size() > first_kernel) {
    fold(first_kernel, first_slot);
    plan_.packs.resize(first_pack);  // the folded kernels are gone, and their packs with them
  }
  node_ = nullptr;
}

// Runs this node's kernels now, on private buffers, and turns its outputs into constants.
void Builder::fold(size_t first_kernel, size_t first_slot) {
  std::vector<void*> ptrs(plan_.slots.size(), nullptr);
  std::vector<std::shared_ptr<std::byte>> buffers;
  std::map<int32_t, Tensor> out_tensors;
  for (size_t o = 0; o < node_->outputs.size(); ++o) {
    if (node_->outputs[o].empty()) continue;
    Value& v = values_[node_->outputs[o]];
    if (v.is_constant() || v.slot < static_cast<int32_t>(first_slot)) continue;
    if (plan_.slots[v.slot].kind == Slot::Kind::kArena) {
      Shape phys = v.shape;
      if (v.layout == Layout::kNHWC) phys = {v.shape[0], v.shape[2], v.shape[3], v.shape[1]};
      out_tensors[v.slot] = Tensor(v.dtype, phys);
    }
  }
  for (size_t s = 0; s < plan_.slots.size(); ++s) {
    Slot& slot = plan_.slots[s];
    if (slot.kind == Slot::Kind::kConstant) {
      ptrs[s] = slot.constant.raw();
    } else if (slot.kind == Slot::Kind::kArena && s >= first_slot) {
      auto it = out_tensors.find(static_cast<int32_t>(s));
      if (it != out_tensors.end()) {
        ptrs[s] = it->second.raw();
      } else {
        buffers.push_back(aligned_alloc_shared(std::max<size_t>(slot.bytes, 1)));
        ptrs[s] = buffers.back().get();
      }
    }
  }
  for (int32_t a : plan_.alias_order) ptrs[a] = ptrs[plan_.slots[a].alias_of];
  ExecContext ctx;
  ctx.ptrs = ptrs.data();
  for (size_t k = first_kernel; k < plan_.kernels.size(); ++k) plan_.kernels[k]->run(ctx);
  plan_.kernels.resize(first_kernel);
  for (size_t s = first_slot; s < plan_.slots.size(); ++s) {
    plan_.slots[s].kind = Slot::Kind::kDead;
    plan_.slots[s].first_use = plan_.slots[s].last_use = -1;
  }
  for (size_t o = 0; o < node_->outputs.size(); ++o) {
    if (node_->outputs[o].empty()) continue;
    Value& v = values_[node_->outputs[o]];
    if (v.is_constant()) continue;
    auto it = out_tensors.find(v.slot);
    if (it == out_tensors.end()) {  // an alias of something this node computed
      throw Error(ErrorCode::kInternal, node_->label() + ": cannot fold an aliased output");
    }
    Tensor t = it->second;
    if (v.layout == Layout::kNHWC) {
      Tensor plain(v.dtype, v.shape);
      convert_layout_range(t.raw(), plain.raw(), v.shape[0], v.shape[1], v.shape[2] * v.shape[3],
                           dtype_size(v.dtype), false, 0, v.shape[0] * v.shape[1]);
      t = plain;
    }
    Value nv;
    nv.dtype = v.dtype;
    nv.shape = v.shape;
    nv.constant = std::make_shared<Tensor>(std::move(t));
    v = std::move(nv);
  }
}

// ---- helpers

int64_t normalize_axis(int64_t axis, int64_t rank, const Builder& b) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1)) b.invalid("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> tensor_to_i64(const Tensor& t) {
  std::vector<int64_t> r(static_cast<size_t>(t.numel()));
  switch (t.dtype()) {
    case DType::kI64:
      if (!r.empty()) std::memcpy(r.data(), t.raw(), r.size() * 8);
      break;
    case DType::kI32: for (size_t i = 0; i < r.size(); ++i) r[i] = t.data<int32_t>()[i]; break;
    default: throw Error(ErrorCode::kUnsupported, std::string("expected an int32/int64 tensor, got ") + dtype_name(t.dtype()));
  }
  return r;
}

std::vector<float> tensor_to_f32(const Tensor& t) {
  std::vector<float> r(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < r.size(); ++i) {
    switch (t.dtype()) {
      case DType::kF32: r[i] = t.data<float>()[i]; break;
      case DType::kF64: r[i] = static_cast<float>(t.data<double>()[i]); break;
      case DType::kI64: r[i] = static_cast<float>(t.data<int64_t>()[i]); break;
      case DType::kI32: r[i] = static_cast<float>(t.data<int32_t>()[i]); break;
      case DType::kI8: r[i] = t.data<int8_t>()[i]; break;
      case DType::kU8: r[i] = t.data<uint8_t>()[i]; break;
      default: throw Error(ErrorCode::kUnsupported, std::string("expected a numeric tensor, got ") + dtype_name(t.dtype()));
    }
  }
  return r;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const Builder& bld) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      bld.invalid("shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace edgeq::runtime::detail
