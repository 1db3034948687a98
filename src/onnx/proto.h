// Private to the onnx module: conversion between libonnx's protobuf types and the edgeq IR.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "edgeq/onnx.h"

namespace edgeq::onnx::detail {

// `where` names the tensor in messages ("initializer 'conv1.weight'"); base_dir resolves external data.
Tensor tensor_from_proto(const ::onnx::TensorProto& p, const std::string& where, const std::string& base_dir);
void tensor_to_proto(const Tensor& t, const std::string& name, ::onnx::TensorProto* p);

ValueInfo value_info_from_proto(const ::onnx::ValueInfoProto& p);
void value_info_to_proto(const ValueInfo& v, ::onnx::ValueInfoProto* p);

Model model_from_proto(const ::onnx::ModelProto& m, const std::string& where, const std::string& base_dir);
void model_to_proto(const Model& model, ::onnx::ModelProto* m);

// Moves every external tensor of the graph (and its subgraphs) inline, checking its path and size.
void inline_external_data(::onnx::ModelProto* m, const std::string& where, const std::string& base_dir);

}  // namespace edgeq::onnx::detail
