// libFuzzer target: bytes into the .npy reader (parse_npy, --calib tensors:DIR). Any outcome but a
// tensor whose bytes fill exactly what the file held, or an edgeq::Error, is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "edgeq/core.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const edgeq::Tensor t = edgeq::parse_npy(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.npy");
    if (t.nbytes() > size) std::abort();
  } catch (const edgeq::Error&) {
  }
  return 0;
}
