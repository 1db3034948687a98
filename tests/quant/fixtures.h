// Test fixtures for the quantizer: a small CNN built in memory (BatchNorm, ReLU, pools, Gemm) and
// deterministic image-like input batches. Nothing is committed; everything comes from fixed seeds.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "edgeq/onnx.h"
#include "edgeq/quant.h"

namespace edgeq::quant::test_fixtures {

inline constexpr uint32_t kSeed = 42;

inline Tensor he_normal(Shape shape, int64_t fan_in, uint32_t seed) {
  Tensor t(DType::kF32, std::move(shape));
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.f, std::sqrt(2.f / static_cast<float>(fan_in)));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = n(rng);
  return t;
}

inline Tensor uniform(Shape shape, float lo, float hi, uint32_t seed) {
  Tensor t(DType::kF32, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

inline onnx::ValueInfo value(std::string name, Shape shape) {
  onnx::ValueInfo v;
  v.name = std::move(name);
  v.dtype = DType::kF32;
  v.has_shape = true;
  v.shape = std::move(shape);
  v.dim_params.assign(v.shape.size(), "");
  v.dim_params[0] = "batch";
  return v;
}

// input [N,1,28,28] -> Conv 8 -> BatchNorm -> Relu -> MaxPool -> Conv 16 -> Relu -> MaxPool -> Flatten
// -> Gemm 784x64 -> `mid_act` -> Gemm 64x10 -> logits
inline onnx::Model make_cnn(const std::string& mid_act = "Relu") {
  onnx::Model m;
  m.opset_imports[""] = 17;
  m.producer_name = "edgeq-test";
  m.graph.name = "quant_cnn";
  m.graph.inputs.push_back(value("input", {-1, 1, 28, 28}));
  m.graph.outputs.push_back(value("logits", {-1, 10}));
  auto& init = m.graph.initializers;
  init["conv1.w"] = he_normal({8, 1, 3, 3}, 9, 1);
  init["conv1.b"] = uniform({8}, -0.1f, 0.1f, 2);
  init["bn.scale"] = uniform({8}, 0.5f, 1.5f, 3);
  init["bn.bias"] = uniform({8}, -0.2f, 0.2f, 4);
  init["bn.mean"] = uniform({8}, -0.1f, 0.1f, 5);
  init["bn.var"] = uniform({8}, 0.5f, 1.5f, 6);
  init["conv2.w"] = he_normal({16, 8, 3, 3}, 72, 7);
  init["conv2.b"] = uniform({16}, -0.1f, 0.1f, 8);
  init["fc1.w"] = he_normal({64, 784}, 784, 9);
  init["fc1.b"] = uniform({64}, -0.1f, 0.1f, 10);
  init["fc2.w"] = he_normal({10, 64}, 64, 11);
  init["fc2.b"] = uniform({10}, -0.1f, 0.1f, 12);
  auto conv = [](std::string name, std::string in, std::string w, std::string b, std::string out) {
    onnx::Node n{std::move(name), "Conv", "", {std::move(in), std::move(w), std::move(b)}, {std::move(out)}, {}, ""};
    n.set_attr(onnx::Attribute::make_ints("kernel_shape", {3, 3}));
    n.set_attr(onnx::Attribute::make_ints("pads", {1, 1, 1, 1}));
    return n;
  };
  auto pool = [](std::string name, std::string in, std::string out) {
    onnx::Node n{std::move(name), "MaxPool", "", {std::move(in)}, {std::move(out)}, {}, ""};
    n.set_attr(onnx::Attribute::make_ints("kernel_shape", {2, 2}));
    n.set_attr(onnx::Attribute::make_ints("strides", {2, 2}));
    return n;
  };
  auto gemm = [](std::string name, std::string in, std::string w, std::string b, std::string out) {
    onnx::Node n{std::move(name), "Gemm", "", {std::move(in), std::move(w), std::move(b)}, {std::move(out)}, {}, ""};
    n.set_attr(onnx::Attribute::make_int("transB", 1));
    return n;
  };
  m.graph.nodes = {
      conv("conv1", "input", "conv1.w", "conv1.b", "c1"),
      {"bn", "BatchNormalization", "", {"c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"}, {"b1"}, {}, ""},
      {"relu1", "Relu", "", {"b1"}, {"r1"}, {}, ""},
      pool("pool1", "r1", "p1"),
      conv("conv2", "p1", "conv2.w", "conv2.b", "c2"),
      {"relu2", "Relu", "", {"c2"}, {"r2"}, {}, ""},
      pool("pool2", "r2", "p2"),
      {"flatten", "Flatten", "", {"p2"}, {"f"}, {}, ""},
      gemm("fc1", "f", "fc1.w", "fc1.b", "h"),
      {"act", mid_act, "", {"h"}, {"a"}, {}, ""},
      gemm("fc2", "a", "fc2.w", "fc2.b", "logits"),
  };
  m.metadata = {{"labels", "[\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]"}, {"mean", "[0.5]"}, {"std", "[0.25]"}, {"channels", "1"}, {"height", "28"}, {"width", "28"}};
  return m;
}

// Top-1 agreement and largest logit difference between two [N, classes] float outputs, accumulated.
struct LogitAgreement {
  int64_t same_top1 = 0, total = 0;
  double max_diff = 0, max_abs = 0;  // max |want - got|, max |want|
  double signal = 0, noise = 0;      // sums of want^2 and (want - got)^2
  void add(const Tensor& want, const Tensor& got) {
    const int64_t classes = want.shape()[1];
    for (int64_t n = 0; n < want.shape()[0]; ++n) {
      const float* w = want.data<float>() + n * classes;
      const float* g = got.data<float>() + n * classes;
      same_top1 += (std::max_element(w, w + classes) - w) == (std::max_element(g, g + classes) - g);
      ++total;
      for (int64_t c = 0; c < classes; ++c) {
        const double d = double(w[c]) - g[c];
        max_diff = std::max(max_diff, std::fabs(d));
        max_abs = std::max(max_abs, std::fabs(double(w[c])));
        signal += double(w[c]) * w[c];
        noise += d * d;
      }
    }
  }
  double sqnr_db() const { return 10 * std::log10(signal / noise); }
};

// Smooth blobs rather than white noise, so activations look a little like images' do.
inline Batches make_batches(int64_t batches, int64_t per_batch, uint32_t seed, int64_t hw = 28) {
  Batches out;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (int64_t b = 0; b < batches; ++b) {
    Tensor t(DType::kF32, {per_batch, 1, hw, hw});
    for (int64_t n = 0; n < per_batch; ++n) {
      const float cx = u(rng) * hw, cy = u(rng) * hw, r = 3 + u(rng) * 8, amp = 1.f + 2.f * u(rng);
      for (int64_t y = 0; y < hw; ++y)
        for (int64_t x = 0; x < hw; ++x) {
          const float d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
          t.data<float>()[(n * hw + y) * hw + x] = amp * std::exp(-d2 / (2 * r * r)) - 1.f + 0.1f * u(rng);
        }
    }
    out.push_back({t});
  }
  return out;
}

}  // namespace edgeq::quant::test_fixtures
