// The protobuf wire format, read-only and bounds-checked: what the ONNX reader (reader.cpp) walks
// instead of libprotobuf. A WireReader is a cursor over one message's bytes; every varint, length and
// fixed-width value is checked against the bytes left before it is used, and each failure throws
// Error(kParse) naming the message being read, so hostile input can only ever produce an error.
// Groups (wire types 3 and 4, deprecated since proto2 and absent from onnx.proto) are refused.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "edgeq/core.h"

namespace edgeq::onnx::wire {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

struct Field {
  uint32_t number = 0;
  WireType type = kVarint;
  uint64_t varint = 0;     // kVarint, kFixed64 and kFixed32 values (fixed ones as raw bits)
  std::string_view bytes;  // kLengthDelimited payload, a view into the reader's buffer
};

class WireReader {
 public:
  // `what` names the message in errors ("TensorProto 'conv1.weight'").
  WireReader(std::string_view bytes, const std::string* what) : p_(bytes.data()), end_(bytes.data() + bytes.size()), what_(what) {}

  bool done() const { return p_ == end_; }

  // Reads the next field (tag and value). Call only while !done().
  Field next() {
    Field f;
    const uint64_t tag = varint();
    const uint64_t number = tag >> 3;
    if (number == 0 || number > 536870911u) fail("field number " + std::to_string(number) + " is out of range");
    f.number = static_cast<uint32_t>(number);
    switch (tag & 7u) {
      case kVarint: f.type = kVarint; f.varint = varint(); break;
      case kFixed64: f.type = kFixed64; f.varint = fixed(8); break;
      case kFixed32: f.type = kFixed32; f.varint = fixed(4); break;
      case kLengthDelimited: {
        f.type = kLengthDelimited;
        const uint64_t len = varint();
        if (len > static_cast<uint64_t>(end_ - p_))
          fail("field " + std::to_string(number) + " claims " + std::to_string(len) + " bytes, " +
               std::to_string(end_ - p_) + " are left (truncated or corrupt)");
        f.bytes = std::string_view(p_, static_cast<size_t>(len));
        p_ += len;
        break;
      }
      default:
        fail("field " + std::to_string(number) + " has wire type " + std::to_string(tag & 7u) + " (groups and unknown wire types are not ONNX)");
    }
    return f;
  }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) fail("truncated varint");
      const uint8_t b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }

  const std::string* what() const { return what_; }

  [[noreturn]] void fail(const std::string& problem) const {
    throw Error(ErrorCode::kParse, *what_ + ": " + problem);
  }

 private:
  uint64_t fixed(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) fail("truncated fixed-width value");
    uint64_t v = 0;
    std::memcpy(&v, p_, n);  // little-endian on every target edgeq builds for
    p_ += n;
    return v;
  }

  const char* p_;
  const char* end_;
  const std::string* what_;
};

// Field-kind checks: a field of the right number but the wrong wire type is a corrupt message.
inline void expect(const WireReader& r, const Field& f, WireType t) {
  if (f.type != t)
    r.fail("field " + std::to_string(f.number) + " has wire type " + std::to_string(f.type) + ", expected " + std::to_string(t));
}

inline std::string as_string(const WireReader& r, const Field& f) {
  expect(r, f, kLengthDelimited);
  return std::string(f.bytes);
}

inline float as_float(const WireReader& r, const Field& f) {
  expect(r, f, kFixed32);
  const uint32_t bits = static_cast<uint32_t>(f.varint);
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

// Appends a repeated scalar field's values, packed (one length-delimited run) or not (one per tag),
// as protobuf parsers accept both. Decode: uint64 raw value -> T.
template <typename T, typename Decode>
void append_repeated(const WireReader& r, const Field& f, WireType element, std::vector<T>& out, Decode decode) {
  if (f.type == element) {
    out.push_back(decode(f.varint));
    return;
  }
  expect(r, f, kLengthDelimited);
  if (element == kVarint) {
    WireReader packed(f.bytes, r.what());
    while (!packed.done()) out.push_back(decode(packed.varint()));
    return;
  }
  const size_t width = element == kFixed64 ? 8 : 4;
  if (f.bytes.size() % width != 0)
    r.fail("field " + std::to_string(f.number) + ": packed length " + std::to_string(f.bytes.size()) + " is not a multiple of " + std::to_string(width));
  out.reserve(out.size() + f.bytes.size() / width);
  for (size_t i = 0; i < f.bytes.size(); i += width) {
    uint64_t v = 0;
    std::memcpy(&v, f.bytes.data() + i, width);
    out.push_back(decode(v));
  }
}

}  // namespace edgeq::onnx::wire
