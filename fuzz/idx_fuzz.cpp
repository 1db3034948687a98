// libFuzzer target: an IDX images/labels pair (plain or gzip) into load_idx_from_bytes. Any outcome but
// a dataset consistent with its dims or an edgeq::Error is a bug (and so is unbounded memory: libFuzzer's
// -rss_limit_mb catches an inflate without a bound).
// Input: [u8 limit][u32 little-endian length of the images file][images file][labels file = the rest].
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "edgeq/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const int64_t limit = data[0] % 4;  // 0 = all records
  size_t images_size = 0;
  for (int i = 0; i < 4; ++i) images_size |= size_t{data[1 + i]} << (8 * i);
  const std::string_view rest(reinterpret_cast<const char*>(data) + 5, size - 5);
  if (images_size > rest.size()) images_size = rest.size();
  try {
    const auto ds = edgeq::data::load_idx_from_bytes(rest.substr(0, images_size), rest.substr(images_size),
                                                     "fuzz-images", "fuzz-labels", limit);
    if (ds.pixels.size() != static_cast<size_t>(ds.size() * ds.image_elems())) std::abort();
    if (limit > 0 && ds.size() > limit) std::abort();
    for (int64_t label : ds.labels)
      if (label < 0 || label >= ds.num_classes()) std::abort();
  } catch (const edgeq::Error&) {
  }
  return 0;
}
