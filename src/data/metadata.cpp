// Preprocessing and labels <-> ONNX metadata_props strings (JSON arrays and integers).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

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
    throw Error(ErrorCode::kInvalidModel, model + ": metadata '" + key + "' is not a non-empty JSON array: '" +
                                              printable(text) + "'");
  return j;
}

// A decimal integer in [1, max]; the message names the key and the allowed range.
int64_t parse_dim(const Metadata& meta, const std::string& key, int64_t max, const std::string& model) {
  const std::string& text = require(meta, key, model);
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && end == text.data() + text.size() && v > 0 && v <= max) return v;
  throw Error(ErrorCode::kInvalidModel, model + ": metadata '" + key + "' = '" + printable(text) +
                                            "' is not an integer in 1.." + std::to_string(max));
}

std::vector<float> parse_floats(const Metadata& meta, const std::string& key, const std::string& model) {
  std::vector<float> out;
  for (const auto& v : parse_json(require(meta, key, model), key, model)) {
    if (!v.is_number()) throw Error(ErrorCode::kInvalidModel, model + ": metadata '" + key + "' holds a non-number");
    const auto x = v.get<double>();
    if (!std::isfinite(x) || std::fabs(x) > 1e30)
      throw Error(ErrorCode::kInvalidModel, model + ": metadata '" + key + "' holds " + v.dump() + ", not a finite float");
    out.push_back(static_cast<float>(x));
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

DatasetOptions dataset_options_for(const Preprocess& pp, const std::string& default_split, int64_t limit) {
  DatasetOptions o;
  o.default_split = default_split;
  o.channels = pp.channels;
  o.height = pp.height;
  o.width = pp.width;
  o.limit = limit;
  return o;
}

Preprocess preprocess_from_metadata(const Metadata& meta, const std::string& model_name) {
  Preprocess pp;
  pp.channels = parse_dim(meta, kMetaChannels, 3, model_name);
  // Only grayscale and RGB are decoded: say so here, naming the model, not later naming an image.
  if (pp.channels != 1 && pp.channels != 3)
    throw Error(ErrorCode::kInvalidModel, model_name + ": metadata 'channels' = " + std::to_string(pp.channels) +
                                              " (edgeq feeds 1 = grayscale or 3 = RGB images)");
  pp.height = parse_dim(meta, kMetaHeight, kMaxImageSide, model_name);
  pp.width = parse_dim(meta, kMetaWidth, kMaxImageSide, model_name);
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

std::vector<ClassScore> top_classes(std::span<const float> row, int64_t k) {
  const auto n = static_cast<int64_t>(row.size());
  if (n == 0) return {};
  bool is_distribution = true;
  double sum = 0;
  for (float v : row) {
    if (!(v >= 0.f && v <= 1.f)) is_distribution = false;
    sum += v;
  }
  std::vector<float> p(row.begin(), row.end());
  if (!is_distribution || std::fabs(sum - 1.0) >= 1e-3) {
    const float mx = *std::max_element(row.begin(), row.end());
    double z = 0;
    for (auto& v : p) z += (v = std::exp(v - mx));
    for (auto& v : p) v = static_cast<float>(v / z);
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  k = std::clamp<int64_t>(k, 0, n);
  // Ties keep the lower index first, so the answer does not depend on the sort's whims.
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int64_t l, int64_t r) { return p[l] > p[r] || (p[l] == p[r] && l < r); });
  std::vector<ClassScore> top;
  for (int64_t i = 0; i < k; ++i) top.push_back({order[i], p[order[i]]});
  return top;
}

std::string class_label(const std::vector<std::string>& labels, int64_t index) {
  return index >= 0 && index < static_cast<int64_t>(labels.size()) ? labels[index] : "class " + std::to_string(index);
}

}  // namespace edgeq::data
