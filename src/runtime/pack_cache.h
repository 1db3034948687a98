// Weights packed once per Session and shared by the plans of every input shape (XNNPACK's create /
// reshape split): compiling a plan for a new batch size finds each node's packed weights here, so it
// computes geometry and an arena only. Entries are immutable once made; plans hold them by shared_ptr.
#pragma once

#include <any>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edgeq/core.h"

namespace edgeq::runtime::detail {

// One node's packed weights: a kernels Packed* value (copies share its storage) and the constants it was
// packed from, kept alive so that a later match by address cannot be a reused address.
struct PackEntry {
  const void* owner = nullptr;  // the onnx::Node it belongs to
  std::string what;             // the packing and every parameter it reads besides the sources
  std::vector<Tensor> sources;
  std::any value;
  size_t bytes = 0;             // the packed storage
};

class PackCache {
 public:
  // The entry for (owner, what, sources): an existing one whose sources hold the same bytes, else a new
  // one that make() fills (value, bytes). Thread-safe; make() runs under the cache's lock, which only
  // plan compilation takes (never run()).
  std::shared_ptr<const PackEntry> find_or_add(const void* owner, const std::string& what, std::vector<Tensor> sources,
                                               const std::function<void(PackEntry&)>& make);
  size_t bytes() const;  // every entry's packed bytes

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<const PackEntry>> entries_;
};

}  // namespace edgeq::runtime::detail
