// What the Session checks now that the core reads models without the ONNX checker: a node's input and
// output counts against its operator (ops.inc) before any graph pass indexes them. Every operator of
// the table with every count from 0 to 9 inputs and 0 to 3 outputs gives a Session or an edgeq::Error,
// never a crash (this test also runs under ASan+UBSan).
#include <gtest/gtest.h>

#include "edgeq/runtime.h"
#include "runtime/graph_builder.h"

namespace edgeq {
namespace {

using testing::GraphBuilder;

onnx::Model model_with_node(const std::string& op, const std::string& domain, size_t n_inputs, size_t n_outputs) {
  GraphBuilder b;
  b.input("x", {1, 4, 6, 6});
  b.random_init("w", {4, 4, 3, 3});
  std::vector<std::string> inputs, outputs;
  for (size_t i = 0; i < n_inputs; ++i) inputs.push_back(i % 2 ? "w" : "x");
  for (size_t i = 0; i < n_outputs; ++i) outputs.push_back(std::string(1, 'y').append(std::to_string(i)));
  b.node(op, inputs, outputs);
  onnx::Model m = b.build();
  m.graph.nodes.back().domain = domain;
  if (!domain.empty()) m.opset_imports[domain] = 1;
  m.graph.outputs.push_back(onnx::ValueInfo{n_outputs ? "y0" : "x", DType::kF32, false, {}, {}, {}, {}});
  return m;
}

TEST(ModelChecks, EveryOperatorWithAnyInputCountGivesAnErrorOrASession) {
  std::vector<std::pair<std::string, std::string>> ops;
  for (const auto& op : runtime::supported_ops()) ops.emplace_back(op, "");
  ops.emplace_back("QGemm", "com.microsoft");
  ops.emplace_back("QLinearLookup", "edgeq");  // the runtime's own op, which a file can carry too
  int built = 0, refused = 0;
  for (const auto& [op, domain] : ops)
    for (size_t n_in = 0; n_in < 10; ++n_in)
      for (size_t n_out = 0; n_out < 4; ++n_out) {
        try {
          runtime::Session s(model_with_node(op, domain, n_in, n_out));
          ++built;
        } catch (const Error&) {
          ++refused;
        }
      }
  EXPECT_GT(refused, built);  // most counts are wrong for most operators
  EXPECT_GT(built, 0);
}

// edgeq QLinearLookup read from a file (the QDQ fusion makes it in memory, but a model may carry it): a
// table of another size, of another type, or computed at run time is one clear error, not a read past a
// 256-byte table.
TEST(ModelChecks, LookupTablesOtherThan256ConstantBytesAreRefused) {
  struct Case {
    const char* what;
    Tensor table;
    bool table_is_input;
    const char* message;
  };
  std::vector<Case> cases;
  cases.push_back({"255 values", Tensor(DType::kU8, {255}), false, "lookup table of 255 values (256)"});
  cases.push_back({"float table", Tensor(DType::kF32, {256}), false, "float"});
  cases.push_back({"graph input", Tensor(DType::kU8, {256}), true, "lookup table computed at run time"});
  for (auto& c : cases) {
    SCOPED_TRACE(c.what);
    GraphBuilder b;
    b.input("x", {1, 4, 6, 6}, DType::kU8);
    if (c.table_is_input) {
      b.input("t", {256}, DType::kU8);
    } else {
      b.init("t", c.table);
    }
    b.node("QLinearLookup", {"x", "t"}, {"y"}).output("y", DType::kU8);
    onnx::Model m = b.build();
    m.graph.nodes.back().domain = "edgeq";
    m.opset_imports["edgeq"] = 1;
    try {
      runtime::Session s(m);
      FAIL() << "accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    }
  }
}

TEST(ModelChecks, WrongCountsAreNamedWithTheOperatorsRange) {
  try {
    runtime::Session s(model_with_node("BatchNormalization", "", 1, 1));
    FAIL() << "a BatchNormalization with one input was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("1 inputs, the operator takes 5"), std::string::npos) << e.what();
  }
  try {
    runtime::Session s(model_with_node("Relu", "", 1, 0));
    FAIL() << "a Relu without outputs was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("0 outputs"), std::string::npos) << e.what();
  }
  try {
    runtime::Session s(model_with_node("Concat", "", 0, 1));
    FAIL() << "a Concat without inputs was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at least 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace edgeq
