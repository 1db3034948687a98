// edgeq eval MODEL.onnx --dataset SPEC [--json --limit N --batch B --threads T --save-logits F
// --save-inputs F]: top-1 accuracy and the confusion matrix of a model on a labelled dataset, run on the
// edgeq runtime. Preprocessing (size, channels, mean/std) comes from the model's metadata. The saved
// files (raw little-endian float32: logits [N, classes], inputs [N, C, H, W]) let another engine be
// cross-checked on exactly the same tensors.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "edgeq/data.h"
#include "edgeq/runtime.h"

namespace edgeq::cli {
namespace {

struct EvalArgs {
  std::string model, dataset;
  bool json = false;
  int64_t limit = 0, batch = 64;
  int threads = 1;
  std::string save_logits, save_inputs;
};

void run_eval(const EvalArgs& a) {
  check_outputs({{"model", a.model}, {"--dataset", dataset_file(a.dataset)}},
                {{"--save-logits", a.save_logits}, {"--save-inputs", a.save_inputs}});
  // The runtime reader alone: the Session checks what it runs, the ONNX checker would add ~40 ms.
  onnx::Model model = onnx::read_model(a.model);
  const data::Preprocess pp = data::preprocess_from_metadata(model.metadata, a.model);
  const std::vector<std::string> labels = data::labels_from_metadata_if_any(model.metadata, a.model);
  const data::Dataset ds = data::load_dataset(a.dataset, data::dataset_options_for(pp, "test", a.limit));
  if (ds.size() == 0) throw Error(ErrorCode::kInvalidArgument, a.dataset + ": no images");
  runtime::SessionOptions so;
  so.threads = a.threads;
  const runtime::Session session(std::move(model), so);
  if (session.inputs().size() != 1) throw Error(ErrorCode::kUnsupported, a.model + ": eval needs a model with one input");
  const int64_t classes = ds.num_classes();
  std::vector<std::vector<int64_t>> confusion(static_cast<size_t>(classes), std::vector<int64_t>(static_cast<size_t>(classes), 0));
  int64_t correct = 0;
  std::string logits_bytes, input_bytes;
  Timer timer;
  for (int64_t start = 0; start < ds.size(); start += a.batch) {
    std::vector<int64_t> idx(static_cast<size_t>(std::min(a.batch, ds.size() - start)));
    std::iota(idx.begin(), idx.end(), start);
    const Tensor images = data::make_images(ds, idx, pp.norm);
    const Tensor logits = session.run({images})[0];
    if (!a.save_inputs.empty()) input_bytes.append(static_cast<const char*>(images.raw()), images.nbytes());
    if (!a.save_logits.empty()) logits_bytes.append(static_cast<const char*>(logits.raw()), logits.nbytes());
    if (logits.rank() != 2 || logits.shape()[1] != classes)
      throw Error(ErrorCode::kInvalidArgument, a.model + ": output " + shape_str(logits.shape()) + " does not match the dataset's " +
                                                   std::to_string(classes) + " classes");
    for (size_t i = 0; i < idx.size(); ++i) {
      const float* row = logits.data<float>() + static_cast<int64_t>(i) * classes;
      const int64_t pred = std::max_element(row, row + classes) - row;
      const int64_t truth = ds.labels[static_cast<size_t>(idx[i])];
      confusion[truth][pred]++;
      correct += pred == truth;
    }
  }
  const double ms = timer.elapsed_ms();
  if (!a.save_logits.empty()) write_file_atomic(a.save_logits, logits_bytes);
  if (!a.save_inputs.empty()) write_file_atomic(a.save_inputs, input_bytes);
  const double top1 = static_cast<double>(correct) / static_cast<double>(ds.size());
  const auto& names = labels.size() == static_cast<size_t>(classes) ? labels : ds.class_names;
  if (a.json) {
    nlohmann::ordered_json j{{"model", a.model},   {"dataset", ds.name},     {"samples", ds.size()},
                             {"correct", correct}, {"top1", top1},           {"labels", names},
                             {"confusion", confusion}, {"threads", session.threads()}, {"ms_per_image", ms / static_cast<double>(ds.size())}};
    std::cout << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    return;
  }
  std::printf("model:    %s\ndataset:  %s (%lld images)\ntop-1:    %.2f %% (%lld correct)\ntime:     %.3f ms/image (batch %lld, %d thread%s)\n",
              a.model.c_str(), ds.name.c_str(), static_cast<long long>(ds.size()), 100.0 * top1, static_cast<long long>(correct),
              ms / static_cast<double>(ds.size()), static_cast<long long>(a.batch), session.threads(), session.threads() == 1 ? "" : "s");
  std::printf("confusion matrix (rows: true label, columns: predicted):\n%14s", "");
  for (int64_t c = 0; c < classes; ++c) std::printf(" %5lld", static_cast<long long>(c));
  std::printf("\n");
  for (int64_t t = 0; t < classes; ++t) {
    std::printf("%2lld %-11.11s", static_cast<long long>(t), names[static_cast<size_t>(t)].c_str());
    for (int64_t p = 0; p < classes; ++p) std::printf(" %5lld", static_cast<long long>(confusion[t][p]));
    std::printf("\n");
  }
}

void setup_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Top-1 accuracy and confusion matrix of a model on a dataset (edgeq runtime)");
  auto a = std::make_shared<EvalArgs>();
  cmd->add_option("model", a->model, "ONNX model file")->required()->check(input_file());
  cmd->add_option("--dataset", a->dataset, "fashion-mnist[:train|test], sign-mnist:FILE.csv or folder:DIR (default split: test)")->required();
  cmd->add_flag("--json", a->json, "Print one JSON object");
  cmd->add_option("--limit", a->limit, "Evaluate only the first N images (0 = all)")->check(whole_number(0));
  cmd->add_option("--batch", a->batch, "Images per run")->capture_default_str()->check(whole_number(1));
  cmd->add_option("--threads", a->threads, "Intra-op threads")->capture_default_str()->transform(thread_count(1));
  cmd->add_option("--save-logits", a->save_logits, "Write the logits as raw float32 [N, classes] to this file");
  cmd->add_option("--save-inputs", a->save_inputs, "Write the preprocessed images as raw float32 [N, C, H, W] to this file");
  cmd->callback([a] { run_eval(*a); });
}

}  // namespace

EDGEQ_REGISTER_VERB("eval", 30, setup_eval);

}  // namespace edgeq::cli
