// The C API over edgeq::runtime::Session: every entry point catches everything, turns it into a
// status and a thread-local message, and never lets an exception reach C.
#include "edgeq/edgeq_c.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "edgeq/core.h"
#include "edgeq/runtime.h"

struct edgeq_session {
  edgeq::runtime::Session session;
  // The edgeq_io_info pointers point into these (names, shapes), so they live as long as the handle.
  std::vector<edgeq::runtime::IoInfo> inputs, outputs;
};

struct edgeq_tensor {
  edgeq::Tensor tensor;
};

namespace {

thread_local std::string last_error;

edgeq_status fail(edgeq_status status, std::string message) {
  last_error = std::move(message);
  return status;
}

edgeq_status status_of(edgeq::ErrorCode code) {
  switch (code) {
    case edgeq::ErrorCode::kInvalidArgument: return EDGEQ_INVALID_ARGUMENT;
    case edgeq::ErrorCode::kNotFound: return EDGEQ_NOT_FOUND;
    case edgeq::ErrorCode::kParse: return EDGEQ_PARSE;
    case edgeq::ErrorCode::kInvalidModel: return EDGEQ_INVALID_MODEL;
    case edgeq::ErrorCode::kUnsupported: return EDGEQ_UNSUPPORTED;
    case edgeq::ErrorCode::kIo: return EDGEQ_IO;
    case edgeq::ErrorCode::kInternal: return EDGEQ_INTERNAL;
  }
  return EDGEQ_INTERNAL;
}

// Runs `body` (returning edgeq_status) with every exception mapped to a status and message.
template <typename Body>
edgeq_status guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (const edgeq::Error& e) {
    return fail(status_of(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    return fail(EDGEQ_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(EDGEQ_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(EDGEQ_INTERNAL, "internal error: unknown exception");
  }
}

edgeq::runtime::SessionOptions session_options(const edgeq_options* options) {
  edgeq_options o;
  edgeq_options_init(&o);
  // Read only the fields the caller's header knew.
  if (options) std::memcpy(&o, options, std::min(options->size, sizeof o));
  edgeq::runtime::SessionOptions so;
  so.threads = o.threads;
  return so;
}

edgeq_status make_handle(edgeq::runtime::Session session, edgeq_session** out) {
  auto* h = new edgeq_session{std::move(session), {}, {}};
  h->inputs = h->session.inputs();
  h->outputs = h->session.outputs();
  *out = h;
  return EDGEQ_OK;
}

edgeq_status io_info(const std::vector<edgeq::runtime::IoInfo>& list, const char* what, size_t index, edgeq_io_info* info) {
  if (index >= list.size())
    return fail(EDGEQ_INVALID_ARGUMENT, std::string(what) + " index " + std::to_string(index) + " out of range (the model has " +
                                            std::to_string(list.size()) + ")");
  const auto& io = list[index];
  info->name = io.name.c_str();
  info->dtype = static_cast<edgeq_dtype>(io.dtype);
  info->rank = io.shape.size();
  info->shape = io.shape.data();
  return EDGEQ_OK;
}

// The caller's buffers as tensors over the same memory, checked against the session's inputs.
std::vector<edgeq::Tensor> wrap_inputs(const edgeq_session* s, const edgeq_input* inputs, size_t count) {
  using edgeq::Error, edgeq::ErrorCode;
  if (count != s->inputs.size())
    throw Error(ErrorCode::kInvalidArgument, "expected " + std::to_string(s->inputs.size()) + " input(s), got " + std::to_string(count));
  if (count > 0 && inputs == nullptr) throw Error(ErrorCode::kInvalidArgument, "inputs is NULL");
  std::vector<edgeq::Tensor> tensors;
  tensors.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const edgeq_input& in = inputs[i];
    const std::string& name = s->inputs[i].name;
    if (in.rank > 0 && in.shape == nullptr) throw Error(ErrorCode::kInvalidArgument, "input '" + name + "': shape is NULL");
    const auto dtype = static_cast<edgeq::DType>(in.dtype);
    if (edgeq::dtype_size(dtype) == 0)
      throw Error(ErrorCode::kInvalidArgument, "input '" + name + "': unknown dtype " + std::to_string(static_cast<int>(in.dtype)));
    try {
      tensors.push_back(edgeq::Tensor::wrap(dtype, edgeq::Shape(in.shape, in.shape + in.rank), const_cast<void*>(in.data), in.size_bytes));
    } catch (const Error& e) {
      throw Error(e.code(), "input '" + name + "': " + e.what());
    }
  }
  return tensors;
}

}  // namespace

extern "C" {

const char* edgeq_version(void) { return edgeq::version(); }

const char* edgeq_last_error(void) { return last_error.c_str(); }

const char* edgeq_status_name(edgeq_status status) {
  switch (status) {
    case EDGEQ_OK: return "OK";
    case EDGEQ_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case EDGEQ_NOT_FOUND: return "NOT_FOUND";
    case EDGEQ_PARSE: return "PARSE";
    case EDGEQ_INVALID_MODEL: return "INVALID_MODEL";
    case EDGEQ_UNSUPPORTED: return "UNSUPPORTED";
    case EDGEQ_IO: return "IO";
    case EDGEQ_INTERNAL: return "INTERNAL";
    case EDGEQ_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
  }
  return "UNKNOWN";
}

const char* edgeq_dtype_name(edgeq_dtype dtype) {
  const auto t = static_cast<edgeq::DType>(dtype);
  return edgeq::dtype_size(t) == 0 ? "undefined" : edgeq::dtype_name(t);
}

size_t edgeq_dtype_size(edgeq_dtype dtype) { return edgeq::dtype_size(static_cast<edgeq::DType>(dtype)); }

void edgeq_options_init(edgeq_options* options) {
  if (!options) return;
  options->size = sizeof(edgeq_options);
  options->threads = 1;
}

edgeq_status edgeq_session_create(const char* path, const edgeq_options* options, edgeq_session** session) {
  if (!session) return fail(EDGEQ_INVALID_ARGUMENT, "session is NULL");
  *session = nullptr;
  if (!path) return fail(EDGEQ_INVALID_ARGUMENT, "path is NULL");
  return guarded([&] { return make_handle(edgeq::runtime::load_session(path, session_options(options)), session); });
}

edgeq_status edgeq_session_create_from_buffer(const void* data, size_t size, const edgeq_options* options, edgeq_session** session) {
  if (!session) return fail(EDGEQ_INVALID_ARGUMENT, "session is NULL");
  *session = nullptr;
  if (!data && size > 0) return fail(EDGEQ_INVALID_ARGUMENT, "data is NULL");
  return guarded([&] {
    return make_handle(edgeq::runtime::load_session_from_buffer(data, size, session_options(options), "<buffer>"), session);
  });
}

void edgeq_session_destroy(edgeq_session* session) { delete session; }

size_t edgeq_session_input_count(const edgeq_session* session) { return session ? session->inputs.size() : 0; }
size_t edgeq_session_output_count(const edgeq_session* session) { return session ? session->outputs.size() : 0; }

edgeq_status edgeq_session_input_info(const edgeq_session* session, size_t index, edgeq_io_info* info) {
  if (!session || !info) return fail(EDGEQ_INVALID_ARGUMENT, "session or info is NULL");
  return io_info(session->inputs, "input", index, info);
}

size_t edgeq_session_metadata_count(const edgeq_session* session) {
  return session ? session->session.optimized_model().metadata.size() : 0;
}

edgeq_status edgeq_session_metadata(const edgeq_session* session, size_t index, const char** key, const char** value) {
  if (!session || !key || !value) return fail(EDGEQ_INVALID_ARGUMENT, "session, key or value is NULL");
  const auto& metadata = session->session.optimized_model().metadata;
  if (index >= metadata.size())
    return fail(EDGEQ_INVALID_ARGUMENT, "metadata index " + std::to_string(index) + " out of range (the model has " +
                                            std::to_string(metadata.size()) + " entries)");
  *key = metadata[index].first.c_str();
  *value = metadata[index].second.c_str();
  return EDGEQ_OK;
}

edgeq_status edgeq_session_output_info(const edgeq_session* session, size_t index, edgeq_io_info* info) {
  if (!session || !info) return fail(EDGEQ_INVALID_ARGUMENT, "session or info is NULL");
  return io_info(session->outputs, "output", index, info);
}

edgeq_status edgeq_session_run(const edgeq_session* session, const edgeq_input* inputs, size_t input_count, edgeq_output* outputs,
                               size_t output_count) {
  if (!session) return fail(EDGEQ_INVALID_ARGUMENT, "session is NULL");
  if (output_count != session->outputs.size())
    return fail(EDGEQ_INVALID_ARGUMENT, "expected " + std::to_string(session->outputs.size()) + " output buffer(s), got " +
                                            std::to_string(output_count));
  if (output_count > 0 && !outputs) return fail(EDGEQ_INVALID_ARGUMENT, "outputs is NULL");
  return guarded([&] {
    const auto results = session->session.run(wrap_inputs(session, inputs, input_count));
    for (size_t i = 0; i < results.size(); ++i) {
      const edgeq::Tensor& t = results[i];
      edgeq_output& o = outputs[i];
      const std::string& name = session->outputs[i].name;
      if (t.shape().size() > EDGEQ_MAX_RANK)
        return fail(EDGEQ_UNSUPPORTED, "output '" + name + "' has rank " + std::to_string(t.shape().size()) + ", above EDGEQ_MAX_RANK; use edgeq_session_run_alloc");
      o.dtype = static_cast<edgeq_dtype>(t.dtype());
      o.rank = t.shape().size();
      std::copy(t.shape().begin(), t.shape().end(), o.shape);
      o.size_bytes = t.nbytes();
      if (o.capacity_bytes < t.nbytes())
        return fail(EDGEQ_INVALID_ARGUMENT, "output '" + name + "' needs " + std::to_string(t.nbytes()) + " bytes, the buffer has " +
                                                std::to_string(o.capacity_bytes));
      if (t.nbytes() > 0 && !o.data) return fail(EDGEQ_INVALID_ARGUMENT, "output '" + name + "': data is NULL");
      if (t.nbytes() > 0) std::memcpy(o.data, t.raw(), t.nbytes());
    }
    return EDGEQ_OK;
  });
}

edgeq_status edgeq_session_run_alloc(const edgeq_session* session, const edgeq_input* inputs, size_t input_count, edgeq_tensor** outputs,
                                     size_t output_count) {
  if (!session) return fail(EDGEQ_INVALID_ARGUMENT, "session is NULL");
  if (output_count > 0 && !outputs) return fail(EDGEQ_INVALID_ARGUMENT, "outputs is NULL");
  for (size_t i = 0; i < output_count; ++i) outputs[i] = nullptr;
  if (output_count != session->outputs.size())
    return fail(EDGEQ_INVALID_ARGUMENT, "expected room for " + std::to_string(session->outputs.size()) + " output(s), got " +
                                            std::to_string(output_count));
  return guarded([&] {
    auto results = session->session.run(wrap_inputs(session, inputs, input_count));
    std::vector<edgeq_tensor*> made;
    try {
      for (auto& t : results) made.push_back(new edgeq_tensor{std::move(t)});
    } catch (...) {
      for (auto* t : made) delete t;
      throw;
    }
    std::copy(made.begin(), made.end(), outputs);
    return EDGEQ_OK;
  });
}

edgeq_dtype edgeq_tensor_dtype(const edgeq_tensor* tensor) {
  return tensor ? static_cast<edgeq_dtype>(tensor->tensor.dtype()) : EDGEQ_DTYPE_UNDEFINED;
}
size_t edgeq_tensor_rank(const edgeq_tensor* tensor) { return tensor ? tensor->tensor.shape().size() : 0; }
const int64_t* edgeq_tensor_shape(const edgeq_tensor* tensor) { return tensor ? tensor->tensor.shape().data() : nullptr; }
const void* edgeq_tensor_data(const edgeq_tensor* tensor) { return tensor ? tensor->tensor.raw() : nullptr; }
size_t edgeq_tensor_size_bytes(const edgeq_tensor* tensor) { return tensor ? tensor->tensor.nbytes() : 0; }
void edgeq_tensor_destroy(edgeq_tensor* tensor) { delete tensor; }

}  // extern "C"
