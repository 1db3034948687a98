// Arena planning and the per-run arena pool.
#include "runtime/plan.h"

#include <algorithm>

namespace edgeq::runtime::detail {

namespace {
constexpr size_t kAlign = 64;
size_t align_up(size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }
}  // namespace

bool Plan::last_read_by(int32_t s, int32_t consumer) const {
  const Slot& sl = slots[static_cast<size_t>(s)];
  if (sl.kind != Slot::Kind::kArena || sl.last_use != consumer) return false;
  for (size_t a = 0; a < slots.size(); ++a)
    if (static_cast<int32_t>(a) != s && slots[a].kind == Slot::Kind::kAlias && alias_root(static_cast<int32_t>(a)) == s) return false;
  return true;
}

void Plan::merge_steps(size_t first, size_t last) {
  kernels.erase(kernels.begin() + static_cast<std::ptrdiff_t>(first) + 1, kernels.begin() + static_cast<std::ptrdiff_t>(last) + 1);
  const int32_t lo = static_cast<int32_t>(first), removed = static_cast<int32_t>(last - first);
  for (Slot& sl : slots) {
    for (int32_t* u : {&sl.first_use, &sl.last_use}) {
      if (*u > lo + removed) *u -= removed;
      else if (*u > lo) *u = lo;
    }
  }
}

void Plan::fuse_conv_max_pool() {
  for (size_t i = 0; i + 1 < kernels.size(); ++i) {
    MaxPool2 pool;
    if (!kernels[i + 1]->as_max_pool2(&pool) || pool.in < 0) continue;
    const int32_t k = static_cast<int32_t>(i);
    // Only the pool reads the conv's output (no other reader, no alias, no plan output).
    if (slots[pool.in].first_use != k || !last_read_by(pool.in, k + 1)) continue;
    if (!kernels[i]->absorb_max_pool2(pool, kernels[i + 1]->label)) continue;
    merge_steps(i, i + 1);
    slots[pool.in].kind = Slot::Kind::kDead;
    slots[pool.out].use_span(k, k);  // written by the producer now
  }
}

void Plan::plan_memory() {
  const int32_t end = static_cast<int32_t>(kernels.size());
  // An alias keeps its target alive: fold alias lifetimes into the root they point at.
  for (size_t s = 0; s < slots.size(); ++s) {
    if (slots[s].kind != Slot::Kind::kAlias || slots[s].first_use < 0) continue;
    Slot& r = slots[alias_root(static_cast<int32_t>(s))];
    if (r.kind != Slot::Kind::kArena) continue;
    r.use_span(slots[s].first_use, slots[s].last_use);
  }
  std::vector<int32_t> order;
  for (size_t s = 0; s < slots.size(); ++s) {
    Slot& sl = slots[s];
    if (sl.kind != Slot::Kind::kArena) continue;
    if (sl.first_use < 0) {  // never scheduled (cannot happen for a kernel's slot): keep it alive throughout
      sl.first_use = 0;
      sl.last_use = end;
    }
    order.push_back(static_cast<int32_t>(s));
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    if (slots[a].bytes != slots[b].bytes) return slots[a].bytes > slots[b].bytes;
    return a < b;
  });
  std::vector<int32_t> placed;
  arena_bytes = 0;
  for (int32_t s : order) {
    Slot& sl = slots[s];
    const size_t size = align_up(std::max<size_t>(sl.bytes, 1));
    // Intervals of placed buffers alive at the same time, by offset.
    std::vector<std::pair<size_t, size_t>> busy;
    for (int32_t p : placed) {
      const Slot& o = slots[p];
      if (o.last_use < sl.first_use || sl.last_use < o.first_use) continue;
      busy.emplace_back(o.offset, o.offset + align_up(std::max<size_t>(o.bytes, 1)));
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [b, e] : busy) {
      if (offset + size <= b) break;
      offset = std::max(offset, e);
    }
    sl.offset = offset;
    arena_bytes = std::max(arena_bytes, offset + size);
    placed.push_back(s);
  }
}

size_t Plan::constant_bytes() const {
  size_t total = 0;
  for (const auto& s : slots)
    if (s.kind == Slot::Kind::kConstant) total += s.constant.nbytes();
  return total;
}

size_t Plan::packed_bytes() const {
  std::vector<const PackEntry*> seen;
  size_t total = 0;
  for (const auto& e : packs) {
    if (std::find(seen.begin(), seen.end(), e.get()) != seen.end()) continue;
    seen.push_back(e.get());
    total += e->bytes;
  }
  return total;
}

std::unique_ptr<ArenaInstance> Plan::acquire() const {
  {
    std::lock_guard<std::mutex> lock(pool_mutex);
    if (!free_arenas.empty()) {
      auto a = std::move(free_arenas.back());
      free_arenas.pop_back();
      return a;
    }
  }
  auto a = std::make_unique<ArenaInstance>();
  try {
    a->memory = aligned_alloc_shared(std::max<size_t>(arena_bytes, kAlign));
  } catch (const Error&) {
    throw Error(ErrorCode::kIo, "out of memory: the intermediate values of a run at these input shapes need " +
                                    std::to_string(arena_bytes >> 20) + " MiB (the activation arena)");
  }
  a->ptrs.assign(slots.size(), nullptr);
  for (size_t s = 0; s < slots.size(); ++s) {
    const Slot& sl = slots[s];
    if (sl.kind == Slot::Kind::kArena) a->ptrs[s] = a->memory.get() + sl.offset;
    if (sl.kind == Slot::Kind::kConstant) a->ptrs[s] = const_cast<void*>(sl.constant.raw());
  }
  for (int32_t al : alias_order) a->ptrs[al] = a->ptrs[slots[al].alias_of];
  return a;
}

void Plan::release(std::unique_ptr<ArenaInstance> a) const {
  std::lock_guard<std::mutex> lock(pool_mutex);
  free_arenas.push_back(std::move(a));
}

}  // namespace edgeq::runtime::detail
