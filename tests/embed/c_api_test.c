/* The C API from C (compiled -std=c11): loads the models embed_make_models wrote, checks their I/O
 * description, runs them from file and from a buffer, with caller buffers and library-owned
 * tensors, on 1 and 2 threads, and compares every output byte for byte with the C++ Session's
 * (MODELDIR/NAME.OUTPUT.expected.bin). Then the error paths: each must return its status and a
 * message, never crash. Usage: embed_c_api_test MODELDIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeq/edgeq_c.h"

static int failures = 0;
static const char* model_dir = ".";

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                          \
    }                                                                      \
  } while (0)

/* Status must be `want` and the thread's last error must contain `needle`. */
static void expect_error(edgeq_status got, edgeq_status want, const char* needle, int line) {
  const char* msg = edgeq_last_error();
  if (got != want || strstr(msg, needle) == NULL) {
    fprintf(stderr, "line %d: got %s '%s', want %s containing '%s'\n", line, edgeq_status_name(got), msg, edgeq_status_name(want), needle);
    ++failures;
  }
}
#define EXPECT_ERROR(call, want, needle) expect_error((call), (want), (needle), __LINE__)

/* Reads MODELDIR/NAME into a malloc'd buffer; exits when missing (the fixture is broken). */
static void* read_all(const char* name, size_t* size) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", model_dir, name);
  FILE* f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void* data = malloc(n > 0 ? (size_t)n : 1);
  if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(1);
  }
  fclose(f);
  *size = (size_t)n;
  return data;
}

static edgeq_session* open_model(const char* model, int threads) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.onnx", model_dir, model);
  edgeq_options options;
  edgeq_options_init(&options);
  options.threads = threads;
  edgeq_session* s = NULL;
  edgeq_status st = edgeq_session_create(path, &options, &s);
  if (st != EDGEQ_OK) {
    fprintf(stderr, "create %s: %s %s\n", path, edgeq_status_name(st), edgeq_last_error());
    exit(1);
  }
  return s;
}

/* Builds edgeq_input i from MODELDIR/MODEL.<name>.bin with the declared dtype and shape. */
static edgeq_input load_input(const edgeq_session* s, const char* model, size_t i) {
  edgeq_io_info info;
  CHECK(edgeq_session_input_info(s, i, &info) == EDGEQ_OK);
  char name[1024];
  snprintf(name, sizeof name, "%s.%s.bin", model, info.name);
  edgeq_input in;
  in.dtype = info.dtype;
  in.rank = info.rank;
  in.shape = info.shape;
  in.data = read_all(name, &in.size_bytes);
  return in;
}

static int equals_expected(const edgeq_session* s, const char* model, size_t i, const void* data, size_t size) {
  edgeq_io_info info;
  CHECK(edgeq_session_output_info(s, i, &info) == EDGEQ_OK);
  char name[1024];
  snprintf(name, sizeof name, "%s.%s.expected.bin", model, info.name);
  size_t want_size = 0;
  void* want = read_all(name, &want_size);
  int same = want_size == size && memcmp(want, data, size) == 0;
  if (!same) fprintf(stderr, "%s output %s differs from the C++ Session's\n", model, info.name);
  free(want);
  return same;
}

/* Runs MODEL both ways (caller buffers, library-owned tensors) and compares every output. */
static void run_and_compare(edgeq_session* s, const char* model) {
  size_t n_in = edgeq_session_input_count(s), n_out = edgeq_session_output_count(s);
  edgeq_input inputs[8];
  edgeq_output outputs[8];
  edgeq_tensor* owned[8];
  CHECK(n_in <= 8 && n_out <= 8);
  for (size_t i = 0; i < n_in; ++i) inputs[i] = load_input(s, model, i);
  for (size_t i = 0; i < n_out; ++i) {
    memset(&outputs[i], 0, sizeof outputs[i]);
    outputs[i].capacity_bytes = 1 << 16;
    outputs[i].data = malloc(outputs[i].capacity_bytes);
  }
  edgeq_status st = edgeq_session_run(s, inputs, n_in, outputs, n_out);
  if (st != EDGEQ_OK) fprintf(stderr, "run %s: %s\n", model, edgeq_last_error());
  CHECK(st == EDGEQ_OK);
  for (size_t i = 0; i < n_out && st == EDGEQ_OK; ++i) CHECK(equals_expected(s, model, i, outputs[i].data, outputs[i].size_bytes));

  st = edgeq_session_run_alloc(s, inputs, n_in, owned, n_out);
  CHECK(st == EDGEQ_OK);
  for (size_t i = 0; i < n_out && st == EDGEQ_OK; ++i) {
    CHECK(edgeq_tensor_dtype(owned[i]) == outputs[i].dtype);
    CHECK(edgeq_tensor_rank(owned[i]) == outputs[i].rank);
    CHECK(memcmp(edgeq_tensor_shape(owned[i]), outputs[i].shape, outputs[i].rank * sizeof(int64_t)) == 0);
    CHECK(equals_expected(s, model, i, edgeq_tensor_data(owned[i]), edgeq_tensor_size_bytes(owned[i])));
    edgeq_tensor_destroy(owned[i]);
  }
  for (size_t i = 0; i < n_in; ++i) free((void*)inputs[i].data);
  for (size_t i = 0; i < n_out; ++i) free(outputs[i].data);
}

static void test_describe_and_run(void) {
  CHECK(strlen(edgeq_version()) > 0);
  edgeq_session* s = open_model("conv", 1);
  CHECK(edgeq_session_input_count(s) == 1);
  CHECK(edgeq_session_output_count(s) == 1);
  edgeq_io_info in, out;
  CHECK(edgeq_session_input_info(s, 0, &in) == EDGEQ_OK);
  CHECK(strcmp(in.name, "input") == 0);
  CHECK(in.dtype == EDGEQ_DTYPE_FLOAT32);
  CHECK(in.rank == 4 && in.shape[0] == 1 && in.shape[1] == 1 && in.shape[2] == 8 && in.shape[3] == 8);
  CHECK(edgeq_session_output_info(s, 0, &out) == EDGEQ_OK);
  CHECK(strcmp(out.name, "logits") == 0);
  CHECK(out.dtype == EDGEQ_DTYPE_FLOAT32);
  /* metadata_props in file order (make_models.cpp) */
  const char *key = NULL, *value = NULL;
  CHECK(edgeq_session_metadata_count(s) == 2);
  CHECK(edgeq_session_metadata(s, 0, &key, &value) == EDGEQ_OK);
  CHECK(strcmp(key, "labels") == 0 && strstr(value, "\"nine\"]") != NULL);
  CHECK(edgeq_session_metadata(s, 1, &key, &value) == EDGEQ_OK);
  CHECK(strcmp(key, "channels") == 0 && strcmp(value, "1") == 0);
  EXPECT_ERROR(edgeq_session_metadata(s, 2, &key, &value), EDGEQ_INVALID_ARGUMENT, "metadata index 2 out of range");
  run_and_compare(s, "conv");
  edgeq_session_destroy(s);

  s = open_model("conv", 2);
  run_and_compare(s, "conv");
  edgeq_session_destroy(s);

  s = open_model("mixed", 1);
  const edgeq_dtype want[4] = {EDGEQ_DTYPE_UINT8, EDGEQ_DTYPE_INT8, EDGEQ_DTYPE_INT64, EDGEQ_DTYPE_FLOAT32};
  CHECK(edgeq_session_input_count(s) == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(edgeq_session_input_info(s, i, &in) == EDGEQ_OK);
    CHECK(in.dtype == want[i]);
  }
  CHECK(edgeq_session_output_info(s, 1, &out) == EDGEQ_OK);
  CHECK(out.dtype == EDGEQ_DTYPE_INT64);
  run_and_compare(s, "mixed");
  edgeq_session_destroy(s);
}

static void test_from_buffer(void) {
  size_t size = 0;
  void* bytes = read_all("conv.onnx", &size);
  edgeq_session* s = NULL;
  CHECK(edgeq_session_create_from_buffer(bytes, size, NULL, &s) == EDGEQ_OK);
  free(bytes); /* the session keeps no reference to the buffer */
  if (s) run_and_compare(s, "conv");
  edgeq_session_destroy(s);
}

static void test_errors(void) {
  edgeq_session* s = (edgeq_session*)&failures; /* must be reset to NULL on failure */
  EXPECT_ERROR(edgeq_session_create("/no/such/model.onnx", NULL, &s), EDGEQ_NOT_FOUND, "/no/such/model.onnx");
  CHECK(s == NULL);

  static const char corrupt[] = "\x08\x07\x12\xff\xff\xff\xff\x0fnot a model";
  edgeq_status st = edgeq_session_create_from_buffer(corrupt, sizeof corrupt - 1, NULL, &s);
  CHECK(st == EDGEQ_PARSE || st == EDGEQ_INVALID_MODEL);
  CHECK(strlen(edgeq_last_error()) > 0);
  CHECK(s == NULL);
  size_t size = 0;
  char* bytes = read_all("conv.onnx", &size);
  st = edgeq_session_create_from_buffer(bytes, size / 2, NULL, &s); /* truncated */
  CHECK(st != EDGEQ_OK && strlen(edgeq_last_error()) > 0 && s == NULL);
  free(bytes);
  EXPECT_ERROR(edgeq_session_create(NULL, NULL, &s), EDGEQ_INVALID_ARGUMENT, "path");

  s = open_model("conv", 1);
  edgeq_io_info info;
  EXPECT_ERROR(edgeq_session_input_info(s, 5, &info), EDGEQ_INVALID_ARGUMENT, "out of range");
  edgeq_input in = load_input(s, "conv", 0);
  float out_data[10];
  edgeq_output out;
  memset(&out, 0, sizeof out);
  out.data = out_data;
  out.capacity_bytes = sizeof out_data;

  edgeq_input short_in = in;
  short_in.size_bytes -= 4;
  EXPECT_ERROR(edgeq_session_run(s, &short_in, 1, &out, 1), EDGEQ_INVALID_ARGUMENT, "input 'input'");
  edgeq_input wrong_dtype = in;
  wrong_dtype.dtype = EDGEQ_DTYPE_INT32; /* same byte size, other type */
  EXPECT_ERROR(edgeq_session_run(s, &wrong_dtype, 1, &out, 1), EDGEQ_INVALID_ARGUMENT, "dtype");
  const int64_t other_shape[4] = {1, 1, 4, 16};
  edgeq_input wrong_shape = in;
  wrong_shape.shape = other_shape;
  EXPECT_ERROR(edgeq_session_run(s, &wrong_shape, 1, &out, 1), EDGEQ_INVALID_ARGUMENT, "shape");
  edgeq_input unknown_dtype = in;
  unknown_dtype.dtype = (edgeq_dtype)99;
  EXPECT_ERROR(edgeq_session_run(s, &unknown_dtype, 1, &out, 1), EDGEQ_INVALID_ARGUMENT, "dtype");
  EXPECT_ERROR(edgeq_session_run(s, &in, 0, &out, 1), EDGEQ_INVALID_ARGUMENT, "expected 1 input");
  EXPECT_ERROR(edgeq_session_run(s, NULL, 1, &out, 1), EDGEQ_INVALID_ARGUMENT, "NULL");
  EXPECT_ERROR(edgeq_session_run(s, &in, 1, &out, 2), EDGEQ_INVALID_ARGUMENT, "output buffer");
  out.capacity_bytes = 8;
  EXPECT_ERROR(edgeq_session_run(s, &in, 1, &out, 1), EDGEQ_INVALID_ARGUMENT, "needs 40 bytes");
  CHECK(out.size_bytes == 40); /* filled so the caller can grow the buffer */
  edgeq_tensor* owned[2] = {NULL, NULL};
  EXPECT_ERROR(edgeq_session_run_alloc(s, &short_in, 1, owned, 1), EDGEQ_INVALID_ARGUMENT, "input 'input'");
  CHECK(owned[0] == NULL);
  EXPECT_ERROR(edgeq_session_run(NULL, &in, 1, &out, 1), EDGEQ_INVALID_ARGUMENT, "session");

  /* The session still works after all that. */
  out.capacity_bytes = sizeof out_data;
  CHECK(edgeq_session_run(s, &in, 1, &out, 1) == EDGEQ_OK);
  CHECK(equals_expected(s, "conv", 0, out.data, out.size_bytes));
  free((void*)in.data);
  edgeq_session_destroy(s);
  edgeq_session_destroy(NULL);
  edgeq_tensor_destroy(NULL);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: embed_c_api_test MODELDIR\n");
    return 2;
  }
  model_dir = argv[1];
  test_describe_and_run();
  test_from_buffer();
  test_errors();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("embed_c_api_test: all checks passed (edgeq %s)\n", edgeq_version());
  return 0;
}
