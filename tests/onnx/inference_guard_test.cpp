// Models libonnx's shape inference cannot survive (it crashed the process on each of these before the
// guard: the first is what fuzz_onnx_load found) are refused by load_model with the node and the reason;
// valid conv and pool nodes still load and get their shapes inferred. Runs under ASan+UBSan too.
#include <gtest/gtest.h>

#include "edgeq/onnx.h"
#include "runtime/graph_builder.h"

namespace edgeq {
namespace {

using testing::GraphBuilder;

// The checker wants graph outputs shaped: rank 4, every dim unknown (inference fills them).
onnx::Model with_shaped_output(onnx::Model m) {
  for (auto& out : m.graph.outputs) {
    out.has_shape = true;
    out.shape.assign(4, -1);
    out.dim_params.assign(4, "");
  }
  return m;
}

std::string load_error(const onnx::Model& m) {
  const std::string bytes = onnx::serialize_model(with_shaped_output(m));
  try {
    onnx::load_model_from_bytes(bytes, "m.onnx");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

onnx::Attribute ints(const std::string& name, std::vector<int64_t> v) { return onnx::Attribute::make_ints(name, std::move(v)); }

TEST(InferenceGuard, ConvTransposeWithARankOneWeightIsRefused) {
  // fuzz_onnx_load's crash: X is a [3, 4, 3, 3] initializer, W a [4] bias-like tensor.
  GraphBuilder b;
  b.input("x0", {1, 3, 7, 6});
  b.random_init("w", {3, 4, 3, 3});
  b.random_init("bias", {4});
  b.node("ConvTranspose", {"w", "bias"}, {"y"}, {ints("kernel_shape", {3, 3}), ints("strides", {3, 2})}, "deconv");
  b.output("y");
  const std::string e = load_error(b.build());
  EXPECT_NE(e.find("ConvTranspose 'deconv': weight 'bias' has rank 1"), std::string::npos) << e;
}

TEST(InferenceGuard, ZeroStridesKernelsAndDilationsAreRefused) {
  struct Case {
    std::string op;
    onnx::Attribute attr;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"Conv", ints("strides", {0, 1}), "attribute strides has 0, needs >= 1"},
      {"Conv", ints("dilations", {1, 0}), "attribute dilations has 0, needs >= 1"},
      {"MaxPool", ints("strides", {1, 0}), "attribute strides has 0"},
      {"AveragePool", ints("strides", {0, 0}), "attribute strides has 0"},
      {"MaxPool", ints("pads", {1, 1, 1}), "attribute pads has 3 values, needs 4"},
      {"Conv", ints("pads", {0, 0, -1, 0}), "attribute pads has -1, needs >= 0"},
  };
  for (const auto& c : cases) {
    GraphBuilder b;
    b.input("x", {1, 4, 8, 8});
    std::vector<std::string> inputs = {"x"};
    std::vector<onnx::Attribute> attrs = {c.attr};
    if (c.op == "Conv") {
      b.random_init("w", {4, 4, 3, 3});
      inputs.push_back("w");
    }
    if (c.attr.name != "kernel_shape") attrs.push_back(ints("kernel_shape", {3, 3}));
    b.node(c.op, inputs, {"y"}, attrs, "n");
    b.output("y");
    const std::string e = load_error(b.build());
    EXPECT_NE(e.find(c.op + " 'n': " + c.says), std::string::npos) << c.op << " " << c.attr.name << ": " << e;
  }
}

TEST(InferenceGuard, KernelShapeOfZeroIsRefused) {
  GraphBuilder b;
  b.input("x", {1, 4, 8, 8});
  b.node("MaxPool", {"x"}, {"y"}, {ints("kernel_shape", {0, 2})}, "pool");
  b.output("y");
  EXPECT_NE(load_error(b.build()).find("MaxPool 'pool': attribute kernel_shape has 0, needs >= 1"), std::string::npos);
}

TEST(InferenceGuard, ValidConvAndPoolLoadWithInferredShapes) {
  GraphBuilder b;
  b.input("x", {1, 4, 8, 8});
  b.random_init("w", {6, 4, 3, 3});
  b.node("Conv", {"x", "w"}, {"c"}, {ints("kernel_shape", {3, 3}), ints("pads", {1, 1, 1, 1}), ints("strides", {1, 1})}, "conv");
  b.node("MaxPool", {"c"}, {"y"}, {ints("kernel_shape", {2, 2}), ints("strides", {2, 2})}, "pool");
  b.output("y");
  const std::string bytes = onnx::serialize_model(with_shaped_output(b.build()));
  const onnx::Model m = onnx::load_model_from_bytes(bytes, "m.onnx");
  ASSERT_EQ(m.graph.outputs.size(), 1u);
  EXPECT_EQ(m.graph.outputs[0].shape, (Shape{1, 6, 4, 4}));
}

}  // namespace
}  // namespace edgeq
