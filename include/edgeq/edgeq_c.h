/* edgeq C API: the runtime Session for C and FFI callers (ctypes, cffi, Rust, Go, ...).
 * Owns: an opaque session handle made from an ONNX file or an in-memory buffer, the description of
 * its inputs and outputs, run() over caller buffers, library-owned result tensors, error reporting.
 * Every function returns a status (or a value that cannot fail); a failing call also sets a message
 * that edgeq_last_error() returns on the same thread. No C++ exception ever leaves this API.
 * A session may be run from several threads at once; create/destroy are not concurrent with runs.
 * Pure C99/C11; the implementation is C++ over edgeq::runtime::Session. */
#ifndef EDGEQ_EDGEQ_C_H
#define EDGEQ_EDGEQ_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EDGEQ_C_EXPORT __attribute__((visibility("default")))
#else
#define EDGEQ_C_EXPORT
#endif

/* Status codes: the edgeq::ErrorCode values, plus OK and out-of-memory. */
typedef enum edgeq_status {
  EDGEQ_OK = 0,
  EDGEQ_INVALID_ARGUMENT = 1, /* wrong count, dtype, shape or buffer size from the caller */
  EDGEQ_NOT_FOUND = 2,        /* missing file, unknown input name */
  EDGEQ_PARSE = 3,            /* bytes that are not an ONNX model */
  EDGEQ_INVALID_MODEL = 4,    /* a well-formed model that breaks ONNX's rules */
  EDGEQ_UNSUPPORTED = 5,      /* an operator, attribute or dtype edgeq does not run */
  EDGEQ_IO = 6,               /* the OS refused a read */
  EDGEQ_INTERNAL = 7,         /* a bug in edgeq */
  EDGEQ_OUT_OF_MEMORY = 8
} edgeq_status;

/* Element types; the values are ONNX's TensorProto.DataType. */
typedef enum edgeq_dtype {
  EDGEQ_DTYPE_UNDEFINED = 0,
  EDGEQ_DTYPE_FLOAT32 = 1,
  EDGEQ_DTYPE_UINT8 = 2,
  EDGEQ_DTYPE_INT8 = 3,
  EDGEQ_DTYPE_UINT16 = 4,
  EDGEQ_DTYPE_INT16 = 5,
  EDGEQ_DTYPE_INT32 = 6,
  EDGEQ_DTYPE_INT64 = 7,
  EDGEQ_DTYPE_BOOL = 9,
  EDGEQ_DTYPE_FLOAT16 = 10,
  EDGEQ_DTYPE_FLOAT64 = 11,
  EDGEQ_DTYPE_UINT32 = 12,
  EDGEQ_DTYPE_UINT64 = 13,
  EDGEQ_DTYPE_BFLOAT16 = 16
} edgeq_dtype;

/* Highest rank an edgeq_output can describe. */
#define EDGEQ_MAX_RANK 8

typedef struct edgeq_session edgeq_session;
typedef struct edgeq_tensor edgeq_tensor;

/* Session options. Call edgeq_options_init first: it sets `size` (so a newer library reads only the
 * fields this header knew) and the defaults. */
typedef struct edgeq_options {
  size_t size;
  int32_t threads; /* intra-op threads including the caller; <= 0 = all hardware threads. Default 1. */
} edgeq_options;

/* Name, dtype and shape of one input or output. Pointers stay valid while the session lives.
 * shape[i] is -1 where the model leaves the dim open (a symbolic batch). */
typedef struct edgeq_io_info {
  const char* name;
  edgeq_dtype dtype;
  size_t rank;
  const int64_t* shape;
} edgeq_io_info;

/* One input: the caller's buffer, read in place (no copy) during the run. `data` must be aligned to
 * the element size; `size_bytes` must equal the element count times the element size. */
typedef struct edgeq_input {
  edgeq_dtype dtype;
  size_t rank;
  const int64_t* shape;
  const void* data;
  size_t size_bytes;
} edgeq_input;

/* One output written into the caller's buffer: set data and capacity_bytes; the run fills the rest. */
typedef struct edgeq_output {
  void* data;
  size_t capacity_bytes;
  /* filled by the run: */
  edgeq_dtype dtype;
  size_t rank;
  int64_t shape[EDGEQ_MAX_RANK];
  size_t size_bytes;
} edgeq_output;

/* "0.1.0": the library's version. */
EDGEQ_C_EXPORT const char* edgeq_version(void);
/* The message of the last failed call on this thread ("" if none); valid until the next call that fails. */
EDGEQ_C_EXPORT const char* edgeq_last_error(void);
/* "OK", "INVALID_ARGUMENT", ... */
EDGEQ_C_EXPORT const char* edgeq_status_name(edgeq_status status);
/* "float32", "uint8", ...; "undefined" for values it does not know. */
EDGEQ_C_EXPORT const char* edgeq_dtype_name(edgeq_dtype dtype);
/* Bytes per element; 0 for EDGEQ_DTYPE_UNDEFINED and unknown values. */
EDGEQ_C_EXPORT size_t edgeq_dtype_size(edgeq_dtype dtype);

EDGEQ_C_EXPORT void edgeq_options_init(edgeq_options* options);

/* Loads an ONNX file and compiles it. `options` may be NULL (defaults). On failure *session is NULL. */
EDGEQ_C_EXPORT edgeq_status edgeq_session_create(const char* path, const edgeq_options* options, edgeq_session** session);
/* The same from `size` bytes of a serialized ONNX model (copied; the buffer may be freed on return). */
EDGEQ_C_EXPORT edgeq_status edgeq_session_create_from_buffer(const void* data, size_t size, const edgeq_options* options,
                                                             edgeq_session** session);
/* NULL is allowed. */
EDGEQ_C_EXPORT void edgeq_session_destroy(edgeq_session* session);

EDGEQ_C_EXPORT size_t edgeq_session_input_count(const edgeq_session* session);
EDGEQ_C_EXPORT size_t edgeq_session_output_count(const edgeq_session* session);
EDGEQ_C_EXPORT edgeq_status edgeq_session_input_info(const edgeq_session* session, size_t index, edgeq_io_info* info);
EDGEQ_C_EXPORT edgeq_status edgeq_session_output_info(const edgeq_session* session, size_t index, edgeq_io_info* info);

/* The model's metadata_props (ONNX string key/value pairs, in file order). edgeq's own models carry
 * "labels", "mean" and "std" (JSON arrays), "channels", "height" and "width" (integers): what a caller
 * needs to preprocess an image and name the classes. Pointers stay valid while the session lives. */
EDGEQ_C_EXPORT size_t edgeq_session_metadata_count(const edgeq_session* session);
EDGEQ_C_EXPORT edgeq_status edgeq_session_metadata(const edgeq_session* session, size_t index, const char** key,
                                                   const char** value);

/* Runs with inputs in edgeq_session_input_info order and writes every output into the caller's
 * buffers (outputs[i] for output i). A buffer too small is EDGEQ_INVALID_ARGUMENT naming the output
 * and the bytes it needs (its dtype/shape/size_bytes are filled even then, so a caller can grow it). */
EDGEQ_C_EXPORT edgeq_status edgeq_session_run(const edgeq_session* session, const edgeq_input* inputs, size_t input_count,
                                              edgeq_output* outputs, size_t output_count);
/* Runs and returns the outputs as library-owned tensors: outputs[i] receives output i, to be freed
 * with edgeq_tensor_destroy. On failure every outputs[i] is NULL. */
EDGEQ_C_EXPORT edgeq_status edgeq_session_run_alloc(const edgeq_session* session, const edgeq_input* inputs, size_t input_count,
                                                    edgeq_tensor** outputs, size_t output_count);

EDGEQ_C_EXPORT edgeq_dtype edgeq_tensor_dtype(const edgeq_tensor* tensor);
EDGEQ_C_EXPORT size_t edgeq_tensor_rank(const edgeq_tensor* tensor);
EDGEQ_C_EXPORT const int64_t* edgeq_tensor_shape(const edgeq_tensor* tensor);
EDGEQ_C_EXPORT const void* edgeq_tensor_data(const edgeq_tensor* tensor);
EDGEQ_C_EXPORT size_t edgeq_tensor_size_bytes(const edgeq_tensor* tensor);
/* NULL is allowed. */
EDGEQ_C_EXPORT void edgeq_tensor_destroy(edgeq_tensor* tensor);

#ifdef __cplusplus
}
#endif

#endif /* EDGEQ_EDGEQ_C_H */
