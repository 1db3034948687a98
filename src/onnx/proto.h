// Private to the onnx module's tooling: the edgeq IR -> libonnx's protobuf types (writing, checker, shape
// inference) and inferred ValueInfoProtos back.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "edgeq/onnx.h"

namespace edgeq::onnx::detail {

void tensor_to_proto(const Tensor& t, const std::string& name, ::onnx::TensorProto* p);

ValueInfo value_info_from_proto(const ::onnx::ValueInfoProto& p);
void value_info_to_proto(const ValueInfo& v, ::onnx::ValueInfoProto* p);

void model_to_proto(const Model& model, ::onnx::ModelProto* m);

}  // namespace edgeq::onnx::detail
