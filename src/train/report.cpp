// train.json, model metadata and the two output files. No LibTorch here.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

#include "edgeq/train.h"

namespace edgeq::train {
namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

data::Metadata model_metadata(const TrainResult& r) {
  data::Metadata meta = data::preprocess_metadata(r.preprocess, r.class_names);
  meta.emplace_back("dataset", r.dataset_name);
  if (r.test_accuracy >= 0) {
    meta.emplace_back("accuracy", fixed(r.test_accuracy, 4));  // top-1 on test_dataset, a fraction
    meta.emplace_back("test_dataset", r.test_dataset_name);
  }
  meta.emplace_back("edgeq_version", version());
  meta.emplace_back("seed", std::to_string(r.config.seed));
  meta.emplace_back("arch", r.config.arch);
  meta.emplace_back("epochs", std::to_string(r.epochs.size()));
  meta.emplace_back("preprocessing", "x = (pixel / 255 - mean[c]) / std[c], NCHW, float32");
  return meta;
}

std::string train_json(const TrainResult& r) {
  using nlohmann::json;
  const TrainConfig& c = r.config;
  json epochs = json::array();
  for (const auto& m : r.epochs) {
    json e = {{"epoch", m.epoch},
              {"lr", m.lr},
              {"train_loss", m.train_loss},
              {"train_accuracy", m.train_accuracy},
              {"seconds", m.seconds},
              {"images_per_second", m.images_per_second}};
    if (m.val_accuracy >= 0) {
      e["val_loss"] = m.val_loss;
      e["val_accuracy"] = m.val_accuracy;
    }
    epochs.push_back(e);
  }
  json j = {{"edgeq_version", version()},
            {"arch", c.arch},
            {"dataset", r.dataset_name},
            {"test_dataset", r.test_dataset_name},
            {"classes", r.class_names},
            {"config",
             {{"epochs", c.epochs},
              {"batch_size", c.batch_size},
              {"lr", c.lr},
              {"optimizer", c.optimizer},
              {"weight_decay", c.weight_decay},
              {"schedule", c.schedule},
              {"step_epochs", c.step_epochs},
              {"step_gamma", c.step_gamma},
              {"seed", c.seed},
              {"val_fraction", c.val_fraction},
              {"patience", c.patience},
              {"augment", c.augment},
              {"train_limit", c.train_limit},
              {"test_limit", c.test_limit}}},
            {"threads", r.threads},
            {"param_count", r.param_count},
            {"train_images", r.train_images},
            {"val_images", r.val_images},
            {"test_images", r.test_images},
            {"normalization", {{"mean", r.preprocess.norm.mean}, {"std", r.preprocess.norm.std}}},
            {"input", {{"channels", r.preprocess.channels}, {"height", r.preprocess.height}, {"width", r.preprocess.width}}},
            {"epochs", epochs},
            {"best_epoch", r.best_epoch},
            {"stopped_early", r.stopped_early},
            {"wall_seconds", r.wall_seconds}};
  if (r.test_accuracy >= 0) {
    j["test_accuracy"] = r.test_accuracy;
    j["test_loss"] = r.test_loss;
  } else {
    j["test_accuracy"] = nullptr;
  }
  return j.dump(2) + "\n";
}

std::string write_outputs(const Trained& trained, const std::string& out_dir, ExportOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw Error(ErrorCode::kIo, out_dir + ": cannot create directory: " + ec.message());
  data::Metadata meta = model_metadata(trained.result);
  meta.insert(meta.end(), options.metadata.begin(), options.metadata.end());
  options.metadata = std::move(meta);
  const std::string model_path = (std::filesystem::path(out_dir) / "model.onnx").string();
  // One set: a kill while writing leaves the previous model.onnx and train.json, never one of each.
  const std::string model_bytes = onnx::checked_model_bytes(trained.network.to_onnx(options), model_path);
  const std::string log = train_json(trained.result);
  write_files_atomic({{model_path, model_bytes}, {(std::filesystem::path(out_dir) / "train.json").string(), log}});
  return model_path;
}

}  // namespace edgeq::train
