// Session: optimize once, compile one plan per distinct input shape (cached), run plans.
//
// Concurrency: a Plan is immutable once compiled. Each run() takes an arena instance (activation
// memory + resolved pointer table) from the plan's free list, or builds a new one when every
// instance is in use by another thread, and returns it afterwards; so concurrent runs never share
// memory and a steady workload allocates only its output tensors after the first runs. The plan
// cache is guarded by a mutex held for lookups and inserts only: a new shape compiles unlocked
// (double-checked insert: a thread that lost the race uses the plan inserted first), so runs of
// cached shapes never wait for a compile. Packed weights live in the PackCache, shared by every plan.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <set>
#include <sstream>

#include "edgeq/runtime.h"
#include "runtime/builder.h"
#include "runtime/ops/common.h"

namespace edgeq::runtime {

using detail::Builder;
using detail::Plan;
using detail::Slot;
using detail::Value;

namespace {

// One line for every node edgeq cannot run: the first few named, then how many more.
Error unsupported_nodes_error(const onnx::Model& model, const std::vector<std::string>& problems) {
  constexpr size_t kNamed = 5;
  std::string msg = (model.source_path.empty() ? std::string("model") : model.source_path) + ": " +
                    std::to_string(problems.size()) + (problems.size() == 1 ? " unsupported node: " : " unsupported nodes: ");
  for (size_t i = 0; i < problems.size() && i < kNamed; ++i) msg += (i ? "; " : "") + problems[i];
  if (problems.size() > kNamed) msg += "; and " + std::to_string(problems.size() - kNamed) + " more";
  return Error(ErrorCode::kUnsupported, msg);
}

bool same_values(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

}  // namespace

struct Session::Impl {
  onnx::Model model;
  SessionOptions options;
  int threads = 1;
  int64_t opset = 0;
  std::vector<IoInfo> inputs, outputs;
  std::vector<Shape> first_shapes;  // what the constructor compiled for: given input_shapes, open dims as 1
  std::shared_ptr<ThreadPool> pool;  // own or shared; null when single-threaded
  mutable detail::PackCache packs;

  struct CachedPlan {
    std::vector<Shape> shapes;
    std::vector<Tensor> key_values;  // per input: the value when value-keyed, else empty
    std::shared_ptr<const Plan> plan;
    uint64_t last_use = 0;  // use_clock at the latest lookup
    bool pinned = false;    // compiled at construction (the hot batch-1 plan): never evicted
  };
  mutable std::mutex cache_mutex;
  mutable std::vector<CachedPlan> cache;
  mutable uint64_t use_clock = 0;
  mutable std::atomic<size_t> plans_compiled{0};
  // Inputs that operators need as constants (shape arguments given as graph inputs, as the ONNX node
  // tests do): plans are keyed by their values. Discovered while compiling; guarded by cache_mutex.
  mutable std::vector<bool> value_keyed;

  // The cached plan for these inputs (marked used), or null. Under cache_mutex.
  std::shared_ptr<const Plan> lookup(const std::vector<Tensor>& in) const;

  // nullptr when some operator needs the value of an input that is not keyed yet (see wanted).
  std::shared_ptr<const Plan> compile(const std::vector<Shape>& shapes, const std::vector<Tensor>& key_values,
                                      std::set<std::string>* wanted) const;
  std::shared_ptr<const Plan> plan_for(const std::vector<Tensor>& in) const;
  std::vector<Tensor> run(const std::vector<Tensor>& in, std::vector<double>* step_us = nullptr) const;
};

std::shared_ptr<const Plan> Session::Impl::compile(const std::vector<Shape>& shapes,
                                                   const std::vector<Tensor>& key_values,
                                                   std::set<std::string>* wanted) const {
  auto plan = std::make_shared<Plan>();
  Builder b(*plan, opset, threads, options.channels_last);
  b.set_pack_cache(&packs);
  const auto& g = model.graph;
  for (const auto& [name, t] : g.initializers) {
    Value v;
    v.dtype = t.dtype();
    v.shape = t.shape();
    v.constant = std::make_shared<Tensor>(t);
    b.define(name, std::move(v));
  }
  plan->input_slots.assign(inputs.size(), -1);
  for (size_t i = 0; i < inputs.size(); ++i) {
    Value v;
    v.dtype = inputs[i].dtype;
    v.shape = shapes[i];
    if (!key_values[i].empty()) {
      v.constant = std::make_shared<Tensor>(key_values[i]);
    } else {
      Slot s;
      s.kind = Slot::Kind::kInput;
      s.input_index = static_cast<int32_t>(i);
      v.slot = b.new_slot(std::move(s));
      plan->input_slots[i] = v.slot;
    }
    b.define(inputs[i].name, std::move(v));
  }
  std::vector<std::string> problems;
  std::set<std::string> poisoned;
  for (size_t idx : g.topological_order()) {
    const auto& node = g.nodes[idx];
    bool skip = false;
    for (const auto& in : node.inputs)
      if (!in.empty() && poisoned.count(in)) skip = true;
    if (!skip) {
      const size_t wanted_before = b.wanted_inputs.size();
      try {
        b.compile_node(node);
        continue;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kUnsupported) throw;
        if (b.wanted_inputs.size() == wanted_before) problems.push_back(e.what());
      }
    }
    for (const auto& out : node.outputs) poisoned.insert(out);
  }
  if (!problems.empty()) throw unsupported_nodes_error(model, problems);
  if (!b.wanted_inputs.empty()) {
    *wanted = b.wanted_inputs;
    return nullptr;
  }
  for (const auto& out : outputs) {
    const int32_t slot = b.plain_slot_of(out.name);
    const Value* v = b.find(out.name);
    plan->outputs.push_back({slot, v->dtype, v->shape});
  }
  // Outputs stay alive to the end of the run (they are copied out after the last kernel).
  const int32_t end = static_cast<int32_t>(plan->kernels.size());
  for (const auto& o : plan->outputs) {
    Slot& sl = plan->slots[plan->alias_root(o.slot)];
    if (sl.kind != Slot::Kind::kArena) continue;
    if (sl.first_use < 0) sl.first_use = 0;
    sl.last_use = end;
  }
  if (options.optimize) {
    plan->fuse_conv_max_pool();
    detail::fuse_depth_first_convs(*plan, threads);
  }
  plan->plan_memory();
  return plan;
}

std::shared_ptr<const Plan> Session::Impl::lookup(const std::vector<Tensor>& in) const {
  for (auto& c : cache) {
    bool match = true;
    for (size_t i = 0; i < in.size() && match; ++i) {
      if (c.shapes[i] != in[i].shape()) match = false;
      else if (!c.key_values[i].empty() && !same_values(c.key_values[i], in[i])) match = false;
    }
    if (match) {
      c.last_use = ++use_clock;
      return c.plan;
    }
  }
  return nullptr;
}

std::shared_ptr<const Plan> Session::Impl::plan_for(const std::vector<Tensor>& in) const {
  std::vector<bool> keyed;
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (auto plan = lookup(in)) return plan;
    keyed = value_keyed;
  }
  // Compile unlocked: runs of cached shapes go on meanwhile; weights come packed from `packs`.
  CachedPlan entry;
  entry.shapes.reserve(in.size());
  for (const auto& t : in) entry.shapes.push_back(t.shape());
  for (int attempt = 0;; ++attempt) {
    entry.key_values.clear();
    for (size_t i = 0; i < in.size(); ++i) entry.key_values.push_back(keyed[i] ? in[i].clone() : Tensor());
    std::set<std::string> wanted;
    entry.plan = compile(entry.shapes, entry.key_values, &wanted);
    if (entry.plan) break;
    bool progress = false;
    for (size_t i = 0; i < inputs.size(); ++i)
      if (wanted.count(inputs[i].name) && !keyed[i]) keyed[i] = progress = true;
    if (!progress || attempt > 8) throw Error(ErrorCode::kInternal, "plan compilation did not settle on its constant inputs");
  }
  ++plans_compiled;
  std::lock_guard<std::mutex> lock(cache_mutex);
  for (size_t i = 0; i < keyed.size(); ++i)
    if (keyed[i]) value_keyed[i] = true;
  if (auto theirs = lookup(in)) return theirs;  // another thread inserted this shape first
  if (cache.size() >= std::max<size_t>(options.max_cached_plans, 1)) {
    auto victim = cache.end();
    for (auto it = cache.begin(); it != cache.end(); ++it)
      if (!it->pinned && (victim == cache.end() || it->last_use < victim->last_use)) victim = it;
    if (victim != cache.end()) cache.erase(victim);
  }
  entry.last_use = ++use_clock;
  cache.push_back(entry);
  return entry.plan;
}

std::vector<Tensor> Session::Impl::run(const std::vector<Tensor>& in, std::vector<double>* step_us) const {
  if (in.size() != inputs.size())
    throw Error(ErrorCode::kInvalidArgument, "expected " + std::to_string(inputs.size()) + " input(s), got " + std::to_string(in.size()));
  for (size_t i = 0; i < in.size(); ++i) {
    const auto& want = inputs[i];
    const auto& got = in[i];
    if (got.empty() && got.numel() != 0) throw Error(ErrorCode::kInvalidArgument, "input '" + want.name + "' is empty");
    if (got.dtype() != want.dtype)
      throw Error(ErrorCode::kInvalidArgument, "input '" + want.name + "' has dtype " + dtype_name(got.dtype()) + ", expected " + dtype_name(want.dtype));
    if (got.rank() != static_cast<int64_t>(want.shape.size()))
      throw Error(ErrorCode::kInvalidArgument, "input '" + want.name + "' has shape " + shape_str(got.shape()) + ", expected rank " +
                                                   std::to_string(want.shape.size()) + " " + shape_str(want.shape));
    for (size_t d = 0; d < want.shape.size(); ++d)
      if (want.shape[d] >= 0 && want.shape[d] != got.shape()[d])
        throw Error(ErrorCode::kInvalidArgument, "input '" + want.name + "' has shape " + shape_str(got.shape()) + ", expected " + shape_str(want.shape));
  }
  const auto plan = plan_for(in);
  auto arena = plan->acquire();
  struct Return {  // gives the arena back even when a kernel throws
    const Plan& p;
    std::unique_ptr<detail::ArenaInstance>& a;
    ~Return() { p.release(std::move(a)); }
  } give_back{*plan, arena};
  auto& ptrs = arena->ptrs;
  for (size_t i = 0; i < in.size(); ++i)
    if (plan->input_slots[i] >= 0) ptrs[plan->input_slots[i]] = const_cast<void*>(in[i].raw());
  for (int32_t a : plan->alias_order) ptrs[a] = ptrs[plan->slots[a].alias_of];
  detail::ExecContext ctx;
  ctx.ptrs = ptrs.data();
  ctx.pool = pool.get();
  if (step_us) {  // profiling: the same loop with a clock around each step
    step_us->resize(plan->kernels.size(), 0.0);
    for (size_t i = 0; i < plan->kernels.size(); ++i) {
      Timer t;
      plan->kernels[i]->run(ctx);
      (*step_us)[i] += t.elapsed_ms() * 1000.0;
    }
  } else {
    for (const auto& k : plan->kernels) k->run(ctx);
  }
  std::vector<Tensor> out;
  out.reserve(plan->outputs.size());
  for (const auto& o : plan->outputs) {
    Tensor t(o.dtype, o.shape);
    if (t.nbytes() > 0) std::memcpy(t.raw(), ptrs[o.slot], t.nbytes());
    out.push_back(std::move(t));
  }
  return out;
}

Session::Session(onnx::Model model, const SessionOptions& options) : impl_(std::make_unique<Impl>()) {
  auto& im = *impl_;
  im.options = options;
  im.threads = options.threads <= 0 ? hardware_threads() : options.threads;
  im.opset = model.opset("");
  if (im.opset == 0) im.opset = onnx::kMaxOpset;
  // Extra outputs become graph outputs before optimization, so fusion keeps them observable.
  std::optional<onnx::GraphIndex> index;
  if (!options.extra_outputs.empty()) index.emplace(model.graph);
  for (const auto& name : options.extra_outputs) {
    auto vi = model.graph.find_value(name);
    if (!vi && index->producer(name) < 0)
      throw Error(ErrorCode::kNotFound, "extra output '" + name + "' is not a value of the model");
    if (!vi) {  // produced but not typed by shape inference: the plan knows its type
      vi.emplace();
      vi->name = name;
    }
    model.graph.outputs.push_back(*vi);
  }
  // Every node must be an operator edgeq knows: list all the others at once.
  {
    std::vector<std::string> problems;
    for (const auto& n : model.graph.nodes)
      if (!detail::find_op(n.op_type, n.domain))
        problems.push_back(n.label() + (n.domain.empty() ? "" : " (domain " + n.domain + ")") + ": operator not implemented");
    if (problems.empty())  // the passes index inputs by position: counts are checked first
      for (const auto& n : model.graph.nodes)
        if (std::string p = detail::arity_problem(n); !p.empty())
          throw Error(ErrorCode::kInvalidModel, (model.source_path.empty() ? std::string("model") : model.source_path) + ": " + n.label() + ": " + p);
    if (!problems.empty()) throw unsupported_nodes_error(model, problems);
  }
  if (options.optimize) {
    const int64_t opset = im.opset;
    onnx::PassManager pm;
    // DequantizeLinear of a constant stays until the QDQ fusion has seen it (folded, an int8 weight
    // would turn back into a float one); the plan compiler folds what the fusion leaves.
    pm.add(onnx::make_constant_folding([opset](const onnx::Node& n, const std::vector<Tensor>& in) -> std::optional<std::vector<Tensor>> {
      if (n.op_type == "DequantizeLinear") return std::nullopt;
      return evaluate_node(n, in, opset);
    }));
    pm.add(make_batchnorm_folding());
    pm.add(make_activation_fusion());
    pm.add(make_channel_scale_fusion());
    pm.add(make_qdq_fusion());
    pm.add(onnx::make_dead_code_elimination());
    pm.run(model);
  }
  for (const auto* list : {&model.graph.inputs, &model.graph.outputs})
    for (const auto& vi : *list)
      if ((vi.dtype == DType::kUndefined && list == &model.graph.inputs) || vi.dtype == DType::kString)
        throw Error(ErrorCode::kUnsupported, "'" + vi.name + "' is not a numeric tensor (sequence, optional, map and string values are not supported)");
  im.model = std::move(model);
  for (const auto& vi : im.model.graph.inputs) im.inputs.push_back({vi.name, vi.dtype, vi.has_shape ? vi.shape : Shape{}});
  for (const auto& vi : im.model.graph.outputs) im.outputs.push_back({vi.name, vi.dtype, vi.has_shape ? vi.shape : Shape{}});
  if (options.thread_pool) {
    im.pool = options.thread_pool;
    im.threads = im.pool->size();
  } else if (im.threads > 1) {
    im.pool = std::make_shared<ThreadPool>(im.threads, options.spin_us);
  }

  // Compile the first plan now, so unsupported attributes/dtypes surface here and not in run().
  // When an operator needs an input's value (a shape given as an input), that plan waits for run().
  im.value_keyed.assign(im.inputs.size(), false);
  std::vector<Shape> shapes;
  bool guessed = false;  // some dim unknown and not given: a shape error then is no model error
  for (const auto& in : im.inputs) {
    Shape s = in.shape;
    auto it = options.input_shapes.find(in.name);
    if (it != options.input_shapes.end()) s = checked_input_shape(s, it->second, "input_shapes['" + in.name + "']");
    for (auto& d : s)
      if (d < 0) {
        d = 1;
        guessed = true;
      }
    shapes.push_back(s);
  }
  for (const auto& [name, shape] : options.input_shapes) {
    bool found = false;
    for (const auto& in : im.inputs) found = found || in.name == name;
    if (!found) throw Error(ErrorCode::kNotFound, "input_shapes names '" + name + "', which is not an input of the model");
  }
  im.first_shapes = shapes;
  std::set<std::string> wanted;
  std::shared_ptr<const Plan> first;
  try {
    first = im.compile(shapes, std::vector<Tensor>(shapes.size()), &wanted);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kUnsupported || !guessed) throw;
    return;  // the guessed dims did not fit; the first run() compiles for real shapes
  }
  if (first) {
    Impl::CachedPlan entry;
    entry.shapes = shapes;
    entry.key_values.resize(shapes.size());
    entry.plan = first;
    entry.pinned = true;
    ++im.plans_compiled;
    im.cache.push_back(std::move(entry));
    for (size_t i = 0; i < im.outputs.size(); ++i)
      if (im.outputs[i].dtype == DType::kUndefined) {
        im.outputs[i].dtype = first->outputs[i].dtype;
        im.outputs[i].shape = first->outputs[i].shape;
      }
  } else {
    for (size_t i = 0; i < im.inputs.size(); ++i)
      if (wanted.count(im.inputs[i].name)) im.value_keyed[i] = true;
  }
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const std::vector<IoInfo>& Session::inputs() const { return impl_->inputs; }
const std::vector<IoInfo>& Session::outputs() const { return impl_->outputs; }
const onnx::Model& Session::optimized_model() const { return impl_->model; }
int Session::threads() const { return impl_->threads; }

const std::vector<Shape>& Session::default_input_shapes() const { return impl_->first_shapes; }

Shape checked_input_shape(const Shape& declared, const Shape& given, const std::string& what) {
  if (declared.empty()) return given;
  if (given.size() != declared.size())
    throw Error(ErrorCode::kInvalidArgument, what + " has rank " + std::to_string(given.size()) + ", the model says " + shape_str(declared));
  for (size_t d = 0; d < declared.size(); ++d)
    if (declared[d] >= 0 && declared[d] != given[d])
      throw Error(ErrorCode::kInvalidArgument, what + " is " + shape_str(given) + ", the model fixes dim " + std::to_string(d) + " of " +
                                                   shape_str(declared) + " at " + std::to_string(declared[d]));
  return given;
}

Session::CacheStats Session::cache_stats() const {
  CacheStats stats;
  {
    std::lock_guard<std::mutex> lock(impl_->cache_mutex);
    stats.cached_plans = impl_->cache.size();
  }
  stats.plans_compiled = impl_->plans_compiled.load();
  stats.packed_bytes = impl_->packs.bytes();
  return stats;
}

std::vector<Tensor> Session::run(const std::vector<Tensor>& inputs) const { return impl_->run(inputs); }

std::vector<Tensor> Session::run(const std::map<std::string, Tensor>& named) const {
  std::vector<Tensor> ordered;
  for (const auto& in : impl_->inputs) {
    auto it = named.find(in.name);
    if (it == named.end()) throw Error(ErrorCode::kInvalidArgument, "input '" + in.name + "' is missing");
    ordered.push_back(it->second);
  }
  for (const auto& [name, t] : named) {
    bool known = false;
    for (const auto& in : impl_->inputs) known = known || in.name == name;
    if (!known) throw Error(ErrorCode::kInvalidArgument, "'" + name + "' is not an input of the model");
  }
  return impl_->run(ordered);
}

std::vector<Session::StepTime> Session::profile(const std::vector<Tensor>& inputs, int runs) const {
  std::vector<Shape> shapes;
  for (const auto& t : inputs) shapes.push_back(t.shape());
  impl_->run(inputs);  // compiles the plan and warms the caches
  std::vector<double> us;
  for (int r = 0; r < std::max(1, runs); ++r) impl_->run(inputs, &us);
  const PlanInfo info = plan_info(shapes);
  std::vector<StepTime> out;
  for (size_t i = 0; i < us.size() && i < info.step_labels.size(); ++i) out.push_back({info.step_labels[i], us[i] / std::max(1, runs)});
  return out;
}

PlanInfo Session::plan_info(const std::vector<Shape>& input_shapes) const {
  if (input_shapes.size() != impl_->inputs.size()) throw Error(ErrorCode::kInvalidArgument, "plan_info needs one shape per input");
  // The plan is compiled from example inputs; their shapes come from a file, so their size is checked
  // before anything is allocated.
  constexpr uint64_t kMaxProbeBytes = uint64_t{1} << 30;
  std::vector<Tensor> probe;
  for (size_t i = 0; i < input_shapes.size(); ++i) {
    const auto& in = impl_->inputs[i];
    const uint64_t numel = static_cast<uint64_t>(shape_numel(input_shapes[i])), size = std::max<size_t>(dtype_size(in.dtype), 1);
    if (numel > kMaxProbeBytes / size)
      throw Error(ErrorCode::kInvalidArgument, "input '" + printable(in.name) + "' " + shape_str(input_shapes[i]) + " is " +
                                                   std::to_string(numel / (1 << 20) * size) + " MiB; plans are sized for inputs up to 1 GiB");
    probe.emplace_back(in.dtype, input_shapes[i]);
  }
  const auto plan = impl_->plan_for(probe);
  PlanInfo info;
  info.steps = plan->kernels.size();
  info.arena_bytes = plan->arena_bytes;
  info.constant_bytes = plan->constant_bytes();
  info.packed_bytes = plan->packed_bytes();
  for (const auto& k : plan->kernels) info.step_labels.push_back(k->label);
  return info;
}

Session load_session(const std::string& path, const SessionOptions& options) {
  return Session(onnx::read_model(path), options);
}

Session load_session_from_buffer(const void* data, size_t size, const SessionOptions& options, const std::string& name) {
  return Session(onnx::read_model_from_buffer(data, size, name), options);
}

std::optional<std::vector<Tensor>> evaluate_node(const onnx::Node& node, const std::vector<Tensor>& inputs, int64_t opset) {
  if (!detail::find_op(node.op_type, node.domain)) return std::nullopt;
  try {
    Plan plan;
    Builder b(plan, opset, 1, false);
    for (size_t i = 0; i < node.inputs.size() && i < inputs.size(); ++i) {
      if (node.inputs[i].empty()) continue;
      Value v;
      v.dtype = inputs[i].dtype();
      v.shape = inputs[i].shape();
      v.constant = std::make_shared<Tensor>(inputs[i]);
      b.define(node.inputs[i], std::move(v));
    }
    b.compile_node(node);
    std::vector<Tensor> out;
    for (const auto& name : node.outputs) {
      if (name.empty()) {
        out.emplace_back();
        continue;
      }
      const Value* v = b.find(name);
      if (!v || !v->is_constant()) return std::nullopt;
      out.push_back(*v->constant);
    }
    return out;
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace edgeq::runtime
