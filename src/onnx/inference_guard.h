// What edgeq checks in a model before libonnx's shape inference sees it. libonnx 1.13's inference
// functions index dims and divide by attributes without checking them (a ConvTranspose whose weight
// has rank 1 reads past the dims, a stride of 0 divides by zero): on a hostile file they crash the
// process instead of failing. These checks refuse such models with an edgeq::Error first.
#pragma once

#include <string>

#include "edgeq/onnx.h"

namespace edgeq::onnx::detail {

// Throws Error(kInvalidModel) naming the node and the attribute or input that libonnx's inference
// could not survive. Ranks come from graph inputs, initializers and value_info where known.
void check_before_shape_inference(const Model& model, const std::string& where);

}  // namespace edgeq::onnx::detail
