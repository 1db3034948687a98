// NCHW <-> NHWC conversion of a rank-4 value, any element size, over a range of rows so the
// caller can split it across threads. Rows are output rows: (n, pixel) when converting to NHWC,
// (n, channel) when converting to NCHW.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgeq::runtime::detail {

void convert_layout_range(const void* src, void* dst, int64_t n, int64_t c, int64_t hw, size_t elem, bool to_nhwc,
                          int64_t row_begin, int64_t row_end);

}  // namespace edgeq::runtime::detail
