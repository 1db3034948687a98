// core: shapes, tensors, atomic file writes.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

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

// float16 / bfloat16 conversions: round to nearest even, ties to even, overflow to infinity, float16
// subnormals, NaN kept; every float16 value survives the round trip.
TEST(Core, HalfAndBfloat16Conversions) {
  using edgeq::bf16_to_f32;
  using edgeq::f16_to_f32;
  using edgeq::f32_to_bf16;
  using edgeq::f32_to_f16;
  EXPECT_EQ(f32_to_f16(1.f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.f), 0x7bff);  // below the halfway point to 65536: the largest finite
  EXPECT_EQ(f32_to_f16(65520.f), 0x7c00);  // the halfway point rounds to even: infinity
  EXPECT_EQ(f32_to_f16(1.f + 1.f / 2048), 0x3c00);       // tie between 1 and 1 + 2^-10: even (1)
  EXPECT_EQ(f32_to_f16(1.f + 3.f / 2048), 0x3c02);       // tie between odd and even: even
  EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -24)), 0x0001);   // the smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -25)), 0x0000);   // half of it: ties to even, zero
  EXPECT_EQ(f32_to_f16(std::ldexp(3.f, -26)), 0x0001);   // above half: rounds up
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::nanf("")))));
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (!std::isnan(f)) {
      EXPECT_EQ(f32_to_f16(f), h) << h;
    }
  }
  EXPECT_EQ(f32_to_bf16(1.f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.f);
  EXPECT_EQ(f32_to_bf16(1.f + std::ldexp(1.f, -8)), 0x3f80);          // tie: even
  EXPECT_EQ(f32_to_bf16(1.f + 3 * std::ldexp(1.f, -8)), 0x3f82);      // tie: even
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds past the largest: infinity
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}
