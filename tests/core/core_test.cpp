// core: shapes, tensors, atomic file writes.
#include <gtest/gtest.h>

#include <filesystem>

#include "edgeq/core.h"
#include "onnx/model_fixtures.h"

namespace edgeq {
namespace {

TEST(Shape, NumelChecksOverflowAndUnknownDims) {
  EXPECT_EQ(shape_numel({2, 3, 4}), 24);
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({5, 0}), 0);
  EXPECT_THROW(shape_numel({-1, 3}), Error);
  EXPECT_THROW(shape_numel({int64_t{1} << 40, int64_t{1} << 40}), Error);
  EXPECT_EQ(shape_str({-1, 3}), "[?, 3]");
}

TEST(Printable, EscapesControlBytesAndCutsLongText) {
  EXPECT_EQ(printable("plain text 1,2"), "plain text 1,2");
  // ESC, BEL, newline, DEL, a backslash and a UTF-8 byte pair all come out as \xNN.
  EXPECT_EQ(printable("a\x1b[2J\x07\n\x7f\\\xc3\xa9"), "a\\x1b[2J\\x07\\x0a\\x7f\\x5c\\xc3\\xa9");
  EXPECT_EQ(printable(std::string_view("\0z", 2)), "\\x00z");
  EXPECT_EQ(printable(std::string(100, 'x'), 10), std::string(10, 'x') + "\u2026");
  EXPECT_EQ(printable("abc", 3), "abc");
}

TEST(Tensor, AlignedZeroedAndShared) {
  Tensor t(DType::kF32, {3, 5});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  EXPECT_EQ(t.nbytes(), 60u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(t.data<float>()[i], 0.f);
  Tensor alias = t.reshaped({15});
  alias.data<float>()[7] = 2.f;
  EXPECT_EQ(t.data<float>()[7], 2.f);  // reshaped shares storage
  Tensor copy = t.clone();
  copy.data<float>()[7] = 3.f;
  EXPECT_EQ(t.data<float>()[7], 2.f);  // clone does not
  EXPECT_THROW(t.reshaped({4, 4}), Error);
  EXPECT_THROW(Tensor(DType::kString, {1}), Error);
}

TEST(Files, AtomicWriteReplacesWholeFileAndReadReportsMissing) {
  auto dir = test::temp_dir("files");
  std::string path = dir + "/f.bin";
  write_file_atomic(path, "first version");
  write_file_atomic(path, "second");
  EXPECT_EQ(read_file(path), "second");
  try {
    read_file(dir + "/absent");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("absent"), std::string::npos);
  }
  EXPECT_THROW(write_file_atomic(dir + "/no/such/dir/f", "x"), Error);
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) { (void)e; ++n; }
  EXPECT_EQ(n, 1);  // no temp files left behind
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edgeq
