// IDX reader (the MNIST/Fashion-MNIST format): big-endian magic 0x0000 <type 0x08 = u8> <ndim>, then ndim
// big-endian u32 dims, then the data. Files may be gzip-compressed (detected by the gzip magic).
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "edgeq/data.h"

namespace edgeq::data {
namespace {

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x1f && static_cast<uint8_t>(bytes[1]) == 0x8b;
}

std::string gunzip(const std::string& compressed, const std::string& path) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw Error(ErrorCode::kInternal, path + ": inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  out.resize(compressed.size() * 4 + 1024);
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.total_out >= out.size()) out.resize(out.size() * 2);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + zs.total_out);
    zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      inflateEnd(&zs);
      throw Error(ErrorCode::kParse, path + ": truncated gzip stream after " + std::to_string(zs.total_out) +
                                         " decompressed bytes");
    }
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      std::string msg = zs.msg ? zs.msg : "error " + std::to_string(rc);
      inflateEnd(&zs);
      throw Error(ErrorCode::kParse, path + ": corrupt gzip data: " + msg);
    }
  }
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

uint32_t read_be32(const std::string& b, size_t at) {
  auto u = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(b[at + i])); };
  return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}

struct IdxFile {
  std::vector<uint32_t> dims;
  std::string bytes;  // whole decompressed file
  size_t data_offset = 0;
};

// Reads an IDX file of unsigned bytes with `want_ndim` dimensions and checks the header.
IdxFile read_idx(const std::string& path, uint32_t want_ndim) {
  IdxFile f;
  f.bytes = read_file(path);
  if (is_gzip(f.bytes)) f.bytes = gunzip(f.bytes, path);
  if (f.bytes.size() < 4) throw Error(ErrorCode::kParse, path + ": too short for an IDX header");
  uint32_t magic = read_be32(f.bytes, 0);
  uint32_t want_magic = 0x0800u | want_ndim;
  if (magic != want_magic) {
    char buf[96];
    std::snprintf(buf, sizeof buf, ": bad IDX magic number 0x%08x (expected 0x%08x, u8 with %u dims)", magic, want_magic,
                  want_ndim);
    throw Error(ErrorCode::kParse, path + buf);
  }
  f.data_offset = 4 + 4 * static_cast<size_t>(want_ndim);
  if (f.bytes.size() < f.data_offset) throw Error(ErrorCode::kParse, path + ": truncated IDX header");
  for (uint32_t d = 0; d < want_ndim; ++d) f.dims.push_back(read_be32(f.bytes, 4 + 4 * d));
  return f;
}

}  // namespace

Dataset load_idx(const std::string& images_path, const std::string& labels_path, int64_t limit) {
  IdxFile images = read_idx(images_path, 3);
  IdxFile labels = read_idx(labels_path, 1);
  const int64_t n = images.dims[0], h = images.dims[1], w = images.dims[2];
  if (h == 0 || w == 0 || h > 4096 || w > 4096)
    throw Error(ErrorCode::kParse, images_path + ": implausible image size " + std::to_string(h) + "x" + std::to_string(w));
  if (static_cast<int64_t>(labels.dims[0]) != n)
    throw Error(ErrorCode::kParse, labels_path + ": " + std::to_string(labels.dims[0]) + " labels for " +
                                       std::to_string(n) + " images in " + images_path);
  const int64_t image_bytes = h * w;
  const int64_t have_images = static_cast<int64_t>(images.bytes.size() - images.data_offset) / image_bytes;
  if (have_images < n)
    throw Error(ErrorCode::kParse, images_path + ": truncated at record " + std::to_string(have_images) + " of " +
                                       std::to_string(n));
  const int64_t have_labels = static_cast<int64_t>(labels.bytes.size() - labels.data_offset);
  if (have_labels < n)
    throw Error(ErrorCode::kParse, labels_path + ": truncated at record " + std::to_string(have_labels) + " of " +
                                       std::to_string(n));
  const int64_t keep = limit > 0 && limit < n ? limit : n;

  Dataset ds;
  ds.source = images_path;
  ds.channels = 1;
  ds.height = h;
  ds.width = w;
  ds.labels.resize(static_cast<size_t>(keep));
  int64_t max_label = 0;
  for (int64_t i = 0; i < keep; ++i) {
    int64_t label = static_cast<uint8_t>(labels.bytes[labels.data_offset + static_cast<size_t>(i)]);
    ds.labels[static_cast<size_t>(i)] = label;
    max_label = std::max(max_label, label);
  }
  ds.pixels.resize(static_cast<size_t>(keep * image_bytes));
  std::memcpy(ds.pixels.data(), images.bytes.data() + images.data_offset, ds.pixels.size());
  // Class names are the caller's (fashion-mnist knows them); a bare IDX pair gets "0".."9" style names.
  for (int64_t c = 0; c <= max_label; ++c) ds.class_names.push_back(std::to_string(c));
  return ds;
}

}  // namespace edgeq::data
