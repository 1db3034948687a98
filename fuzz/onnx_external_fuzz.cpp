// libFuzzer target: external tensor data (issue 23). The fuzzer sets up, once, a temp folder:
//   ROOT/outside.bin, ROOT/outside_dir/secret.bin        marker bytes, outside the model's folder
//   ROOT/model/weights.bin, sub/w2.bin, link_in -> weights.bin   inside: the same known bytes
//   ROOT/model/link_out -> ../outside.bin, link_abs -> ROOT/outside.bin, link_dir -> ../outside_dir,
//   dangling -> nowhere, fifo (a named pipe: opening it would block), dir/ (a directory)
// and writes each input's model to ROOT/model/model.onnx, read with read_model(path) (the runtime's
// reader, whose external data must stay inside ROOT/model). Two input forms (first byte):
//   < 0x80: structured: [mode][dtype][dim0][dim1] then three length-prefixed strings (u8 length):
//           location, offset, length (length 0xff = leave the key out), built into a one-initializer
//           model; a loaded tensor must equal the inside bytes at that offset;
//   >= 0x80: the rest is a whole ModelProto (the fuzzer may change anything).
// In both forms no loaded tensor may hold the outside marker, and the run must not block on the FIFO.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>

#include "edgeq/onnx.h"

namespace {
namespace fs = std::filesystem;

constexpr size_t kFileBytes = 4096;

std::string inside_bytes() {
  std::string b(kFileBytes, '\0');
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>((i * 7 + i / 256) & 0x7f);
  return b;
}

// Hashes of the 8-byte windows of the repeated marker. Comparing hashes, not bytes, keeps libFuzzer's
// comparison tracing from handing the marker itself to the mutator (it would then plant it in raw_data).
struct Marker {
  std::string bytes;
  uint64_t window_hash[8] = {};
};

uint64_t hash8(const char* p) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < 8; ++i) h = (h ^ static_cast<uint8_t>(p[i])) * 1099511628211ull;
  return h;
}

struct Folder {
  fs::path root, model_dir, model_path;
  std::string inside = inside_bytes();
  Marker marker;

  Folder() {
    char tmpl[] = "/tmp/edgeq_external_fuzz_XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    root = tmpl;
    model_dir = root / "model";
    model_path = model_dir / "model.onnx";
    std::random_device rd;
    for (int i = 0; i < 8; ++i) marker.bytes.push_back(static_cast<char>(rd() | 0x80));  // never inside bytes
    const std::string doubled = marker.bytes + marker.bytes;
    for (int i = 0; i < 8; ++i) marker.window_hash[i] = hash8(doubled.data() + i);
    std::string outside;
    while (outside.size() < kFileBytes) outside += marker.bytes;
    fs::create_directories(model_dir / "sub");
    fs::create_directories(model_dir / "dir");
    fs::create_directories(root / "outside_dir");
    write(root / "outside.bin", outside);
    write(root / "outside_dir" / "secret.bin", outside);
    write(model_dir / "weights.bin", inside);
    write(model_dir / "sub" / "w2.bin", inside);
    fs::create_symlink("weights.bin", model_dir / "link_in");
    fs::create_symlink("../outside.bin", model_dir / "link_out");
    fs::create_symlink(root / "outside.bin", model_dir / "link_abs");
    fs::create_symlink("../outside_dir", model_dir / "link_dir");
    fs::create_symlink("no-such-file", model_dir / "dangling");
    if (::mkfifo((model_dir / "fifo").c_str(), 0600) != 0) std::abort();
  }
  ~Folder() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  static void write(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  bool holds_marker(const void* data, size_t size) const {
    const auto* p = static_cast<const char*>(data);
    for (size_t i = 0; i + 8 <= size; ++i) {
      const uint64_t h = hash8(p + i);
      for (uint64_t w : marker.window_hash)
        if (h == w) return true;
    }
    return false;
  }
};

Folder& folder() {
  static Folder f;
  return f;
}

// Protobuf wire encoding, just what a one-initializer model needs.
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void field_varint(std::string& out, int number, uint64_t v) {
  varint(out, static_cast<uint64_t>(number) << 3);
  varint(out, v);
}
void field_bytes(std::string& out, int number, std::string_view bytes) {
  varint(out, (static_cast<uint64_t>(number) << 3) | 2);
  varint(out, bytes.size());
  out.append(bytes);
}
std::string entry(std::string_view key, std::string_view value) {
  std::string e;
  field_bytes(e, 1, key);
  field_bytes(e, 2, value);
  return e;
}

struct Structured {
  int32_t dtype = 1;
  std::vector<int64_t> dims;
  std::string location, offset, length;
  bool has_offset = true, has_length = true;
};

std::string model_bytes(const Structured& s) {
  std::string tensor;
  for (int64_t d : s.dims) field_varint(tensor, 1, static_cast<uint64_t>(d));
  field_varint(tensor, 2, static_cast<uint64_t>(s.dtype));
  field_bytes(tensor, 8, "w");
  field_bytes(tensor, 13, entry("location", s.location));
  if (s.has_offset) field_bytes(tensor, 13, entry("offset", s.offset));
  if (s.has_length) field_bytes(tensor, 13, entry("length", s.length));
  field_varint(tensor, 14, 1);  // data_location = EXTERNAL
  std::string node;
  field_bytes(node, 1, "w");
  field_bytes(node, 2, "y");
  field_bytes(node, 4, "Identity");
  std::string output;
  field_bytes(output, 1, "y");
  std::string graph;
  field_bytes(graph, 1, node);
  field_bytes(graph, 2, "g");
  field_bytes(graph, 5, tensor);
  field_bytes(graph, 12, output);
  std::string opset;
  field_varint(opset, 2, 13);
  std::string model;
  field_varint(model, 1, 8);
  field_bytes(model, 7, graph);
  field_bytes(model, 8, opset);
  return model;
}

bool take_string(std::string_view& in, std::string& out, bool& present) {
  if (in.empty()) return false;
  const size_t n = static_cast<uint8_t>(in[0]);
  in.remove_prefix(1);
  present = n != 0xff;
  if (!present) return true;
  const size_t take = std::min(n, in.size());
  out.assign(in.substr(0, take));
  in.remove_prefix(take);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Folder& f = folder();
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool structured = static_cast<uint8_t>(in[0]) < 0x80;
  Structured s;
  std::string bytes;
  if (structured) {
    if (in.size() < 4) return 0;
    static const int32_t kDtypes[] = {1, 2, 3, 6, 7, 10, 11};  // f32 u8 i8 i32 i64 f16 f64
    s.dtype = kDtypes[static_cast<uint8_t>(in[1]) % 7];
    const int rank = static_cast<uint8_t>(in[0]) % 3;
    if (rank >= 1) s.dims.push_back(static_cast<uint8_t>(in[2]));
    if (rank >= 2) s.dims.push_back(static_cast<uint8_t>(in[3]));
    in.remove_prefix(4);
    bool present = true;
    take_string(in, s.location, present);
    take_string(in, s.offset, s.has_offset);
    take_string(in, s.length, s.has_length);
    bytes = model_bytes(s);
  } else {
    bytes.assign(in.substr(1));
  }
  Folder::write(f.model_path, bytes);
  try {
    const edgeq::onnx::Model model = edgeq::onnx::read_model(f.model_path.string());
    for (const auto& [name, t] : model.graph.initializers) {
      if (f.holds_marker(t.raw(), t.nbytes())) {
        std::fprintf(stderr, "tensor '%s' holds bytes read from outside the model's folder\n", name.c_str());
        std::abort();
      }
    }
    if (structured) {
      // Whatever resolved inside holds f.inside: the tensor must be those bytes at the offset.
      const auto it = model.graph.initializers.find("w");
      if (it == model.graph.initializers.end()) std::abort();
      const size_t offset = s.has_offset ? std::stoull(s.offset) : 0;
      const size_t n = it->second.nbytes();
      if (offset + n > f.inside.size() || std::memcmp(it->second.raw(), f.inside.data() + offset, n) != 0) {
        std::fprintf(stderr, "tensor 'w' (%zu bytes at offset %zu of '%s') is not the inside file's bytes\n", n, offset,
                     s.location.c_str());
        std::abort();
      }
    }
  } catch (const edgeq::Error&) {
  }
  return 0;
}
