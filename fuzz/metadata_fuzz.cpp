// libFuzzer target: model metadata (ONNX metadata_props, what train's exporter writes) into
// preprocess_from_metadata and labels_from_metadata_if_any: the JSON arrays and integers a model file
// hands eval/predict/serve. Any outcome but a Preprocess the decoder accepts or an edgeq::Error is a bug.
// Input: key NUL value NUL key NUL value ... (a missing last value is "").
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edgeq/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  edgeq::data::Metadata meta;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t key_end = text.find('\0', pos);
    if (key_end == std::string_view::npos) key_end = text.size();
    size_t value_end = key_end < text.size() ? text.find('\0', key_end + 1) : text.size();
    if (value_end == std::string_view::npos) value_end = text.size();
    const std::string_view value = key_end < text.size() ? text.substr(key_end + 1, value_end - key_end - 1) : "";
    meta.emplace_back(std::string(text.substr(pos, key_end - pos)), std::string(value));
    pos = value_end + 1;
  }
  try {
    (void)edgeq::data::labels_from_metadata_if_any(meta, "fuzz.onnx");
  } catch (const edgeq::Error&) {
  }
  try {
    const auto pp = edgeq::data::preprocess_from_metadata(meta, "fuzz.onnx");
    // What the metadata parser accepts is within what the image decoder takes.
    if (pp.channels != 1 && pp.channels != 3) std::abort();
    if (pp.height < 1 || pp.width < 1 || pp.height > edgeq::data::kMaxImageSide || pp.width > edgeq::data::kMaxImageSide)
      std::abort();
  } catch (const edgeq::Error&) {
  }
  return 0;
}
