// The compiled form of a graph: slots (every buffer a run touches) and kernels (one per step).
// A kernel holds slot indices and its precomputed parameters; at run time it reads pointers from a
// per-run table, so a step costs one virtual call and a few loads: no lookups, no allocation.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edgeq/core.h"
#include "runtime/pack_cache.h"

namespace edgeq::runtime::detail {

// How a value is laid out in memory. Shapes are always the logical ONNX shape.
//   kPlain     row-major in the logical shape
//   kNHWC      rank-4 [N, C, H, W] stored channels-last
//   kFlatNHWC  rank-2 [N, C*H*W] from Flatten of a kNHWC value, left in its NHWC order (Value::
//              flat_dims holds [N, C, H, W]): a Gemm with constant weights reads it directly with its
//              weight rows permuted at compile time; every other reader gets a plain copy.
enum class Layout : uint8_t { kPlain, kNHWC, kFlatNHWC };

struct ExecContext {
  void* const* ptrs = nullptr;  // one pointer per slot
  ThreadPool* pool = nullptr;   // nullptr: single-threaded

  template <typename T>
  T* at(int32_t slot) const {
    return static_cast<T*>(ptrs[slot]);
  }
  int threads() const { return pool ? pool->size() : 1; }
  // fn(begin, end) over [0, n), split across the pool.
  template <typename Fn>
  void parallel(int64_t n, Fn&& fn) const {
    if (pool && n > 1)
      pool->parallel_for(n, fn);
    else if (n > 0)
      fn(int64_t{0}, n);
  }
};

// A 2x2, stride-2, unpadded max pool over uint8 codes, as the kernel-level fusion sees it (Plan::
// fuse_conv_max_pool): slots and the NHWC geometry.
struct MaxPool2 {
  int32_t in = -1, out = -1;
  int64_t batch = 0, channels = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void run(const ExecContext& ctx) const = 0;
  // Kernel-level fusion hooks: a pool that can be absorbed describes itself; a producer takes it over
  // (then writes the pool's output and returns true) or declines.
  virtual bool as_max_pool2(MaxPool2*) const { return false; }
  virtual bool absorb_max_pool2(const MaxPool2&, const std::string& /*pool_label*/) { return false; }
  std::string label;  // "Conv 'conv1'" plus notes; for plan dumps and profiling
};

struct Slot {
  enum class Kind : uint8_t { kArena, kConstant, kInput, kAlias, kDead };
  Kind kind = Kind::kArena;
  size_t bytes = 0;
  Tensor constant;         // kConstant
  int32_t alias_of = -1;   // kAlias: same memory as that slot
  int32_t input_index = -1;  // kInput: which run() input
  int32_t first_use = -1, last_use = -1;  // kernel indices (arena slots)
  size_t offset = 0;       // kArena: byte offset in the arena

  // Widens the live interval so it covers kernels [first, last].
  void use_span(int32_t first, int32_t last) {
    if (first_use < 0 || first_use > first) first_use = first;
    last_use = std::max(last_use, last);
  }
};

struct OutputBinding {
  int32_t slot = -1;
  DType dtype = DType::kUndefined;
  Shape shape;
};

// One arena plus its resolved pointer table; a run owns one instance exclusively.
struct ArenaInstance {
  std::shared_ptr<std::byte> memory;
  std::vector<void*> ptrs;
};

struct Plan {
  std::vector<Slot> slots;
  std::vector<std::unique_ptr<Kernel>> kernels;
  std::vector<int32_t> input_slots;  // per session input; -1 when the graph never reads it
  std::vector<int32_t> alias_order;  // alias slots in an order where the target resolves first
  std::vector<OutputBinding> outputs;
  size_t arena_bytes = 0;
  // The packed weights its kernels read: shared with the session's other plans (PackCache).
  std::vector<std::shared_ptr<const PackEntry>> packs;

  // Free arena instances. run() pops one (or builds one when all are busy: a new concurrent caller)
  // and pushes it back afterwards, so concurrent runs never share activation memory, and a steady
  // stream of runs from N threads allocates N arenas once.
  mutable std::mutex pool_mutex;
  mutable std::vector<std::unique_ptr<ArenaInstance>> free_arenas;

  std::unique_ptr<ArenaInstance> acquire() const;
  void release(std::unique_ptr<ArenaInstance> a) const;
  // The slot an alias chain ends at (s itself when it is no alias).
  int32_t alias_root(int32_t s) const {
    while (slots[s].kind == Slot::Kind::kAlias) s = slots[s].alias_of;
    return s;
  }
  // Slot s is an arena value that kernel `consumer` is the last to read and no alias points at (plan
  // outputs live to the end, so they never pass). Kernel-level fusions ask it of the values they remove.
  bool last_read_by(int32_t s, int32_t consumer) const;
  // Kernel `first` now does the work of kernels [first, last], which go: later kernel indices in the
  // slots' lifetimes move down, the removed ones become `first`. Before plan_memory.
  void merge_steps(size_t first, size_t last);
  // Lets a kernel absorb the u8 2x2 max pool right after it when only that pool reads its output
  // (no other kernel, no alias, no plan output): the int8 conv then requantizes each window's max once.
  // Before plan_memory (the pool's output slot then lives from the producer on).
  void fuse_conv_max_pool();
  // Assigns arena offsets by lifetime (greedy, largest first, lowest fitting offset).
  void plan_memory();
  size_t constant_bytes() const;
  size_t packed_bytes() const;  // of `packs`, each entry once
};

}  // namespace edgeq::runtime::detail
