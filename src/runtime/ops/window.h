// Sliding-window geometry shared by Conv and the pools: kernel, strides, dilations, pads from the
// ONNX attributes (auto_pad, ceil_mode) for a given input spatial shape.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/builder.h"

namespace edgeq::runtime::detail {

struct Window {
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end, in, out;
  size_t rank() const { return kernel.size(); }
};

// `spatial_in` = input dims after N, C; `kernel` from kernel_shape or the weight.
Window make_window(const Builder& b, const std::vector<int64_t>& spatial_in, const std::vector<int64_t>& kernel,
                   bool allow_ceil_mode);

}  // namespace edgeq::runtime::detail
