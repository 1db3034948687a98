// Fixtures shared by the server tests: a model whose answers are known (the quadrant CNN with image
// metadata), images for it, v2 request bodies, a model repository in a temporary directory.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/tiny_cnn.h"
#include "edgeq/data.h"
#include "edgeq/onnx.h"

// The test that includes this with EDGEQ_STB_WRITE_IMPLEMENTATION defined compiles stb's PNG writer.
#ifdef EDGEQ_STB_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#endif
#include <stb_image_write.h>

namespace edgeq::serve {
namespace fs = std::filesystem;
using json = nlohmann::json;

inline const std::vector<std::string> kLabels = {"top-left", "top-right", "bottom-left", "bottom-right"};

// The quadrant CNN (its answer is the quadrant of the brightest pixel) with image metadata: 8x8 grayscale,
// mean 0, std 1. `scale` multiplies its logits, so versions can be told apart by their outputs.
inline onnx::Model quadrant_model(float scale = 1.f, bool with_metadata = true) {
  onnx::Model m = bench::testing::quadrant_cnn_s();
  Tensor& fc2 = m.graph.initializers.at("fc2.weight");
  for (int64_t i = 0; i < fc2.numel(); ++i) fc2.data<float>()[i] *= scale;
  if (with_metadata) {
    data::Preprocess pp;
    pp.channels = 1;
    pp.height = 8;
    pp.width = 8;
    pp.norm = {{0.f}, {1.f}};
    for (auto& kv : data::preprocess_metadata(pp, kLabels)) m.metadata.push_back(kv);
  }
  return m;
}

// An 8x8 image, 0 except 255 at (y, x).
inline std::vector<uint8_t> bright_pixel(int y, int x) {
  std::vector<uint8_t> px(64, 0);
  px[static_cast<size_t>(y * 8 + x)] = 255;
  return px;
}

inline std::string png_bytes(const std::vector<uint8_t>& px, int w = 8, int h = 8) {
  std::string out;
  stbi_write_png_to_func([](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); },
                         &out, w, h, 1, px.data(), w);
  return out;
}

// The input tensor the model sees for those pixels.
inline Tensor input_of(const std::vector<uint8_t>& px) {
  Tensor t(DType::kF32, {1, 1, 8, 8});
  for (size_t i = 0; i < 64; ++i) t.data<float>()[i] = px[i] / 255.f;
  return t;
}

inline json infer_body(const Tensor& x, const std::string& id = "") {
  json j = {{"inputs", {{{"name", "input"}, {"datatype", "FP32"}, {"shape", x.shape()},
                          {"data", std::vector<float>(x.data<float>(), x.data<float>() + x.numel())}}}}};
  if (!id.empty()) j["id"] = id;
  return j;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/edgeq_serve_test_XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void write_version(const std::string& repo, const std::string& name, const std::string& version, const onnx::Model& m) {
  fs::create_directories(repo + "/" + name + "/" + version);
  onnx::save_model(m, repo + "/" + name + "/" + version + "/model.onnx");
}

}  // namespace edgeq::serve
