// The ORT sidecars' no-op model, written through the tooling's ONNX writer (protobuf): only in builds
// that have edgeq_onnx. The core-only bench (tools/edgeq in -DEDGEQ_RT_ONLY=ON -DEDGEQ_RT_BENCH=ON) runs
// its peers without it: their per-call overhead is then not measured (nor subtracted).
#include "edgeq/bench.h"
#include "edgeq/onnx.h"

namespace edgeq::bench {

void write_identity_model(const std::string& path, const Shape& shape) {
  onnx::Model m;
  m.opset_imports[""] = 17;
  m.producer_name = "edgeq";
  m.producer_version = version();
  m.doc_string = "no-op model: measures a runtime's per-call overhead";
  m.graph.name = "identity";
  onnx::ValueInfo v;
  v.dtype = DType::kF32;
  v.has_shape = true;
  v.shape = shape;
  for (int64_t d : shape) v.dim_params.push_back(d < 0 ? "batch" : "");
  v.name = "input";
  m.graph.inputs.push_back(v);
  v.name = "output";
  m.graph.outputs.push_back(v);
  m.graph.nodes.push_back(onnx::Node{"identity", "Identity", "", {"input"}, {"output"}, {}, ""});
  onnx::save_model(m, path);
}

}  // namespace edgeq::bench
