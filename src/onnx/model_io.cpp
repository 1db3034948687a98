// load_model / save_model: protobuf parse, external data, checker, shape inference, atomic save.
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <filesystem>
#include <google/protobuf/io/coded_stream.h>
#include <set>

#include "onnx/proto.h"

namespace edgeq::onnx {
namespace {

constexpr uint64_t kProtobufLimit = 2147483647ull;  // protobuf refuses messages of 2 GB and more

void check_opsets(const ::onnx::ModelProto& m, const std::string& where, const LoadOptions& options) {
  static const std::set<std::string> kKnownDomains = {"", "ai.onnx", "ai.onnx.ml", "com.microsoft",
                                                       "ai.onnx.preview.training"};
  if (m.opset_import_size() == 0) throw Error(ErrorCode::kInvalidModel, where + ": no opset_import (not an ONNX model?)");
  for (const auto& op : m.opset_import()) {
    if (!options.allow_unknown_domains && !kKnownDomains.count(op.domain()))
      throw Error(ErrorCode::kUnsupported, where + ": opset domain '" + op.domain() + "' is unknown (known: ai.onnx, ai.onnx.ml, com.microsoft)");
    if ((op.domain().empty() || op.domain() == "ai.onnx") && op.version() > kMaxOpset)
      throw Error(ErrorCode::kUnsupported, where + ": ai.onnx opset " + std::to_string(op.version()) +
                                               " is newer than the newest this build supports (" + std::to_string(kMaxOpset) + ")");
    if ((op.domain().empty() || op.domain() == "ai.onnx") && op.version() < 1)
      throw Error(ErrorCode::kInvalidModel, where + ": ai.onnx opset " + std::to_string(op.version()) + " is not a valid opset");
  }
}

void run_checker(const ::onnx::ModelProto& m, const std::string& where) {
  try {
    ::onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kInvalidModel, where + ": ONNX checker: " + e.what());
  }
}

void run_shape_inference(::onnx::ModelProto& m, const std::string& where) {
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

// Copies inferred output types into the IR's graph outputs where the file left them unknown.
void merge_output_shapes(Graph& g) {
  for (auto& out : g.outputs) {
    auto it = g.value_info.find(out.name);
    if (it == g.value_info.end()) continue;
    if (out.dtype == DType::kUndefined) out.dtype = it->second.dtype;
    if (!out.has_shape && it->second.has_shape) {
      out.has_shape = true;
      out.shape = it->second.shape;
      out.dim_params = it->second.dim_params;
    }
    g.value_info.erase(it);
  }
}

}  // namespace

Model load_model_from_bytes(const std::string& bytes, const std::string& name, const std::string& base_dir,
                            const LoadOptions& options) {
  if (bytes.empty()) throw Error(ErrorCode::kParse, name + ": file is empty");
  if (bytes.size() >= kProtobufLimit)
    throw Error(ErrorCode::kUnsupported, name + ": file is " + std::to_string(bytes.size()) +
                                             " bytes, over protobuf's 2 GB limit (store the weights as external data)");
  ::onnx::ModelProto m;
  {
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
    in.SetRecursionLimit(64);
    if (!m.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage())
      throw Error(ErrorCode::kParse, name + ": not a valid ONNX protobuf (truncated or corrupt file)");
  }
  if (!m.has_graph()) throw Error(ErrorCode::kInvalidModel, name + ": model has no graph");
  check_opsets(m, name, options);
  if (m.graph().node_size() == 0) throw Error(ErrorCode::kInvalidModel, name + ": empty graph (no nodes)");
  if (m.graph().output_size() == 0) throw Error(ErrorCode::kInvalidModel, name + ": graph has no outputs");
  detail::inline_external_data(&m, name, base_dir);
  if (options.run_checker) run_checker(m, name);
  if (options.infer_shapes) run_shape_inference(m, name);
  Model model = detail::model_from_proto(m, name, base_dir);
  model.source_path = name;
  // The checker accepts a graph whose nodes are out of order when asked to skip it; ours must not.
  model.graph.topological_order();
  merge_output_shapes(model.graph);
  return model;
}

Model load_model(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw Error(ErrorCode::kNotFound, path + ": no such file");
  if (std::filesystem::is_directory(status)) throw Error(ErrorCode::kInvalidArgument, path + ": is a directory, not an ONNX file");
  auto size = std::filesystem::file_size(path, ec);
  if (!ec && size >= kProtobufLimit)
    throw Error(ErrorCode::kUnsupported, path + ": file is " + std::to_string(size) +
                                             " bytes, over protobuf's 2 GB limit (store the weights as external data)");
  std::string base = std::filesystem::path(path).parent_path().string();
  return load_model_from_bytes(read_file(path), path, base, options);
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
  std::string where = model.source_path.empty() ? "model" : model.source_path;
  run_shape_inference(m, where);
  model.graph.value_info.clear();
  for (const auto& vi : m.graph().value_info()) model.graph.value_info[vi.name()] = detail::value_info_from_proto(vi);
  for (auto& out : model.graph.outputs) { out.has_shape = false; out.shape.clear(); out.dim_params.clear(); }
  for (int i = 0; i < m.graph().output_size() && i < static_cast<int>(model.graph.outputs.size()); ++i) {
    ValueInfo vi = detail::value_info_from_proto(m.graph().output(i));
    auto& out = model.graph.outputs[static_cast<size_t>(i)];
    if (vi.has_shape) { out.has_shape = true; out.shape = vi.shape; out.dim_params = vi.dim_params; }
    if (vi.dtype != DType::kUndefined) out.dtype = vi.dtype;
  }
  merge_output_shapes(model.graph);
}

void save_model(const Model& model, const std::string& path) {
  Model copy = model;
  copy.graph.sort_topologically();
  std::string bytes = serialize_model(copy);
  ::onnx::ModelProto m;
  m.ParseFromString(bytes);
  run_checker(m, path);
  write_file_atomic(path, bytes);
}

Tensor parse_tensor_proto(const std::string& bytes, const std::string& name_for_errors, std::string* tensor_name) {
  ::onnx::TensorProto p;
  if (!p.ParseFromString(bytes)) throw Error(ErrorCode::kParse, name_for_errors + ": not a valid TensorProto");
  if (tensor_name) *tensor_name = p.name();
  return detail::tensor_from_proto(p, name_for_errors, "");
}

std::string serialize_tensor_proto(const Tensor& t, const std::string& tensor_name) {
  ::onnx::TensorProto p;
  detail::tensor_to_proto(t, tensor_name, &p);
  return p.SerializeAsString();
}

}  // namespace edgeq::onnx
