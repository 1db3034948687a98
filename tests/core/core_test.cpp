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

namespace edgeq {
namespace {

// A .npy file: magic, version, little-endian header length (2 bytes in 1.0, 4 in 2.0), header, data.
std::string npy(const std::string& header, const std::string& data, int version = 1) {
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(version) + '\0';
  const size_t n = header.size();
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  if (version >= 2) out += std::string("\0\0", 2);
  return out + header + data;
}

TEST(Npy, ReadsWhatNumpyWrites) {
  const float values[6] = {1.f, -2.f, 3.5f, 0.f, 5.f, 6.25f};
  const std::string f32(reinterpret_cast<const char*>(values), sizeof values);
  Tensor t = parse_npy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }        \n", f32), "a.npy");
  EXPECT_EQ(t.dtype(), DType::kF32);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.data<float>()[2], 3.5f);
  EXPECT_EQ(t.data<float>()[5], 6.25f);
  t = parse_npy(npy("{\"descr\": \"|u1\", \"fortran_order\": False, \"shape\": (3,)}\n", "\x01\x02\xff", 2), "b.npy");
  EXPECT_EQ(t.dtype(), DType::kU8);
  EXPECT_EQ(t.shape(), (Shape{3}));
  EXPECT_EQ(t.data<uint8_t>()[2], 255);
  const int64_t one = 7;
  t = parse_npy(npy("{'descr': '<i8', 'fortran_order': False, 'shape': ()}", std::string(reinterpret_cast<const char*>(&one), 8)), "c.npy");
  EXPECT_EQ(t.rank(), 0);
  EXPECT_EQ(t.data<int64_t>()[0], 7);
}

TEST(Npy, RefusesEveryMalformedFileWithItsName) {
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string eight(8, '\0');
  std::string too_long = npy(ok, eight);
  too_long[8] = '\xff';  // header length past the end
  std::string version4 = npy(ok, eight);
  version4[6] = 4;
  const std::pair<std::string, std::string> bad[] = {
      {"PK\x03\x04 not numpy at all", "magic"},
      {too_long, "header of"},
      {version4, "version 4"},
      {npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", eight), "Fortran"},
      {npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", eight), "'>f4'"},
      {npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", eight), "'<c8'"},
      {npy(ok, "1234"), "needs 8 data bytes, the file holds 4"},
      {npy(ok, eight + "x"), "holds 9"},
      {npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999,), }", ""), "2^40"},
      {npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", ""), "too large"},
      {npy("{'descr': '<f4, 'fortran_order': False}", ""), "header"},
      {npy("{'descr': '<f4', 'shape': (2,), }", eight), "lacks"},
      {npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", eight), "unknown header key"},
      {npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", eight), "whole number"}};
  for (const auto& [bytes, says] : bad) {
    try {
      parse_npy(bytes, "calib/x.npy");
      ADD_FAILURE() << "accepted: " << says;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("calib/x.npy"), std::string::npos) << what;
      EXPECT_NE(what.find(says), std::string::npos) << what;
    }
  }
}

}  // namespace
}  // namespace edgeq
