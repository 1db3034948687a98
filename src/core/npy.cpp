// numpy .npy files (format versions 1-3): the magic, a little-endian header length, a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } and the raw C-order data. The
// reader accepts exactly that: little-endian or byte-sized dtypes edgeq has, C order, and data whose
// size is the shape's; anything else is one Error naming the file and what is wrong.
#include <cstring>
#include <limits>

#include "edgeq/core.h"

namespace edgeq {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// numpy itself writes headers of a few hundred bytes; the cap keeps a hostile length from mattering.
constexpr size_t kMaxHeaderBytes = 1 << 16;
constexpr int64_t kMaxDim = int64_t{1} << 40;

DType dtype_of_descr(const std::string& d, const std::string& where) {
  // '<' little-endian, '|' not applicable (one byte), '=' native (little-endian on every target edgeq builds for).
  if (d.size() >= 2 && (d[0] == '<' || d[0] == '|' || d[0] == '=')) {
    static const std::pair<const char*, DType> kTypes[] = {
        {"f4", DType::kF32}, {"f8", DType::kF64}, {"f2", DType::kF16}, {"u1", DType::kU8},  {"i1", DType::kI8},
        {"u2", DType::kU16}, {"i2", DType::kI16}, {"i4", DType::kI32}, {"u4", DType::kU32}, {"i8", DType::kI64},
        {"u8", DType::kU64}, {"b1", DType::kBool}};
    for (const auto& [code, t] : kTypes)
      if (d.substr(1) == code) return t;
  }
  throw Error(ErrorCode::kUnsupported, where + ": numpy dtype '" + printable(d, 20) +
                                           "' is not one edgeq reads (little-endian float16/32/64, (u)int8/16/32/64, bool)");
}

// The header dict, read as numpy writes it: three keys, values a quoted string, True/False or a tuple.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string where) : s_(text), where_(std::move(where)) {}

  void parse(std::string* descr, bool* fortran, Shape* shape) {
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (true) {
      skip_spaces();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      skip_spaces();
      if (key == "descr") {
        *descr = quoted();
        has_descr = true;
      } else if (key == "fortran_order") {
        *fortran = boolean();
        has_order = true;
      } else if (key == "shape") {
        *shape = tuple();
        has_shape = true;
      } else {
        fail("unknown header key '" + printable(key, 40) + "'");
      }
      skip_spaces();
      if (peek() == ',') ++pos_;
      else if (peek() != '}') fail("expected ',' or '}' in the header");
    }
    if (!has_descr || !has_order || !has_shape) fail("the header lacks 'descr', 'fortran_order' or 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(ErrorCode::kInvalidArgument, where_ + ": not a .npy file: " + what); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_spaces() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  void expect(char c) {
    skip_spaces();
    if (peek() != c) fail(std::string("expected '") + c + "' in the header");
    ++pos_;
  }
  std::string quoted() {
    skip_spaces();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string in the header");
    const size_t end = s_.find(q, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string in the header");
    std::string r(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return r;
  }
  bool boolean() {
    if (s_.substr(pos_, 4) == "True") return pos_ += 4, true;
    if (s_.substr(pos_, 5) == "False") return pos_ += 5, false;
    fail("fortran_order is neither True nor False");
  }
  Shape tuple() {
    expect('(');
    Shape dims;
    while (true) {
      skip_spaces();
      if (peek() == ')') break;
      int64_t v = 0;
      size_t digits = 0;
      while (peek() >= '0' && peek() <= '9') {
        v = v * 10 + (s_[pos_++] - '0');
        if (++digits > 13 || v > kMaxDim) fail("a shape dim above 2^40");
      }
      if (digits == 0) fail("a shape dim is not a whole number");
      dims.push_back(v);
      skip_spaces();
      if (peek() == ',') ++pos_;
      else if (peek() != ')') fail("expected ',' or ')' in the shape");
      if (dims.size() > 32) fail("a shape of rank above 32");
    }
    ++pos_;
    return dims;
  }

  std::string_view s_;
  std::string where_;
  size_t pos_ = 0;
};

}  // namespace

Tensor parse_npy(std::string_view bytes, const std::string& name_for_errors) {
  const std::string& where = name_for_errors;
  if (bytes.size() < kMagicSize + 4 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
    throw Error(ErrorCode::kInvalidArgument, where + ": not a .npy file (no \\x93NUMPY magic)");
  const auto byte = [&](size_t i) { return static_cast<size_t>(static_cast<unsigned char>(bytes[i])); };
  const size_t major = byte(6);
  if (major < 1 || major > 3) throw Error(ErrorCode::kUnsupported, where + ": .npy format version " + std::to_string(major) + " (edgeq reads 1 to 3)");
  size_t header_len = byte(8) | byte(9) << 8, offset = 10;
  if (major >= 2) {
    if (bytes.size() < 12) throw Error(ErrorCode::kInvalidArgument, where + ": truncated .npy header");
    header_len |= byte(10) << 16 | byte(11) << 24;
    offset = 12;
  }
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - offset)
    throw Error(ErrorCode::kInvalidArgument, where + ": .npy header of " + std::to_string(header_len) + " bytes in a " +
                                                 std::to_string(bytes.size()) + "-byte file");
  std::string descr;
  bool fortran = false;
  Shape shape;
  HeaderParser(bytes.substr(offset, header_len), where).parse(&descr, &fortran, &shape);
  if (fortran) throw Error(ErrorCode::kUnsupported, where + ": Fortran-order .npy data (save it with np.ascontiguousarray)");
  const DType dtype = dtype_of_descr(descr, where);
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d) / 16)
      throw Error(ErrorCode::kInvalidArgument, where + ": .npy shape " + shape_str(shape) + " is too large");
    numel *= static_cast<uint64_t>(d);
  }
  const size_t data = offset + header_len;
  const uint64_t want = numel * dtype_size(dtype);
  if (want != bytes.size() - data)
    throw Error(ErrorCode::kInvalidArgument, where + ": .npy " + shape_str(shape) + " " + dtype_name(dtype) + " needs " + std::to_string(want) +
                                                 " data bytes, the file holds " + std::to_string(bytes.size() - data));
  Tensor t(dtype, shape);
  if (want > 0) std::memcpy(t.raw(), bytes.data() + data, want);
  return t;
}

}  // namespace edgeq
