// edgeq predict MODEL.onnx IMAGE... [--top K --json --threads T]: classifies image files with the
// edgeq runtime; decode/resize/normalize follow the model's metadata, labels too.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "edgeq/data.h"
#include "edgeq/runtime.h"

namespace edgeq::cli {
namespace {

struct PredictArgs {
  std::string model;
  std::vector<std::string> images;
  int64_t top = 3;
  bool json = false;
  int threads = 1;
};

void run_predict(const PredictArgs& a) {
  // The runtime reader alone: the Session checks what it runs, the ONNX checker would add ~40 ms.
  onnx::Model model = onnx::read_model(a.model);
  const data::Preprocess pp = data::preprocess_from_metadata(model.metadata, a.model);
  const std::vector<std::string> labels = data::labels_from_metadata_if_any(model.metadata, a.model);
  runtime::SessionOptions so;
  so.threads = a.threads;
  const runtime::Session session(std::move(model), so);
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const auto& path : a.images) {
    const Tensor x = data::load_image(path, pp);
    const Tensor y = session.run({x})[0];
    if (y.rank() != 2 || y.shape()[0] != 1) throw Error(ErrorCode::kInvalidArgument, a.model + ": output " + shape_str(y.shape()) + " is not [1, classes]");
    const int64_t n = y.shape()[1];
    nlohmann::ordered_json top = nlohmann::ordered_json::array();
    if (!a.json) std::printf("%s\n", path.c_str());
    for (const auto& [c, p] : data::top_classes({y.data<float>(), static_cast<size_t>(n)}, a.top)) {
      const std::string label = data::class_label(labels, c);
      top.push_back({{"index", c}, {"label", label}, {"probability", p}});
      if (!a.json) std::printf("  %6.2f %%  %s (%lld)\n", 100.0 * p, label.c_str(), static_cast<long long>(c));
    }
    results.push_back({{"image", path}, {"top", top}});
  }
  if (a.json) std::cout << nlohmann::ordered_json{{"model", a.model}, {"predictions", results}}.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

void setup_predict(CLI::App& app) {
  auto* cmd = app.add_subcommand("predict", "Classify image files (top-k labels and probabilities)");
  auto a = std::make_shared<PredictArgs>();
  cmd->add_option("model", a->model, "ONNX model file with preprocessing metadata")->required()->check(input_file());
  cmd->add_option("images", a->images, "PNG/JPEG/BMP files")->required()->check(input_file());
  cmd->add_option("--top", a->top, "How many classes to show")->capture_default_str()->check(whole_number(1));
  cmd->add_flag("--json", a->json, "Print one JSON object");
  cmd->add_option("--threads", a->threads, "Intra-op threads")->capture_default_str()->transform(thread_count(1));
  cmd->callback([a] { run_predict(*a); });
}

}  // namespace

EDGEQ_REGISTER_VERB("predict", 50, setup_predict);

}  // namespace edgeq::cli
