// load_model / save_model: the reader plus the ONNX checker and shape inference; serialization, atomic save.
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <filesystem>

#include "onnx/inference_guard.h"
#include "onnx/proto.h"
#include "onnx/reader.h"

namespace edgeq::onnx {
namespace {

constexpr uint64_t kProtobufLimit = 2147483647ull;  // protobuf refuses messages of 2 GB and more

void run_checker(const ::onnx::ModelProto& m, const std::string& where) {
  try {
    ::onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kInvalidModel, where + ": ONNX checker: " + e.what());
  }
}

// M is MODEL converted to protobuf; MODEL is what the guard checks before libonnx runs on M.
void run_shape_inference(const Model& model, ::onnx::ModelProto& m, const std::string& where) {
  detail::check_before_shape_inference(model, where);
  // Strict first (types checked). Old exporters wrote models that the checker accepts but whose
  // types an old schema rejects (pytorch 0.3's int64 Constant at opset 6): those get the lenient pass.
  ::onnx::ModelProto copy = m;
  try {
    ::onnx::ShapeInferenceOptions strict{/*check_type=*/true, /*error_mode=*/1, /*enable_data_propagation=*/false};
    ::onnx::shape_inference::InferShapes(m, ::onnx::OpSchemaRegistry::Instance(), strict);
    return;
  } catch (const std::exception& e) {
    m = std::move(copy);
    try {
      ::onnx::ShapeInferenceOptions lenient{/*check_type=*/false, /*error_mode=*/1, /*enable_data_propagation=*/false};
      ::onnx::shape_inference::InferShapes(m, ::onnx::OpSchemaRegistry::Instance(), lenient);
    } catch (const std::exception&) {
      throw Error(ErrorCode::kInvalidModel, where + ": ONNX shape inference: " + e.what());
    }
  }
}

// Takes shape inference's value_info and output types into the IR.
void adopt_inferred(Model& model, const ::onnx::ModelProto& m) {
  for (const auto& vi : m.graph().value_info()) model.graph.value_info[vi.name()] = detail::value_info_from_proto(vi);
  for (int i = 0; i < m.graph().output_size() && i < static_cast<int>(model.graph.outputs.size()); ++i) {
    const ValueInfo vi = detail::value_info_from_proto(m.graph().output(i));
    auto& out = model.graph.outputs[static_cast<size_t>(i)];
    if (vi.has_shape) { out.has_shape = true; out.shape = vi.shape; out.dim_params = vi.dim_params; }
    if (vi.dtype != DType::kUndefined) out.dtype = vi.dtype;
  }
  detail::merge_output_types(model.graph);
}

// The checker and shape inference work on protobuf: the model read by read_model is converted once
// for both. Inferred types fill value_info and the outputs the file left untyped.
void check_and_infer(Model& model, const std::string& where, const LoadOptions& options) {
  if (!options.run_checker && !options.infer_shapes) return;
  ::onnx::ModelProto m;
  detail::model_to_proto(model, &m);
  if (m.ByteSizeLong() >= kProtobufLimit)
    throw Error(ErrorCode::kUnsupported, where + ": model is over protobuf's 2 GB limit, which the ONNX checker and shape inference "
                                                 "need (load with the checker and shape inference off, as the runtime does)");
  if (options.run_checker) run_checker(m, where);
  if (!options.infer_shapes) return;
  run_shape_inference(model, m, where);
  adopt_inferred(model, m);
}

}  // namespace

Model load_model_from_bytes(const std::string& bytes, const std::string& name, const std::string& base_dir,
                            const LoadOptions& options) {
  Model model = read_model_from_buffer(bytes.data(), bytes.size(), name, base_dir, ReadOptions{options.allow_unknown_domains});
  check_and_infer(model, name, options);
  return model;
}

Model load_model(const std::string& path, const LoadOptions& options) {
  Model model = read_model(path, ReadOptions{options.allow_unknown_domains});
  check_and_infer(model, path, options);
  return model;
}

std::string serialize_model(const Model& model) {
  ::onnx::ModelProto m;
  detail::model_to_proto(model, &m);
  size_t size = m.ByteSizeLong();
  if (size >= kProtobufLimit)
    throw Error(ErrorCode::kUnsupported, "model is " + std::to_string(size) + " bytes, over protobuf's 2 GB limit");
  return m.SerializeAsString();
}

void check_model(const Model& model) {
  ::onnx::ModelProto m;
  detail::model_to_proto(model, &m);
  run_checker(m, model.source_path.empty() ? "model" : model.source_path);
}

void infer_shapes(Model& model) {
  ::onnx::ModelProto m;
  detail::model_to_proto(model, &m);
  m.mutable_graph()->clear_value_info();
  run_shape_inference(model, m, model.source_path.empty() ? "model" : model.source_path);
  model.graph.value_info.clear();
  for (auto& out : model.graph.outputs) { out.has_shape = false; out.shape.clear(); out.dim_params.clear(); }
  adopt_inferred(model, m);
}

std::string checked_model_bytes(const Model& model, const std::string& path) {
  Model copy = model;
  copy.graph.sort_topologically();
  std::string bytes = serialize_model(copy);
  ::onnx::ModelProto m;
  m.ParseFromString(bytes);
  run_checker(m, path);
  return bytes;
}

void save_model(const Model& model, const std::string& path) { write_file_atomic(path, checked_model_bytes(model, path)); }

std::string serialize_tensor_proto(const Tensor& t, const std::string& tensor_name) {
  ::onnx::TensorProto p;
  detail::tensor_to_proto(t, tensor_name, &p);
  return p.SerializeAsString();
}

}  // namespace edgeq::onnx
