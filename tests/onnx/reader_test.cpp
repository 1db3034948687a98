// The core's ONNX reader (read_model, no protobuf): the same IR as the libonnx loader it replaced on
// every model of Debian's libonnx-testdata and on models edgeq writes; refusals of hostile files with
// their reason (truncated, oversized lengths, wrong wire types, cycles, values produced twice, external
// data leaving the model's folder by "..", absolute paths or symbolic links, FIFOs, short files); and
// random corruptions that must give an edgeq::Error, never a crash (this test also runs under ASan).
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "edgeq/onnx.h"
#include "onnx/proto_oracle.h"
#include "onnx/reader.h"

namespace edgeq {
namespace {

namespace fs = std::filesystem;
constexpr const char* kTestdata = "/usr/share/libonnx-testdata/data";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(OnnxReader, SameIrAsTheProtobufLoaderOnEveryTestdataModel) {
  if (!fs::exists(kTestdata)) GTEST_SKIP() << kTestdata << " missing (install libonnx-testdata via scripts/setup)";
  int total = 0, same = 0, both_refused = 0;
  std::vector<std::string> problems;
  for (const auto& e : fs::recursive_directory_iterator(kTestdata)) {
    if (e.path().extension() != ".onnx") continue;
    ++total;
    const std::string bytes = slurp(e.path());
    const std::string name = e.path().string();
    const std::string base = e.path().parent_path().string();
    std::optional<onnx::Model> want, got;
    std::string want_error, got_error;
    try {
      want = onnx::oracle::model_from_bytes(bytes, name, base);
      onnx::detail::merge_output_types(want->graph);  // the reader gives outputs their value_info types
    } catch (const Error& err) {
      want_error = err.what();
    }
    try {
      got = onnx::read_model(name, onnx::ReadOptions{true});
    } catch (const Error& err) {
      got_error = err.what();
    }
    if (want && got) {
      const std::string diff = onnx::oracle::first_difference(*got, *want);
      if (diff.empty()) ++same;
      else problems.push_back(name + ": differs in " + diff);
    } else if (!want && !got) {
      ++both_refused;
    } else if (want) {
      // The reader checks what the ONNX checker did (values defined once, no cycle): such refusals are
      // right only when the checker refuses the file too.
      ::onnx::ModelProto m;
      m.ParseFromString(bytes);
      bool checker_accepts = true;
      try {
        ::onnx::checker::check_model(m);
      } catch (const std::exception&) {
        checker_accepts = false;
      }
      if (checker_accepts) problems.push_back(name + ": reader refused a model the checker accepts: " + got_error);
    } else {
      problems.push_back(name + ": reader accepted a model the protobuf loader refused (" + want_error + ")");
    }
  }
  std::cout << "[reader] models: " << total << ", same IR: " << same << ", refused by both: " << both_refused << "\n";
  for (const auto& p : problems) std::cout << "  " << p << "\n";
  EXPECT_GT(same, 1000);
  EXPECT_TRUE(problems.empty()) << problems.size() << " problem(s), first: " << problems.front();
}

// A small model built with protobuf, to corrupt and to compare.
::onnx::ModelProto small_model() {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("reader_test");
  auto* op = m.add_opset_import();
  op->set_version(17);
  auto* ms = m.add_opset_import();
  ms->set_domain("com.microsoft");
  ms->set_version(1);
  auto* meta = m.add_metadata_props();
  meta->set_key("labels");
  meta->set_value("a,b");
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* in = g->add_input();
  in->set_name("x");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  auto* shape = in->mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  shape->add_dim()->set_dim_value(4);
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(1);
  w->add_dims(4);
  for (float v : {1.f, -2.f, 3.5f, 0.f}) w->add_float_data(v);
  auto* n = g->add_node();
  n->set_op_type("Mul");
  n->set_name("mul");
  n->add_input("x");
  n->add_input("w");
  n->add_output("y");
  auto* n2 = g->add_node();
  n2->set_op_type("LeakyRelu");
  n2->add_input("y");
  n2->add_output("z");
  auto* alpha = n2->add_attribute();
  alpha->set_name("alpha");
  alpha->set_type(::onnx::AttributeProto::FLOAT);
  alpha->set_f(0.25f);
  auto* ints = n2->add_attribute();
  ints->set_name("edgeq.test_ints");
  ints->set_type(::onnx::AttributeProto::INTS);
  for (int64_t v : {int64_t{-1}, int64_t{0}, int64_t{1} << 40}) ints->add_ints(v);
  auto* t = n2->add_attribute();
  t->set_name("edgeq.test_tensor");
  t->set_type(::onnx::AttributeProto::TENSOR);
  t->mutable_t()->set_data_type(7);
  t->mutable_t()->add_int64_data(-5);
  auto* out = g->add_output();
  out->set_name("z");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  return m;
}

std::string read_error(const std::string& bytes, const std::string& base_dir = "") {
  try {
    onnx::read_model_from_buffer(bytes.data(), bytes.size(), "m.onnx", base_dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(OnnxReader, SmallModelMatchesTheOracleFieldByField) {
  const std::string bytes = small_model().SerializeAsString();
  onnx::Model got = onnx::read_model_from_buffer(bytes.data(), bytes.size(), "m.onnx");
  onnx::Model want = onnx::oracle::model_from_bytes(bytes, "m.onnx", "");
  onnx::detail::merge_output_types(want.graph);
  EXPECT_EQ(onnx::oracle::first_difference(got, want), "");
  EXPECT_EQ(got.opset(), 17);
  EXPECT_EQ(got.opset("com.microsoft"), 1);
  ASSERT_EQ(got.graph.inputs.size(), 1u);
  EXPECT_EQ(got.graph.inputs[0].shape, (Shape{-1, 4}));
  EXPECT_EQ(got.graph.inputs[0].dim_params[0], "batch");
  EXPECT_EQ(got.graph.nodes[1].attr_float("alpha", 0), 0.25f);
  EXPECT_EQ(got.graph.nodes[1].attr_ints("edgeq.test_ints"), (std::vector<int64_t>{-1, 0, 1LL << 40}));
  EXPECT_EQ(got.graph.initializers.at("w").data<float>()[2], 3.5f);
  EXPECT_EQ(got.meta("labels"), "a,b");
}

TEST(OnnxReader, ModelsEdgeqWritesReadBackTheSame) {
  // The bytes save_model writes (serialize_model, through protobuf: raw_data weights, every attribute kind
  // the IR has); written directly because the checker in save_model refuses the test's extra attributes.
  const std::string bytes = small_model().SerializeAsString();
  onnx::Model m = onnx::read_model_from_buffer(bytes.data(), bytes.size(), "m.onnx");
  m.graph.nodes[1].set_attr(onnx::Attribute::make_floats("edgeq.test_floats", {0.5f, -0.f, 1e-30f}));
  m.graph.nodes[1].set_attr(onnx::Attribute::make_string("edgeq.test_string", std::string("a\0b", 3)));
  const fs::path dir = fs::temp_directory_path() / ("edgeq_reader_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "m.onnx", std::ios::binary) << onnx::serialize_model(m);
  onnx::Model back = onnx::read_model((dir / "m.onnx").string());
  onnx::Model oracle = onnx::oracle::model_from_bytes(slurp(dir / "m.onnx"), (dir / "m.onnx").string(), dir.string());
  onnx::detail::merge_output_types(oracle.graph);
  EXPECT_EQ(onnx::oracle::first_difference(back, oracle), "");
  EXPECT_EQ(back.graph.nodes[1].attr_floats("edgeq.test_floats"), (std::vector<float>{0.5f, -0.f, 1e-30f}));
  EXPECT_EQ(back.graph.nodes[1].attr_string("edgeq.test_string", ""), std::string("a\0b", 3));
  fs::remove_all(dir);
}

TEST(OnnxReader, RefusesStructuralProblemsWithTheReason) {
  EXPECT_NE(read_error("").find("empty"), std::string::npos);
  {
    auto m = small_model();
    m.clear_graph();
    EXPECT_NE(read_error(m.SerializeAsString()).find("no graph"), std::string::npos);
  }
  {
    auto m = small_model();
    m.clear_opset_import();
    EXPECT_NE(read_error(m.SerializeAsString()).find("opset_import"), std::string::npos);
  }
  {
    auto m = small_model();
    m.mutable_opset_import(0)->set_version(99);
    EXPECT_NE(read_error(m.SerializeAsString()).find("newer than"), std::string::npos);
  }
  {  // a cycle: y = Mul(x, z), z = LeakyRelu(y)
    auto m = small_model();
    m.mutable_graph()->mutable_node(0)->set_input(1, "z");
    EXPECT_NE(read_error(m.SerializeAsString()).find("cycle"), std::string::npos) << read_error(m.SerializeAsString());
  }
  {  // two producers of y
    auto m = small_model();
    m.mutable_graph()->mutable_node(1)->set_output(0, "y");
    EXPECT_NE(read_error(m.SerializeAsString()).find("already produced"), std::string::npos);
  }
  {  // a value nobody produces
    auto m = small_model();
    m.mutable_graph()->mutable_node(1)->set_input(0, "nowhere");
    EXPECT_NE(read_error(m.SerializeAsString()).find("nowhere"), std::string::npos);
  }
  {  // a shape of 2^40 elements with four values: refused before any allocation
    auto m = small_model();
    m.mutable_graph()->mutable_initializer(0)->set_dims(0, int64_t{1} << 40);
    EXPECT_NE(read_error(m.SerializeAsString()).find("too large"), std::string::npos);
  }
  {  // a shape of 2^20 elements with four values: the count is named
    auto m = small_model();
    m.mutable_graph()->mutable_initializer(0)->set_dims(0, int64_t{1} << 20);
    EXPECT_NE(read_error(m.SerializeAsString()).find("has 4 values, shape [1048576] needs 1048576"), std::string::npos)
        << read_error(m.SerializeAsString());
  }
  {  // raw_data of the wrong length
    auto m = small_model();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_float_data();
    w->set_raw_data(std::string(15, '\0'));
    EXPECT_NE(read_error(m.SerializeAsString()).find("raw_data has 15 bytes"), std::string::npos);
  }
  {
    auto m = small_model();
    m.mutable_graph()->add_sparse_initializer();
    EXPECT_NE(read_error(m.SerializeAsString()).find("sparse"), std::string::npos);
  }
}

std::string varint_bytes(size_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}

// Field NUMBER, wire type 2, holding BODY.
std::string length_delimited(int number, const std::string& body) {
  return static_cast<char>(number << 3 | 2) + varint_bytes(body.size()) + body;
}

// An imported domain no node uses (exporters import ai.onnx.training, converters their own) is read;
// a node in an unknown domain is refused with one line naming the node and the domain.
TEST(OnnxReader, UnknownDomainsMatterOnlyWhenANodeUsesThem) {
  auto m = small_model();
  for (const char* d : {"ai.onnx.training", "org.example.converter"}) {
    auto* op = m.add_opset_import();
    op->set_domain(d);
    op->set_version(1);
  }
  EXPECT_EQ(read_error(m.SerializeAsString()), "");
  m.mutable_graph()->mutable_node(1)->set_domain("org.example.converter");
  const std::string e = read_error(m.SerializeAsString());
  EXPECT_NE(e.find("domain 'org.example.converter'"), std::string::npos) << e;
  EXPECT_NE(e.find(m.graph().node(1).op_type()), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  const std::string bytes = m.SerializeAsString();
  onnx::ReadOptions lenient;
  lenient.allow_unknown_domains = true;
  EXPECT_EQ(onnx::read_model_from_buffer(bytes.data(), bytes.size(), "m.onnx", "", lenient).graph.nodes[1].domain,
            "org.example.converter");
}

TEST(OnnxReader, RefusesBrokenWireFormat) {
  const std::string good = small_model().SerializeAsString();
  // A length past the end: the graph field (7) claiming 1 GB.
  const std::string oversized = good + "\x3a" + varint_bytes(size_t{1} << 30);
  EXPECT_NE(read_error(oversized).find("truncated or corrupt"), std::string::npos) << read_error(oversized);
  // A group (wire type 3) and an 11-byte varint.
  EXPECT_NE(read_error(good + "\x0b").find("wire type"), std::string::npos);
  EXPECT_NE(read_error(good + std::string("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12)).find("varint"), std::string::npos);
  // ir_version (field 1) sent as a string: the wrong wire type for the field.
  EXPECT_NE(read_error(std::string("\x0a\x01x", 3) + good).find("wire type"), std::string::npos);
  // Every prefix of the file: an error or (at a field boundary) a model, never anything else.
  for (size_t n = 0; n < good.size(); ++n) {
    try {
      onnx::read_model_from_buffer(good.data(), n, "prefix.onnx");
    } catch (const Error&) {
    }
  }
}

TEST(OnnxReader, RandomCorruptionsGiveErrorsNotCrashes) {
  const std::string good = small_model().SerializeAsString();
  std::mt19937 rng(12345);
  int refused = 0;
  constexpr int kMutants = 3000;
  for (int i = 0; i < kMutants; ++i) {
    std::string bad = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    try {
      onnx::Model m = onnx::read_model_from_buffer(bad.data(), bad.size(), "mutant.onnx");
      EXPECT_FALSE(m.graph.nodes.empty());
    } catch (const Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, kMutants / 4);  // most single-byte corruptions break the structure somewhere
}

TEST(OnnxReader, DeeplyNestedTypesDoNotRecurse) {
  // A value_info typed as a sequence of a sequence of ... 200 000 levels (protobuf itself stops at 100):
  // the reader skips what it does not read instead of descending into it.
  // Built inside out as headers only (wrapping the whole string 200 000 times would be quadratic).
  const std::string core = length_delimited(1, std::string("\x08\x01", 2));  // TypeProto { tensor_type { elem_type: 1 } }
  std::vector<std::string> headers;  // headers[i] opens level i + 1: sequence_type (4) { elem_type (1) { ... } }
  size_t inner = core.size();
  for (int i = 0; i < 200000; ++i) {
    const std::string elem_header = '\x0a' + varint_bytes(inner);
    const std::string seq_header = '\x22' + varint_bytes(elem_header.size() + inner);
    headers.push_back(seq_header + elem_header);
    inner += headers.back().size();
  }
  std::string type;
  type.reserve(inner);
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) type += *it;
  type += core;
  const std::string value_info = length_delimited(1, "y") + length_delimited(2, type);
  auto m = small_model();
  const std::string graph = m.graph().SerializeAsString() + length_delimited(13, value_info);
  m.clear_graph();
  const std::string model = m.SerializeAsString() + length_delimited(7, graph);
  onnx::Model got = onnx::read_model_from_buffer(model.data(), model.size(), "deep.onnx");
  EXPECT_EQ(got.graph.nodes.size(), 2u);
  EXPECT_EQ(got.graph.value_info.at("y").dtype, DType::kUndefined);  // a sequence, not a tensor
}

class ExternalData : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("edgeq_reader_ext_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "model");
    std::ofstream(root_ / "outside.bin", std::ios::binary) << std::string(16, '\x01');
    std::ofstream(root_ / "model" / "w.bin", std::ios::binary) << std::string(16, '\0') + std::string("\0\0\x80\x3f", 4) + std::string(12, '\0');
  }
  void TearDown() override { fs::remove_all(root_); }

  // small_model with w (4 floats) stored outside the file at LOCATION.
  std::string model_with_external(const std::string& location, int64_t offset) const {
    auto m = small_model();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_float_data();
    w->set_data_location(::onnx::TensorProto::EXTERNAL);
    auto* loc = w->add_external_data();
    loc->set_key("location");
    loc->set_value(location);
    auto* off = w->add_external_data();
    off->set_key("offset");
    off->set_value(std::to_string(offset));
    return m.SerializeAsString();
  }
  std::string read_from_folder(const std::string& bytes) const {
    std::ofstream(root_ / "model" / "m.onnx", std::ios::binary) << bytes;
    try {
      onnx::read_model((root_ / "model" / "m.onnx").string());
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  fs::path root_;
};

TEST_F(ExternalData, InsideTheFolderIsRead) {
  std::ofstream(root_ / "model" / "m.onnx", std::ios::binary) << model_with_external("w.bin", 16);
  onnx::Model m = onnx::read_model((root_ / "model" / "m.onnx").string());
  EXPECT_EQ(m.graph.initializers.at("w").data<float>()[0], 1.0f);
  EXPECT_EQ(m.graph.initializers.at("w").data<float>()[1], 0.0f);
}

TEST_F(ExternalData, EveryWayOutOfTheFolderIsRefused) {
  EXPECT_NE(read_from_folder(model_with_external("../outside.bin", 0)).find("leaves the model's directory"), std::string::npos);
  EXPECT_NE(read_from_folder(model_with_external((root_ / "outside.bin").string(), 0)).find("absolute"), std::string::npos);
  fs::create_symlink(root_ / "outside.bin", root_ / "model" / "link.bin");
  EXPECT_NE(read_from_folder(model_with_external("link.bin", 0)).find("resolves outside"), std::string::npos);
  EXPECT_NE(read_from_folder(model_with_external("w.bin", 20)).find("needs 36"), std::string::npos);
  EXPECT_NE(read_from_folder(model_with_external("missing.bin", 0)).find("not found"), std::string::npos);
  EXPECT_NE(read_from_folder(model_with_external("w.bin", -1)).find("negative"), std::string::npos);
  // A FIFO would block a plain open+read forever: refused as not a regular file.
  ASSERT_EQ(::mkfifo((root_ / "model" / "fifo.bin").c_str(), 0600), 0);
  EXPECT_NE(read_from_folder(model_with_external("fifo.bin", 0)).find("not a regular file"), std::string::npos);
  // From memory there is no folder to read from.
  const std::string bytes = model_with_external("w.bin", 16);
  EXPECT_NE(read_error(bytes).find("read from memory"), std::string::npos);
}

TEST(OnnxReader, FilesThatAreNotModels) {
  const fs::path dir = fs::temp_directory_path();
  try {
    onnx::read_model(dir.string());
    FAIL() << "a directory was read as a model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("directory"), std::string::npos);
  }
  EXPECT_THROW(onnx::read_model("/nonexistent/model.onnx"), Error);
  EXPECT_THROW(onnx::read_model("/dev/null"), Error);  // not a regular file
}

}  // namespace
}  // namespace edgeq
