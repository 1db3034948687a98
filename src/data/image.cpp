// Image decode (stb_image: PNG, JPEG, BMP), channel conversion, resize (stb_image_resize:
// Mitchell filter when shrinking, Catmull-Rom when enlarging) and normalization to float NCHW.
// The header is read first (stbi_info) so the pixel budget and truncation are checked before any
// pixel memory is allocated: stb itself decodes whatever the header declares and fills missing BMP
// rows and JPEG scan data with zeros instead of failing.
#include <stb_image.h>
#include <stb_image_resize.h>

#include <algorithm>
#include <climits>
#include <memory>

#include "edgeq/data.h"
#include "normalize.h"

namespace edgeq::data {
namespace {

uint32_t le(std::string_view b, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + static_cast<size_t>(i)]);
  return v;
}

[[noreturn]] void truncated(const std::string& name, const std::string& what) {
  throw Error(ErrorCode::kParse, name + ": truncated image: " + what);
}

// An uncompressed BMP must hold every row its header declares (stb reads missing rows as black).
void check_bmp_length(std::string_view b, const std::string& name) {
  if (b.size() < 26) truncated(name, "BMP header cut short");
  const uint64_t data_offset = le(b, 10, 4);
  const uint32_t header_size = le(b, 14, 4);
  uint64_t width = 0, height = 0, bpp = 0;
  if (header_size == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
    width = le(b, 18, 2);
    height = le(b, 20, 2);
    bpp = le(b, 24, 2);
  } else {
    if (b.size() < 34) truncated(name, "BMP header cut short");
    width = le(b, 18, 4);
    const auto h = static_cast<int32_t>(le(b, 22, 4));  // negative = rows stored top-down
    height = h < 0 ? uint64_t{0} - static_cast<uint64_t>(static_cast<int64_t>(h)) : static_cast<uint64_t>(h);
    bpp = le(b, 28, 2);
    const uint32_t compression = le(b, 30, 4);
    if (compression != 0 && compression != 3) return;  // RLE and others: stb refuses them itself
  }
  if (width == 0 || height == 0 || width > kMaxImageSide || height > kMaxImageSide || bpp == 0 || bpp > 32) return;
  const uint64_t row_stride = (width * bpp + 31) / 32 * 4;
  const uint64_t needed = data_offset + row_stride * (height - 1) + (width * bpp + 7) / 8;  // last row unpadded
  if (b.size() < needed)
    truncated(name, "BMP header declares " + std::to_string(width) + "x" + std::to_string(height) + " at " +
                        std::to_string(bpp) + " bits per pixel (" + std::to_string(needed) + " bytes), the file has " +
                        std::to_string(b.size()));
}

// A JPEG ends its last scan (SOS, FF DA) with an end-of-image marker (FF D9); the scan data cannot
// hold either byte pair (0xFF is stuffed as FF 00), so a file cut inside a scan has no EOI after it.
void check_jpeg_end(std::string_view b, const std::string& name) {
  const size_t last_scan = b.rfind("\xff\xda");
  const size_t end_marker = b.rfind("\xff\xd9");
  if (last_scan == std::string_view::npos || end_marker == std::string_view::npos || end_marker < last_scan)
    truncated(name, "JPEG without an end-of-image marker after its last scan (" + std::to_string(b.size()) + " bytes)");
}

// stb grows its IDAT buffer to each chunk's declared length before reading it (a 60-byte PNG can
// make it allocate 2 GB): every chunk must fit in the bytes that follow its header.
void check_png_chunks(std::string_view b, const std::string& name) {
  size_t pos = 8;  // after the signature
  while (pos + 12 <= b.size()) {
    const uint64_t length = uint64_t{static_cast<uint8_t>(b[pos])} << 24 | uint64_t{static_cast<uint8_t>(b[pos + 1])} << 16 |
                            uint64_t{static_cast<uint8_t>(b[pos + 2])} << 8 | static_cast<uint8_t>(b[pos + 3]);
    const std::string_view type = b.substr(pos + 4, 4);
    if (length > b.size() - pos - 12)
      truncated(name, "PNG chunk '" + printable(type) + "' declares " + std::to_string(length) + " bytes, " +
                          std::to_string(b.size() - pos - 12) + " remain");
    if (type == "IEND") return;
    pos += 12 + static_cast<size_t>(length);
  }
}

// stb 2.27 (Debian 12) writes past its Huffman arrays when a DHT segment declares more than 256 codes
// (sizes[] sums to up to 16 x 255; fixed upstream in 2.28): walk the JPEG's segments the way stb reads
// them and refuse such a table first. Between scans the entropy-coded data is skipped to the next
// marker (0xFF not followed by 00 or a restart marker), as stb does.
void check_jpeg_huffman_tables(std::string_view b, size_t after_soi, const std::string& name) {
  auto u8 = [&](size_t at) { return static_cast<uint8_t>(b[at]); };
  size_t pos = after_soi;
  while (pos + 4 <= b.size()) {
    if (u8(pos) != 0xff) {  // junk between segments: stb skips to the next 0xFF too
      pos = b.find('\xff', pos);
      if (pos == std::string_view::npos) return;
      continue;
    }
    const uint8_t marker = u8(pos + 1);
    if (marker == 0xff) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xd9) return;  // EOI
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7) || marker == 0x00) {
      pos += 2;
      continue;
    }
    const size_t length = size_t{u8(pos + 2)} << 8 | u8(pos + 3);
    const size_t end = std::min(b.size(), pos + 2 + length);
    if (marker == 0xc4) {
      // stb reads tables while its byte count stays positive: the last may run past the segment (and
      // past the file, where stb reads zeros).
      auto byte_or_zero = [&](size_t at) { return at < b.size() ? u8(at) : uint8_t{0}; };
      int64_t left = static_cast<int64_t>(length) - 2;
      for (size_t t = pos + 4; left > 0 && t < b.size();) {
        size_t codes = 0;
        for (size_t i = 1; i <= 16; ++i) codes += byte_or_zero(t + i);
        if (codes > 256)
          throw Error(ErrorCode::kParse, name + ": corrupt JPEG: a Huffman table declares " + std::to_string(codes) +
                                             " codes (at most 256)");
        t += 17 + codes;
        left -= static_cast<int64_t>(17 + codes);
      }
    }
    pos = end;
    if (marker == 0xda) {  // scan data follows the SOS header: find the next real marker
      while (pos + 1 < b.size() && !(u8(pos) == 0xff && u8(pos + 1) != 0x00 && (u8(pos + 1) < 0xd0 || u8(pos + 1) > 0xd7)))
        ++pos;
    }
  }
}

}  // namespace

std::vector<uint8_t> decode_image_u8(std::string_view bytes, int64_t channels, int64_t height, int64_t width,
                                     const std::string& name, int64_t max_image_bytes) {
  if (channels != 1 && channels != 3)
    throw Error(ErrorCode::kInvalidArgument, name + ": channels must be 1 or 3, not " + std::to_string(channels));
  if (height <= 0 || width <= 0 || height > kMaxImageSide || width > kMaxImageSide)
    throw Error(ErrorCode::kInvalidArgument, name + ": bad target size " + std::to_string(height) + "x" +
                                                 std::to_string(width));
  if (height * width * channels > max_image_bytes)
    throw Error(ErrorCode::kInvalidArgument, name + ": target size " + std::to_string(height) + "x" +
                                                 std::to_string(width) + "x" + std::to_string(channels) +
                                                 " is over the " + std::to_string(max_image_bytes) +
                                                 "-byte image budget");
  if (bytes.empty() || bytes.size() > static_cast<size_t>(INT_MAX))
    throw Error(ErrorCode::kParse, name + ": not a decodable image (" + std::to_string(bytes.size()) + " bytes)");
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int size = static_cast<int>(bytes.size());
  // Before stbi_info, which already parses a JPEG's Huffman tables.
  if (bytes.starts_with("BM")) check_bmp_length(bytes, name);
  if (bytes.starts_with("\x89PNG\r\n\x1a\n")) check_png_chunks(bytes, name);
  // stb takes any run of 0xFF before D8 as the start-of-image marker.
  const size_t soi = bytes.find_first_not_of('\xff');
  if (soi >= 1 && soi != std::string_view::npos && bytes[soi] == '\xd8') {
    check_jpeg_huffman_tables(bytes, soi + 1, name);
    check_jpeg_end(bytes, name);
  }
  int w = 0, h = 0, file_channels = 0;
  if (!stbi_info_from_memory(data, size, &w, &h, &file_channels)) {
    const char* why = stbi_failure_reason();
    throw Error(ErrorCode::kParse, name + ": cannot decode image: " + (why ? why : "unknown format"));
  }
  if (w <= 0 || h <= 0)
    throw Error(ErrorCode::kParse, name + ": image header declares " + std::to_string(w) + "x" + std::to_string(h) +
                                       " pixels");
  // stb decodes at the file's channel count (and 16 bits for 16-bit PNG) before converting.
  const int64_t decoded_bytes = int64_t{w} * h * std::max<int64_t>(file_channels, channels) *
                                (stbi_is_16_bit_from_memory(data, size) ? 2 : 1);
  if (decoded_bytes > max_image_bytes)
    throw Error(ErrorCode::kInvalidArgument, name + ": image " + std::to_string(w) + "x" + std::to_string(h) + "x" +
                                                 std::to_string(file_channels) + " (" + std::to_string(bytes.size()) +
                                                 "-byte file) decodes to " + std::to_string(decoded_bytes) +
                                                 " bytes, over the " + std::to_string(max_image_bytes) +
                                                 "-byte image budget");
  // stbi converts to the requested channel count (RGB -> gray by luminance, alpha dropped).
  std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load_from_memory(data, size, &w, &h, &file_channels, static_cast<int>(channels)), stbi_image_free);
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
  std::vector<uint8_t> chw = decode_image_u8(bytes, pp.channels, pp.height, pp.width, name, pp.max_image_bytes);
  Tensor out(DType::kF32, {1, pp.channels, pp.height, pp.width});
  normalize_image(chw.data(), pp.channels, pp.height * pp.width, pp.norm, out.data<float>());
  return out;
}

Tensor load_image(const std::string& path, const Preprocess& pp) { return decode_image(read_file(path), pp, path); }

Tensor pixels_to_tensor(std::span<const uint8_t> chw, const Preprocess& pp) {
  check_normalization(pp.norm, pp.channels);
  const int64_t want = pp.channels * pp.height * pp.width;
  if (static_cast<int64_t>(chw.size()) != want)
    throw Error(ErrorCode::kInvalidArgument, std::to_string(chw.size()) + " pixels given, the model takes " +
                                                 std::to_string(pp.channels) + "x" + std::to_string(pp.height) + "x" +
                                                 std::to_string(pp.width) + " = " + std::to_string(want));
  Tensor out(DType::kF32, {1, pp.channels, pp.height, pp.width});
  normalize_image(chw.data(), pp.channels, pp.height * pp.width, pp.norm, out.data<float>());
  return out;
}

}  // namespace edgeq::data
