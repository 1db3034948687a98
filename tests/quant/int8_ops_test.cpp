// The int8 operator table (src/runtime/int8_ops.inc) keeps the quantizer's writer and the runtime's QDQ
// fusion in agreement: for every listed operator, a small model around it is quantized by `quantize`
// (static) and compiled by the runtime; an integer op must leave no float node of its type, a moving op
// must read codes (no DequantizeLinear before it), an activation must be folded away, and the int8 model
// must stay close to the float one. A table entry without a model here fails the test. Then
// QLinearAdd / QLinearGlobalAveragePool against onnxruntime-node on the same QDQ file: the same bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "edgeq/onnx.h"
#include "edgeq/quant.h"
#include "edgeq/runtime.h"
#include "quant/fixtures.h"
#include "run_command.h"
#include "runtime/int8_ops.h"

namespace edgeq::quant {
namespace {

using namespace test_fixtures;
using runtime::Int8OpKind;

onnx::Node node(std::string name, std::string op, std::vector<std::string> in, std::string out) {
  return {std::move(name), std::move(op), "", std::move(in), {std::move(out)}, {}, ""};
}

onnx::Node conv(std::string name, std::string in, std::string w, std::string out, int64_t k) {
  onnx::Node n = node(std::move(name), "Conv", {std::move(in), std::move(w)}, std::move(out));
  n.set_attr(onnx::Attribute::make_ints("kernel_shape", {k, k}));
  const int64_t p = k / 2;
  n.set_attr(onnx::Attribute::make_ints("pads", {p, p, p, p}));
  return n;
}

// input [N, 1, 28, 28] -> Conv 8 -> Relu -> (the op under test) -> ... -> logits [N, 10].
std::optional<onnx::Model> model_around(const std::string& op) {
  onnx::Model m;
  m.opset_imports[""] = 17;
  m.graph.name = "int8_" + op;
  m.graph.inputs.push_back(value("input", {-1, 1, 28, 28}));
  m.graph.outputs.push_back(value("logits", {-1, 10}));
  auto& init = m.graph.initializers;
  init["stem.w"] = he_normal({8, 1, 3, 3}, 9, 1);
  init["mid.w"] = he_normal({8, 8, 3, 3}, 72, 2);
  auto& nodes = m.graph.nodes;
  nodes = {conv("stem", "input", "stem.w", "s", 3), node("stem_relu", "Relu", {"s"}, "r")};
  // Flatten [N, C, H, W] -> Gemm to 10 logits.
  auto head = [&](const std::string& x, int64_t features) {
    init["fc.w"] = he_normal({10, features}, features, 3);
    nodes.push_back(node("head_flatten", "Flatten", {x}, "flat"));
    onnx::Node g = node("fc", "Gemm", {"flat", "fc.w"}, "logits");
    g.set_attr(onnx::Attribute::make_int("transB", 1));
    nodes.push_back(g);
  };
  auto i64 = [&](const std::string& name, std::vector<int64_t> v) {
    Tensor t(DType::kI64, Shape{static_cast<int64_t>(v.size())});
    std::memcpy(t.raw(), v.data(), v.size() * sizeof(int64_t));
    init[name] = std::move(t);
  };
  if (op == "Conv" || op == "Gemm" || op == "Relu" || op == "Flatten") {
    head("r", 8 * 28 * 28);
  } else if (op == "Add") {  // a residual block
    nodes.push_back(conv("mid", "r", "mid.w", "m", 3));
    nodes.push_back(node("residual", "Add", {"r", "m"}, "sum"));
    nodes.push_back(node("sum_relu", "Relu", {"sum"}, "y"));
    head("y", 8 * 28 * 28);
  } else if (op == "GlobalAveragePool") {
    nodes.push_back(node("gap", "GlobalAveragePool", {"r"}, "y"));
    head("y", 8);
  } else if (op == "MaxPool") {
    onnx::Node p = node("pool", "MaxPool", {"r"}, "p");
    p.set_attr(onnx::Attribute::make_ints("kernel_shape", {2, 2}));
    p.set_attr(onnx::Attribute::make_ints("strides", {2, 2}));
    nodes.push_back(p);
    nodes.push_back(conv("mid", "p", "mid.w", "y", 3));
    head("y", 8 * 14 * 14);
  } else if (op == "Reshape") {
    i64("shape", {0, 8, 784});
    nodes.push_back(node("reshape", "Reshape", {"r", "shape"}, "y"));
    head("y", 8 * 28 * 28);
  } else if (op == "Transpose" || op == "Identity") {
    onnx::Node t = node("moved", op, {"r"}, "t");
    if (op == "Transpose") t.set_attr(onnx::Attribute::make_ints("perm", {0, 1, 3, 2}));
    nodes.push_back(t);
    nodes.push_back(conv("mid", "t", "mid.w", "y", 3));
    head("y", 8 * 28 * 28);
  } else if (op == "Squeeze" || op == "Unsqueeze") {
    // Unsqueeze a new axis, then Squeeze it back.
    i64("axes", {2});
    nodes.push_back(node("unsqueeze", "Unsqueeze", {"r", "axes"}, "u"));
    nodes.push_back(node("squeeze", "Squeeze", {"u", "axes"}, "q"));
    nodes.push_back(conv("mid", "q", "mid.w", "y", 3));
    head("y", 8 * 28 * 28);
  } else {
    return std::nullopt;
  }
  return m;
}

// Producer op of each value in a model.
std::map<std::string, std::string> producers(const onnx::Model& m) {
  std::map<std::string, std::string> p;
  for (const auto& n : m.graph.nodes)
    for (const auto& o : n.outputs) p[o] = n.op_type;
  return p;
}

TEST(Int8Ops, EveryListedOperatorIsWrittenAndRunsOnIntegers) {
  const Batches calib = make_batches(2, 16, kSeed);
  const Batches holdout = make_batches(1, 16, kSeed + 1);
  std::vector<std::string> ops;
  for (Int8OpKind kind : {Int8OpKind::kInteger, Int8OpKind::kMove, Int8OpKind::kActivation})
    for (const auto& op : runtime::int8_ops_of(kind)) ops.push_back(op);
  ASSERT_GE(ops.size(), 10u);
  for (const auto& op : ops) {
    SCOPED_TRACE(op);
    const auto fp32 = model_around(op);
    ASSERT_TRUE(fp32.has_value()) << op << " is in int8_ops.inc but this test has no model around it";
    const QuantizeResult q = quantize(*fp32, {}, calib);
    // Every node was quantized or folded: the writer left nothing in fp32.
    for (const auto& w : q.report.warnings) ADD_FAILURE() << "writer warning: " << w;
    runtime::Session session(q.model);
    const onnx::Model& opt = session.optimized_model();
    const auto made_by = producers(opt);
    std::string graph;
    for (const auto& n : opt.graph.nodes) graph += "  " + n.op_type + (n.domain.empty() ? "" : " (" + n.domain + ")") + "\n";
    const Int8OpKind kind = runtime::int8_op_kind(op);
    int present = 0;
    for (const auto& n : opt.graph.nodes) {
      // The node writing the logits keeps a float output (quantize_outputs is off), so no Q to fuse with.
      if (n.op_type != op || !n.domain.empty() || opt.graph.is_output(n.outputs[0])) continue;
      ++present;
      if (kind == Int8OpKind::kMove) {
        const auto it = made_by.find(n.inputs[0]);
        EXPECT_TRUE(it == made_by.end() || it->second != "DequantizeLinear") << op << " runs on float values:\n" << graph;
      }
    }
    if (kind != Int8OpKind::kMove) {
      EXPECT_EQ(present, 0) << "a float " << op << " is left:\n" << graph;
    }
    // No float convolution either: the op did not cut the int8 chain.
    for (const auto& n : opt.graph.nodes) {
      EXPECT_NE(n.op_type, "Conv") << graph;
    }
    // Close to the float model.
    runtime::Session float_session(*fp32);
    LogitAgreement ag;
    for (const auto& batch : holdout) ag.add(float_session.run(batch)[0], session.run(batch)[0]);
    EXPECT_GT(ag.sqnr_db(), 20.0) << op;
  }
}

// A DequantizeLinear -> Add -> QuantizeLinear and a DequantizeLinear -> GlobalAveragePool ->
// QuantizeLinear group on uint8 codes of one input, scales and zero points chosen so that both sums
// have to be rounded: the fused integer nodes and onnxruntime-node (default optimizations: its own
// QLinearAdd / QLinearGlobalAveragePool) give the same bytes.
TEST(Int8Ops, QLinearAddAndGlobalAveragePoolMatchOnnxRuntime) {
  const std::string peers = std::string(EDGEQ_SOURCE_DIR) + "/tools/peers";
  if (test::run_command("node --version >/dev/null 2>&1").exit_code != 0 || !std::filesystem::exists(peers + "/node_modules/onnxruntime-node"))
    GTEST_SKIP() << "node or tools/peers/node_modules/onnxruntime-node absent";
  onnx::Model m;
  m.opset_imports[""] = 17;
  m.graph.name = "qlinear_pointwise";
  m.graph.inputs.push_back(value("x", {2, 16, 7, 7}));
  m.graph.outputs.push_back(value("sum", {2, 16, 7, 7}));
  m.graph.outputs.push_back(value("pooled", {2, 16, 1, 1}));
  auto& init = m.graph.initializers;
  auto scalar = [&](const std::string& name, float s, uint8_t z) {
    Tensor ts(DType::kF32, Shape{});
    ts.data<float>()[0] = s;
    Tensor tz(DType::kU8, Shape{});
    tz.data<uint8_t>()[0] = z;
    init[name + ".s"] = std::move(ts);
    init[name + ".z"] = std::move(tz);
  };
  scalar("a", 0.0193f, 117);
  scalar("b", 0.0311f, 64);
  scalar("y", 0.0427f, 101);
  scalar("p", 0.0071f, 130);
  auto qnode = [&](const std::string& op, const std::string& in, const std::string& q, const std::string& out) {
    return node(op + "_" + out, op, {in, q + ".s", q + ".z"}, out);
  };
  m.graph.nodes = {
      qnode("QuantizeLinear", "x", "a", "qa"),  qnode("QuantizeLinear", "x", "b", "qb"),
      qnode("DequantizeLinear", "qa", "a", "da"), qnode("DequantizeLinear", "qb", "b", "db"),
      node("add", "Add", {"da", "db"}, "s"),     qnode("QuantizeLinear", "s", "y", "qs"),
      qnode("DequantizeLinear", "qs", "y", "sum"), node("gap", "GlobalAveragePool", {"sum"}, "g"),
      qnode("QuantizeLinear", "g", "p", "qg"),  qnode("DequantizeLinear", "qg", "p", "pooled"),
  };
  runtime::Session session(m);
  int fused = 0;
  for (const auto& n : session.optimized_model().graph.nodes) fused += n.op_type == "QLinearAdd" || n.op_type == "QLinearGlobalAveragePool";
  EXPECT_EQ(fused, 2);
  const Tensor x = uniform({2, 16, 7, 7}, -2.f, 2.f, 77);
  const auto ours = session.run(std::vector<Tensor>{x});
  const auto dir = std::filesystem::temp_directory_path() / ("edgeq_int8_ops_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string model_path = (dir / "model.onnx").string();
  onnx::save_model(m, model_path);
  write_file_atomic((dir / "x.pb").string(), onnx::serialize_tensor_proto(x, "x"));
  const auto res = test::run_command("node " + peers + "/ort_run.mjs " + model_path + " --input x=" + (dir / "x.pb").string() +
                                     " --out-dir " + (dir / "out").string() + " 2>&1");
  ASSERT_EQ(res.exit_code, 0) << res.output;
  const char* names[] = {"sum", "pooled"};
  for (size_t k = 0; k < 2; ++k) {
    std::ifstream f(dir / "out" / (std::string(names[k]) + ".raw"), std::ios::binary);
    const std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    ASSERT_EQ(raw.size(), ours[k].nbytes()) << names[k];
    const float* ort = reinterpret_cast<const float*>(raw.data());
    int64_t differ = 0;
    for (int64_t i = 0; i < ours[k].numel(); ++i) differ += ort[i] != ours[k].data<float>()[i];
    EXPECT_EQ(differ, 0) << names[k] << ": values differing from onnxruntime";
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edgeq::quant
