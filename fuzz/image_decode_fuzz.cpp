// libFuzzer target: bytes into edgeq's image decoder (stb PNG/JPEG/BMP behind decode_image_u8: header
// check, pixel budget, truncation checks, channel conversion, resize). Any outcome but pixels of the
// requested size or an edgeq::Error is a bug. The input is the image file itself, so the seeds in
// fuzz/corpus/image_decode are plain image files; its size picks the channels and the target size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "edgeq/data.h"

namespace {
// Smaller than the default budget so an input declaring a large image is refused quickly (the check
// is the same); 1 MiB still admits every image up to 512x512 RGBA.
constexpr int64_t kFuzzImageBudget = int64_t{1} << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const int64_t channels = size % 2 ? 3 : 1;
  const int64_t height = size % 3 == 0 ? 28 : 7, width = size % 5 == 0 ? 28 : 9;
  try {
    const auto pixels = edgeq::data::decode_image_u8(bytes, channels, height, width, "fuzz.img", kFuzzImageBudget);
    if (static_cast<int64_t>(pixels.size()) != channels * height * width) std::abort();
  } catch (const edgeq::Error&) {
  }
  return 0;
}
