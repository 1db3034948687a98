// Hostile inputs to the reference operators (ops/generic.h and the files built on it): bad attributes,
// ranks, dtypes and run-time indices give one edgeq::Error naming the node, never a crash (the
// sanitizer build runs this too). Their numbers are checked by the ONNX node tests (conformance).
#include <gtest/gtest.h>

#include <array>
#include <climits>

#include "edgeq/runtime.h"
#include "graph_builder.h"

namespace {

using edgeq::DType;
using edgeq::Shape;
using edgeq::Tensor;
using edgeq::onnx::Attribute;
using edgeq::runtime::Session;
using edgeq::testing::GraphBuilder;

Tensor i64(Shape shape, std::vector<int64_t> v) { return Tensor::from_i64(std::move(shape), v); }
Tensor f32(Shape shape, std::vector<float> v) { return Tensor::from_f32(std::move(shape), v); }

// The session refuses the model (at creation, or at the run with `inputs` when given) with an error
// whose message names the node "n" and contains `needle`.
void expect_refused(const GraphBuilder& g, const std::string& needle, const std::vector<Tensor>& inputs = {}) {
  try {
    Session s(g.build());
    if (inputs.empty()) {
      ADD_FAILURE() << "expected an error mentioning '" << needle << "' at creation";
      return;
    }
    s.run(inputs);
    ADD_FAILURE() << "expected an error mentioning '" << needle << "' at run";
  } catch (const edgeq::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'n'"), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

GraphBuilder unary(const std::string& op, Shape shape, std::vector<Attribute> attrs, DType dt = DType::kF32) {
  GraphBuilder g;
  g.input("x", std::move(shape), dt).node(op, {"x"}, {"y"}, std::move(attrs), "n").output("y", dt);
  return g;
}

TEST(ReferenceOps, BadAttributesAreRefused) {
  expect_refused(unary("Trilu", {4}, {}), "rank >= 2");
  expect_refused(unary("DepthToSpace", {1, 3, 2, 2}, {Attribute::make_int("blocksize", 2)}), "blocksize");
  expect_refused(unary("DepthToSpace", {1, 4, 2, 2}, {Attribute::make_int("blocksize", 0)}), "blocksize");
  expect_refused(unary("SpaceToDepth", {1, 1, 3, 3}, {Attribute::make_int("blocksize", 2)}), "blocksize");
  expect_refused(unary("LRN", {1, 3, 2, 2}, {Attribute::make_int("size", 0)}), "size");
  expect_refused(unary("Celu", {3}, {Attribute::make_float("alpha", 0.f)}), "alpha");
  expect_refused(unary("ArgMax", {2, 3}, {Attribute::make_int("axis", -3)}), "axis");
  expect_refused(unary("Hardmax", {2, 3}, {Attribute::make_int("axis", 2)}), "axis");
  expect_refused(unary("EyeLike", {2, 2, 2}, {}), "2-D");
  expect_refused(unary("Det", {2, 3}, {}), "M, M");
  expect_refused(unary("Not", {3}, {}), "dtype");
  expect_refused(unary("Erf", {3}, {}, DType::kI32), "dtype");
}

TEST(ReferenceOps, BadBinaryOperandsAreRefused) {
  GraphBuilder ln;
  ln.input("x", {2, 3}).init("s", f32({3}, {1, 1, 1}));
  ln.node("LayerNormalization", {"x", "s"}, {"y"}, {Attribute::make_int("axis", 5)}, "n").output("y");
  expect_refused(ln, "axis");
  GraphBuilder ln_scale;
  ln_scale.input("x", {2, 3}).init("s", f32({2}, {1, 1}));
  ln_scale.node("LayerNormalization", {"x", "s"}, {"y"}, {}, "n").output("y");
  expect_refused(ln_scale, "broadcast");
  GraphBuilder mod;
  mod.input("a", {3}).input("b", {3}).node("Mod", {"a", "b"}, {"y"}, {}, "n").output("y");
  expect_refused(mod, "fmod");
  GraphBuilder shift;
  shift.input("a", {3}, DType::kU8).input("b", {3}, DType::kU8);
  shift.node("BitShift", {"a", "b"}, {"y"}, {Attribute::make_string("direction", "UP")}, "n").output("y", DType::kU8);
  expect_refused(shift, "direction");
  GraphBuilder pow;
  pow.input("a", {3}).input("b", {3}, DType::kBool).node("Pow", {"a", "b"}, {"y"}, {}, "n").output("y");
  expect_refused(pow, "Pow of float32 by bool");
  GraphBuilder where;
  where.input("c", {3}, DType::kBool).input("a", {3}).input("b", {3}, DType::kI64);
  where.node("Where", {"c", "a", "b"}, {"y"}, {}, "n").output("y");
  expect_refused(where, "dtypes");
  GraphBuilder eq;
  eq.input("a", {3}).input("b", {4}).node("Equal", {"a", "b"}, {"y"}, {}, "n").output("y", DType::kBool);
  expect_refused(eq, "broadcast");
}

TEST(ReferenceOps, SizesFromValuesAreBounded) {
  GraphBuilder tile;
  tile.input("x", {2, 2}).init("r", i64({2}, {1 << 20, 1 << 20})).node("Tile", {"x", "r"}, {"y"}, {}, "n").output("y");
  expect_refused(tile, "too large");
  GraphBuilder tile_rank;
  tile_rank.input("x", {2, 2}).init("r", i64({1}, {2})).node("Tile", {"x", "r"}, {"y"}, {}, "n").output("y");
  expect_refused(tile_rank, "one value per input dim");
  GraphBuilder range;
  range.init("s", i64({}, {0})).init("l", i64({}, {INT64_MAX})).init("d", i64({}, {1}));
  range.node("Range", {"s", "l", "d"}, {"y"}, {}, "n").output("y", DType::kI64);
  expect_refused(range, "2^27");
  GraphBuilder zero_step;
  zero_step.init("s", f32({}, {0.f})).init("l", f32({}, {4.f})).init("d", f32({}, {0.f}));
  zero_step.node("Range", {"s", "l", "d"}, {"y"}, {}, "n").output("y");
  expect_refused(zero_step, "delta");
  GraphBuilder hot;
  hot.input("i", {3}, DType::kI64).init("depth", f32({}, {-2.f})).init("v", f32({2}, {0.f, 1.f}));
  hot.node("OneHot", {"i", "depth", "v"}, {"y"}, {}, "n").output("y");
  expect_refused(hot, "depth");
}

TEST(ReferenceOps, IndicesOutOfRangeFailTheRun) {
  GraphBuilder ge;
  ge.input("x", {2, 2}).input("i", {2, 2}, DType::kI64);
  ge.node("GatherElements", {"x", "i"}, {"y"}, {Attribute::make_int("axis", 1)}, "n").output("y");
  expect_refused(ge, "out of range", {f32({2, 2}, {1, 2, 3, 4}), i64({2, 2}, {0, 1, 2, -3})});
  GraphBuilder nd;
  nd.input("x", {2, 2}).input("i", {1, 2}, DType::kI64).node("GatherND", {"x", "i"}, {"y"}, {}, "n").output("y");
  expect_refused(nd, "out of range", {f32({2, 2}, {1, 2, 3, 4}), i64({1, 2}, {0, 7})});
  GraphBuilder sc;
  sc.input("x", {1, 4}).input("i", {1, 1}, DType::kI64).input("u", {1, 1});
  sc.node("ScatterElements", {"x", "i", "u"}, {"y"}, {Attribute::make_int("axis", 1)}, "n").output("y");
  expect_refused(sc, "out of range", {f32({1, 4}, {1, 2, 3, 4}), i64({1, 1}, {INT64_MIN}), f32({1, 1}, {5})});
  GraphBuilder rs;
  rs.input("x", {2, 2}).input("l", {2}, DType::kI64);
  rs.node("ReverseSequence", {"x", "l"}, {"y"}, {Attribute::make_int("batch_axis", 0), Attribute::make_int("time_axis", 1)}, "n");
  rs.output("y");
  expect_refused(rs, "sequence length", {f32({2, 2}, {1, 2, 3, 4}), i64({2}, {1, 3})});
}

TEST(ReferenceOps, BadLayerShapesAreRefused) {
  GraphBuilder ct;
  ct.input("x", {1, 2, 3, 3}).random_init("w", {2, 1, 3, 3});
  ct.node("ConvTranspose", {"x", "w"}, {"y"}, {Attribute::make_ints("strides", {0, 1})}, "n").output("y");
  expect_refused(ct, "strides");
  GraphBuilder ct_group;
  ct_group.input("x", {1, 2, 3, 3}).random_init("w", {2, 1, 3, 3});
  ct_group.node("ConvTranspose", {"x", "w"}, {"y"}, {Attribute::make_int("group", 0)}, "n").output("y");
  expect_refused(ct_group, "group");
  GraphBuilder lstm;
  lstm.input("x", {1, 1, 2}).random_init("w", {1, 8, 2}).random_init("r", {1, 8, 2});
  lstm.node("LSTM", {"x", "w", "r"}, {"y"}, {Attribute::make_int("hidden_size", 3)}, "n").output("y");
  expect_refused(lstm, "W must be");
  GraphBuilder act;
  act.input("x", {1, 1, 2}).random_init("w", {1, 2, 2}).random_init("r", {1, 2, 2});
  Attribute names;
  names.name = "activations";
  names.kind = Attribute::Kind::kStrings;
  names.strings = {"Bogus"};
  act.node("RNN", {"x", "w", "r"}, {"y"}, {Attribute::make_int("hidden_size", 2), names}, "n").output("y");
  expect_refused(act, "activation 'Bogus'");
  GraphBuilder top;
  top.input("x", {2, 3}).init("k", i64({1}, {4})).node("TopK", {"x", "k"}, {"v", "i"}, {}, "n").output("v").output("i", DType::kI64);
  expect_refused(top, "outside [0, 3]");
}

// Every operator of the table on inputs of the dtypes models rarely feed it (bool, int64, uint8, float16,
// float64) and one to three of them: the session refuses with an edgeq::Error, or it builds and its run
// on zeros ends in a result or an edgeq::Error. Nothing else (the sanitizer build checks the rest).
TEST(ReferenceOps, EveryOperatorOnOddDtypesErrsOrRuns) {
  int built = 0;
  for (const auto& op : edgeq::runtime::supported_ops())
    for (DType dt : {DType::kBool, DType::kI64, DType::kU8, DType::kF16, DType::kF64})
      for (size_t n = 1; n <= 3; ++n) {
        GraphBuilder g;
        std::vector<std::string> names;
        std::vector<Tensor> zeros;
        for (size_t i = 0; i < n; ++i) {
          names.emplace_back(std::array<const char*, 3>{"x0", "x1", "x2"}[i]);
          g.input(names.back(), {2, 3}, dt);
          zeros.emplace_back(dt, Shape{2, 3});
        }
        g.node(op, names, {"y"}, {}, "n").output("y", dt);
        try {
          Session s(g.build());
          ++built;
          s.run(zeros);
        } catch (const edgeq::Error&) {
        } catch (const std::exception& e) {
          ADD_FAILURE() << op << " on " << n << " " << edgeq::dtype_name(dt) << " inputs: not an edgeq::Error: " << e.what();
        }
      }
  EXPECT_GT(built, 0);
}

// Integer running sums wrap (two's complement) instead of overflowing: defined behaviour under UBSan.
TEST(ReferenceOps, IntegerCumSumWraps) {
  GraphBuilder g;
  g.input("x", {2}, DType::kI32).init("axis", i64({}, {0})).node("CumSum", {"x", "axis"}, {"y"}, {}, "n").output("y", DType::kI32);
  Session s(g.build());
  Tensor x(DType::kI32, {2});
  x.data<int32_t>()[0] = INT32_MAX;
  x.data<int32_t>()[1] = 1;
  const Tensor y = s.run({x})[0];
  EXPECT_EQ(y.data<int32_t>()[1], INT32_MIN);
}

}  // namespace
