// Shared by the batch builders and the image decoder: u8 CHW pixels -> normalized float.
#pragma once

#include <cstdint>

#include "edgeq/data.h"

namespace edgeq::data {

// Throws Error(kInvalidArgument) unless mean/std have 1 or `channels` values and every std is > 0.
void check_normalization(const Normalization& norm, int64_t channels);
// out[c * plane + i] = (pixels[c * plane + i] / 255 - mean[c]) / std[c]
void normalize_image(const uint8_t* pixels, int64_t channels, int64_t plane, const Normalization& norm, float* out);

}  // namespace edgeq::data
