// The server over real HTTP on a loopback port: every route and header, the answers against the engine's
// own, every error case, metrics that move as they should, the repository API, hot reload under traffic,
// dynamic batching, and SIGTERM with requests in flight (the edgeq binary as a subprocess).
#include <gtest/gtest.h>
#define EDGEQ_STB_WRITE_IMPLEMENTATION
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <thread>

#include "edgeq/data.h"
#include "edgeq/onnx.h"
#include "edgeq/serve.h"
#include "run_command.h"
#include "serve/serve_fixtures.h"

namespace edgeq::serve {
namespace {

// A server on a free loopback port, serving in a background thread for the test's life.
struct RunningServer {
  ModelRepository repo;
  std::unique_ptr<Server> server;
  std::thread thread;
  int port = 0;

  explicit RunningServer(const std::function<void(ModelRepository&)>& add, ServerOptions options = {}) : repo(RepositoryOptions{}) {
    add(repo);
    repo.load_all();
    options.port = 0;
    options.log_requests = false;
    server = std::make_unique<Server>(repo, options);
    port = server->bind();
    thread = std::thread([this] { server->serve(); });
  }
  ~RunningServer() {
    server->stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    return c;
  }
};

double metric(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + series.size() + 2));
}

class ServeHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_dir_ = tmp_.path() + "/repo";
    write_version(repo_dir_, "quad", "1", quadrant_model(1.f));
    write_version(repo_dir_, "quad", "2", quadrant_model(2.f));
    write_version(repo_dir_, "quad", "10", quadrant_model(10.f));
    write_version(repo_dir_, "tensor_only", "1", quadrant_model(1.f, /*with_metadata=*/false));
  }
  TempDir tmp_;
  std::string repo_dir_;
};

TEST_F(ServeHttp, AnswersEveryV2RouteWithHeaders) {
  RunningServer s([&](ModelRepository& r) { r.add_repository(repo_dir_); });
  auto c = s.client();
  auto res = c.Get("/v2");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  json j = json::parse(res->body);
  EXPECT_EQ(j["name"], "edgeq");
  EXPECT_NE(j["extensions"].dump().find("binary_tensor_data"), std::string::npos);
  // A generated request id is 16 hex digits; a sent one comes back; the latency header is a number.
  EXPECT_TRUE(std::regex_match(res->get_header_value("X-Request-ID"), std::regex("[0-9a-f]{16}")));
  EXPECT_GE(std::stod(res->get_header_value("X-Latency-Ms")), 0.0);
  res = c.Get("/v2/health/live", {{"X-Request-ID", "trace-42"}});
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("X-Request-ID"), "trace-42");
  EXPECT_EQ(c.Get("/v2/health/ready")->status, 200);
  EXPECT_EQ(c.Get("/healthz")->status, 200);
  EXPECT_EQ(c.Get("/readyz")->status, 200);

  // Model metadata: versions highest first (10 > 2 > 1 numerically), the I/O, the preprocessing.
  res = c.Get("/v2/models/quad");
  ASSERT_EQ(res->status, 200) << res->body;
  j = json::parse(res->body);
  EXPECT_EQ(j["versions"], json::array({"10", "2", "1"}));
  EXPECT_EQ(j["inputs"][0]["name"], "input");
  EXPECT_EQ(j["inputs"][0]["datatype"], "FP32");
  EXPECT_EQ(j["inputs"][0]["shape"], json::array({-1, 1, 8, 8}));
  EXPECT_EQ(j["outputs"][0]["name"], "logits");
  EXPECT_EQ(j["parameters"]["labels"][3], "bottom-right");
  EXPECT_EQ(c.Get("/v2/models/quad/versions/2")->status, 200);
  EXPECT_EQ(json::parse(c.Get("/v2/models/quad/ready")->body)["version"], "10");
  EXPECT_EQ(c.Get("/v2/models/quad/versions/1/ready")->status, 200);
  EXPECT_EQ(c.Get("/v2/models/quad/versions/3/ready")->status, 404);
  EXPECT_EQ(c.Get("/v2/models/nope/ready")->status, 404);
}

TEST_F(ServeHttp, InferGivesTheEnginesAnswerInJsonAndBinary) {
  RunningServer s([&](ModelRepository& r) { r.add_repository(repo_dir_); });
  auto c = s.client();
  const auto px = bright_pixel(6, 1);  // bottom-left
  const Tensor x = input_of(px);
  const auto model = s.repo.find("quad", "2");
  const Tensor y = model->session->run({x})[0];
  const std::vector<float> want(y.data<float>(), y.data<float>() + 4);

  auto res = c.Post("/v2/models/quad/versions/2/infer", infer_body(x, "req-7").dump(), "application/json");
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["id"], "req-7");
  EXPECT_EQ(j["model_name"], "quad");
  EXPECT_EQ(j["model_version"], "2");
  EXPECT_EQ(j["outputs"][0]["shape"], json::array({1, 4}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(j["outputs"][0]["data"][i].get<float>(), want[i]) << i;
  EXPECT_EQ(want[2], 2.f);  // version 2 doubles the bottom-left maximum (1.0)

  // The default version is the highest: 10.
  res = c.Post("/v2/models/quad/infer", infer_body(x).dump(), "application/json");
  EXPECT_EQ(json::parse(res->body)["model_version"], "10");
  EXPECT_EQ(json::parse(res->body)["outputs"][0]["data"][2].get<float>(), 10.f);

  // Binary in, binary out (the tensor data extension).
  const std::string header =
      R"({"inputs":[{"name":"input","datatype":"FP32","shape":[1,1,8,8],"parameters":{"binary_data_size":256}}],)"
      R"("outputs":[{"name":"logits","parameters":{"binary_data":true}}]})";
  std::string body = header + std::string(static_cast<const char*>(x.raw()), x.nbytes());
  res = c.Post("/v2/models/quad/versions/2/infer", {{"Inference-Header-Content-Length", std::to_string(header.size())}}, body,
               "application/octet-stream");
  ASSERT_EQ(res->status, 200) << res->body;
  const size_t json_len = std::stoul(res->get_header_value("Inference-Header-Content-Length"));
  j = json::parse(res->body.substr(0, json_len));
  EXPECT_EQ(j["outputs"][0]["parameters"]["binary_data_size"], 16);
  ASSERT_EQ(res->body.size(), json_len + 16);
  EXPECT_EQ(std::memcmp(res->body.data() + json_len, want.data(), 16), 0);

  // A tensor-only model (no image metadata) serves v2 infer too.
  res = c.Post("/v2/models/tensor_only/infer", infer_body(x).dump(), "application/json");
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(ServeHttp, PredictTakesRawMultipartAndJsonPixels) {
  RunningServer s([&](ModelRepository& r) { r.add_repository(repo_dir_); });
  auto c = s.client();
  const std::string png = png_bytes(bright_pixel(1, 7));  // top-right
  auto res = c.Post("/predict?model=quad&top=2", png, "image/png");
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["model"], "quad");
  EXPECT_EQ(j["version"], "10");
  ASSERT_EQ(j["predictions"].size(), 2u);
  EXPECT_EQ(j["predictions"][0]["label"], "top-right");
  EXPECT_EQ(j["predictions"][0]["index"], 1);
  EXPECT_GT(j["predictions"][0]["probability"].get<double>(), 0.99);

  httplib::MultipartFormDataItems items = {{"file", png_bytes(bright_pixel(7, 7)), "x.png", "image/png"}};
  res = c.Post("/predict?model=quad&version=1", items);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["predictions"][0]["label"], "bottom-right");
  EXPECT_EQ(json::parse(res->body)["version"], "1");

  json pixels = json::array();
  const auto px = bright_pixel(0, 0);
  for (int y = 0; y < 8; ++y) pixels.push_back(std::vector<uint8_t>(px.begin() + y * 8, px.begin() + y * 8 + 8));
  res = c.Post("/predict?model=quad", json{{"pixels", pixels}}.dump(), "application/json");
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["predictions"][0]["label"], "top-left");
  EXPECT_EQ(json::parse(res->body)["predictions"].size(), 4u);  // top defaults to 5, the model has 4 classes
}

TEST_F(ServeHttp, BadRequestsGetA4xxJsonErrorAndTheServerKeepsServing) {
  ServerOptions o;
  o.max_body_bytes = 64 * 1024;
  RunningServer s([&](ModelRepository& r) { r.add_repository(repo_dir_); }, o);
  auto c = s.client();
  const auto expect_error = [&](const httplib::Result& res, int status, const std::string& text) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    const json j = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << res->body;
    EXPECT_NE(j["error"].get<std::string>().find(text), std::string::npos) << res->body;
    EXPECT_FALSE(res->get_header_value("X-Request-ID").empty());
  };
  const Tensor x = input_of(bright_pixel(0, 0));
  expect_error(c.Post("/v2/models/nope/infer", infer_body(x).dump(), "application/json"), 404, "no model named 'nope'");
  expect_error(c.Post("/v2/models/quad/versions/7/infer", infer_body(x).dump(), "application/json"), 404, "no version '7'");
  expect_error(c.Get("/v2/models/quad/infer"), 405, "not allowed");
  EXPECT_EQ(c.Get("/v2/models/quad/infer")->get_header_value("Allow"), "POST");
  expect_error(c.Get("/v3/whatever"), 404, "no route");
  expect_error(c.Post("/v2/models/quad/infer", "{\"inputs\": [", "application/json"), 400, "not valid JSON");
  json wrong_shape = infer_body(x);
  wrong_shape["inputs"][0]["shape"] = {1, 1, 4, 16};
  expect_error(c.Post("/v2/models/quad/infer", wrong_shape.dump(), "application/json"), 400, "the model takes [?, 1, 8, 8]");
  json wrong_type = infer_body(x);
  wrong_type["inputs"][0]["datatype"] = "FP64";
  expect_error(c.Post("/v2/models/quad/infer", wrong_type.dump(), "application/json"), 400, "the model takes FP32");
  json wrong_count = infer_body(x);
  wrong_count["inputs"][0]["data"].erase(0);
  expect_error(c.Post("/v2/models/quad/infer", wrong_count.dump(), "application/json"), 400, "holds 63 values");
  const std::string header = R"({"inputs":[{"name":"input","datatype":"FP32","shape":[1,1,8,8],"parameters":{"binary_data_size":256}}]})";
  expect_error(c.Post("/v2/models/quad/infer", {{"Inference-Header-Content-Length", std::to_string(header.size())}},
                      header + std::string(100, '\0'), "application/octet-stream"),
               400, "truncated");
  expect_error(c.Post("/v2/models/quad/infer", {{"Inference-Header-Content-Length", "12x"}}, header, "application/octet-stream"), 400,
               "not a byte count");
  expect_error(c.Post("/v2/models/quad/infer", std::string(70 * 1024, ' '), "application/json"), 413, "--max-body");
  // Images: not an image, cut short, and one whose header declares 100000 x 100000 pixels (refused from
  // the header, before decoding).
  expect_error(c.Post("/predict?model=quad", "not an image", "image/png"), 400, "cannot decode image");
  const std::string png = png_bytes(bright_pixel(0, 0));
  expect_error(c.Post("/predict?model=quad", png.substr(0, png.size() / 2), "image/png"), 400, "request body");
  std::string huge = png_bytes(std::vector<uint8_t>(16, 0), 4, 4);
  const uint32_t side = htonl(100000);
  std::memcpy(&huge[16], &side, 4);  // IHDR width
  std::memcpy(&huge[20], &side, 4);  // IHDR height
  expect_error(c.Post("/predict?model=quad", huge, "image/png"), 400, "request body");
  expect_error(c.Post("/predict", png, "image/png"), 400, "several models are served");
  expect_error(c.Post("/predict?model=quad", "--b\r\nno header end", "multipart/form-data; boundary=b"), 400,
               "multipart body: part without a header end");
  expect_error(c.Post("/predict?model=tensor_only", png, "image/png"), 400, "no image preprocessing metadata");
  expect_error(c.Post("/predict?model=quad&top=0", png, "image/png"), 400, "top must be");
  expect_error(c.Post("/predict?model=quad", json{{"pixels", {1, 2, 3}}}.dump(), "application/json"), 400, "3 pixels given");
  expect_error(c.Post("/predict?model=quad", json{{"pixels", std::vector<int>(64, 256)}}.dump(), "application/json"), 400, "0..255");
  expect_error(c.Post("/predict?model=quad", "", "image/png"), 400, "empty body");
  // Still serving.
  auto res = c.Post("/v2/models/quad/infer", infer_body(x).dump(), "application/json");
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(c.Get("/v2/health/ready")->status, 200);
}

TEST_F(ServeHttp, MetricsMoveWithTheRequests) {
  RunningServer s([&](ModelRepository& r) { r.add_repository(repo_dir_); });
  auto c = s.client();
  const std::string l = "{model=\"quad\",version=\"2\"";
  const std::string before = c.Get("/metrics")->body;
  EXPECT_GT(metric(before, "edgeq_model_load_duration_ms" + l + "}"), 0);
  const Tensor x = input_of(bright_pixel(3, 3));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.Post("/v2/models/quad/versions/2/infer", infer_body(x).dump(), "application/json")->status, 200);
  json bad = infer_body(x);
  bad["inputs"][0]["datatype"] = "INT8";
  EXPECT_EQ(c.Post("/v2/models/quad/versions/2/infer", bad.dump(), "application/json")->status, 400);
  auto res = c.Get("/metrics");
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  const std::string& after = res->body;
  EXPECT_EQ(metric(after, "edgeq_inference_request_success" + l + "}") - metric(before, "edgeq_inference_request_success" + l + "}"), 3);
  EXPECT_EQ(metric(after, "edgeq_inference_request_failure" + l + "}"), 1);
  EXPECT_EQ(metric(after, "edgeq_inference_request_total" + l + ",status=\"400\"}"), 1);
  EXPECT_EQ(metric(after, "edgeq_inference_exec_count" + l + "}"), 3);
  EXPECT_EQ(metric(after, "edgeq_inference_compute_duration_us_count" + l + "}"), 3);
  EXPECT_GT(metric(after, "edgeq_inference_compute_duration_us_sum" + l + "}"), 0);
  EXPECT_GE(metric(after, "edgeq_inference_request_duration_us_sum" + l + "}"),
            metric(after, "edgeq_inference_compute_duration_us_sum" + l + "}"));
  EXPECT_EQ(metric(after, "edgeq_http_requests_total{route=\"/v2/models/{name}/versions/{version}/infer\",status=\"200\"}"), 3);
  // The in-flight gauge counts the /metrics request reading it.
  EXPECT_EQ(metric(after, "edgeq_inference_pending_request_count"), 1);
}

TEST_F(ServeHttp, RepositoryIndexLoadAndUnload) {
  RunningServer s([&](ModelRepository& r) { r.add_repository(repo_dir_); });
  auto c = s.client();
  auto res = c.Post("/v2/repository/index", "", "application/json");
  ASSERT_EQ(res->status, 200);
  json j = json::parse(res->body);
  ASSERT_EQ(j.size(), 4u);  // quad 1, 10, 2 and tensor_only 1
  for (const auto& e : j) EXPECT_EQ(e["state"], "READY") << e;
  EXPECT_EQ(c.Post("/v2/repository/models/quad/unload", "", "application/json")->status, 200);
  const Tensor x = input_of(bright_pixel(0, 0));
  EXPECT_EQ(c.Post("/v2/models/quad/infer", infer_body(x).dump(), "application/json")->status, 404);
  j = json::parse(c.Post("/v2/repository/index", "", "application/json")->body);
  int unavailable = 0;
  for (const auto& e : j) unavailable += e["state"] == "UNAVAILABLE" && e["name"] == "quad";
  EXPECT_EQ(unavailable, 3);
  // A model added to the directory after start-up loads by name.
  write_version(repo_dir_, "late", "1", quadrant_model());
  EXPECT_EQ(c.Post("/v2/repository/models/late/load", "", "application/json")->status, 200);
  EXPECT_EQ(c.Post("/v2/models/late/infer", infer_body(x).dump(), "application/json")->status, 200);
  EXPECT_EQ(c.Post("/v2/repository/models/quad/load", "", "application/json")->status, 200);
  EXPECT_EQ(c.Post("/v2/models/quad/infer", infer_body(x).dump(), "application/json")->status, 200);
  EXPECT_EQ(c.Post("/v2/repository/models/ghost/load", "", "application/json")->status, 404);
}

TEST_F(ServeHttp, HotReloadUnderTrafficDropsNoRequest) {
  ServerOptions o;
  o.poll_ms = 20;
  RunningServer s([&](ModelRepository& r) { r.add_repository(repo_dir_); }, o);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::mutex seen_mu;
  std::set<std::string> versions_seen;
  std::vector<std::thread> clients;
  const Tensor x = input_of(bright_pixel(5, 5));  // bottom-right
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      auto c = s.client();
      while (!stop) {
        auto res = c.Post("/v2/models/quad/infer", infer_body(x).dump(), "application/json");
        if (!res || res->status != 200) {
          ++failed;
          continue;
        }
        ++ok;
        std::lock_guard lock(seen_mu);
        versions_seen.insert(json::parse(res->body)["model_version"].get<std::string>());
      }
    });
  }
  const auto wait_for = [&](const std::string& version) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(seen_mu);
        if (versions_seen.count(version)) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  ASSERT_TRUE(wait_for("10"));
  // A new highest version appears, then replaces its directory with different weights (rename over).
  write_version(repo_dir_, "quad", "11", quadrant_model(11.f));
  EXPECT_TRUE(wait_for("11"));
  const std::string staged = tmp_.path() + "/staged";
  write_version(staged, "quad", "11", quadrant_model(12.f));
  fs::remove_all(repo_dir_ + "/quad/11");
  fs::rename(staged + "/quad/11", repo_dir_ + "/quad/11");
  bool saw_new_weights = false;
  auto c = s.client();
  for (int i = 0; i < 500 && !saw_new_weights; ++i) {
    auto res = c.Post("/v2/models/quad/versions/11/infer", infer_body(x).dump(), "application/json");
    saw_new_weights = res && res->status == 200 && json::parse(res->body)["outputs"][0]["data"][3].get<float>() == 12.f;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(saw_new_weights);
  // The new version goes away: traffic falls back to 10.
  fs::remove_all(repo_dir_ + "/quad/11");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    std::lock_guard lock(seen_mu);
    versions_seen.clear();
  }
  EXPECT_TRUE(wait_for("10"));
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_GT(ok.load(), 20);
  EXPECT_EQ(failed.load(), 0);
}

TEST_F(ServeHttp, DynamicBatchingMergesConcurrentRequestsWithTheSameAnswers) {
  ServerOptions o;
  o.max_batch = 8;
  o.batch_timeout_us = 200000;  // long enough for all 8 to arrive; the 8th fills the batch and it goes
  RunningServer s([&](ModelRepository& r) { r.add_repository(repo_dir_); }, o);
  const auto model = s.repo.find("quad", "2");
  std::vector<std::future<std::pair<int, std::vector<float>>>> answers;
  std::vector<std::vector<float>> want;
  for (int i = 0; i < 8; ++i) {
    std::vector<uint8_t> px = bright_pixel(i % 8, (i * 3) % 8);
    px[5] = static_cast<uint8_t>(10 * i);  // every request different
    const Tensor x = input_of(px);
    const Tensor y = model->session->run({x})[0];
    want.emplace_back(y.data<float>(), y.data<float>() + 4);
    answers.push_back(std::async(std::launch::async, [&s, x] {
      auto c = s.client();
      auto res = c.Post("/v2/models/quad/versions/2/infer", infer_body(x).dump(), "application/json");
      std::vector<float> got;
      if (res && res->status == 200) {
        const json j = json::parse(res->body);
        for (const auto& v : j["outputs"][0]["data"]) got.push_back(v.get<float>());
      }
      return std::make_pair(res ? res->status : -1, got);
    }));
  }
  for (int i = 0; i < 8; ++i) {
    const auto [status, got] = answers[i].get();
    EXPECT_EQ(status, 200);
    EXPECT_EQ(got, want[i]) << i;
  }
  const std::string m = s.client().Get("/metrics")->body;
  const std::string l = "{model=\"quad\",version=\"2\"";
  EXPECT_EQ(metric(m, "edgeq_inference_count" + l + "}"), 8);
  EXPECT_LT(metric(m, "edgeq_inference_exec_count" + l + "}"), 8);  // fewer runs than requests
  EXPECT_GT(metric(m, "edgeq_inference_queue_duration_us_sum" + l + "}"), 0);
}

// ---- the edgeq binary: flags, the ready line, SIGTERM with requests in flight.

struct Child {
  pid_t pid = -1;
  std::string stderr_path;
};

Child spawn_serve(const std::vector<std::string>& args, const std::string& stderr_path) {
  Child c;
  c.stderr_path = stderr_path;
  c.pid = ::fork();
  if (c.pid == 0) {
    const int fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    std::string bin = edgeq::test::edgeq_binary();
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return c;
}

int ready_port(const Child& c) {
  for (int i = 0; i < 1000; ++i) {
    std::ifstream f(c.stderr_path);
    std::string line;
    while (std::getline(f, line)) {
      const json j = json::parse(line, nullptr, false);
      if (j.is_object() && j.value("event", "") == "ready") return j["port"].get<int>();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

TEST_F(ServeHttp, CliRefusesBadFlagsWithOneLine) {
  const std::string bin = edgeq::test::edgeq_binary();
  write_file_atomic(tmp_.path() + "/garbage.onnx", std::string("\x08\x07\x12\xff\xff\xff\xff\x0fnot a model"));
  for (const std::string& args : {std::string("serve"), std::string("serve --model bad"), std::string("serve --model x=/nonexistent.onnx"),
                                  "serve --model-repository " + tmp_.path() + "/none", "serve --model-repository " + repo_dir_ + " --port 70000",
                                  "serve --model-repository " + repo_dir_ + " --max-batch 0", std::string("serve --model x=/dev/zero"),
                                  "serve --model x=" + tmp_.path() + "/garbage.onnx", "serve --model-repository " + repo_dir_ + " --model quad=" + repo_dir_ + "/quad/1/model.onnx"}) {
    const auto r = edgeq::test::run_command(bin + " " + args + " 2>&1 >/dev/null");
    EXPECT_EQ(r.exit_code, 1) << args << ": " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << ": " << r.output;
  }
}

TEST_F(ServeHttp, SigtermFinishesRequestsInFlightAndExitsZero) {
  // Batching with a 1.5 s window keeps requests in flight long enough to send SIGTERM among them.
  const Child child = spawn_serve({"serve", "--model-repository", repo_dir_, "--port", "0", "--max-batch", "64",
                                   "--batch-timeout-us", "1500000"},
                                  tmp_.path() + "/serve.err");
  const int port = ready_port(child);
  ASSERT_GT(port, 0);
  const Tensor x = input_of(bright_pixel(2, 6));
  std::vector<std::future<int>> inflight;
  for (int i = 0; i < 4; ++i)
    inflight.push_back(std::async(std::launch::async, [&] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(30, 0);
      auto res = c.Post("/v2/models/quad/infer", infer_body(x).dump(), "application/json");
      return res ? res->status : -1;
    }));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ASSERT_EQ(::kill(child.pid, SIGTERM), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // New requests after SIGTERM: 503 while draining (or refused once the listener has closed).
  {
    httplib::Client c("127.0.0.1", port);
    auto res = c.Get("/v2/health/ready");
    if (res) {
      EXPECT_EQ(res->status, 503);
    }
  }
  for (auto& f : inflight) EXPECT_EQ(f.get(), 200);
  int status = 0;
  ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::ifstream f(child.stderr_path);
  const std::string err((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_NE(err.find("\"event\":\"stopped\""), std::string::npos) << err;
  // One JSON log line per request, with the fields the issue names.
  size_t infer_lines = 0;
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("route", "") == "/v2/models/{name}/infer") {
      ++infer_lines;
      EXPECT_EQ(j["status"], 200);
      EXPECT_EQ(j["model"], "quad");
      EXPECT_EQ(j["version"], "10");
      EXPECT_EQ(j["batch"], 4);
      EXPECT_EQ(j["id"].get<std::string>().size(), 16u);
      EXPECT_GT(j["latency_ms"].get<double>(), 0);
    }
  }
  EXPECT_EQ(infer_lines, 4u) << err;
}

}  // namespace
}  // namespace edgeq::serve

namespace edgeq::serve {
namespace {

// A raw TCP connection to the server, for what an HTTP client library will not send.
struct RawConnection {
  int fd = -1;
  explicit RawConnection(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      fd = -1;
    }
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() {
    if (fd >= 0) ::close(fd);
  }
  void send_text(const std::string& s) const { (void)::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }
  // Everything until the server closes (or 10 s pass).
  std::string read_all() const {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
};

TEST_F(ServeHttp, ConnectionLimitTimeoutsAndMalformedRequests) {
  ServerOptions o;
  o.max_connections = 2;
  o.request_timeout_s = 1;
  RunningServer s([&](ModelRepository& r) { r.add_repository(repo_dir_); }, o);
  // A malformed request line: 400 with a JSON body, then the connection closes.
  {
    RawConnection c(s.port);
    ASSERT_GE(c.fd, 0);
    c.send_text("NOT HTTP AT ALL\r\n\r\n");
    const std::string reply = c.read_all();
    EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
    EXPECT_NE(reply.find("{\"error\":\"malformed HTTP request"), std::string::npos) << reply;
  }
  // Two idle keep-alive connections fill the limit: a third gets 503; once the idle ones time out (1 s),
  // the server takes connections again.
  {
    RawConnection a(s.port), b(s.port);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    RawConnection third(s.port);
    const std::string reply = third.read_all();
    EXPECT_EQ(reply.rfind("HTTP/1.1 503", 0), 0u) << reply;
    EXPECT_NE(reply.find("--max-connections 2"), std::string::npos) << reply;
    const Timer idle;
    EXPECT_EQ(a.read_all(), "");  // closed by the server after the read timeout, with nothing sent
    EXPECT_GE(idle.elapsed_ms(), 500);
    EXPECT_LT(idle.elapsed_ms(), 5000);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(s.client().Get("/v2/health/ready")->status, 200);
  // Headers past the limit: 431.
  RawConnection big(s.port);
  big.send_text("GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n");
  EXPECT_EQ(big.read_all().rfind("HTTP/1.1 431", 0), 0u);
}

}  // namespace
}  // namespace edgeq::serve
