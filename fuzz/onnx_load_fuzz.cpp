// libFuzzer target: arbitrary bytes into the ONNX loader (parse, checker, shape inference, IR).
// Any outcome but a return or an edgeq::Error is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "edgeq/onnx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::string bytes(reinterpret_cast<const char*>(data), size);
    auto model = edgeq::onnx::load_model_from_bytes(bytes, "fuzz.onnx", "/nonexistent-fuzz-dir");
    (void)edgeq::onnx::summarize(model);
  } catch (const edgeq::Error&) {
  }
  return 0;
}
