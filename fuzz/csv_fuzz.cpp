// libFuzzer target: bytes into the Sign Language MNIST CSV reader (load_sign_mnist_csv_from_bytes).
// Any outcome but a consistent dataset or an edgeq::Error is a bug, and so is a message that echoes
// a control byte from the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edgeq/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto ds = edgeq::data::load_sign_mnist_csv_from_bytes(text, "fuzz.csv", size % 3);
    if (ds.pixels.size() != static_cast<size_t>(ds.size() * 28 * 28)) std::abort();
    for (int64_t label : ds.labels)
      if (label < 0 || label >= ds.num_classes()) std::abort();
  } catch (const edgeq::Error& e) {
    for (char c : std::string_view(e.what()))
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) std::abort();  // raw control byte echoed
  }
  return 0;
}
