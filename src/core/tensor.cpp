// DType tables, shape arithmetic and the Tensor container.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "edgeq/core.h"

namespace edgeq {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32: case DType::kI32: case DType::kU32: return 4;
    case DType::kU8: case DType::kI8: case DType::kBool: return 1;
    case DType::kU16: case DType::kI16: case DType::kF16: case DType::kBF16: return 2;
    case DType::kI64: case DType::kF64: case DType::kU64: return 8;
    case DType::kUndefined: case DType::kString: return 0;
  }
  return 0;
}

namespace {
uint32_t bits_of(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  return x;
}
float float_of(uint32_t x) {
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}
}  // namespace

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return float_of(sign | 0x7f800000u | (mant << 13));
  return float_of(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t f32_to_f16(float f) {
  const uint32_t x = bits_of(f);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t mag = x & 0x7fffffffu;
  if (mag > 0x7f800000u) return sign | 0x7e00;  // NaN
  if (mag >= 0x38800000u) {                     // a float16 normal (>= 2^-14) or past its range
    const uint32_t m = mag - (112u << 23);      // exponent rebiased from 127 to 15
    const uint32_t r = (m + 0xfffu + ((m >> 13) & 1)) >> 13;
    return static_cast<uint16_t>(sign | (r >= 0x7c00 ? 0x7c00 : r));
  }
  const uint32_t e = mag >> 23;
  if (e < 102) return sign;  // below half the smallest subnormal: zero
  const uint32_t mant = (mag & 0x7fffffu) | 0x800000u, shift = 126 - e;  // in units of 2^-24
  uint32_t r = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (r & 1))) ++r;
  return static_cast<uint16_t>(sign | r);
}

float bf16_to_f32(uint16_t h) { return float_of(static_cast<uint32_t>(h) << 16); }

uint16_t f32_to_bf16(float f) {
  const uint32_t x = bits_of(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // NaN stays quiet NaN
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "float32";
    case DType::kU8: return "uint8";
    case DType::kI8: return "int8";
    case DType::kU16: return "uint16";
    case DType::kI16: return "int16";
    case DType::kI32: return "int32";
    case DType::kI64: return "int64";
    case DType::kString: return "string";
    case DType::kBool: return "bool";
    case DType::kF16: return "float16";
    case DType::kF64: return "float64";
    case DType::kU32: return "uint32";
    case DType::kU64: return "uint64";
    case DType::kBF16: return "bfloat16";
    case DType::kUndefined: return "undefined";
  }
  return "undefined";
}

bool dtype_known(int32_t t) {
  return (t >= 1 && t <= 13) || t == 16;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(ErrorCode::kInvalidArgument, "shape " + shape_str(shape) + " has an unknown or negative dimension");
    if (d != 0 && n > INT64_MAX / d) throw Error(ErrorCode::kInvalidArgument, "shape " + shape_str(shape) + " overflows int64");
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return s + "]";
}

namespace {

// A large block is fresh pages from mmap: fault them in with one call instead of one page fault per
// 4 KiB at first touch. Under a hypervisor a fault costs microseconds, and loading a model touches its
// weights three times (file, tensor, packed copy): 660 faults for cnn-s's 0.8 MB. Best effort (kernels
// before 5.14 refuse it and the pages fault in as before).
void prefault(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
  constexpr size_t kPrefaultBytes = size_t{256} << 10;
  if (bytes < kPrefaultBytes) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace

std::shared_ptr<std::byte> aligned_alloc_shared(size_t bytes) {
  // Round up so the size is a multiple of the alignment (std::aligned_alloc requires it) and so
  // SIMD kernels may read (never write) up to 64 bytes past the last element.
  size_t rounded = (bytes + 64 + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw Error(ErrorCode::kIo, "out of memory allocating " + std::to_string(bytes) + " bytes");
  prefault(p, rounded);
  std::memset(p, 0, rounded);
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  if (dtype_size(dtype) == 0) throw Error(ErrorCode::kUnsupported, std::string("tensor of dtype ") + dtype_name(dtype));
  numel_ = shape_numel(shape_);
  size_t es = dtype_size(dtype);
  if (static_cast<uint64_t>(numel_) > (uint64_t{1} << 40) / es)
    throw Error(ErrorCode::kInvalidArgument, "tensor of shape " + shape_str(shape_) + " is too large");
  storage_ = aligned_alloc_shared(static_cast<size_t>(numel_) * es);
}

Tensor Tensor::from_f32(Shape shape, std::span<const float> values) {
  Tensor t(DType::kF32, std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw Error(ErrorCode::kInvalidArgument, "from_f32: " + std::to_string(values.size()) + " values for shape " + shape_str(t.shape()));
  if (t.nbytes() > 0) std::memcpy(t.raw(), values.data(), t.nbytes());  // an empty span's data() may be null
  return t;
}

Tensor Tensor::from_i64(Shape shape, std::span<const int64_t> values) {
  Tensor t(DType::kI64, std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw Error(ErrorCode::kInvalidArgument, "from_i64: " + std::to_string(values.size()) + " values for shape " + shape_str(t.shape()));
  if (t.nbytes() > 0) std::memcpy(t.raw(), values.data(), t.nbytes());
  return t;
}

Tensor Tensor::wrap(DType dtype, Shape shape, void* data, size_t bytes) {
  Tensor t;
  t.dtype_ = dtype;
  const size_t es = dtype_size(dtype);
  if (es == 0) throw Error(ErrorCode::kUnsupported, std::string("tensor of dtype ") + dtype_name(dtype));
  t.numel_ = shape_numel(shape);
  t.shape_ = std::move(shape);
  if (t.nbytes() != bytes)
    throw Error(ErrorCode::kInvalidArgument, "buffer of " + std::to_string(bytes) + " bytes for a " + dtype_name(dtype) + " tensor of shape " +
                                                 shape_str(t.shape_) + ", which needs " + std::to_string(t.nbytes()));
  if (data == nullptr && bytes > 0) throw Error(ErrorCode::kInvalidArgument, "null buffer for a tensor of shape " + shape_str(t.shape_));
  if (reinterpret_cast<uintptr_t>(data) % es != 0)
    throw Error(ErrorCode::kInvalidArgument, std::string("buffer not aligned to its ") + dtype_name(dtype) + " elements");
  // Aliasing constructor with no owner: the pointer is shared, nothing is freed.
  static const std::byte kEmpty{};
  t.storage_ = std::shared_ptr<std::byte>(std::shared_ptr<std::byte>(),
                                          data ? static_cast<std::byte*>(data) : const_cast<std::byte*>(&kEmpty));
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel_)
    throw Error(ErrorCode::kInvalidArgument, "cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  if (empty()) return *this;
  Tensor t(dtype_, shape_);
  std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

}  // namespace edgeq
