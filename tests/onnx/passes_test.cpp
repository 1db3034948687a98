// Graph IR order, dead-code elimination, constant folding, summarize().
#include <gtest/gtest.h>

#include <set>

#include "edgeq/onnx.h"
#include "onnx/model_fixtures.h"

namespace edgeq {
namespace {

using onnx::Attribute;
using onnx::Node;

TEST(GraphIr, TopologicalOrderFollowsProducers) {
  onnx::Model m = test::small_cnn();
  std::reverse(m.graph.nodes.begin(), m.graph.nodes.end());
  m.graph.sort_topologically();
  std::vector<std::string> ops;
  for (const auto& n : m.graph.nodes) ops.push_back(n.op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"Conv", "Relu", "Flatten", "Gemm"}));
  const onnx::GraphIndex ix(m.graph);
  EXPECT_EQ(ix.producer("r"), 1);
  EXPECT_EQ(ix.consumers("r"), (std::set<size_t>{2}));
  EXPECT_EQ(ix.sole_consumer("r"), 2);
  EXPECT_EQ(ix.producer("input"), -1);  // a graph input
}

// The index answers as a scan of the nodes would, after every kind of edit made through it.
TEST(GraphIr, IndexFollowsEditsLikeAScan) {
  onnx::Model m = test::small_cnn();
  onnx::GraphIndex ix(m.graph);
  auto scan_producer = [&](const std::string& v) {
    int64_t p = -1;
    for (size_t i = 0; i < m.graph.nodes.size(); ++i)
      for (const auto& o : m.graph.nodes[i].outputs)
        if (o == v) p = static_cast<int64_t>(i);
    return p;
  };
  auto scan_consumers = [&](const std::string& v) {
    std::set<size_t> r;
    for (size_t i = 0; i < m.graph.nodes.size(); ++i)
      for (const auto& in : m.graph.nodes[i].inputs)
        if (in == v) r.insert(i);
    return r;
  };
  auto agree = [&] {
    for (const auto& n : m.graph.nodes)
      for (const auto* names : {&n.inputs, &n.outputs})
        for (const auto& v : *names) {
          EXPECT_EQ(ix.producer(v), scan_producer(v)) << v;
          EXPECT_EQ(ix.consumers(v), scan_consumers(v)) << v;
        }
  };
  agree();
  // Rename the Relu's output and point the Flatten at it.
  ix.edit(m.graph, 1, [](onnx::Node& n) { n.outputs[0] = "r2"; });
  ix.edit(m.graph, 2, [](onnx::Node& n) { n.inputs[0] = "r2"; });
  agree();
  EXPECT_EQ(ix.producer("r"), -1);
  EXPECT_EQ(ix.sole_consumer("r2"), 2);
  // Replace a whole node.
  ix.edit(m.graph, 1, [](onnx::Node& n) { n = Node{"id", "Identity", "", {"c"}, {"r2"}, {}, ""}; });
  agree();
  EXPECT_EQ(ix.unique_name("r2"), "r2_1");
  EXPECT_EQ(ix.unique_name("input"), "input_1");  // a graph input's name is taken
  EXPECT_EQ(ix.unique_name("fresh"), "fresh");
  onnx::Graph other;
  EXPECT_THROW(ix.edit(other, 0, [](onnx::Node&) {}), Error);
}

TEST(GraphIr, AttributeOfTheWrongKindIsAnError) {
  Node n{"n", "Conv", "", {}, {}, {Attribute::make_string("group", "two")}, ""};
  EXPECT_THROW(n.attr_int("group", 1), Error);
  EXPECT_EQ(n.attr_int("absent", 5), 5);
}

TEST(Passes, DeadCodeEliminationRemovesUnusedNodesAndWeights) {
  onnx::Model m = test::small_cnn();
  m.graph.initializers["unused.w"] = test::random_f32({3}, 5);
  m.graph.nodes.push_back(Node{"dead", "Relu", "", {"c"}, {"dead_out"}, {}, ""});
  onnx::PassManager pm;
  pm.add(onnx::make_dead_code_elimination());
  auto changed = pm.run(m);
  ASSERT_FALSE(changed.empty());
  EXPECT_EQ(m.graph.nodes.size(), 4u);
  EXPECT_FALSE(m.graph.is_initializer("unused.w"));
  EXPECT_TRUE(m.graph.is_initializer("fc.w"));
  EXPECT_TRUE(pm.run(m).empty());  // a second run has nothing left to do
}

// torch.onnx.export's flatten: Shape(x) -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape.
onnx::Model reshape_chain_model() {
  onnx::Model m;
  m.opset_imports[""] = 13;
  m.graph.inputs.push_back(test::tensor_value("x", DType::kF32, {2, 3, 4}));
  m.graph.outputs.push_back(test::tensor_value("y", DType::kF32, {2, 12}));
  std::vector<int64_t> zero = {0}, minus1 = {-1};
  m.graph.initializers["idx"] = Tensor::from_i64({}, {zero.data(), 1});
  m.graph.initializers["axes"] = Tensor::from_i64({1}, zero);
  m.graph.initializers["m1"] = Tensor::from_i64({1}, minus1);
  m.graph.nodes = {
      Node{"shape", "Shape", "", {"x"}, {"s"}, {}, ""},
      Node{"gather", "Gather", "", {"s", "idx"}, {"g"}, {Attribute::make_int("axis", 0)}, ""},
      Node{"unsq", "Unsqueeze", "", {"g", "axes"}, {"u"}, {}, ""},
      Node{"concat", "Concat", "", {"u", "m1"}, {"target"}, {Attribute::make_int("axis", 0)}, ""},
      Node{"reshape", "Reshape", "", {"x", "target"}, {"y"}, {}, ""},
  };
  return m;
}

TEST(Passes, ConstantFoldingCollapsesShapeArithmetic) {
  onnx::Model m = reshape_chain_model();
  onnx::infer_shapes(m);
  onnx::PassManager pm;
  pm.add(onnx::make_constant_folding()).add(onnx::make_dead_code_elimination());
  pm.run(m);
  ASSERT_EQ(m.graph.nodes.size(), 1u);
  EXPECT_EQ(m.graph.nodes[0].op_type, "Reshape");
  const Tensor& target = m.graph.initializers.at("target");
  ASSERT_EQ(target.numel(), 2);
  EXPECT_EQ(target.data<int64_t>()[0], 2);
  EXPECT_EQ(target.data<int64_t>()[1], -1);
  onnx::check_model(m);  // still valid ONNX
}

TEST(Passes, ConstantFoldingLeavesNodesWithRuntimeInputs) {
  onnx::Model m = test::small_cnn();
  onnx::PassManager pm;
  pm.add(onnx::make_constant_folding());
  EXPECT_TRUE(pm.run(m).empty());
  EXPECT_EQ(m.graph.nodes.size(), 4u);
}

TEST(Passes, ConstantNodeBecomesInitializerAndArithmeticFolds) {
  onnx::Model m;
  m.opset_imports[""] = 17;
  m.graph.inputs.push_back(test::tensor_value("x", DType::kF32, {3}));
  m.graph.outputs.push_back(test::tensor_value("y", DType::kF32, {3}));
  Node c{"c", "Constant", "", {}, {"k"}, {Attribute::make_floats("value_floats", {1.f, 2.f, 3.f})}, ""};
  Node mul{"mul", "Mul", "", {"k", "k"}, {"k2"}, {}, ""};
  Node add{"add", "Add", "", {"x", "k2"}, {"y"}, {}, ""};
  m.graph.nodes = {c, mul, add};
  onnx::PassManager pm;
  pm.add(onnx::make_constant_folding()).add(onnx::make_dead_code_elimination());
  pm.run(m);
  ASSERT_EQ(m.graph.nodes.size(), 1u);
  const Tensor& k2 = m.graph.initializers.at("k2");
  EXPECT_FLOAT_EQ(k2.data<float>()[2], 9.f);
  EXPECT_FALSE(m.graph.is_initializer("k"));
}

TEST(Summary, CountsParamsMacsAndOps) {
  onnx::Model m = test::small_cnn();
  onnx::infer_shapes(m);
  auto s = onnx::summarize(m, 1234);
  EXPECT_EQ(s.param_count, 4 * 9 + 4 + 10 * 256 + 10);
  EXPECT_EQ(s.param_bytes_by_dtype.at("float32"), s.param_count * 4);
  // Conv: 4x8x8 outputs x 9 MACs; Gemm: 10 outputs x 256.
  ASSERT_EQ(s.costs.size(), 2u);
  EXPECT_EQ(s.costs[0].macs, 4 * 8 * 8 * 9);
  EXPECT_EQ(s.costs[1].macs, 10 * 256);
  EXPECT_EQ(s.total_macs, 4 * 8 * 8 * 9 + 10 * 256);
  EXPECT_EQ(s.op_histogram.at("Conv"), 1);
  EXPECT_FALSE(s.quantized);
}

TEST(Summary, DetectsQdqAndIntegerOps) {
  onnx::Model m = test::small_cnn();
  m.graph.nodes.insert(m.graph.nodes.begin(), Node{"q", "QuantizeLinear", "", {"input", "s"}, {"iq"}, {}, ""});
  m.graph.nodes.push_back(Node{"mmi", "MatMulInteger", "", {"a", "b"}, {"o"}, {}, ""});
  auto s = onnx::summarize(m);
  EXPECT_TRUE(s.quantized);
  EXPECT_EQ(s.quant_formats, (std::vector<std::string>{"IntegerOps", "QDQ"}));
}

}  // namespace
}  // namespace edgeq
