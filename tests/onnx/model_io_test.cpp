// Load/save round trips, metadata, external data, atomic writes.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

#include "edgeq/onnx.h"
#include "onnx/model_fixtures.h"

namespace edgeq {
namespace {

namespace fs = std::filesystem;

TEST(ModelIo, SaveThenLoadKeepsGraphWeightsAndMetadata) {
  auto dir = test::temp_dir("roundtrip");
  onnx::Model m = test::small_cnn();
  std::string path = dir + "/m.onnx";
  onnx::save_model(m, path);
  onnx::Model r = onnx::load_model(path);
  ASSERT_EQ(r.graph.nodes.size(), 4u);
  EXPECT_EQ(r.graph.nodes[0].op_type, "Conv");
  EXPECT_EQ(r.graph.nodes[3].attr_int("transB", 0), 1);
  EXPECT_EQ(r.graph.nodes[0].attr_ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(r.opset(), 17);
  EXPECT_EQ(r.meta("labels").value_or(""), "a,b,c,d,e,f,g,h,i,j");
  EXPECT_EQ(r.meta("mean").value_or(""), "0.5");
  ASSERT_EQ(r.graph.initializers.size(), 4u);
  const Tensor& w = r.graph.initializers.at("fc.w");
  const Tensor& w0 = m.graph.initializers.at("fc.w");
  ASSERT_EQ(w.shape(), w0.shape());
  EXPECT_EQ(0, std::memcmp(w.raw(), w0.raw(), w.nbytes()));
  // Shape inference filled the intermediates and kept the symbolic batch.
  auto c = r.graph.find_value("c");
  ASSERT_TRUE(c && c->has_shape);
  EXPECT_EQ(c->shape, (Shape{-1, 4, 8, 8}));
  EXPECT_EQ(c->dim_params[0], "batch");
  ASSERT_EQ(r.graph.inputs.size(), 1u);  // initializers are not listed as inputs
  // Saving the loaded model again gives a file that loads to the same IR.
  onnx::save_model(r, dir + "/m2.onnx");
  onnx::Model r2 = onnx::load_model(dir + "/m2.onnx");
  EXPECT_EQ(r2.graph.nodes.size(), r.graph.nodes.size());
  EXPECT_EQ(r2.metadata, r.metadata);
  fs::remove_all(dir);
}

// What `edgeq inspect` loads (reader, ONNX checker, shape inference): an opset domain the model imports
// but no node uses is no reason to refuse it (issue 24).
TEST(ModelIo, AnUnusedUnknownDomainImportLoads) {
  auto dir = test::temp_dir("unused_domain");
  onnx::Model m = test::small_cnn();
  m.opset_imports["ai.onnx.training"] = 1;
  m.opset_imports["org.example.converter"] = 3;
  const std::string path = dir + "/m.onnx";
  onnx::save_model(m, path);
  const onnx::Model r = onnx::load_model(path);
  EXPECT_EQ(r.opset("ai.onnx.training"), 1);
  EXPECT_EQ(r.graph.nodes.size(), m.graph.nodes.size());
  fs::remove_all(dir);
}

TEST(ModelIo, SaveIsAtomicAndLeavesNoTempFiles) {
  auto dir = test::temp_dir("atomic");
  std::string path = dir + "/m.onnx";
  onnx::save_model(test::small_cnn(), path);
  auto before = read_file(path);
  // An invalid model (Gemm reads a value nobody makes) is refused before anything is written.
  onnx::Model bad = test::small_cnn();
  bad.graph.nodes[3].inputs[0] = "nowhere";
  EXPECT_THROW(onnx::save_model(bad, path), Error);
  EXPECT_EQ(read_file(path), before);
  // Writing into a missing directory fails cleanly.
  EXPECT_THROW(onnx::save_model(test::small_cnn(), dir + "/missing/m.onnx"), Error);
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) { (void)e; ++files; }
  EXPECT_EQ(files, 1);
  fs::remove_all(dir);
}

TEST(ModelIo, TensorProtoRoundTrip) {
  Tensor t = test::random_f32({2, 3}, 9);
  std::string name;
  Tensor r = onnx::parse_tensor_proto(onnx::serialize_tensor_proto(t, "x"), "x.pb", &name);
  EXPECT_EQ(name, "x");
  ASSERT_EQ(r.shape(), t.shape());
  EXPECT_EQ(0, std::memcmp(r.raw(), t.raw(), t.nbytes()));
  EXPECT_THROW(onnx::parse_tensor_proto("\xff\xff\xff", "bad.pb"), Error);
}

// Writes the small CNN with fc.w stored in an external file.
std::string write_external(const std::string& dir, const std::string& location, int64_t length_override = -1) {
  onnx::Model m = test::small_cnn();
  ::onnx::ModelProto p;
  p.ParseFromString(onnx::serialize_model(m));
  const Tensor& w = m.graph.initializers.at("fc.w");
  for (auto& init : *p.mutable_graph()->mutable_initializer()) {
    if (init.name() != "fc.w") continue;
    init.clear_raw_data();
    init.set_data_location(::onnx::TensorProto::EXTERNAL);
    auto* kv = init.add_external_data(); kv->set_key("location"); kv->set_value(location);
    kv = init.add_external_data(); kv->set_key("offset"); kv->set_value("16");
    kv = init.add_external_data(); kv->set_key("length");
    kv->set_value(std::to_string(length_override >= 0 ? length_override : static_cast<int64_t>(w.nbytes())));
  }
  std::ofstream(dir + "/weights.bin", std::ios::binary)
      << std::string(16, 'x') << std::string(static_cast<const char*>(w.raw()), w.nbytes());
  std::string path = dir + "/ext.onnx";
  std::ofstream(path, std::ios::binary) << p.SerializeAsString();
  return path;
}

TEST(ModelIo, ExternalDataNextToTheModelIsLoaded) {
  auto dir = test::temp_dir("external");
  onnx::Model r = onnx::load_model(write_external(dir, "weights.bin"));
  const Tensor& w = r.graph.initializers.at("fc.w");
  const onnx::Model original = test::small_cnn();
  const Tensor& w0 = original.graph.initializers.at("fc.w");
  EXPECT_EQ(0, std::memcmp(w.raw(), w0.raw(), w.nbytes()));
  fs::remove_all(dir);
}

TEST(ModelIo, ExternalDataOutsideTheModelDirectoryIsRefused) {
  auto dir = test::temp_dir("external_bad");
  auto expect_error = [&](const std::string& location, int64_t len, const std::string& needle) {
    try {
      onnx::load_model(write_external(dir, location, len));
      ADD_FAILURE() << "loaded external data at " << location;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("ext.onnx"), std::string::npos) << e.what();
    }
  };
  expect_error("../weights.bin", -1, "leaves the model's directory");
  expect_error("/etc/passwd", -1, "absolute");
  expect_error("nothere.bin", -1, "not found");
  expect_error("weights.bin", 12, "length 12");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace edgeq
