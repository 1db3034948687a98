// Private to the onnx module: what the reader (runtime core) shares with the tooling's loader.
#pragma once

#include "edgeq/onnx.h"

namespace edgeq::onnx::detail {

// Graph outputs the file left untyped take their type and shape from value_info (whose entry for
// them is then dropped: an output's type lives on the output).
void merge_output_types(Graph& g);

}  // namespace edgeq::onnx::detail
