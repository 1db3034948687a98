// edgeq core: the types every module shares.
// Owns: Error (code + message naming the file/node/field), DType, Tensor (shape, dtype, 64-byte aligned
// storage), atomic file writes, file reads, a monotonic timer. Depends on nothing but the C++ library.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace edgeq {

// ---------------------------------------------------------------------------------------------
// Errors. Library code never prints or exits: it throws Error and the tools decide.
enum class ErrorCode {
  kInvalidArgument,  // bad flag, wrong shape/dtype/name given by the caller
  kNotFound,         // a file, input, initializer or label that does not exist
  kParse,            // a file that is not what it claims to be (corrupt ONNX, bad IDX magic, CSV row)
  kInvalidModel,     // a well-formed file whose graph breaks the ONNX rules (checker, cycle, missing init)
  kUnsupported,      // valid input edgeq does not handle (operator, attribute value, dtype, opset)
  kIo,               // the OS refused a read, a write, memory or a thread
  kInternal,         // a bug in edgeq
};

const char* error_code_name(ErrorCode code);

// Text from a file made safe for a one-line message: printable ASCII kept, every other byte
// (control, escape, DEL, non-ASCII) written as \xNN, and cut with "…" once max_len bytes of the
// input are shown, so a hostile file cannot drive the terminal or flood the log.
std::string printable(std::string_view text, size_t max_len = 80);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// ---------------------------------------------------------------------------------------------
// Data types: the values match onnx::TensorProto_DataType so conversion is a cast.
enum class DType : int32_t {
  kUndefined = 0,
  kF32 = 1,
  kU8 = 2,
  kI8 = 3,
  kU16 = 4,
  kI16 = 5,
  kI32 = 6,
  kI64 = 7,
  kString = 8,
  kBool = 9,
  kF16 = 10,
  kF64 = 11,
  kU32 = 12,
  kU64 = 13,
  kBF16 = 16,
};

// Bytes per element; 0 for kUndefined/kString (no fixed size).
size_t dtype_size(DType t);
// ONNX-style lower-case name: "float32", "int8", "uint8", ...
const char* dtype_name(DType t);
// Whether edgeq knows the numeric value (from an ONNX data_type int).
bool dtype_known(int32_t onnx_type);
// float16 / bfloat16 bits <-> float. To the narrow types: round to nearest even, NaN stays NaN,
// overflow gives infinity (float16 keeps subnormals).
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

// ---------------------------------------------------------------------------------------------
// Shapes. -1 marks a dimension unknown until run time (a symbolic batch, say).
using Shape = std::vector<int64_t>;

// Product of the dims; throws Error(kInvalidArgument) on a negative dim or int64 overflow.
int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[1, 3, 224, 224]" with "?" for unknown

// ---------------------------------------------------------------------------------------------
// Tensor: dense, row-major, contiguous; storage 64-byte aligned and shared (copies alias).
class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape);  // zero-filled

  static Tensor from_f32(Shape shape, std::span<const float> values);
  static Tensor from_i64(Shape shape, std::span<const int64_t> values);
  // A tensor over memory the caller owns, without a copy (the C API and the Python module hand their
  // callers' input buffers to Session::run this way). `data` must stay valid and unchanged while the
  // tensor or a copy of it lives; Session::run keeps none of its inputs past the call (it clones what
  // it caches). Unlike owned storage, `data` need only be aligned to the element size and has no
  // readable slack past the end. Throws Error(kInvalidArgument) when `bytes` is not what dtype and
  // shape need, or `data` is null for a non-empty tensor.
  static Tensor wrap(DType dtype, Shape shape, void* data, size_t bytes);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  bool empty() const { return storage_ == nullptr; }

  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }
  template <typename T>
  T* data() { return static_cast<T*>(raw()); }
  template <typename T>
  const T* data() const { return static_cast<const T*>(raw()); }

  // Same storage, new shape of the same element count.
  Tensor reshaped(Shape shape) const;
  // A deep copy.
  Tensor clone() const;

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<std::byte> storage_;
};

// 64-byte aligned allocation freed with aligned_free; used by Tensor and the runtime arena.
std::shared_ptr<std::byte> aligned_alloc_shared(size_t bytes);

// ---------------------------------------------------------------------------------------------
// Files.
// The whole of a regular file. Error naming the path: kNotFound (absent, or a dangling symbolic
// link, said so), kInvalidArgument (a directory, pipe, device or socket, said which), kIo.
std::string read_file(const std::string& path);
// "" when PATH is a regular file (symbolic links followed), else why not, as read_file says it.
std::string regular_file_problem(const std::string& path);
// Writes to a new PATH.tmp.<pid>.<n> beside it (O_CREAT|O_EXCL|O_NOFOLLOW: a planted name or symbolic
// link cannot redirect the write), fsyncs, then renames over PATH: a reader sees the old file or the
// whole new one, never a half-written one.
void write_file_atomic(const std::string& path, std::string_view bytes);
// A numpy .npy file's bytes (format 1-3, C order, little-endian or one-byte dtypes) -> Tensor. Error
// naming `name_for_errors` for anything else, a data size that is not the shape's, or a hostile header.
Tensor parse_npy(std::string_view bytes, const std::string& name_for_errors);
// Several files that belong together (a model and its training log): every temp is written and
// flushed before the first rename, so an error or a kill while writing leaves the old set; the new
// set then lands in consecutive renames. Temps are removed on failure.
void write_files_atomic(const std::vector<std::pair<std::string, std::string_view>>& files);
// True when both paths exist and are the same file (device and inode; links and symlinks followed).
bool same_file(const std::string& a, const std::string& b);

// ---------------------------------------------------------------------------------------------
// Timer: monotonic, for latency figures.
class Timer {
 public:
  Timer() : start_(std::chrono::steady_clock::now()) {}
  double elapsed_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  }
  void reset() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

const char* version();  // edgeq's version string, written into every model it saves

// ---------------------------------------------------------------------------------------------
// ThreadPool: intra-op parallelism for the runtime. `threads` counts the caller too, so a pool of
// 2 starts one worker. Workers spin for at most spin_us microseconds after a job before sleeping,
// because batch-1 operators last microseconds and a condition-variable wake-up alone costs about as
// much; 0 = sleep at once (idle CPU cost nil, every step pays the wake-up).
// parallel_for may be called from several threads at once (concurrent Session::run calls, sessions
// sharing one pool): the first caller gets the workers, a caller that finds the pool busy runs its
// whole range itself, which is correct and keeps runs independent (no run waits for another run's
// operator; nested calls from inside a job run serially, so they cannot deadlock).
namespace edgeq_detail {
struct ThreadPoolState;
}

class ThreadPool {
 public:
  static constexpr int kDefaultSpinMicros = 100;
  // Throws Error(kIo) when the OS refuses the threads (none is left running).
  explicit ThreadPool(int threads, int spin_us = kDefaultSpinMicros);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }
  int spin_us() const { return spin_us_; }

  // Calls fn(begin, end) on disjoint ranges covering [0, n), in parallel; returns when all are done.
  // Exceptions thrown by fn are rethrown on the caller (the first one).
  template <typename Fn>
  void parallel_for(int64_t n, Fn&& fn) {
    if (n <= 0) return;
    if (threads_ <= 1 || n == 1) {
      fn(int64_t{0}, n);
      return;
    }
    using F = std::remove_reference_t<Fn>;
    run_ranges(n, [](void* ctx, int64_t b, int64_t e) { (*static_cast<F*>(ctx))(b, e); },
               const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  void run_ranges(int64_t n, void (*fn)(void*, int64_t, int64_t), void* ctx);
  void stop_workers();  // joins every started worker
  int threads_;
  int spin_us_;
  std::unique_ptr<edgeq_detail::ThreadPoolState> state_;
};

// Number of hardware threads (at least 1).
int hardware_threads();
// Number of CPUs this process may run on (its affinity mask; at least 1): the ceiling for --threads.
int allowed_threads();

}  // namespace edgeq
