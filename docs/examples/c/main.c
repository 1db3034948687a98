/* Runs an ONNX model with edgeq's C API: load, describe, run, print each output.
 * Usage: run_model_c MODEL.onnx [INPUT.bin]   (INPUT.bin: the first input's raw values; zeros without it) */
#include <edgeq/edgeq_c.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.onnx [INPUT.bin]\n", argv[0]);
    return 2;
  }
  edgeq_options options;
  edgeq_options_init(&options);
  options.threads = 1;
  edgeq_session* session = NULL;
  if (edgeq_session_create(argv[1], &options, &session) != EDGEQ_OK) {
    fprintf(stderr, "error: %s\n", edgeq_last_error());
    return 1;
  }

  edgeq_io_info info;
  edgeq_session_input_info(session, 0, &info);
  int64_t shape[EDGEQ_MAX_RANK];
  size_t count = 1;
  for (size_t d = 0; d < info.rank && d < EDGEQ_MAX_RANK; ++d) {
    shape[d] = info.shape[d] < 0 ? 1 : info.shape[d]; /* open dims (a symbolic batch) run as 1 */
    count *= (size_t)shape[d];
  }
  edgeq_input input = {info.dtype, info.rank, shape, NULL, count * edgeq_dtype_size(info.dtype)};
  void* data = calloc(1, input.size_bytes + 1); /* zeros */
  input.data = data;
  if (argc > 2) {
    FILE* f = fopen(argv[2], "rb");
    size_t got = f ? fread(data, 1, input.size_bytes + 1, f) : 0;
    if (f) fclose(f);
    if (got != input.size_bytes) {
      fprintf(stderr, "%s: %zu bytes, input '%s' needs %zu\n", argv[2], got, info.name, input.size_bytes);
      return 1;
    }
  }

  size_t n_out = edgeq_session_output_count(session);
  edgeq_tensor** outputs = calloc(n_out, sizeof *outputs);
  if (edgeq_session_run_alloc(session, &input, 1, outputs, n_out) != EDGEQ_OK) {
    fprintf(stderr, "error: %s\n", edgeq_last_error());
    return 1;
  }
  for (size_t i = 0; i < n_out; ++i) {
    edgeq_io_info out_info;
    edgeq_session_output_info(session, i, &out_info);
    printf("%s [", out_info.name);
    const int64_t* dims = edgeq_tensor_shape(outputs[i]);
    for (size_t d = 0; d < edgeq_tensor_rank(outputs[i]); ++d) printf(d ? ", %lld" : "%lld", (long long)dims[d]);
    printf("]:");
    if (edgeq_tensor_dtype(outputs[i]) == EDGEQ_DTYPE_FLOAT32) {
      const float* values = edgeq_tensor_data(outputs[i]);
      size_t n = edgeq_tensor_size_bytes(outputs[i]) / sizeof(float);
      for (size_t k = 0; k < n && k < 16; ++k) printf(" %.9g", values[k]);
    }
    printf("\n");
    edgeq_tensor_destroy(outputs[i]);
  }
  free(outputs);
  free(data);
  edgeq_session_destroy(session);
  return 0;
}
