// Writes the models the embedding tests (C, Python, installed tree, docs examples) run, with their
// inputs and the C++ Session's outputs as raw little-endian files, so every binding is compared with
// the C++ engine on the same bytes:
//   conv.onnx    input "input" f32 [1,1,8,8] -> Conv+Relu -> MaxPool -> Flatten -> Gemm -> "logits" [1,10]
//   mixed.onnx   inputs u8, i8, i64, f32 [2,3] -> "sum" f32 (all cast and added), "twice" i64 (c + c)
//   tiny.onnx    input "x" f32 [1,16] -> Relu -> "y": a run that costs almost nothing (per-call overhead)
//   heavy.onnx   input "x" f32 [128,512] -> 6 x (MatMul 512x512 + Relu) -> "y": a run long enough to see
//                other Python threads progress during it (the GIL test)
// plus NAME.<input>.bin and NAME.<output>.expected.bin.
// Usage: embed_make_models OUTDIR
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "edgeq/core.h"
#include "edgeq/onnx.h"
#include "edgeq/runtime.h"
#include "runtime/graph_builder.h"

namespace {

using edgeq::DType;
using edgeq::Tensor;
using edgeq::onnx::Attribute;
using edgeq::testing::GraphBuilder;

void write_tensor(const std::filesystem::path& path, const Tensor& t) {
  edgeq::write_file_atomic(path.string(), std::string_view(static_cast<const char*>(t.raw()), t.nbytes()));
}

// Saves the model, its inputs, and the C++ Session's outputs for those inputs.
void emit(const std::filesystem::path& dir, const std::string& name, edgeq::onnx::Model model, const std::vector<Tensor>& inputs) {
  const auto model_path = dir / (name + ".onnx");
  edgeq::onnx::infer_shapes(model);  // the builder leaves output shapes open; the checker wants them
  edgeq::onnx::save_model(model, model_path.string());
  const auto session = edgeq::runtime::load_session(model_path.string());
  for (size_t i = 0; i < inputs.size(); ++i) write_tensor(dir / (name + "." + session.inputs()[i].name + ".bin"), inputs[i]);
  const auto outputs = session.run(inputs);
  for (size_t i = 0; i < outputs.size(); ++i)
    write_tensor(dir / (name + "." + session.outputs()[i].name + ".expected.bin"), outputs[i]);
}

template <typename T>
Tensor filled(DType dtype, edgeq::Shape shape, std::vector<T> values) {
  Tensor t(dtype, std::move(shape));
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

void conv_model(const std::filesystem::path& dir) {
  GraphBuilder g;
  g.input("input", {1, 1, 8, 8})
      .random_init("w1", {4, 1, 3, 3})
      .random_init("b1", {4})
      .random_init("w2", {10, 64})
      .random_init("b2", {10})
      .node("Conv", {"input", "w1", "b1"}, {"c1"}, {Attribute::make_ints("pads", {1, 1, 1, 1})}, "conv1")
      .node("Relu", {"c1"}, {"r1"})
      .node("MaxPool", {"r1"}, {"p1"}, {Attribute::make_ints("kernel_shape", {2, 2}), Attribute::make_ints("strides", {2, 2})})
      .node("Flatten", {"p1"}, {"f1"})
      .node("Gemm", {"f1", "w2", "b2"}, {"logits"}, {Attribute::make_int("transB", 1)}, "fc")
      .output("logits");
  // Metadata as edgeq's own models carry it (labels, preprocessing): edgeq_session_metadata reads it back.
  edgeq::onnx::Model model = g.build();
  model.set_meta("labels", R"(["zero","one","two","three","four","five","six","seven","eight","nine"])");
  model.set_meta("channels", "1");
  emit(dir, "conv", std::move(model), {edgeq::testing::random_tensor({1, 1, 8, 8}, 11)});
}

void mixed_model(const std::filesystem::path& dir) {
  const Attribute to_f32 = Attribute::make_int("to", static_cast<int64_t>(DType::kF32));
  GraphBuilder g;
  g.input("a_u8", {2, 3}, DType::kU8)
      .input("b_i8", {2, 3}, DType::kI8)
      .input("c_i64", {2, 3}, DType::kI64)
      .input("d_f32", {2, 3})
      .node("Cast", {"a_u8"}, {"af"}, {to_f32})
      .node("Cast", {"b_i8"}, {"bf"}, {to_f32})
      .node("Cast", {"c_i64"}, {"cf"}, {to_f32})
      .node("Add", {"af", "bf"}, {"ab"})
      .node("Add", {"cf", "d_f32"}, {"cd"})
      .node("Add", {"ab", "cd"}, {"sum"})
      .node("Add", {"c_i64", "c_i64"}, {"twice"})
      .output("sum")
      .output("twice", DType::kI64);
  emit(dir, "mixed", g.build(),
       {filled<uint8_t>(DType::kU8, {2, 3}, {0, 1, 2, 128, 254, 255}), filled<int8_t>(DType::kI8, {2, 3}, {-128, -1, 0, 1, 64, 127}),
        filled<int64_t>(DType::kI64, {2, 3}, {-5, 0, 5, 1000000, -1000000, 42}),
        edgeq::Tensor::from_f32({2, 3}, std::vector<float>{0.5f, -0.25f, 1.f, 2.f, -3.f, 0.125f})});
}

void tiny_model(const std::filesystem::path& dir) {
  GraphBuilder g;
  g.input("x", {1, 16}).node("Relu", {"x"}, {"y"}).output("y");
  emit(dir, "tiny", g.build(), {edgeq::testing::random_tensor({1, 16}, 5)});
}

void heavy_model(const std::filesystem::path& dir) {
  GraphBuilder g;
  g.input("x", {128, 512}).random_init("w", {512, 512}, 0.06f);
  std::string prev = "x";
  for (int i = 0; i < 6; ++i) {
    // Appended, not "r" + to_string(i): GCC 12 warns falsely (-Wrestrict) on that concatenation.
    const std::string index = std::to_string(i);
    std::string mm = "mm", act = "r";
    mm += index;
    act += index;
    if (i == 5) act = "y";
    g.node("MatMul", {prev, "w"}, {mm}).node("Relu", {mm}, {act});
    prev = act;
  }
  g.output("y");
  emit(dir, "heavy", g.build(), {edgeq::testing::random_tensor({128, 512}, 9)});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: embed_make_models OUTDIR\n");
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    conv_model(dir);
    mixed_model(dir);
    tiny_model(dir);
    heavy_model(dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "embed_make_models: %s\n", e.what());
    return 1;
  }
  return 0;
}
