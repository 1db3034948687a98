// The libonnx loader edgeq used before its own reader (src/onnx/reader.cpp), kept only as the test
// oracle the reader is compared with: protobuf parse, external data inlined, ModelProto -> IR.
#pragma once

#include <string>

#include "edgeq/onnx.h"

namespace edgeq::onnx::oracle {

// Parses BYTES with libprotobuf and converts them as the old loader did (no checker, no inference).
Model model_from_bytes(const std::string& bytes, const std::string& name, const std::string& base_dir);

}  // namespace edgeq::onnx::oracle
