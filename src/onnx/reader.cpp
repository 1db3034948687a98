// read_model: ONNX ModelProto bytes -> the IR, with edgeq's own wire-format decoder (wire.h) and no
// libprotobuf, so the runtime core embeds, builds for wasm/aarch64 and starts in milliseconds.
// Decodes only the fields the IR holds (onnx.proto field numbers below); skips the rest (training
// info, model-local functions, quantization annotations). Since no ONNX checker runs here, the reader
// itself checks what the runtime relies on: opsets, one producer per value, names present, an acyclic
// graph whose values are all defined, tensor sizes against their shapes, external data confined to
// the model's own folder.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "edgeq/onnx.h"
#include "onnx/reader.h"
#include "onnx/wire.h"

namespace edgeq::onnx {
namespace {

using wire::Field;
using wire::WireReader;

[[noreturn]] void fail(ErrorCode code, const std::string& where, const std::string& what) {
  throw Error(code, where + ": " + what);
}

constexpr size_t kMaxModelBytes = (size_t{1} << 31) - 1;  // protobuf's limit; every exporter follows it
constexpr uint64_t kMaxTensorBytes = uint64_t{1} << 36;  // 64 GiB: past any edge model, before any overflow
constexpr int32_t kTensorDataExternal = 1;                 // TensorProto.DataLocation.EXTERNAL

// TensorProto as found in the bytes; payloads stay views into the buffer until the shape is known.
struct RawTensor {
  std::string name;
  std::vector<int64_t> dims;
  int32_t data_type = 0;
  bool has_segment = false;
  bool has_raw_data = false;
  std::string_view raw_data;
  std::vector<float> float_data;
  std::vector<int32_t> int32_data;
  std::vector<int64_t> int64_data;
  std::vector<double> double_data;
  std::vector<uint64_t> uint64_data;
  size_t string_data_count = 0;
  std::vector<std::pair<std::string, std::string>> external_data;
  int32_t data_location = 0;
};

float float_from_bits(uint64_t v) {
  const uint32_t bits = static_cast<uint32_t>(v);
  float x;
  std::memcpy(&x, &bits, 4);
  return x;
}

// Proto int32 fields arrive as 64-bit varints (negative values sign-extended): keep the low 32 bits.
int32_t low32(uint64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }

std::pair<std::string, std::string> read_string_entry(std::string_view bytes, const std::string& what) {
  WireReader r(bytes, &what);
  std::pair<std::string, std::string> kv;
  while (!r.done()) {
    Field f = r.next();
    if (f.number == 1) kv.first = wire::as_string(r, f);
    else if (f.number == 2) kv.second = wire::as_string(r, f);
  }
  return kv;
}

RawTensor read_raw_tensor(std::string_view bytes, const std::string& what) {
  WireReader r(bytes, &what);
  RawTensor t;
  while (!r.done()) {
    Field f = r.next();
    switch (f.number) {
      case 1: wire::append_repeated(r, f, wire::kVarint, t.dims, [](uint64_t v) { return static_cast<int64_t>(v); }); break;
      case 2: wire::expect(r, f, wire::kVarint); t.data_type = low32(f.varint); break;
      case 3: t.has_segment = true; break;
      case 4: wire::append_repeated(r, f, wire::kFixed32, t.float_data, float_from_bits); break;
      case 5: wire::append_repeated(r, f, wire::kVarint, t.int32_data, low32); break;
      case 6: wire::expect(r, f, wire::kLengthDelimited); ++t.string_data_count; break;
      case 7: wire::append_repeated(r, f, wire::kVarint, t.int64_data, [](uint64_t v) { return static_cast<int64_t>(v); }); break;
      case 8: t.name = wire::as_string(r, f); break;
      case 9: wire::expect(r, f, wire::kLengthDelimited); t.has_raw_data = true; t.raw_data = f.bytes; break;
      case 10:
        wire::append_repeated(r, f, wire::kFixed64, t.double_data, [](uint64_t v) {
          double x;
          std::memcpy(&x, &v, 8);
          return x;
        });
        break;
      case 11: wire::append_repeated(r, f, wire::kVarint, t.uint64_data, [](uint64_t v) { return v; }); break;
      case 13: wire::expect(r, f, wire::kLengthDelimited); t.external_data.push_back(read_string_entry(f.bytes, what)); break;
      case 14: wire::expect(r, f, wire::kVarint); t.data_location = low32(f.varint); break;
      default: break;
    }
  }
  return t;
}

// Where a model's external data may come from: files inside base_dir (symbolic links resolved), or
// nowhere when the model came from memory without a folder.
std::string read_external(const RawTensor& p, const std::string& where, const std::string& base_dir, size_t expected) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& [key, value] : p.external_data) {
    try {
      size_t used = 0;
      if (key == "location") location = value;
      else if (key == "offset") offset = std::stoll(value, &used);
      else if (key == "length") length = std::stoll(value, &used);
      if ((key == "offset" || key == "length") && used != value.size()) throw std::invalid_argument(value);
    } catch (const std::exception&) {
      fail(ErrorCode::kInvalidModel, where, "external data field '" + printable(key) + "' is not a number: '" + printable(value) + "'");
    }
  }
  if (location.empty()) fail(ErrorCode::kInvalidModel, where, "external data without a location");
  if (base_dir.empty())
    fail(ErrorCode::kInvalidModel, where, "external data '" + printable(location) + "' but the model was read from memory without a folder");
  namespace fs = std::filesystem;
  const fs::path rel(location);
  if (rel.is_absolute()) fail(ErrorCode::kInvalidModel, where, "external data location '" + printable(location) + "' is absolute");
  for (const auto& part : rel)
    if (part == "..") fail(ErrorCode::kInvalidModel, where, "external data location '" + printable(location) + "' leaves the model's directory");
  if (offset < 0) fail(ErrorCode::kInvalidModel, where, "external data offset is negative");
  if (length >= 0 && static_cast<uint64_t>(length) != expected)
    fail(ErrorCode::kInvalidModel, where, "external data length " + std::to_string(length) + " != " + std::to_string(expected) + " bytes the shape needs");
  const fs::path file = fs::path(base_dir) / rel;
  std::error_code ec;
  const fs::path real_dir = fs::canonical(base_dir, ec);
  const fs::path real_file = ec ? fs::path() : fs::canonical(file, ec);
  if (ec) fail(ErrorCode::kNotFound, where, "external data file '" + printable(file.string()) + "' not found");
  // A symbolic link inside the folder may point anywhere: the resolved file must still be inside.
  const auto [dir_end, file_it] = std::mismatch(real_dir.begin(), real_dir.end(), real_file.begin(), real_file.end());
  if (dir_end != real_dir.end())
    fail(ErrorCode::kInvalidModel, where, "external data file '" + printable(file.string()) + "' resolves outside the model's directory");
  if (!fs::is_regular_file(real_file, ec))
    fail(ErrorCode::kInvalidModel, where, "external data '" + printable(file.string()) + "' is not a regular file");
  const uint64_t size = fs::file_size(real_file, ec);
  if (ec || static_cast<uint64_t>(offset) > size || size - static_cast<uint64_t>(offset) < expected)
    fail(ErrorCode::kInvalidModel, where, "external data file '" + printable(file.string()) + "' has " + std::to_string(size) +
                                              " bytes, needs " + std::to_string(static_cast<uint64_t>(offset) + expected));
  std::ifstream in(real_file, std::ios::binary);
  in.seekg(offset);
  std::string bytes(expected, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(expected));
  if (!in) fail(ErrorCode::kIo, where, "cannot read external data file '" + printable(file.string()) + "'");
  return bytes;
}

template <typename Dst, typename Src>
void copy_cast(const std::vector<Src>& src, Tensor& t) {
  Dst* out = t.data<Dst>();
  for (size_t i = 0; i < src.size(); ++i) out[i] = static_cast<Dst>(src[i]);
}

Tensor tensor_from_raw(const RawTensor& p, const std::string& where, const std::string& base_dir) {
  if (!dtype_known(p.data_type)) fail(ErrorCode::kUnsupported, where, "data type " + std::to_string(p.data_type) + " is not supported");
  const DType dtype = static_cast<DType>(p.data_type);
  if (dtype == DType::kString) fail(ErrorCode::kUnsupported, where, "string tensors are not supported");
  if (p.has_segment) fail(ErrorCode::kUnsupported, where, "segmented tensors are not supported");
  const Shape shape(p.dims.begin(), p.dims.end());
  for (int64_t d : shape)
    if (d < 0) fail(ErrorCode::kInvalidModel, where, "negative dimension in " + shape_str(shape));
  int64_t n = 0;
  try {
    n = shape_numel(shape);
  } catch (const Error& e) {
    fail(ErrorCode::kInvalidModel, where, e.what());
  }
  const size_t es = dtype_size(dtype);
  if (static_cast<uint64_t>(n) > kMaxTensorBytes / es) fail(ErrorCode::kInvalidModel, where, "shape " + shape_str(shape) + " is too large");
  const size_t expected = static_cast<size_t>(n) * es;

  if (p.data_location == kTensorDataExternal) {
    const std::string bytes = read_external(p, where, base_dir, expected);
    Tensor t(dtype, shape);
    if (expected) std::memcpy(t.raw(), bytes.data(), expected);
    return t;
  }
  if (p.has_raw_data) {
    if (p.raw_data.size() != expected)
      fail(ErrorCode::kInvalidModel, where, "raw_data has " + std::to_string(p.raw_data.size()) + " bytes, shape " + shape_str(shape) +
                                                " of " + dtype_name(dtype) + " needs " + std::to_string(expected));
    Tensor t(dtype, shape);
    if (expected) std::memcpy(t.raw(), p.raw_data.data(), expected);
    return t;
  }
  // Typed fields: check the count before allocating, so a huge shape with no data costs nothing.
  auto checked = [&](size_t count) {
    if (count != static_cast<size_t>(n))
      fail(ErrorCode::kInvalidModel, where, "has " + std::to_string(count) + " values, shape " + shape_str(shape) + " needs " + std::to_string(n));
    return Tensor(dtype, shape);
  };
  Tensor t;
  switch (dtype) {
    case DType::kF32: t = checked(p.float_data.size()); copy_cast<float>(p.float_data, t); break;
    case DType::kF64: t = checked(p.double_data.size()); copy_cast<double>(p.double_data, t); break;
    case DType::kI64: t = checked(p.int64_data.size()); copy_cast<int64_t>(p.int64_data, t); break;
    case DType::kU32: t = checked(p.uint64_data.size()); copy_cast<uint32_t>(p.uint64_data, t); break;
    case DType::kU64: t = checked(p.uint64_data.size()); copy_cast<uint64_t>(p.uint64_data, t); break;
    case DType::kI32: t = checked(p.int32_data.size()); copy_cast<int32_t>(p.int32_data, t); break;
    case DType::kI16: t = checked(p.int32_data.size()); copy_cast<int16_t>(p.int32_data, t); break;
    case DType::kU16: case DType::kF16: case DType::kBF16:
      t = checked(p.int32_data.size()); copy_cast<uint16_t>(p.int32_data, t); break;
    case DType::kI8: t = checked(p.int32_data.size()); copy_cast<int8_t>(p.int32_data, t); break;
    case DType::kU8: case DType::kBool: t = checked(p.int32_data.size()); copy_cast<uint8_t>(p.int32_data, t); break;
    default: fail(ErrorCode::kUnsupported, where, std::string("data type ") + dtype_name(dtype));
  }
  return t;
}

// TypeProto -> dtype and shape; only tensor types carry them (sequence, map, optional stay unknown).
// NEGATIVE_DIM gets the first dim_value below 0 (index, value), which the caller refuses once it knows
// the value's name.
void read_tensor_type(std::string_view bytes, const std::string& what, ValueInfo& v,
                      std::pair<size_t, int64_t>* negative_dim) {
  WireReader r(bytes, &what);
  while (!r.done()) {
    Field f = r.next();
    if (f.number == 1) {
      wire::expect(r, f, wire::kVarint);
      v.dtype = dtype_known(low32(f.varint)) ? static_cast<DType>(low32(f.varint)) : DType::kUndefined;
    } else if (f.number == 2) {
      wire::expect(r, f, wire::kLengthDelimited);
      v.has_shape = true;  // a present shape, even with no dims, is a known rank (0)
      WireReader shape(f.bytes, &what);
      while (!shape.done()) {
        Field d = shape.next();
        if (d.number != 1) continue;
        wire::expect(shape, d, wire::kLengthDelimited);
        int64_t dim = -1;
        std::string param;
        WireReader dr(d.bytes, &what);
        while (!dr.done()) {
          Field x = dr.next();
          // dim_value and dim_param are a oneof: the last one in the bytes wins, as in protobuf.
          if (x.number == 1) {
            wire::expect(dr, x, wire::kVarint);
            dim = static_cast<int64_t>(x.varint);
            param.clear();
            // -1 is the IR's "unknown": a negative dim_value in the file must not pass for an open dim.
            if (dim < 0 && negative_dim->second == 0) *negative_dim = {v.shape.size(), dim};
          }
          else if (x.number == 2) { param = wire::as_string(dr, x); dim = -1; }
        }
        v.shape.push_back(dim);
        v.dim_params.push_back(param);
      }
    }
  }
}

ValueInfo read_value_info(std::string_view bytes, const std::string& what) {
  WireReader r(bytes, &what);
  ValueInfo v;
  std::pair<size_t, int64_t> negative_dim{0, 0};
  while (!r.done()) {
    Field f = r.next();
    if (f.number == 1) v.name = wire::as_string(r, f);
    else if (f.number == 3) v.doc_string = wire::as_string(r, f);
    else if (f.number == 2) {
      wire::expect(r, f, wire::kLengthDelimited);
      WireReader type(f.bytes, &what);
      // The oneof `value` of TypeProto: a later member replaces an earlier tensor_type.
      while (!type.done()) {
        Field t = type.next();
        if (t.number == 1) {
          wire::expect(type, t, wire::kLengthDelimited);
          v.dtype = DType::kUndefined;
          v.has_shape = false;
          v.shape.clear();
          v.dim_params.clear();
          v.other_type.clear();
          read_tensor_type(t.bytes, what, v, &negative_dim);
        } else if (t.number == 4 || t.number == 5 || t.number == 8 || t.number == 9) {
          v = ValueInfo{v.name, DType::kUndefined, false, {}, {}, v.doc_string, std::string(f.bytes)};
        }
      }
    }
  }
  if (negative_dim.second < 0)
    fail(ErrorCode::kInvalidModel, what, "'" + printable(v.name) + "' has dim " + std::to_string(negative_dim.first) + " = " +
                                             std::to_string(negative_dim.second) + "; dims are >= 0 (an open dim has a dim_param or no value)");
  return v;
}

// AttributeProto.AttributeType values.
enum AttributeType : int32_t { kAttrFloat = 1, kAttrInt = 2, kAttrString = 3, kAttrTensor = 4, kAttrGraph = 5,
                               kAttrFloats = 6, kAttrInts = 7, kAttrStrings = 8 };
constexpr int32_t kOnnxStringType = 8;  // TensorProto.DataType.STRING

Attribute read_attribute(std::string_view bytes, const std::string& where, const std::string& base_dir) {
  WireReader r(bytes, &where);
  // Every value field is read, then only the one the type names is kept, as protobuf's typed view does.
  Attribute read;
  int32_t type = 0;
  std::string_view tensor_bytes, graph_bytes;
  while (!r.done()) {
    Field f = r.next();
    switch (f.number) {
      case 1: read.name = wire::as_string(r, f); break;
      case 20: wire::expect(r, f, wire::kVarint); type = low32(f.varint); break;
      case 2: read.f = wire::as_float(r, f); break;
      case 3: wire::expect(r, f, wire::kVarint); read.i = static_cast<int64_t>(f.varint); break;
      case 4: read.s = wire::as_string(r, f); break;
      case 5: wire::expect(r, f, wire::kLengthDelimited); tensor_bytes = f.bytes; break;
      case 6: wire::expect(r, f, wire::kLengthDelimited); graph_bytes = f.bytes; break;
      case 7: wire::append_repeated(r, f, wire::kFixed32, read.floats, float_from_bits); break;
      case 8: wire::append_repeated(r, f, wire::kVarint, read.ints, [](uint64_t v) { return static_cast<int64_t>(v); }); break;
      case 9: read.strings.push_back(wire::as_string(r, f)); break;
      default: break;
    }
  }
  Attribute a;
  a.name = read.name;
  switch (type) {
    case kAttrFloat: a.kind = Attribute::Kind::kFloat; a.f = read.f; break;
    case kAttrInt: a.kind = Attribute::Kind::kInt; a.i = read.i; break;
    case kAttrString: a.kind = Attribute::Kind::kString; a.s = std::move(read.s); break;
    case kAttrTensor: {
      a.kind = Attribute::Kind::kTensor;
      const std::string what = where + " attribute '" + a.name + "'";
      const RawTensor t = read_raw_tensor(tensor_bytes, what);
      if (t.data_type == kOnnxStringType) a.s = std::string(tensor_bytes);  // kept opaque, as written
      else a.t = tensor_from_raw(t, what, base_dir);
      break;
    }
    case kAttrGraph: a.kind = Attribute::Kind::kGraph; a.s = std::string(graph_bytes); break;  // the serialized GraphProto
    case kAttrFloats: a.kind = Attribute::Kind::kFloats; a.floats = std::move(read.floats); break;
    case kAttrInts: a.kind = Attribute::Kind::kInts; a.ints = std::move(read.ints); break;
    case kAttrStrings: a.kind = Attribute::Kind::kStrings; a.strings = std::move(read.strings); break;
    default: fail(ErrorCode::kUnsupported, where, "attribute '" + a.name + "' has unsupported type " + std::to_string(type));
  }
  return a;
}

Node read_node(std::string_view bytes, size_t index, const std::string& where, const std::string& base_dir) {
  const std::string node_what = where + ": node " + std::to_string(index);
  WireReader r(bytes, &node_what);
  Node n;
  std::vector<std::string_view> attrs;
  while (!r.done()) {
    Field f = r.next();
    switch (f.number) {
      case 1: n.inputs.push_back(wire::as_string(r, f)); break;
      case 2: n.outputs.push_back(wire::as_string(r, f)); break;
      case 3: n.name = wire::as_string(r, f); break;
      case 4: n.op_type = wire::as_string(r, f); break;
      case 7: n.domain = wire::as_string(r, f); break;
      case 5: wire::expect(r, f, wire::kLengthDelimited); attrs.push_back(f.bytes); break;
      case 6: n.doc_string = wire::as_string(r, f); break;
      default: break;
    }
  }
  if (n.domain == "ai.onnx") n.domain.clear();
  // Attributes after the op type is known, so their errors name the node as the old loader did.
  const std::string attr_where = node_what + " (" + n.op_type + (n.name.empty() ? "" : " '" + n.name + "'") + ")";
  for (auto a : attrs) n.attrs.push_back(read_attribute(a, attr_where, base_dir));
  return n;
}

void read_graph(std::string_view bytes, const std::string& where, const std::string& base_dir, Graph& graph) {
  WireReader r(bytes, &where);
  std::vector<std::string_view> nodes, initializers, inputs;
  while (!r.done()) {
    Field f = r.next();
    switch (f.number) {
      case 1: wire::expect(r, f, wire::kLengthDelimited); nodes.push_back(f.bytes); break;
      case 2: graph.name = wire::as_string(r, f); break;
      case 5: wire::expect(r, f, wire::kLengthDelimited); initializers.push_back(f.bytes); break;
      case 10: graph.doc_string = wire::as_string(r, f); break;
      case 11: wire::expect(r, f, wire::kLengthDelimited); inputs.push_back(f.bytes); break;
      case 12: wire::expect(r, f, wire::kLengthDelimited); graph.outputs.push_back(read_value_info(f.bytes, where + ": graph output")); break;
      case 13: {
        wire::expect(r, f, wire::kLengthDelimited);
        ValueInfo vi = read_value_info(f.bytes, where + ": value_info");
        std::string name = vi.name;
        graph.value_info[name] = std::move(vi);
        break;
      }
      case 15: fail(ErrorCode::kUnsupported, where, "sparse initializers are not supported");
      default: break;
    }
  }
  for (auto bytes_of_init : initializers) {
    const std::string what = where + ": initializer";
    const RawTensor t = read_raw_tensor(bytes_of_init, what);
    if (graph.initializers.count(t.name)) fail(ErrorCode::kInvalidModel, where, "initializer '" + t.name + "' is defined twice");
    graph.initializers[t.name] = tensor_from_raw(t, where + ": initializer '" + t.name + "'", base_dir);
  }
  // Inputs that are also initializers (IR < 4 lists every weight as an input) are weights, not inputs.
  for (auto in : inputs) {
    ValueInfo vi = read_value_info(in, where + ": graph input");
    if (!graph.initializers.count(vi.name)) graph.inputs.push_back(std::move(vi));
  }
  graph.nodes.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) graph.nodes.push_back(read_node(nodes[i], i, where, base_dir));
}

// An imported domain matters only when a node uses it: exporters import domains they never use
// (ai.onnx.training, a converter's own), and refusing those refused models edgeq could run.
void check_opsets(const Model& model, const std::string& where) {
  if (model.opset_imports.empty()) fail(ErrorCode::kInvalidModel, where, "no opset_import (not an ONNX model?)");
  for (const auto& [domain, version] : model.opset_imports) {
    if (domain.empty() && version > kMaxOpset)
      fail(ErrorCode::kUnsupported, where, "ai.onnx opset " + std::to_string(version) + " is newer than the newest this build supports (" +
                                               std::to_string(kMaxOpset) + ")");
    if (domain.empty() && version < 1) fail(ErrorCode::kInvalidModel, where, "ai.onnx opset " + std::to_string(version) + " is not a valid opset");
  }
}

// A node in a domain edgeq does not know gets one error naming the node and the domain.
void check_node_domains(const Graph& g, const std::string& where, const ReadOptions& options) {
  static const std::set<std::string> kKnownDomains = {"", "ai.onnx.ml", "com.microsoft", "ai.onnx.preview.training"};
  if (options.allow_unknown_domains) return;
  for (const Node& n : g.nodes)
    if (!kKnownDomains.count(n.domain))
      fail(ErrorCode::kUnsupported, where, n.label() + " is in domain '" + printable(n.domain) +
                                               "', which edgeq does not know (known: ai.onnx, ai.onnx.ml, com.microsoft)");
}

// What the ONNX checker would have refused and the runtime relies on: names, one producer per value.
void check_graph(const Graph& g, const std::string& where) {
  if (g.nodes.empty()) fail(ErrorCode::kInvalidModel, where, "empty graph (no nodes)");
  if (g.outputs.empty()) fail(ErrorCode::kInvalidModel, where, "graph has no outputs");
  std::set<std::string> produced;
  for (const auto& [name, t] : g.initializers) produced.insert(name);
  for (const auto& in : g.inputs) {
    if (in.name.empty()) fail(ErrorCode::kInvalidModel, where, "a graph input has no name");
    if (!produced.insert(in.name).second) fail(ErrorCode::kInvalidModel, where, "graph input '" + in.name + "' is defined twice");
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op_type.empty()) fail(ErrorCode::kInvalidModel, where, "node " + std::to_string(i) + " has no op_type");
    for (const auto& out : n.outputs)
      if (!out.empty() && !produced.insert(out).second)
        fail(ErrorCode::kInvalidModel, where, n.label() + ": output '" + out + "' is already produced elsewhere (ONNX graphs are single-assignment)");
  }
  for (const auto& out : g.outputs)
    if (out.name.empty()) fail(ErrorCode::kInvalidModel, where, "a graph output has no name");
  try {
    g.topological_order();  // throws on a cycle or a value used but never produced
  } catch (const Error& e) {
    fail(e.code(), where, std::string(e.what()) + " (ONNX graphs must be acyclic, nodes topologically sorted)");
  }
}

}  // namespace

ValueKind value_kind(const ValueInfo& v) {
  if (v.other_type.empty()) return ValueKind::kTensor;
  const std::string what = "type of '" + v.name + "'";
  WireReader r(v.other_type, &what);
  while (!r.done()) {
    switch (r.next().number) {  // TypeProto's oneof `value`
      case 4: return ValueKind::kSequence;
      case 5: return ValueKind::kMap;
      case 8: return ValueKind::kSparseTensor;
      case 9: return ValueKind::kOptional;
      default: break;
    }
  }
  return ValueKind::kTensor;
}

namespace detail {
void merge_output_types(Graph& g) {
  for (auto& out : g.outputs) {
    auto it = g.value_info.find(out.name);
    if (it == g.value_info.end()) continue;
    if (out.dtype == DType::kUndefined) out.dtype = it->second.dtype;
    if (!out.has_shape && it->second.has_shape) {
      out.has_shape = true;
      out.shape = it->second.shape;
      out.dim_params = it->second.dim_params;
    }
    g.value_info.erase(it);
  }
}
}  // namespace detail

namespace {

Model decode_model(const void* data, size_t size, const std::string& name, const std::string& base_dir, const ReadOptions& options) {
  // Checked before any byte is read (a mapped file is not read until touched).
  if (size > kMaxModelBytes)
    fail(ErrorCode::kInvalidModel, name, "model is " + std::to_string(size >> 20) +
                                             " MB, over protobuf's 2 GB limit for one ModelProto (weights that large go in external data)");
  const std::string_view bytes(static_cast<const char*>(data), size);
  Model model;
  const std::string what = name;
  WireReader r(bytes, &what);
  std::string_view graph_bytes;
  bool has_graph = false;
  while (!r.done()) {
    Field f = r.next();
    switch (f.number) {
      case 1: wire::expect(r, f, wire::kVarint); model.ir_version = static_cast<int64_t>(f.varint); break;
      case 2: model.producer_name = wire::as_string(r, f); break;
      case 3: model.producer_version = wire::as_string(r, f); break;
      case 4: model.domain = wire::as_string(r, f); break;
      case 5: wire::expect(r, f, wire::kVarint); model.model_version = static_cast<int64_t>(f.varint); break;
      case 6: model.doc_string = wire::as_string(r, f); break;
      case 7: wire::expect(r, f, wire::kLengthDelimited); graph_bytes = f.bytes; has_graph = true; break;
      case 8: {
        wire::expect(r, f, wire::kLengthDelimited);
        const std::string op_what = name + ": opset_import";
        WireReader op(f.bytes, &op_what);
        std::string domain;
        int64_t version = 0;
        while (!op.done()) {
          Field x = op.next();
          if (x.number == 1) domain = wire::as_string(op, x);
          else if (x.number == 2) { wire::expect(op, x, wire::kVarint); version = static_cast<int64_t>(x.varint); }
        }
        model.opset_imports[domain == "ai.onnx" ? "" : domain] = version;
        break;
      }
      case 14: wire::expect(r, f, wire::kLengthDelimited); model.metadata.push_back(read_string_entry(f.bytes, name + ": metadata_props")); break;
      default: break;
    }
  }
  if (!has_graph) fail(ErrorCode::kInvalidModel, name, "model has no graph");
  if (model.ir_version < 1) fail(ErrorCode::kInvalidModel, name, "no ir_version (not an ONNX model?)");
  check_opsets(model, name);
  read_graph(graph_bytes, name, base_dir, model.graph);
  check_graph(model.graph, name);
  check_node_domains(model.graph, name, options);
  detail::merge_output_types(model.graph);
  model.source_path = name;
  return model;
}

}  // namespace

Model read_model_from_buffer(const void* data, size_t size, const std::string& name, const std::string& base_dir,
                             const ReadOptions& options) {
  if (size == 0) fail(ErrorCode::kParse, name, "file is empty");
  try {
    return decode_model(data, size, name, base_dir, options);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kParse) throw;
    // Only the wire layer throws kParse: say what that means first, then where it stopped and why.
    const std::string detail = e.what();
    const std::string prefix = name + ": ";
    fail(ErrorCode::kParse, name, "not a valid ONNX protobuf (" + (detail.rfind(prefix, 0) == 0 ? detail.substr(prefix.size()) : detail) + ")");
  }
}

Model read_model(const std::string& path, const ReadOptions& options) {
  namespace fs = std::filesystem;
  if (const std::string problem = regular_file_problem(path); !problem.empty())
    fail(problem == "no such file" || problem.find("does not exist") != std::string::npos ? ErrorCode::kNotFound
                                                                                           : ErrorCode::kInvalidArgument,
         path, problem);
  const std::string base = fs::path(path).parent_path().string();
  const std::string base_dir = base.empty() ? "." : base;
  // O_NONBLOCK: a path swapped for a FIFO after the check above must not block the open.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) fail(ErrorCode::kIo, path, "cannot open: " + std::string(std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorCode::kIo, path, "cannot stat, or not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    fail(ErrorCode::kParse, path, "file is empty");
  }

  // Mapped, the weights are copied once (into their tensors) instead of twice. MAP_POPULATE: the page
  // tables are filled in one call rather than by a fault per page as the reader walks the file.
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    const std::string bytes = read_file(path);
    return read_model_from_buffer(bytes.data(), bytes.size(), path, base_dir, options);
  }
  struct Unmap {
    void* p;
    size_t n;
    ~Unmap() { ::munmap(p, n); }
  } unmap{map, size};
  return read_model_from_buffer(map, size, path, base_dir, options);
}

Tensor parse_tensor_proto(const std::string& bytes, const std::string& name_for_errors, std::string* tensor_name) {
  const RawTensor t = read_raw_tensor(bytes, name_for_errors);
  if (tensor_name) *tensor_name = t.name;
  return tensor_from_raw(t, name_for_errors, "");
}

}  // namespace edgeq::onnx
