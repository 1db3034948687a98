// The server's routes and request bookkeeping over the HTTP layer (http.h: Boost.Beast, one thread per
// connection, keep-alive). One dispatcher matches the path against the route table below, which is also
// what routes() reports. Request ids, X-Latency-Ms, the JSON log line and the in-flight count are kept in a
// per-thread request context (a connection's requests are served one after another on its thread).
#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <random>
#include <thread>

#include "batcher.h"
#include "http.h"
#include "json_values.h"
#include "static_files.h"
#include "edgeq/serve.h"

namespace edgeq::serve {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double us_since(Clock::time_point t) { return std::chrono::duration<double, std::micro>(Clock::now() - t).count(); }

// What the request bookkeeping and the log line need about the request being served on this thread.
struct RequestContext {
  bool active = false;  // set when the request reaches the handler; one the HTTP layer refused has none
  Clock::time_point start;
  std::string id;
  std::string route;  // the pattern, e.g. "/v2/models/{name}/infer"
  std::string model, version;
  int64_t batch = 0;
};
thread_local RequestContext t_request;

// An HTTP error with the status to answer; the message becomes {"error": message}.
struct HttpError {
  int status;
  std::string message;
};

[[noreturn]] void fail(int status, std::string message) { throw HttpError{status, std::move(message)}; }

void reply_json(http::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void reply_error(http::Response& res, int status, const std::string& message) {
  reply_json(res, status, json{{"error", message}});
}

int status_for(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kParse:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kUnsupported:
      return 422;
    default:
      return 500;
  }
}

// 16 hex digits from a per-thread generator.
std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^ std::hash<std::thread::id>{}(std::this_thread::get_id())};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

// An X-Request-ID is echoed when it is short printable ASCII; otherwise (or absent) one is made.
std::string request_id(const http::Request& req) {
  std::string id = req.header("X-Request-ID");
  const bool usable = !id.empty() && id.size() <= 128 &&
                      std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  return usable ? id : new_request_id();
}

// Path segments without empty ones: "/v2/models/a/infer" -> v2, models, a, infer.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = i;
    while (j < path.size() && path[j] != '/') ++j;
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

// One route: method, pattern, handler. Captures are the {name} and {version} segments in order.
struct Route {
  const char* method;
  const char* pattern;
};

// The route table: every path the server answers (routes() returns it; the deploy tests check probe paths
// against it). Handlers are matched in Server::Impl::dispatch by pattern.
constexpr Route kRoutes[] = {
    {"GET", "/v2"},
    {"GET", "/v2/health/live"},
    {"GET", "/v2/health/ready"},
    {"GET", "/v2/models/{name}"},
    {"GET", "/v2/models/{name}/versions/{version}"},
    {"GET", "/v2/models/{name}/ready"},
    {"GET", "/v2/models/{name}/versions/{version}/ready"},
    {"POST", "/v2/models/{name}/infer"},
    {"POST", "/v2/models/{name}/versions/{version}/infer"},
    {"POST", "/v2/repository/index"},
    {"POST", "/v2/repository/models/{name}/load"},
    {"POST", "/v2/repository/models/{name}/unload"},
    {"POST", "/predict"},
    {"GET", "/healthz"},
    {"GET", "/readyz"},
    {"GET", "/metrics"},
};

// Each route's pattern split once.
const std::vector<std::vector<std::string_view>>& split_patterns() {
  static const auto patterns = [] {
    std::vector<std::vector<std::string_view>> out;
    for (const auto& r : kRoutes) out.push_back(split_path(r.pattern));
    return out;
  }();
  return patterns;
}

// Matches a path against a split pattern; fills captures.
bool match(const std::vector<std::string_view>& pat, const std::vector<std::string_view>& parts, std::vector<std::string>& captures) {
  if (pat.size() != parts.size()) return false;
  std::vector<std::string> caps;
  for (size_t i = 0; i < pat.size(); ++i) {
    if (pat[i].front() == '{') {
      caps.emplace_back(parts[i]);
    } else if (pat[i] != parts[i]) {
      return false;
    }
  }
  captures = std::move(caps);
  return true;
}

}  // namespace

struct Server::Impl {
  ModelRepository& repo;
  ServerOptions options;
  Metrics metrics;
  std::unique_ptr<http::Listener> listener;
  Batcher batcher;
  std::atomic<bool> draining{false};
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::thread poller;
  int port = 0;

  std::unique_ptr<StaticFiles> static_files;  // --static DIR, else null

  Impl(ModelRepository& r, ServerOptions o)
      : repo(r), options(std::move(o)), batcher(options.max_batch, options.batch_timeout_us) {
    if (!options.static_dir.empty()) static_files = std::make_unique<StaticFiles>(options.static_dir, options.static_max_bytes);
  }

  // ---- models
  std::shared_ptr<const LoadedModel> model_for(const std::string& name, const std::string& version) {
    auto m = repo.find(name, version);
    if (!m) {
      if (repo.versions(name).empty()) fail(404, "no model named '" + printable(name, 128) + "' is loaded");
      fail(404, "model '" + name + "' has no version '" + printable(version, 64) + "' loaded");
    }
    t_request.model = m->name;
    t_request.version = m->version;
    return m;
  }

  json io_metadata(const std::vector<runtime::IoInfo>& ios) {
    json arr = json::array();
    for (const auto& io : ios) {
      const char* dt = v2_datatype(io.dtype);
      arr.push_back({{"name", io.name}, {"datatype", *dt ? dt : dtype_name(io.dtype)}, {"shape", io.shape}});
    }
    return arr;
  }

  // Runs a model on one request's inputs, through the batcher when batching is on; fills the times.
  std::vector<Tensor> execute(const LoadedModel& m, std::vector<Tensor> inputs, RequestTimes& times) {
    Batcher::Result r = batcher.run(m, std::move(inputs));
    times.queue_us = r.queue_us;
    times.compute_us = r.compute_us;
    t_request.batch = r.batch;
    if (r.executed) metrics.record_execution(m.name, m.version, r.batch);
    return std::move(r.outputs);
  }

  // ---- handlers
  void server_metadata(http::Response& res) {
    reply_json(res, 200, json{{"name", "edgeq"}, {"version", version()}, {"extensions", {"binary_tensor_data", "model_repository"}}});
  }

  void model_metadata(const std::string& name, const std::string& version, http::Response& res) {
    const auto m = model_for(name, version);
    json j = {{"name", m->name}, {"versions", repo.versions(m->name)}, {"platform", "onnx_onnxv1"},
              {"inputs", io_metadata(m->session->inputs())}, {"outputs", io_metadata(m->session->outputs())}};
    if (m->preprocess)
      j["parameters"] = {{"channels", m->preprocess->channels}, {"height", m->preprocess->height}, {"width", m->preprocess->width},
                         {"mean", m->preprocess->norm.mean}, {"std", m->preprocess->norm.std}, {"labels", m->labels}};
    reply_json(res, 200, j);
  }

  void model_ready(const std::string& name, const std::string& version, http::Response& res) {
    const auto m = model_for(name, version);
    reply_json(res, 200, json{{"name", m->name}, {"version", m->version}, {"ready", true}});
  }

  // Runs `body` for model m and records the request in the metrics however it ends (the status is the
  // one the client gets: 200, the HttpError's, or the Error code's).
  template <typename Body>
  void timed_inference(const LoadedModel& m, Clock::time_point start, RequestTimes& times, Body&& body) {
    int status = 500;
    struct Record {
      Impl& self;
      const LoadedModel& m;
      Clock::time_point start;
      RequestTimes& times;
      int& status;
      ~Record() {
        times.total_us = us_since(start);
        self.metrics.record_inference(m.name, m.version, status, times);
      }
    } record{*this, m, start, times, status};
    try {
      body();
      status = 200;
    } catch (const HttpError& e) {
      status = e.status;
      throw;
    } catch (const Error& e) {
      status = status_for(e);
      throw;
    }
  }

  void infer(const http::Request& req, const std::string& name, const std::string& version, http::Response& res) {
    RequestTimes times;
    const auto start = Clock::now();
    const auto m = model_for(name, version);
    timed_inference(*m, start, times, [&] {
      std::optional<size_t> json_length;
      if (req.has_header("Inference-Header-Content-Length")) {
        const std::string v = req.header("Inference-Header-Content-Length");
        size_t n = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || end != v.data() + v.size())
          fail(400, "Inference-Header-Content-Length is not a byte count: '" + printable(v, 32) + "'");
        json_length = n;
      }
      const InferRequest request = parse_infer_request(req.body, json_length);
      std::vector<Tensor> inputs = bind_inputs(request, m->session->inputs());
      times.preprocess_us = us_since(start);
      const std::vector<Tensor> outputs = execute(*m, std::move(inputs), times);
      const EncodedResponse r = encode_infer_response(m->name, m->version, request, m->session->outputs(), outputs);
      res.status = 200;
      if (r.json_length) {
        res.set_header("Inference-Header-Content-Length", std::to_string(*r.json_length));
        res.set_content(r.body, "application/octet-stream");
      } else {
        res.set_content(r.body, "application/json");
      }
    });
  }

  // The u8 pixels of a JSON body {"pixels": [...]} (nested or flat, C x H x W order).
  static std::vector<uint8_t> json_pixels(const std::string& body, size_t want) {
    const auto j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("pixels"))
      fail(400, "a JSON body must be an object with 'pixels' (numbers 0..255, C x H x W)");
    std::vector<const json*> values;
    flatten_json(j["pixels"], values, want, "'pixels'",
                 "'pixels' holds more than the " + std::to_string(want) + " values the model takes");
    std::vector<uint8_t> out;
    out.reserve(values.size());
    for (const json* v : values) {
      if (!v->is_number() || v->get<double>() < 0 || v->get<double>() > 255)
        fail(400, "'pixels' holds " + v->dump().substr(0, 32) + ", not a number in 0..255");
      out.push_back(static_cast<uint8_t>(std::lround(v->get<double>())));
    }
    return out;
  }

  void predict(const http::Request& req, http::Response& res) {
    RequestTimes times;
    const auto start = Clock::now();
    std::string name = req.param("model");
    if (name.empty()) {
      const auto names = repo.model_names();
      if (names.size() != 1) fail(400, "several models are served; choose one with ?model=NAME");
      name = names[0];
    }
    const auto m = model_for(name, req.param("version"));
    int64_t top = 5;
    if (req.has_param("top")) {
      const std::string v = req.param("top");
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), top);
      if (ec != std::errc() || end != v.data() + v.size() || top < 1 || top > 1000)
        fail(400, "top must be a whole number in 1..1000, not '" + printable(v, 32) + "'");
    }
    timed_inference(*m, start, times, [&] {
      if (!m->preprocess)
        fail(400, "model '" + m->name + "' carries no image preprocessing metadata; send tensors to /v2/models/" + m->name + "/infer");
      data::Preprocess pp = *m->preprocess;
      pp.max_image_bytes = options.max_image_bytes;
      Tensor x;
      const std::string type = req.header("Content-Type");
      if (type.rfind("multipart/form-data", 0) == 0) {
        const std::vector<http::FormPart> parts = http::parse_multipart(type, req.body);
        const http::FormPart* part = nullptr;
        for (const char* field : {"file", "image"})
          for (const auto& p : parts)
            if (!part && p.name == field) part = &p;
        if (!part && !parts.empty()) part = &parts.front();
        if (!part) fail(400, "multipart body has no file part");
        x = data::decode_image(part->content, pp, "uploaded image");
      } else if (type.rfind("application/json", 0) == 0 || (type.empty() && !req.body.empty() && req.body[0] == '{')) {
        const auto pixels = json_pixels(req.body, static_cast<size_t>(pp.channels * pp.height * pp.width));
        x = data::pixels_to_tensor(pixels, pp);
      } else {
        if (req.body.empty()) fail(400, "empty body: send a PNG/JPEG/BMP image, a multipart form or JSON pixels");
        x = data::decode_image(req.body, pp, "request body");
      }
      times.preprocess_us = us_since(start);
      if (m->session->inputs().size() != 1) fail(400, "model '" + m->name + "' takes several inputs; use /v2/models/" + m->name + "/infer");
      const std::vector<Tensor> outputs = execute(*m, {x}, times);
      const Tensor& y = outputs.at(0);
      if (y.dtype() != DType::kF32 || y.rank() != 2 || y.shape()[0] != 1)
        fail(422, "model '" + m->name + "' output " + shape_str(y.shape()) + " is not [1, classes] float");
      json preds = json::array();
      for (const auto& [c, p] : data::top_classes({y.data<float>(), static_cast<size_t>(y.shape()[1])}, top))
        preds.push_back({{"index", c}, {"label", data::class_label(m->labels, c)}, {"probability", p}});
      reply_json(res, 200, json{{"model", m->name}, {"version", m->version}, {"predictions", preds}});
    });
  }

  void repository_index(http::Response& res) {
    json arr = json::array();
    for (const auto& e : repo.index()) {
      json o = {{"name", e.name}, {"version", e.version}, {"state", e.state}};
      if (!e.reason.empty()) o["reason"] = e.reason;
      arr.push_back(std::move(o));
    }
    reply_json(res, 200, arr);
  }

  bool ready() const { return !draining && !repo.model_names().empty(); }

  // ---- static files (--static DIR), for the paths no route knows
  void serve_static(const http::Request& req, http::Response& res) {
    t_request.route = "static";
    StaticFiles::Reply r = static_files->get(req.method, req.path, req.header("If-None-Match"));
    for (auto& [name, value] : r.headers) res.set_header(std::move(name), std::move(value));
    if (!r.error.empty()) fail(r.status, std::move(r.error));
    res.status = r.status;
    res.set_content(std::move(r.body), std::move(r.content_type));
  }

  // ---- dispatch
  void dispatch(const http::Request& req, http::Response& res) {
    const auto parts = split_path(req.path);
    std::vector<std::string> caps;
    const Route* found = nullptr;
    bool path_known = false;
    std::string allow;
    for (size_t i = 0; i < std::size(kRoutes); ++i) {
      const Route& r = kRoutes[i];
      std::vector<std::string> c;
      if (!match(split_patterns()[i], parts, c)) continue;
      path_known = true;
      allow += (allow.empty() ? "" : ", ") + std::string(r.method);
      if (req.method == r.method || (req.method == "HEAD" && std::string_view(r.method) == "GET")) {
        found = &r;
        caps = std::move(c);
        break;
      }
    }
    if (!found && static_files && !path_known) return serve_static(req, res);
    if (!found) {
      t_request.route = "unmatched";
      if (path_known) {
        res.set_header("Allow", allow);
        fail(405, "method " + req.method + " is not allowed on " + printable(req.path, 128) + " (allowed: " + allow + ")");
      }
      fail(404, "no route " + printable(req.path, 128));
    }
    t_request.route = found->pattern;
    const std::string_view p = found->pattern;
    const std::string name = caps.size() > 0 ? caps[0] : "";
    const std::string ver = caps.size() > 1 ? caps[1] : "";
    if (p == "/v2") return server_metadata(res);
    if (p == "/v2/health/live" || p == "/healthz") return reply_json(res, 200, json{{"live", true}});
    if (p == "/v2/health/ready" || p == "/readyz") {
      if (!ready()) fail(503, draining ? "shutting down" : "no model is loaded");
      return reply_json(res, 200, json{{"ready", true}});
    }
    if (p == "/metrics") {
      res.status = 200;
      res.set_content(metrics.prometheus_text(), "text/plain; version=0.0.4");
      return;
    }
    if (p == "/predict") return predict(req, res);
    if (p == "/v2/repository/index") return repository_index(res);
    if (p.rfind("/v2/repository/models/", 0) == 0) {
      t_request.model = name;
      if (p.ends_with("/load")) {
        repo.load(name);
        return reply_json(res, 200, json{{"name", name}, {"loaded", true}});
      }
      repo.unload(name);
      return reply_json(res, 200, json{{"name", name}, {"unloaded", true}});
    }
    if (p.ends_with("/infer")) return infer(req, name, ver, res);
    if (p.ends_with("/ready")) return model_ready(name, ver, res);
    return model_metadata(name, ver, res);
  }

  void handle(const http::Request& req, http::Response& res) {
    try {
      dispatch(req, res);
    } catch (const HttpError& e) {
      reply_error(res, e.status, e.message);
    } catch (const Error& e) {
      reply_error(res, status_for(e), e.what());
    } catch (const std::bad_alloc&) {
      reply_error(res, 503, "out of memory");
    } catch (const std::exception& e) {
      reply_error(res, 500, std::string("internal error: ") + e.what());
    }
  }

  void log_line(const http::Request& req, const http::Response& res) {
    if (!options.log_requests) return;
    json line = {{"ts", std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()},
                 {"id", t_request.id},
                 {"method", req.method},
                 {"route", t_request.route.empty() ? "unmatched" : t_request.route},
                 {"status", res.status},
                 {"latency_ms", t_request.active ? us_since(t_request.start) / 1000.0 : 0.0}};
    if (!t_request.model.empty()) {
      line["model"] = t_request.model;
      line["version"] = t_request.version;
    }
    if (t_request.batch > 0) line["batch"] = t_request.batch;
    const std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    std::fwrite(text.data(), 1, text.size(), stderr);
  }

  // Request bookkeeping around dispatch: context, draining, headers, the HTTP counter and the in-flight count.
  void serve_request(const http::Request& req, http::Response& res) {
    t_request = RequestContext{};
    t_request.active = true;
    t_request.start = Clock::now();
    t_request.id = request_id(req);
    metrics.add_in_flight(1);
    if (draining) {
      t_request.route = "draining";
      res.set_header("Connection", "close");
      reply_error(res, 503, "the server is shutting down");
    } else {
      handle(req, res);
    }
    res.set_header("X-Request-ID", t_request.id);
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.3f", us_since(t_request.start) / 1000.0);
    res.set_header("X-Latency-Ms", ms);
    // Done once its response is ready: stop() may close the listener now (the layer still writes it).
    metrics.record_http(t_request.route.empty() ? "unmatched" : t_request.route, res.status);
    if (metrics.add_in_flight(-1) == 0) {
      std::lock_guard lock(stop_mu);
      stop_cv.notify_all();
    }
  }

  void configure() {
    http::Options ho;
    ho.host = options.host;
    ho.port = options.port;
    ho.max_connections = options.max_connections;
    ho.max_body_bytes = options.max_body_bytes;
    ho.timeout_s = options.request_timeout_s;
    listener = std::make_unique<http::Listener>(
        ho, [this](const http::Request& req, http::Response& res) { serve_request(req, res); },
        [this](const http::Request& req, const http::Response& res) {
          log_line(req, res);
          t_request = RequestContext{};
        },
        // Responses the HTTP layer makes itself (400 malformed, 413, 431, 503 over the connection limit).
        [this](int status, const std::string& message, http::Response& res) {
          t_request = RequestContext{};
          t_request.start = Clock::now();
          t_request.route = "rejected";
          t_request.id = new_request_id();
          reply_error(res, status, message);
          res.set_header("X-Request-ID", t_request.id);
          res.set_header("X-Latency-Ms", "0.000");
          metrics.record_http(t_request.route, status);
        });
  }
};

Server::Server(ModelRepository& repository, ServerOptions options)
    : impl_(std::make_unique<Impl>(repository, std::move(options))) {
  impl_->configure();
  repository.on_loaded([m = &impl_->metrics](const LoadedModel& lm) { m->set_load_time(lm.name, lm.version, lm.load_ms); });
  for (const auto& name : repository.model_names())
    for (const auto& v : repository.versions(name))
      if (auto lm = repository.find(name, v)) impl_->metrics.set_load_time(name, v, lm->load_ms);
}

Server::~Server() {
  stop();
  if (impl_->poller.joinable()) impl_->poller.join();
}

int Server::bind() {
  impl_->port = impl_->listener->bind();
  return impl_->port;
}

void Server::serve() {
  if (impl_->options.poll_ms > 0) {
    impl_->poller = std::thread([this] {
      std::unique_lock lock(impl_->stop_mu);
      while (!impl_->stopping) {
        impl_->stop_cv.wait_for(lock, std::chrono::milliseconds(impl_->options.poll_ms));
        if (impl_->stopping) break;
        lock.unlock();
        impl_->repo.poll_changes();
        lock.lock();
      }
    });
  }
  impl_->listener->run();
}

void Server::stop() {
  {
    std::lock_guard lock(impl_->stop_mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
    impl_->stop_cv.notify_all();
  }
  impl_->draining = true;
  // In-flight requests finish (new ones get 503), then the listener closes.
  std::unique_lock lock(impl_->stop_mu);
  impl_->stop_cv.wait_for(lock, std::chrono::seconds(impl_->options.drain_timeout_s), [this] { return impl_->metrics.in_flight() == 0; });
  lock.unlock();
  impl_->listener->close();
}

int Server::port() const { return impl_->port; }
Metrics& Server::metrics() { return impl_->metrics; }

std::vector<std::string> Server::routes() {
  std::vector<std::string> out;
  for (const auto& r : kRoutes) out.push_back(std::string(r.method) + " " + r.pattern);
  return out;
}

}  // namespace edgeq::serve
