// Image decode (stb_image: PNG, JPEG, BMP), channel conversion, resize (stb_image_resize:
// Mitchell filter when shrinking, Catmull-Rom when enlarging) and normalization to float NCHW.
#include <stb_image.h>
#include <stb_image_resize.h>

#include <climits>
#include <memory>

#include "edgeq/data.h"
#include "normalize.h"

namespace edgeq::data {

std::vector<uint8_t> decode_image_u8(std::string_view bytes, int64_t channels, int64_t height, int64_t width,
                                     const std::string& name) {
  if (channels != 1 && channels != 3)
    throw Error(ErrorCode::kInvalidArgument, name + ": channels must be 1 or 3, not " + std::to_string(channels));
  if (height <= 0 || width <= 0 || height > 8192 || width > 8192)
    throw Error(ErrorCode::kInvalidArgument, name + ": bad target size " + std::to_string(height) + "x" +
                                                 std::to_string(width));
  if (bytes.empty() || bytes.size() > static_cast<size_t>(INT_MAX))
    throw Error(ErrorCode::kParse, name + ": not a decodable image (" + std::to_string(bytes.size()) + " bytes)");
  int w = 0, h = 0, file_channels = 0;
  // stbi converts to the requested channel count (RGB -> gray by luminance, alpha dropped).
  std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w, &h,
                            &file_channels, static_cast<int>(channels)),
      stbi_image_free);
  if (!decoded) {
    const char* why = stbi_failure_reason();
    throw Error(ErrorCode::kParse, name + ": cannot decode image: " + (why ? why : "unknown format"));
  }
  const auto c = static_cast<int>(channels);
  std::vector<uint8_t> hwc(static_cast<size_t>(height * width * channels));
  if (w == width && h == height) {
    std::copy(decoded.get(), decoded.get() + hwc.size(), hwc.begin());
  } else if (!stbir_resize_uint8(decoded.get(), w, h, 0, hwc.data(), static_cast<int>(width), static_cast<int>(height),
                                 0, c)) {
    throw Error(ErrorCode::kInternal, name + ": resize failed");
  }
  // HWC (what stb gives) -> CHW (what the models take).
  std::vector<uint8_t> chw(hwc.size());
  const int64_t plane = height * width;
  for (int64_t i = 0; i < plane; ++i)
    for (int64_t ch = 0; ch < channels; ++ch)
      chw[static_cast<size_t>(ch * plane + i)] = hwc[static_cast<size_t>(i * channels + ch)];
  return chw;
}

Tensor decode_image(std::string_view bytes, const Preprocess& pp, const std::string& name) {
  check_normalization(pp.norm, pp.channels);
  std::vector<uint8_t> chw = decode_image_u8(bytes, pp.channels, pp.height, pp.width, name);
  Tensor out(DType::kF32, {1, pp.channels, pp.height, pp.width});
  normalize_image(chw.data(), pp.channels, pp.height * pp.width, pp.norm, out.data<float>());
  return out;
}

Tensor load_image(const std::string& path, const Preprocess& pp) { return decode_image(read_file(path), pp, path); }

}  // namespace edgeq::data
