// libFuzzer target: the Open Inference Protocol v2 request codec, what `edgeq serve` parses from the
// network (src/serve/v2.cpp). Input: the first byte picks the mode (even: JSON only; odd: the next two bytes
// are an Inference-Header-Content-Length, the binary tensor data extension), the rest is the body. Each
// parsed request is bound to a fixed model signature and encoded back. Any outcome but a request, or an
// edgeq::Error of kind kInvalidArgument, is a bug; so is a tensor whose bytes disagree with its shape.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "edgeq/serve.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::optional<size_t> json_length;
  if (data[0] & 1) {
    if (body.size() < 2) return 0;
    json_length = static_cast<size_t>(static_cast<uint8_t>(body[0])) | static_cast<size_t>(static_cast<uint8_t>(body[1])) << 8;
    body.remove_prefix(2);
  }
  using edgeq::DType;
  static const std::vector<edgeq::runtime::IoInfo> inputs = {{"input", DType::kF32, {-1, 1, 8, 8}}, {"k", DType::kI64, {1}}};
  static const std::vector<edgeq::runtime::IoInfo> outputs = {{"input", DType::kF32, {-1, 1, 8, 8}}, {"k", DType::kI64, {1}}};
  try {
    const edgeq::serve::InferRequest req = edgeq::serve::parse_infer_request(body, json_length);
    for (const auto& t : req.inputs)
      if (t.nbytes() != static_cast<size_t>(edgeq::shape_numel(t.shape())) * edgeq::dtype_size(t.dtype())) std::abort();
    const auto bound = edgeq::serve::bind_inputs(req, inputs);
    (void)edgeq::serve::encode_infer_response("m", "1", req, outputs, bound);
  } catch (const edgeq::Error& e) {
    if (e.code() != edgeq::ErrorCode::kInvalidArgument) std::abort();
  }
  return 0;
}
