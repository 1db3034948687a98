// IDX reader (the MNIST/Fashion-MNIST format): big-endian magic 0x0000 <type 0x08 = u8> <ndim>, then ndim
// big-endian u32 dims, then the data. Files may be gzip-compressed (detected by the gzip magic).
// The dims decide how much is read: their product is checked against kMaxIdxBytes before anything is
// allocated, and a gzip stream is inflated only into a buffer of exactly that size (a stream that
// would inflate further is refused instead of grown into).
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "edgeq/data.h"

namespace edgeq::data {
namespace {

constexpr uint32_t kMaxDeflateRatio = 1032;  // 258 bytes per 2-bit code, RFC 1951

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x1f && static_cast<uint8_t>(bytes[1]) == 0x8b;
}

// A gzip stream read out in pieces of the caller's size.
class Inflater {
 public:
  Inflater(std::string_view compressed, const std::string& name) : name_(name) {
    if (compressed.size() > UINT32_MAX) throw Error(ErrorCode::kParse, name + ": gzip file over 4 GB");
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) throw Error(ErrorCode::kInternal, name + ": inflateInit2 failed");
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    zs_.avail_in = static_cast<uInt>(compressed.size());
  }
  ~Inflater() { inflateEnd(&zs_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Fills up to n bytes at out; returns how many it produced (fewer only at the end of the stream).
  size_t read(char* out, size_t n) {
    size_t produced = 0;
    while (produced < n && !ended_) {
      const size_t chunk = std::min<size_t>(n - produced, UINT32_MAX);
      zs_.next_out = reinterpret_cast<Bytef*>(out + produced);
      zs_.avail_out = static_cast<uInt>(chunk);
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      produced += chunk - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if (rc == Z_BUF_ERROR && zs_.avail_in == 0) {
        throw Error(ErrorCode::kParse, name_ + ": truncated gzip stream after " + std::to_string(zs_.total_out) +
                                           " decompressed bytes");
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw Error(ErrorCode::kParse, name_ + ": corrupt gzip data: " + (zs_.msg ? zs_.msg : "error " + std::to_string(rc)));
      }
    }
    return produced;
  }
  uint64_t total_out() const { return zs_.total_out; }

 private:
  z_stream zs_{};
  const std::string& name_;
  bool ended_ = false;
};

uint32_t read_be32(std::string_view b, size_t at) {
  auto u = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(b[at + i])); };
  return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}

struct IdxFile {
  std::vector<uint32_t> dims;
  std::string_view data;  // the records after the header: into `bytes` or into the caller's buffer
  std::string inflated;   // owns the data of a gzip'd file
};

// The header (magic + dims) of an IDX file of unsigned bytes with `want_ndim` dimensions.
std::vector<uint32_t> parse_header(std::string_view header, uint32_t want_ndim, const std::string& name) {
  if (header.size() < 4) throw Error(ErrorCode::kParse, name + ": too short for an IDX header");
  const uint32_t magic = read_be32(header, 0);
  const uint32_t want_magic = 0x0800u | want_ndim;
  if (magic != want_magic) {
    char buf[96];
    std::snprintf(buf, sizeof buf, ": bad IDX magic number 0x%08x (expected 0x%08x, u8 with %u dims)", magic, want_magic,
                  want_ndim);
    throw Error(ErrorCode::kParse, name + buf);
  }
  if (header.size() < 4 + 4 * size_t{want_ndim}) throw Error(ErrorCode::kParse, name + ": truncated IDX header");
  std::vector<uint32_t> dims;
  uint64_t bytes = 1;
  for (uint32_t d = 0; d < want_ndim; ++d) {
    dims.push_back(read_be32(header, 4 + 4 * d));
    // Each dim < 2^32 and the running product stays <= 2^30 before the next multiply: no overflow.
    bytes *= dims.back();
    if (bytes > static_cast<uint64_t>(kMaxIdxBytes))
      throw Error(ErrorCode::kParse, name + ": IDX dims declare more than " + std::to_string(kMaxIdxBytes) +
                                         " bytes of data");
  }
  return dims;
}

// Reads the header and the first `records` records (all if records < 0) of an IDX file.
IdxFile read_idx(std::string_view bytes, uint32_t want_ndim, int64_t records, const std::string& name) {
  IdxFile f;
  const size_t header_size = 4 + 4 * size_t{want_ndim};
  if (!is_gzip(bytes)) {
    f.dims = parse_header(bytes, want_ndim, name);
    f.data = bytes.substr(header_size);
    return f;
  }
  Inflater in(bytes, name);
  std::string header(header_size, '\0');
  header.resize(in.read(header.data(), header_size));
  f.dims = parse_header(header, want_ndim, name);
  uint64_t record_bytes = 1;
  for (size_t d = 1; d < f.dims.size(); ++d) record_bytes *= f.dims[d];
  const uint64_t all = uint64_t{f.dims[0]} * record_bytes;  // <= kMaxIdxBytes (parse_header)
  const uint64_t want = records >= 0 ? std::min(all, static_cast<uint64_t>(records) * record_bytes) : all;
  // Deflate expands at most 1032:1, so a short stream cannot fill what large dims declare: allocate no
  // more than it can produce (a 100-byte file declaring 1 GiB costs ~100 KB, then "truncated").
  const uint64_t can_produce = uint64_t{kMaxDeflateRatio} * bytes.size() + 1024;
  f.inflated.resize(static_cast<size_t>(std::min(want, can_produce)));
  f.inflated.resize(in.read(f.inflated.data(), f.inflated.size()));
  if (want == all && f.inflated.size() == all) {
    char extra = 0;
    if (in.read(&extra, 1) != 0)
      throw Error(ErrorCode::kParse, name + ": gzip stream inflates past the " + std::to_string(header_size + all) +
                                         " bytes its IDX dims declare");
  }
  f.data = f.inflated;
  return f;
}

}  // namespace

Dataset load_idx_from_bytes(std::string_view images_bytes, std::string_view labels_bytes,
                            const std::string& images_name, const std::string& labels_name, int64_t limit) {
  // Dims first (both files), so the number of records to inflate is known before inflating any.
  const int64_t keep_hint = limit > 0 ? limit : -1;
  IdxFile images = read_idx(images_bytes, 3, keep_hint, images_name);
  const int64_t n = images.dims[0], h = images.dims[1], w = images.dims[2];
  if (h == 0 || w == 0 || h > 4096 || w > 4096)
    throw Error(ErrorCode::kParse, images_name + ": implausible image size " + std::to_string(h) + "x" + std::to_string(w));
  IdxFile labels = read_idx(labels_bytes, 1, keep_hint, labels_name);
  if (static_cast<int64_t>(labels.dims[0]) != n)
    throw Error(ErrorCode::kParse, labels_name + ": " + std::to_string(labels.dims[0]) + " labels for " +
                                       std::to_string(n) + " images in " + images_name);
  const int64_t keep = limit > 0 && limit < n ? limit : n;
  const int64_t image_bytes = h * w;
  const auto have_images = static_cast<int64_t>(images.data.size()) / image_bytes;
  if (have_images < keep)
    throw Error(ErrorCode::kParse, images_name + ": truncated at record " + std::to_string(have_images) + " of " +
                                       std::to_string(n));
  const auto have_labels = static_cast<int64_t>(labels.data.size());
  if (have_labels < keep)
    throw Error(ErrorCode::kParse, labels_name + ": truncated at record " + std::to_string(have_labels) + " of " +
                                       std::to_string(n));

  Dataset ds;
  ds.source = images_name;
  ds.channels = 1;
  ds.height = h;
  ds.width = w;
  ds.labels.resize(static_cast<size_t>(keep));
  int64_t max_label = 0;
  for (int64_t i = 0; i < keep; ++i) {
    const int64_t label = static_cast<uint8_t>(labels.data[static_cast<size_t>(i)]);
    ds.labels[static_cast<size_t>(i)] = label;
    max_label = std::max(max_label, label);
  }
  ds.pixels.assign(images.data.begin(), images.data.begin() + keep * image_bytes);
  // Class names are the caller's (fashion-mnist knows them); a bare IDX pair gets "0".."9" style names.
  for (int64_t c = 0; c <= max_label; ++c) ds.class_names.push_back(std::to_string(c));
  return ds;
}

Dataset load_idx(const std::string& images_path, const std::string& labels_path, int64_t limit) {
  const std::string images = read_file(images_path);  // images first: a missing image file is named first
  return load_idx_from_bytes(images, read_file(labels_path), images_path, labels_path, limit);
}

}  // namespace edgeq::data
