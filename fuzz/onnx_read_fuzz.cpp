// libFuzzer target for the runtime core's ONNX reader (read_model_from_buffer, no protobuf): any
// bytes must give a Model or an edgeq::Error, never a crash, a hang or unbounded memory.
#include <cstddef>
#include <cstdint>

#include "edgeq/onnx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto model = edgeq::onnx::read_model_from_buffer(data, size, "fuzz.onnx");
    (void)model.graph.topological_order();
  } catch (const edgeq::Error&) {
  }
  return 0;
}
