// Preprocessing and labels <-> ONNX metadata_props strings (JSON arrays and integers).
#include <nlohmann/json.hpp>

#include "edgeq/data.h"
#include "normalize.h"

namespace edgeq::data {
namespace {

const std::string* find(const Metadata& meta, const std::string& key) {
  for (const auto& [k, v] : meta)
    if (k == key) return &v;
  return nullptr;
}

const std::string& require(const Metadata& meta, const std::string& key, const std::string& model) {
  const std::string* v = find(meta, key);
  if (!v) throw Error(ErrorCode::kNotFound, model + ": metadata has no '" + key + "' entry (not an edgeq model?)");
  return *v;
}

nlohmann::json parse_json(const std::string& text, const std::string& key, const std::string& model) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array() || j.empty())
    throw Error(ErrorCode::kInvalidModel, model + ": metadata '" + key + "' is not a non-empty JSON array: " + text);
  return j;
}

int64_t parse_dim(const Metadata& meta, const std::string& key, const std::string& model) {
  const std::string& text = require(meta, key, model);
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size() && v > 0 && v <= 1 << 16) return v;
  } catch (const std::exception&) {
  }
  throw Error(ErrorCode::kInvalidModel, model + ": metadata '" + key + "' = '" + text + "' is not a positive integer");
}

std::vector<float> parse_floats(const Metadata& meta, const std::string& key, const std::string& model) {
  std::vector<float> out;
  for (const auto& v : parse_json(require(meta, key, model), key, model)) {
    if (!v.is_number()) throw Error(ErrorCode::kInvalidModel, model + ": metadata '" + key + "' holds a non-number");
    out.push_back(v.get<float>());
  }
  return out;
}

}  // namespace

Metadata preprocess_metadata(const Preprocess& pp, const std::vector<std::string>& labels) {
  return {{kMetaLabels, nlohmann::json(labels).dump()},
          {kMetaMean, nlohmann::json(pp.norm.mean).dump()},
          {kMetaStd, nlohmann::json(pp.norm.std).dump()},
          {kMetaChannels, std::to_string(pp.channels)},
          {kMetaHeight, std::to_string(pp.height)},
          {kMetaWidth, std::to_string(pp.width)}};
}

Preprocess preprocess_from_metadata(const Metadata& meta, const std::string& model_name) {
  Preprocess pp;
  pp.channels = parse_dim(meta, kMetaChannels, model_name);
  pp.height = parse_dim(meta, kMetaHeight, model_name);
  pp.width = parse_dim(meta, kMetaWidth, model_name);
  pp.norm.mean = parse_floats(meta, kMetaMean, model_name);
  pp.norm.std = parse_floats(meta, kMetaStd, model_name);
  try {
    check_normalization(pp.norm, pp.channels);
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidModel, model_name + ": metadata: " + e.what());
  }
  return pp;
}

std::vector<std::string> labels_from_metadata(const Metadata& meta, const std::string& model_name) {
  std::vector<std::string> labels;
  for (const auto& v : parse_json(require(meta, kMetaLabels, model_name), kMetaLabels, model_name)) {
    if (!v.is_string()) throw Error(ErrorCode::kInvalidModel, model_name + ": metadata 'labels' holds a non-string");
    labels.push_back(v.get<std::string>());
  }
  return labels;
}

std::vector<std::string> labels_from_metadata_if_any(const Metadata& meta, const std::string& model_name) {
  return find(meta, kMetaLabels) ? labels_from_metadata(meta, model_name) : std::vector<std::string>{};
}

}  // namespace edgeq::data
