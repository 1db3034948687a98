// edgeq serve: the inference server (`edgeq serve`, docs/serving.md).
// Owns: the model repository (models and versions from DIR/<name>/<version>/model.onnx, the Triton and
// KServe layout, or NAME=PATH; each version a Session plus the preprocessing and labels from its metadata,
// swapped atomically on reload), the Open Inference Protocol v2 codec (JSON tensors and the binary tensor
// data extension, to and from Tensors), the server's metrics (Prometheus text), and the HTTP server
// (routes, request ids, latency headers, one JSON log line per request, limits, graceful stop).
// Depends on runtime and data; the HTTP layer (Boost.Beast, src/serve/http.h) stays inside src/serve.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgeq/core.h"
#include "edgeq/data.h"
#include "edgeq/runtime.h"

namespace edgeq::serve {

// ---------------------------------------------------------------------------------------------
// Model repository.

// Orders version names: integers numerically ("10" > "9"), semantic versions by major.minor.patch with a
// pre-release below its release ("1.2.0-rc1" < "1.2.0"), an integer N as N.0.0; names that are neither
// compare as text after every numeric one. <0, 0, >0 like strcmp.
int compare_versions(std::string_view a, std::string_view b);
// A model or version name usable in a URL path and as a directory name: [A-Za-z0-9_.-], not "." or "..",
// at most 128 bytes.
bool valid_name(std::string_view name);

// One loaded version of a model: immutable, shared by the requests that run it, so a reload that swaps
// it never pulls it from under one.
struct LoadedModel {
  std::string name;
  std::string version;
  std::string path;  // the model file
  std::shared_ptr<const runtime::Session> session;
  std::optional<data::Preprocess> preprocess;  // when the metadata describes an image input
  std::vector<std::string> labels;            // empty when the model carries none
  double load_ms = 0;                         // read + compile time
};

struct RepositoryOptions {
  int threads = 1;                          // intra-op threads of the pool every model shares
  std::shared_ptr<ThreadPool> thread_pool;  // set: use this pool instead of making one
  std::map<std::string, Shape> input_shapes;  // passed to every Session (SessionOptions::input_shapes)
};

// What the repository index reports per version (Triton's repository extension).
struct IndexEntry {
  std::string name;
  std::string version;
  std::string state;   // "READY", "UNAVAILABLE" (unloaded) or "FAILED" (its last load failed)
  std::string reason;  // why, when not READY
};

class ModelRepository {
 public:
  explicit ModelRepository(RepositoryOptions options = {});
  ~ModelRepository();

  // Sources, before load_all(). A repository directory holds <name>/<version>/model.onnx; a named file
  // is one model with version "1". Error(kInvalidArgument) for a bad name or a name given twice.
  void add_repository(const std::string& dir);
  void add_model(const std::string& name, const std::string& path);
  // Loads every version of every model; throws the first error (the server is ready only when all load).
  void load_all();

  // The version asked for ("" = the highest loaded one), or nullptr when there is none.
  std::shared_ptr<const LoadedModel> find(const std::string& name, const std::string& version = "") const;
  // Names of the models with at least one loaded version, sorted.
  std::vector<std::string> model_names() const;
  // Loaded versions of a model, highest first.
  std::vector<std::string> versions(const std::string& name) const;
  std::vector<IndexEntry> index() const;
  // Load (or reload from disk) every version of a known model; Error(kNotFound) for an unknown one,
  // the load's error otherwise (the versions already loaded then stay).
  void load(const std::string& name);
  // Makes a model unavailable (its requests get 404); in-flight requests finish on the version they hold.
  void unload(const std::string& name);
  // Rescans the repository directories: loads versions that appeared or whose model.onnx changed (size,
  // mtime or inode), drops versions whose directory went away. A version that fails to load keeps its
  // previous copy (if any) and is reported FAILED in the index. Returns how many versions changed.
  int poll_changes();
  // Called after a version is (re)loaded: load time in ms (metrics).
  void on_loaded(std::function<void(const LoadedModel&)> callback);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// Open Inference Protocol v2 (REST): https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/

// "FP32", "INT64", "UINT8", ... for a dtype; "" when v2 has no name for it.
const char* v2_datatype(DType dtype);
// The dtype of a v2 datatype name; kUndefined for an unknown name (BYTES included: no model input here
// takes strings).
DType dtype_from_v2(std::string_view name);

struct RequestedOutput {
  std::string name;
  std::optional<bool> binary;  // parameters.binary_data
};

struct InferRequest {
  std::string id;
  std::vector<std::string> input_names;
  std::vector<Tensor> inputs;  // as sent, in request order
  std::vector<RequestedOutput> outputs;  // empty: every output
  bool binary_outputs = false;           // parameters.binary_data_output
};

// Parses an infer request body. `json_length` is the Inference-Header-Content-Length header when sent:
// the first json_length bytes are the JSON, and inputs whose parameters carry binary_data_size take their
// data from the bytes after it, in order. Error(kInvalidArgument) naming the field for anything malformed
// (bad JSON, unknown datatype, data count or binary size that does not match the shape, values out of
// the datatype's range, bytes left over or missing).
InferRequest parse_infer_request(std::string_view body, std::optional<size_t> json_length);

// The request's inputs in the order the session wants them, each checked against the model's input:
// present, same datatype, same rank, fixed dims equal. Error(kInvalidArgument) naming the input.
std::vector<Tensor> bind_inputs(const InferRequest& request, const std::vector<runtime::IoInfo>& model_inputs);

struct EncodedResponse {
  std::string body;
  std::optional<size_t> json_length;  // set when some output is binary (Inference-Header-Content-Length)
};
// The infer response for these outputs (names from the session), restricted to and in the order of the
// requested outputs when the request names some (Error(kInvalidArgument) for an unknown name).
EncodedResponse encode_infer_response(const std::string& model, const std::string& version, const InferRequest& request,
                                      const std::vector<runtime::IoInfo>& output_info, const std::vector<Tensor>& outputs);

// ---------------------------------------------------------------------------------------------
// Metrics (Prometheus text exposition format 0.0.4), named after Triton's nv_inference_* with our prefix.

struct RequestTimes {
  double queue_us = 0;       // waiting for a batch slot or the engine
  double preprocess_us = 0;  // body parse, image decode, tensor binding
  double compute_us = 0;     // Session::run
  double total_us = 0;       // the whole request, as in X-Latency-Ms
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  // One inference request that reached a model (status = the HTTP status answered).
  void record_inference(const std::string& model, const std::string& version, int status, const RequestTimes& times);
  // One Session::run call over `batch` requests.
  void record_execution(const std::string& model, const std::string& version, int64_t batch);
  // Any HTTP request, by route pattern ("/v2/models/{name}/infer") and status.
  void record_http(const std::string& route, int status);
  void set_load_time(const std::string& model, const std::string& version, double ms);
  // Requests in flight (the pending-request gauge, and what Server::stop() waits on); returns the new count.
  int64_t add_in_flight(int delta);
  int64_t in_flight() const;
  std::string prometheus_text() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// The server.

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                     // 0 = any free port (see Server::port)
  int max_connections = 64;            // connections open at once (a thread each); more get 503 and are closed
  size_t max_body_bytes = 16u << 20;   // larger bodies get 413
  int request_timeout_s = 30;          // reading a request, writing a response
  int64_t max_image_bytes = data::kDefaultMaxImageBytes;  // decode budget of /predict images
  int max_batch = 1;                   // dynamic batching: >1 merges concurrent requests of one model
  int batch_timeout_us = 500;          // how long the first request of a batch waits for others
  int poll_ms = 0;                     // >0: rescan the model repository this often (hot reload)
  int drain_timeout_s = 30;            // stop(): how long in-flight requests get to finish
  bool log_requests = true;            // one JSON line per request on stderr
  // --static DIR: the files under DIR at / for GET/HEAD requests no API route answers, with COOP/COEP
  // (src/serve/static_files.h); "" = none. Files above static_max_bytes get 403.
  std::string static_dir;
  int64_t static_max_bytes = 64ll << 20;
};

class Server {
 public:
  Server(ModelRepository& repository, ServerOptions options);
  ~Server();
  // Binds the socket (Error(kIo) naming host:port when it cannot); returns the port.
  int bind();
  // Serves until stop(); call bind() first.
  void serve();
  // Graceful stop, callable from any thread (a signal handler thread): new requests get 503, in-flight
  // ones finish (up to drain_timeout_s), then serve() returns.
  void stop();
  int port() const;
  Metrics& metrics();
  // The route patterns the server answers, "GET /v2/health/ready" ... (the deploy manifests' tests read it).
  static std::vector<std::string> routes();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgeq::serve
