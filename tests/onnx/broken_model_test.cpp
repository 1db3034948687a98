// The broken-file corpus, generated here: every file must give an edgeq::Error naming the file and
// the problem, never a crash (this test also runs under ASan+UBSan).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "edgeq/onnx.h"
#include "onnx/model_fixtures.h"

namespace edgeq {
namespace {

namespace fs = std::filesystem;

class BrokenModel : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::temp_dir("broken"); }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  ::onnx::ModelProto valid_proto() {
    ::onnx::ModelProto p;
    p.ParseFromString(onnx::serialize_model(test::small_cnn()));
    return p;
  }
  // Loads `path`, expects an Error whose message names the file and contains `needle`.
  void expect_refused(const std::string& path, const std::string& needle) {
    try {
      onnx::load_model(path);
      ADD_FAILURE() << path << " loaded, expected an error containing '" << needle << "'";
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << "message does not name the file: " << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << "message does not say '" << needle << "': " << msg;
    }
  }
  std::string dir_;
};

TEST_F(BrokenModel, EmptyFile) { expect_refused(write("empty.onnx", ""), "empty"); }

TEST_F(BrokenModel, EveryTruncationIsRefused) {
  std::string good = valid_proto().SerializeAsString();
  int refused = 0, cuts = 0;
  for (size_t cut = 1; cut < good.size(); cut += std::max<size_t>(1, good.size() / 97)) {
    ++cuts;
    std::string path = write("trunc.onnx", good.substr(0, cut));
    try {
      onnx::load_model(path);
    } catch (const Error& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  // A prefix can by chance be a complete smaller message; it must still never crash, and nearly all are refused.
  EXPECT_GE(refused, cuts - 2) << refused << " of " << cuts << " truncations refused";
}

TEST_F(BrokenModel, RandomBytesAreRefused) {
  std::mt19937 rng(7767517);
  for (int i = 0; i < 200; ++i) {
    std::string bytes(1 + rng() % 4096, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    std::string path = write("random.onnx", bytes);
    EXPECT_THROW(onnx::load_model(path), Error) << "seed 7767517 sample " << i;
  }
}

TEST_F(BrokenModel, FlippedBytesNeverCrash) {
  std::string good = valid_proto().SerializeAsString();
  std::mt19937 rng(1234);
  for (int i = 0; i < 300; ++i) {
    std::string bytes = good;
    for (int k = 0; k < 4; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    try {
      onnx::load_model(write("flipped.onnx", bytes));
    } catch (const Error&) {
    }
  }
}

TEST_F(BrokenModel, CycleIsRefused) {
  auto p = valid_proto();
  // relu reads the Gemm's output, which (through flatten and fc) depends on relu: a cycle.
  for (auto& n : *p.mutable_graph()->mutable_node())
    if (n.op_type() == "Relu") n.set_input(0, "logits");
  expect_refused(write("cycle.onnx", p.SerializeAsString()), "topologically sorted");
  onnx::LoadOptions no_checker;
  no_checker.run_checker = false;
  no_checker.infer_shapes = false;
  try {
    onnx::load_model(write("cycle2.onnx", p.SerializeAsString()), no_checker);
    ADD_FAILURE() << "cycle loaded without the checker";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos) << e.what();
  }
}

TEST_F(BrokenModel, MissingInitializerIsRefused) {
  auto p = valid_proto();
  auto* inits = p.mutable_graph()->mutable_initializer();
  for (int i = 0; i < inits->size(); ++i)
    if (inits->Get(i).name() == "fc.w") { inits->DeleteSubrange(i, 1); break; }
  expect_refused(write("missing_init.onnx", p.SerializeAsString()), "fc.w");
}

// An imported domain no node uses does not matter (exporters import ai.onnx.training and the like); a
// node of an unknown domain is refused, naming the domain.
TEST_F(BrokenModel, UnknownOpsetDomainIsRefusedOnlyWhenANodeUsesIt) {
  auto p = valid_proto();
  auto* op = p.add_opset_import();
  op->set_domain("com.example.secret");
  op->set_version(1);
  EXPECT_NO_THROW(onnx::load_model(write("domain_unused.onnx", p.SerializeAsString())));
  p.mutable_graph()->mutable_node(0)->set_domain("com.example.secret");
  expect_refused(write("domain.onnx", p.SerializeAsString()), "com.example.secret");
}

TEST_F(BrokenModel, TooNewOpsetIsRefused) {
  auto p = valid_proto();
  p.mutable_opset_import(0)->set_version(99);
  expect_refused(write("opset.onnx", p.SerializeAsString()), "opset 99");
}

TEST_F(BrokenModel, EmptyGraphIsRefused) {
  auto p = valid_proto();
  p.mutable_graph()->clear_node();
  expect_refused(write("nonodes.onnx", p.SerializeAsString()), "empty graph");
  auto q = valid_proto();
  q.clear_graph();
  expect_refused(write("nograph.onnx", q.SerializeAsString()), "no graph");
}

TEST_F(BrokenModel, RawDataSizeMismatchIsRefused) {
  auto p = valid_proto();
  for (auto& init : *p.mutable_graph()->mutable_initializer())
    if (init.name() == "conv.w") init.mutable_raw_data()->resize(10);
  expect_refused(write("rawdata.onnx", p.SerializeAsString()), "conv.w");
}

TEST_F(BrokenModel, OverflowingDimsAreRefused) {
  auto p = valid_proto();
  for (auto& init : *p.mutable_graph()->mutable_initializer())
    if (init.name() == "conv.b") {
      init.clear_dims();
      init.add_dims(int64_t{1} << 40);
      init.add_dims(int64_t{1} << 40);
    }
  expect_refused(write("dims.onnx", p.SerializeAsString()), "conv.b");
  auto q = valid_proto();
  for (auto& init : *q.mutable_graph()->mutable_initializer())
    if (init.name() == "conv.b") init.set_dims(0, -4);
  expect_refused(write("negdims.onnx", q.SerializeAsString()), "negative");
}

TEST_F(BrokenModel, OverTwoGigabytesIsRefusedWithoutReading) {
  std::string path = dir_ + "/huge.onnx";
  {
    std::ofstream(path, std::ios::binary) << "x";
  }
  // A sparse file: takes no disk, but its size is past protobuf's limit.
  ASSERT_EQ(0, ::truncate(path.c_str(), (int64_t{1} << 31) + 10));
  expect_refused(path, "2 GB");
}

TEST_F(BrokenModel, MissingFileAndDirectory) {
  expect_refused(dir_ + "/absent.onnx", "no such file");
  expect_refused(dir_, "directory");
}

TEST_F(BrokenModel, DeeplyNestedSubgraphsAreRefused) {
  // If -> then_branch -> If -> ... 200 levels: protobuf's recursion limit stops the parse.
  ::onnx::GraphProto inner;
  inner.set_name("g");
  for (int depth = 0; depth < 200; ++depth) {
    ::onnx::GraphProto outer;
    outer.set_name("g");
    auto* n = outer.add_node();
    n->set_op_type("If");
    auto* a = n->add_attribute();
    a->set_name("then_branch");
    a->set_type(::onnx::AttributeProto::GRAPH);
    *a->mutable_g() = inner;
    inner = outer;
  }
  auto p = valid_proto();
  *p.mutable_graph()->add_node() = inner.node(0);
  expect_refused(write("nested.onnx", p.SerializeAsString()), "nested.onnx");
}

}  // namespace
}  // namespace edgeq
