#include "runtime/pack_cache.h"

#include <cstring>

namespace edgeq::runtime::detail {

namespace {
// Same constant: the same buffer (initializers are shared by every plan), or equal bytes (a constant a
// plan folded again).
bool same_source(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  return a.raw() == b.raw() || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}
}  // namespace

std::shared_ptr<const PackEntry> PackCache::find_or_add(const void* owner, const std::string& what, std::vector<Tensor> sources,
                                                        const std::function<void(PackEntry&)>& make) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& e : entries_) {
    if (e->owner != owner || e->what != what || e->sources.size() != sources.size()) continue;
    bool same = true;
    for (size_t i = 0; i < sources.size() && same; ++i) same = same_source(e->sources[i], sources[i]);
    if (same) return e;
  }
  auto e = std::make_shared<PackEntry>();
  e->owner = owner;
  e->what = what;
  e->sources = std::move(sources);
  make(*e);
  entries_.push_back(e);
  return e;
}

size_t PackCache::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t total = 0;
  for (const auto& e : entries_) total += e->bytes;
  return total;
}

}  // namespace edgeq::runtime::detail
