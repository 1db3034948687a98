// upgrade_opset: every rewrite gives the old model's results. Each case is a small model at an old
// opset around one operator whose form changed before 13; the runtime (which implements the old
// versions too) runs the original and the upgraded file on the same random input, and the outputs
// must be the same bytes. The upgraded file must pass the ONNX checker at opset 13 and hold no old
// form. Two controls show the comparison has teeth: the naive upgrade (only the opset number bumped)
// of the Softmax and Upsample cases gives other numbers.
#include <gtest/gtest.h>

#include <cstring>

#include "edgeq/onnx.h"
#include "edgeq/runtime.h"
#include "runtime/graph_builder.h"

namespace edgeq::onnx {
namespace {

using testing::GraphBuilder;
using A = Attribute;

std::vector<Tensor> run(const Model& m) {
  runtime::Session s(m);
  std::vector<Tensor> inputs;
  uint32_t seed = 11;
  for (const auto& in : s.inputs()) inputs.push_back(testing::random_tensor(in.shape, seed++, 2.f));
  return s.run(inputs);
}

bool same_bytes(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].dtype() != b[i].dtype() || a[i].shape() != b[i].shape() || std::memcmp(a[i].raw(), b[i].raw(), a[i].nbytes()) != 0)
      return false;
  return true;
}

Tensor f32(std::vector<float> v) { return Tensor::from_f32(Shape{static_cast<int64_t>(v.size())}, v); }

struct Case {
  std::string name;
  Model model;
  std::string gone_op;    // an op type that must not remain ("" = none)
  std::string gone_attr;  // an attribute no node may keep ("" = none)
};

std::vector<Case> cases() {
  std::vector<Case> c;
  auto add = [&](std::string name, GraphBuilder& b, std::string gone_op = "", std::string gone_attr = "") {
    c.push_back({std::move(name), b.build(), std::move(gone_op), std::move(gone_attr)});
  };
  {
    GraphBuilder b(7);
    b.input("x", {1, 2, 3, 3}).output("y").node("Upsample", {"x"}, {"y"}, {A::make_floats("scales", {1, 1, 2, 3})});
    add("upsample7_nearest", b, "Upsample", "scales");
  }
  {
    GraphBuilder b(7);
    b.input("x", {1, 2, 3, 4}).output("y").node("Upsample", {"x"}, {"y"}, {A::make_floats("scales", {1, 1, 2, 2}), A::make_string("mode", "linear")});
    add("upsample7_linear", b, "Upsample", "scales");
  }
  {
    GraphBuilder b(9);
    b.input("x", {1, 2, 3, 3}).output("y").init("s", f32({1, 1, 3, 2})).node("Upsample", {"x", "s"}, {"y"});
    add("upsample9", b, "Upsample");
  }
  {
    GraphBuilder b(9);
    b.input("x", {1, 2, 3, 3}).output("y").init("s", f32({1, 1, 2, 2})).node("Upsample", {"x", "s"}, {"y"}, {A::make_string("mode", "linear")});
    add("upsample9_linear", b, "Upsample");
  }
  for (const auto& [mode, scales] : {std::pair<std::string, std::vector<float>>{"nearest", {1, 1, 2, 2}},
                                     {"nearest", {1, 1, 0.6f, 0.5f}},
                                     {"linear", {1, 1, 1.5f, 2}}}) {
    GraphBuilder b(10);
    b.input("x", {1, 2, 5, 4}).output("y").init("s", f32(scales)).node("Resize", {"x", "s"}, {"y"}, {A::make_string("mode", mode)});
    add("resize10_" + mode + "_" + std::to_string(scales[2]), b);
  }
  {
    GraphBuilder b(9);
    b.input("x", {2, 8}).output("y").output("z")
        .node("Clip", {"x"}, {"y"}, {A::make_float("min", 0.f), A::make_float("max", 0.75f)})
        .node("Clip", {"x"}, {"z"}, {A::make_float("max", 0.25f)});
    add("clip9", b, "", "min");
  }
  {
    GraphBuilder b(9);
    b.input("x", {1, 2, 3, 3}).output("y").output("z")
        .node("Pad", {"x"}, {"y"}, {A::make_ints("pads", {0, 0, 1, 2, 0, 1, 0, 1}), A::make_float("value", 1.5f)})
        .node("Pad", {"x"}, {"z"}, {A::make_ints("pads", {0, 0, 1, 1, 0, 0, 2, 1}), A::make_string("mode", "reflect")});
    add("pad9", b, "", "pads");
  }
  {
    GraphBuilder b(9);
    b.input("x", {3, 6, 5}).output("y")
        .node("Slice", {"x"}, {"y"}, {A::make_ints("starts", {1, -4}), A::make_ints("ends", {100, -1}), A::make_ints("axes", {0, 2})});
    add("slice9", b, "", "starts");
  }
  {
    GraphBuilder b(9);
    b.input("x", {3, 7}).output("v").output("i", DType::kI64).node("TopK", {"x"}, {"v", "i"}, {A::make_int("k", 3)});
    add("topk9", b, "", "k");
  }
  {
    GraphBuilder b(11);
    b.input("x", {2, 1, 3, 1}).output("y").output("z")
        .node("Squeeze", {"x"}, {"s"}, {A::make_ints("axes", {1, -1})})
        .node("Unsqueeze", {"s"}, {"y"}, {A::make_ints("axes", {0, 3})})
        .node("ReduceSum", {"x"}, {"z"}, {A::make_ints("axes", {2}), A::make_int("keepdims", 0)});
    add("squeeze_unsqueeze_reducesum11", b, "", "axes");
  }
  {
    GraphBuilder b(11);
    b.input("x", {2, 7}).output("a").output("c").node("Split", {"x"}, {"a", "c"}, {A::make_int("axis", 1), A::make_ints("split", {2, 5})});
    add("split11", b, "", "split");
  }
  {
    GraphBuilder b(11);
    b.input("x", {2, 3, 2, 2}).output("y").output("z").output("h")
        .node("Softmax", {"x"}, {"y"}, {A::make_int("axis", 1)})
        .node("LogSoftmax", {"x"}, {"z"})  // default axis 1: coerced too
        .node("Hardmax", {"x"}, {"h"}, {A::make_int("axis", 2)});
    add("softmax11_coerced", b);
  }
  {
    GraphBuilder b(11);
    b.input("x", {2, 5}).output("y").node("Softmax", {"x"}, {"y"});
    add("softmax11_last_axis", b);
  }
  {
    GraphBuilder b(7);
    b.input("x", {2, 3, 4, 4}).output("y")
        .random_init("scale", {3}).random_init("bias", {3}).random_init("mean", {3})
        .init("var", f32({0.5f, 1.f, 2.f}))
        .node("BatchNormalization", {"x", "scale", "bias", "mean", "var"}, {"y"}, {A::make_int("spatial", 1)});
    add("batchnorm7", b, "", "spatial");
  }
  {
    GraphBuilder b(9);
    b.input("x", {2, 6}).output("y").node("Dropout", {"x"}, {"d"}, {A::make_float("ratio", 0.3f)}).node("Relu", {"d"}, {"y"});
    add("dropout9", b, "", "ratio");
  }
  {
    GraphBuilder b(9);
    b.input("x", {3, 3}).output("y").init("idx", Tensor::from_i64(Shape{1, 2}, std::vector<int64_t>{2, 0}))
        .init("upd", Tensor::from_f32(Shape{1, 2}, std::vector<float>{5.f, 7.f}))
        .node("Scatter", {"x", "idx", "upd"}, {"y"}, {A::make_int("axis", 1)});
    add("scatter9", b, "Scatter");
  }
  return c;
}

TEST(OpsetUpgrade, EveryRewriteKeepsTheResults) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    Model up = c.model;
    std::vector<std::string> notes;
    ASSERT_NO_THROW(notes = upgrade_opset(up));
    EXPECT_EQ(up.opset(""), 13);
    EXPECT_FALSE(notes.empty());
    for (const auto& n : up.graph.nodes) {
      EXPECT_NE(n.op_type, c.gone_op);
      if (!c.gone_attr.empty()) {
        EXPECT_EQ(n.find_attr(c.gone_attr), nullptr) << n.label();
      }
    }
    std::vector<Tensor> before, after;
    ASSERT_NO_THROW(before = run(c.model));
    ASSERT_NO_THROW(after = run(up));
    // The builder leaves the output shapes out and the checker wants them: the ones the run gave.
    for (size_t o = 0; o < up.graph.outputs.size(); ++o) {
      up.graph.outputs[o].has_shape = true;
      up.graph.outputs[o].shape = before[o].shape();
      up.graph.outputs[o].dim_params.assign(before[o].shape().size(), "");
    }
    EXPECT_NO_THROW(check_model(up));
    EXPECT_TRUE(same_bytes(before, after));
  }
}

// Bumping the opset alone changes these models' numbers: the comparison above would see a wrong rewrite.
TEST(OpsetUpgrade, NaiveBumpWouldBeCaught) {
  for (const auto& c : cases()) {
    if (c.name != "softmax11_coerced" && c.name != "upsample9_linear") continue;
    SCOPED_TRACE(c.name);
    Model naive = c.model;
    naive.opset_imports[""] = 13;
    if (c.name == "upsample9_linear") {  // what onnx 1.12's converter writes: Resize with the default coordinates
      auto& n = naive.graph.nodes[0];
      n.op_type = "Resize";
      n.inputs = {n.inputs[0], "", n.inputs[1]};
    }
    EXPECT_FALSE(same_bytes(run(c.model), run(naive)));
  }
}

TEST(OpsetUpgrade, RefusesWhatItCannotCarryOver) {
  const std::pair<std::string, std::string> expect[] = {
      {"ImageScaler", "does not know how ImageScaler changed"},
      {"softmax_unknown_rank", "rank is unknown"},
      {"upsample_dynamic_scales", "scales are not a float32 initializer"},
      {"if", "subgraph"}};
  for (const auto& [what, says] : expect) {
    SCOPED_TRACE(what);
    GraphBuilder b(9);
    if (what == "ImageScaler") {
      b.input("x", {1, 3, 2, 2}).output("y").node("ImageScaler", {"x"}, {"y"}, {A::make_float("scale", 2.f)});
    } else if (what == "softmax_unknown_rank") {
      b.input("x", {2, 3}).output("y").node("Relu", {"x"}, {"r"}).node("Softmax", {"r"}, {"y"});
    } else if (what == "upsample_dynamic_scales") {
      b.input("x", {1, 1, 2, 2}).input("s", {4}).output("y").node("Upsample", {"x", "s"}, {"y"});
    } else {
      b.input("x", {1}, DType::kBool).output("y");
      A branch = A::make_string("then_branch", "");
      branch.kind = A::Kind::kGraph;
      b.node("If", {"x"}, {"y"}, {branch});
    }
    Model m = b.build();
    m.graph.value_info.clear();  // the rank of "r" unknown, as in a file without shape inference
    const Model before = m;
    try {
      upgrade_opset(m);
      ADD_FAILURE() << "upgraded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("opset 9"), std::string::npos) << e.what();
    }
    EXPECT_EQ(m.opset(""), 9);
    EXPECT_EQ(m.graph.nodes.size(), before.graph.nodes.size());
  }
}

TEST(OpsetUpgrade, NewerModelsAreLeftAlone) {
  GraphBuilder b(13);
  b.input("x", {2, 3}).output("y").node("Softmax", {"x"}, {"y"}, {A::make_int("axis", 0)});
  Model m = b.build();
  EXPECT_TRUE(upgrade_opset(m).empty());
  EXPECT_EQ(m.opset(""), 13);
  EXPECT_EQ(m.graph.nodes[0].attr_int("axis", 1), 0);
}

}  // namespace
}  // namespace edgeq::onnx
