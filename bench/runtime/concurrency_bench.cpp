// Concurrent callers on one Session: p50 / p99 latency of run() and the throughput at 1, 2 and 8
// callers, for a session with its own 2-thread pool and a single-threaded one (the policy in
// include/edgeq/runtime.h: the pool serves one parallel region at a time, a caller that finds it busy
// runs its step on its own thread). A small program, not Google Benchmark: percentiles across threads.
//
//   build/bench/runtime/concurrency_bench [--model m.onnx] [--fp32] [--runs 2000] [--spin-us 100]
// Without --model it builds cnn-m (28x28x1 -> conv 32/64/128 + pools -> fc 245 -> 10, the layers of
// `edgeq train --arch cnn-m`) with random weights and quantizes it statically (uint8 QDQ) on random
// calibration images, unless --fp32.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "edgeq/quant.h"
#include "edgeq/runtime.h"
#include "quant/fixtures.h"

namespace {

using namespace edgeq;

// The quantizer tests' helpers: uniform random tensors and value infos with an open batch dim.
using quant::test_fixtures::value;
Tensor random_tensor(Shape shape, float lo, float hi, uint32_t seed) { return quant::test_fixtures::uniform(std::move(shape), lo, hi, seed); }

onnx::Model cnn_m() {
  onnx::Model m;
  m.opset_imports[""] = 17;
  m.graph.name = "cnn_m";
  m.graph.inputs.push_back(value("input", {-1, 1, 28, 28}));
  m.graph.outputs.push_back(value("logits", {-1, 10}));
  auto& init = m.graph.initializers;
  std::string x = "input";
  int64_t cin = 1;
  uint32_t seed = 1;
  for (int64_t layer = 1, cout = 32; layer <= 3; ++layer, cout *= 2) {
    const std::string id = std::to_string(layer);
    const float he = std::sqrt(6.f / static_cast<float>(cin * 9));
    init["conv" + id + ".w"] = random_tensor({cout, cin, 3, 3}, -he, he, seed++);
    init["conv" + id + ".b"] = random_tensor({cout}, -0.1f, 0.1f, seed++);
    onnx::Node conv{"conv" + id, "Conv", "", {x, "conv" + id + ".w", "conv" + id + ".b"}, {"c" + id}, {}, ""};
    conv.set_attr(onnx::Attribute::make_ints("kernel_shape", {3, 3}));
    conv.set_attr(onnx::Attribute::make_ints("pads", {1, 1, 1, 1}));
    m.graph.nodes.push_back(conv);
    m.graph.nodes.push_back({"relu" + id, "Relu", "", {"c" + id}, {"r" + id}, {}, ""});
    onnx::Node pool{"pool" + id, "MaxPool", "", {"r" + id}, {"p" + id}, {}, ""};
    pool.set_attr(onnx::Attribute::make_ints("kernel_shape", {2, 2}));
    pool.set_attr(onnx::Attribute::make_ints("strides", {2, 2}));
    m.graph.nodes.push_back(pool);
    x = "p" + id;
    cin = cout;
  }
  m.graph.nodes.push_back({"flatten", "Flatten", "", {x}, {"flat"}, {}, ""});
  const int64_t flat = 128 * 3 * 3;
  auto gemm = [&](const std::string& name, const std::string& in, int64_t k, int64_t n, const std::string& out) {
    const float he = std::sqrt(6.f / static_cast<float>(k));
    init[name + ".w"] = random_tensor({n, k}, -he, he, seed++);
    init[name + ".b"] = random_tensor({n}, -0.1f, 0.1f, seed++);
    onnx::Node g{name, "Gemm", "", {in, name + ".w", name + ".b"}, {out}, {}, ""};
    g.set_attr(onnx::Attribute::make_int("transB", 1));
    m.graph.nodes.push_back(g);
  };
  gemm("fc1", "flat", flat, 245, "h");
  m.graph.nodes.push_back({"relu4", "Relu", "", {"h"}, {"hr"}, {}, ""});
  gemm("fc2", "hr", 245, 10, "logits");
  return m;
}

struct Figures {
  double p50_us = 0, p99_us = 0, runs_per_s = 0;
};

Figures measure(const runtime::Session& s, int callers, int total_runs) {
  const Tensor x = random_tensor({1, 1, 28, 28}, 0.f, 1.f, 99);
  for (int i = 0; i < 200; ++i) s.run(std::vector<Tensor>{x});  // warm: arenas, caches, spinning workers
  const int per_caller = std::max(50, total_runs / callers);
  std::vector<std::vector<double>> lat(static_cast<size_t>(callers));
  Timer wall;
  std::vector<std::thread> threads;
  for (int c = 0; c < callers; ++c)
    threads.emplace_back([&, c] {
      auto& mine = lat[static_cast<size_t>(c)];
      mine.reserve(static_cast<size_t>(per_caller));
      for (int r = 0; r < per_caller; ++r) {
        Timer t;
        s.run(std::vector<Tensor>{x});
        mine.push_back(t.elapsed_ms() * 1000.0);
      }
    });
  for (auto& t : threads) t.join();
  const double seconds = wall.elapsed_ms() / 1000.0;
  std::vector<double> all;
  for (const auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return all[std::min(all.size() - 1, static_cast<size_t>(p * static_cast<double>(all.size())))]; };
  return {pct(0.50), pct(0.99), static_cast<double>(all.size()) / seconds};
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path;
  bool fp32 = false;
  int runs = 2000, spin_us = ThreadPool::kDefaultSpinMicros;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "concurrency_bench: %s needs a value\n", a.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "--model") model_path = next();
    else if (a == "--fp32") fp32 = true;
    else if (a == "--runs") runs = std::atoi(next().c_str());
    else if (a == "--spin-us") spin_us = std::atoi(next().c_str());
    else {
      std::fprintf(stderr, "concurrency_bench: unknown option '%s' (--model PATH, --fp32, --runs N, --spin-us N)\n", a.c_str());
      return 1;
    }
  }
  try {
    onnx::Model model;
    if (!model_path.empty()) {
      model = onnx::load_model(model_path);
    } else {
      model = cnn_m();
      if (!fp32) {
        quant::Batches calib;
        for (uint32_t b = 0; b < 4; ++b) calib.push_back({random_tensor({16, 1, 28, 28}, 0.f, 1.f, 1000 + b)});
        model = quant::quantize(model, {}, calib).model;
      }
    }
    std::printf("model: %s, %u hardware threads, spin_us %d\n",
                model_path.empty() ? (fp32 ? "cnn-m fp32 (random weights)" : "cnn-m static int8 (random weights)") : model_path.c_str(),
                std::thread::hardware_concurrency(), spin_us);
    std::printf("%-22s %8s %10s %10s %10s\n", "session", "callers", "p50 us", "p99 us", "runs/s");
    for (int threads : {1, 2}) {
      runtime::SessionOptions o;
      o.threads = threads;
      o.spin_us = spin_us;
      runtime::Session s(model, o);
      if (threads == 1)
        std::printf("packed weights: %zu bytes (every batch size's plan reads these)\n", s.plan_info({Shape{1, 1, 28, 28}}).packed_bytes);
      for (int callers : {1, 2, 8}) {
        const Figures f = measure(s, callers, runs);
        std::printf("%-22s %8d %10.1f %10.1f %10.0f\n", (std::to_string(threads) + " thread(s)").c_str(), callers, f.p50_us,
                    f.p99_us, f.runs_per_s);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "concurrency_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
