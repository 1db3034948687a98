// The libonnx loader edgeq used before its own reader (src/onnx/reader.cpp), kept only as the test
// oracle the reader is compared with: protobuf parse, external data inlined, ModelProto -> IR.
#pragma once

#include <string>

#include "edgeq/onnx.h"

namespace edgeq::onnx::oracle {

// Parses BYTES with libprotobuf and converts them as the old loader did (no checker, no inference).
Model model_from_bytes(const std::string& bytes, const std::string& name, const std::string& base_dir);
// The same for a file, with graph outputs typed from value_info as the reader types them.
Model model_from_file(const std::string& path);

// The first difference between two models ("graph inputs", "node 3 attribute 'axis'", ...), or "" when
// they are the same IR: tensors, floats and subgraph bytes compared exactly.
std::string first_difference(const Model& a, const Model& b);

}  // namespace edgeq::onnx::oracle
