// See proto_oracle.h: the protobuf-based ModelProto -> IR conversion, as it was in src/onnx/convert.cpp.
#include "onnx/proto_oracle.h"

#include <onnx/onnx_pb.h>

#include "onnx/proto.h"
#include "onnx/reader.h"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace edgeq::onnx::oracle {
namespace {

using detail::tensor_to_proto;
using detail::value_info_from_proto;

[[noreturn]] void fail(ErrorCode code, const std::string& where, const std::string& what) {
  throw Error(code, where + ": " + what);
}

template <typename Dst, typename Src>
void copy_cast(const Src& src, Tensor& t) {
  Dst* out = t.data<Dst>();
  for (int i = 0; i < src.size(); ++i) out[i] = static_cast<Dst>(src.Get(i));
}

std::string read_external(const ::onnx::TensorProto& p, const std::string& where, const std::string& base_dir,
                          size_t expected) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : p.external_data()) {
    try {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = std::stoll(kv.value());
      else if (kv.key() == "length") length = std::stoll(kv.value());
    } catch (const std::exception&) {
      fail(ErrorCode::kInvalidModel, where, "external data field '" + kv.key() + "' is not a number: '" + kv.value() + "'");
    }
  }
  if (location.empty()) fail(ErrorCode::kInvalidModel, where, "external data without a location");
  std::filesystem::path rel(location);
  if (rel.is_absolute()) fail(ErrorCode::kInvalidModel, where, "external data location '" + location + "' is absolute");
  for (const auto& part : rel)
    if (part == "..") fail(ErrorCode::kInvalidModel, where, "external data location '" + location + "' leaves the model's directory");
  if (offset < 0) fail(ErrorCode::kInvalidModel, where, "external data offset is negative");
  if (length >= 0 && static_cast<size_t>(length) != expected)
    fail(ErrorCode::kInvalidModel, where, "external data length " + std::to_string(length) + " != " + std::to_string(expected) + " bytes the shape needs");
  std::filesystem::path file = std::filesystem::path(base_dir.empty() ? "." : base_dir) / rel;
  std::error_code ec;
  auto size = std::filesystem::file_size(file, ec);
  if (ec) fail(ErrorCode::kNotFound, where, "external data file '" + file.string() + "' not found");
  if (static_cast<uint64_t>(offset) + expected > size)
    fail(ErrorCode::kInvalidModel, where, "external data file '" + file.string() + "' has " + std::to_string(size) +
                                              " bytes, needs " + std::to_string(offset + expected));
  std::ifstream in(file, std::ios::binary);
  in.seekg(offset);
  std::string bytes(expected, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(expected));
  if (!in) fail(ErrorCode::kIo, where, "cannot read external data file '" + file.string() + "'");
  return bytes;
}

}  // namespace

Tensor tensor_from_proto(const ::onnx::TensorProto& p, const std::string& where, const std::string& base_dir) {
  int32_t dt = p.data_type();
  if (!dtype_known(dt)) fail(ErrorCode::kUnsupported, where, "data type " + std::to_string(dt) + " is not supported");
  DType dtype = static_cast<DType>(dt);
  if (dtype == DType::kString) fail(ErrorCode::kUnsupported, where, "string tensors are not supported");
  if (p.has_segment()) fail(ErrorCode::kUnsupported, where, "segmented tensors are not supported");
  Shape shape(p.dims().begin(), p.dims().end());
  for (int64_t d : shape)
    if (d < 0) fail(ErrorCode::kInvalidModel, where, "negative dimension in " + shape_str(shape));
  int64_t n;
  try {
    n = shape_numel(shape);
  } catch (const Error& e) {
    fail(ErrorCode::kInvalidModel, where, e.what());
  }
  size_t es = dtype_size(dtype);
  if (static_cast<uint64_t>(n) > (uint64_t{1} << 36) / es)
    fail(ErrorCode::kInvalidModel, where, "shape " + shape_str(shape) + " is too large");
  size_t expected = static_cast<size_t>(n) * es;

  if (p.data_location() == ::onnx::TensorProto::EXTERNAL) {
    std::string bytes = read_external(p, where, base_dir, expected);
    Tensor t(dtype, shape);
    if (expected) std::memcpy(t.raw(), bytes.data(), expected);
    return t;
  }
  Tensor t(dtype, shape);
  if (p.has_raw_data()) {
    if (p.raw_data().size() != expected)
      fail(ErrorCode::kInvalidModel, where, "raw_data has " + std::to_string(p.raw_data().size()) + " bytes, shape " +
                                                shape_str(shape) + " of " + dtype_name(dtype) + " needs " + std::to_string(expected));
    if (expected) std::memcpy(t.raw(), p.raw_data().data(), expected);
    return t;
  }
  auto check_count = [&](int count) {
    if (count != n)
      fail(ErrorCode::kInvalidModel, where, "has " + std::to_string(count) + " values, shape " + shape_str(shape) + " needs " + std::to_string(n));
  };
  switch (dtype) {
    case DType::kF32: check_count(p.float_data_size()); copy_cast<float>(p.float_data(), t); break;
    case DType::kF64: check_count(p.double_data_size()); copy_cast<double>(p.double_data(), t); break;
    case DType::kI64: check_count(p.int64_data_size()); copy_cast<int64_t>(p.int64_data(), t); break;
    case DType::kU32: check_count(p.uint64_data_size()); copy_cast<uint32_t>(p.uint64_data(), t); break;
    case DType::kU64: check_count(p.uint64_data_size()); copy_cast<uint64_t>(p.uint64_data(), t); break;
    case DType::kI32: check_count(p.int32_data_size()); copy_cast<int32_t>(p.int32_data(), t); break;
    case DType::kI16: check_count(p.int32_data_size()); copy_cast<int16_t>(p.int32_data(), t); break;
    case DType::kU16: case DType::kF16: case DType::kBF16:
      check_count(p.int32_data_size()); copy_cast<uint16_t>(p.int32_data(), t); break;
    case DType::kI8: check_count(p.int32_data_size()); copy_cast<int8_t>(p.int32_data(), t); break;
    case DType::kU8: case DType::kBool: check_count(p.int32_data_size()); copy_cast<uint8_t>(p.int32_data(), t); break;
    default: fail(ErrorCode::kUnsupported, where, std::string("data type ") + dtype_name(dtype));
  }
  return t;
}

Attribute attr_from_proto(const ::onnx::AttributeProto& a, const std::string& where, const std::string& base_dir) {
  Attribute r;
  r.name = a.name();
  using AP = ::onnx::AttributeProto;
  switch (a.type()) {
    case AP::FLOAT: r.kind = Attribute::Kind::kFloat; r.f = a.f(); break;
    case AP::INT: r.kind = Attribute::Kind::kInt; r.i = a.i(); break;
    case AP::STRING: r.kind = Attribute::Kind::kString; r.s = a.s(); break;
    case AP::TENSOR:
      r.kind = Attribute::Kind::kTensor;
      if (a.t().data_type() == ::onnx::TensorProto::STRING) r.s = a.t().SerializeAsString();  // kept opaque
      else r.t = tensor_from_proto(a.t(), where + " attribute '" + a.name() + "'", base_dir);
      break;
    case AP::GRAPH: r.kind = Attribute::Kind::kGraph; r.s = a.g().SerializeAsString(); break;
    case AP::FLOATS: r.kind = Attribute::Kind::kFloats; r.floats.assign(a.floats().begin(), a.floats().end()); break;
    case AP::INTS: r.kind = Attribute::Kind::kInts; r.ints.assign(a.ints().begin(), a.ints().end()); break;
    case AP::STRINGS: r.kind = Attribute::Kind::kStrings; r.strings.assign(a.strings().begin(), a.strings().end()); break;
    default:
      throw Error(ErrorCode::kUnsupported, where + ": attribute '" + a.name() + "' has unsupported type " + std::to_string(a.type()));
  }
  return r;
}

Model model_from_proto(const ::onnx::ModelProto& m, const std::string& where, const std::string& base_dir) {
  Model model;
  model.ir_version = m.ir_version();
  for (const auto& op : m.opset_import()) {
    std::string d = op.domain() == "ai.onnx" ? "" : op.domain();
    model.opset_imports[d] = op.version();
  }
  model.producer_name = m.producer_name();
  model.producer_version = m.producer_version();
  model.domain = m.domain();
  model.model_version = m.model_version();
  model.doc_string = m.doc_string();
  for (const auto& kv : m.metadata_props()) model.metadata.emplace_back(kv.key(), kv.value());

  const auto& g = m.graph();
  Graph& graph = model.graph;
  graph.name = g.name();
  graph.doc_string = g.doc_string();
  for (const auto& init : g.initializer()) {
    if (graph.initializers.count(init.name()))
      throw Error(ErrorCode::kInvalidModel, where + ": initializer '" + init.name() + "' is defined twice");
    graph.initializers[init.name()] = tensor_from_proto(init, where + ": initializer '" + init.name() + "'", base_dir);
  }
  if (g.sparse_initializer_size() > 0)
    throw Error(ErrorCode::kUnsupported, where + ": sparse initializers are not supported");
  for (const auto& in : g.input())
    if (!graph.initializers.count(in.name())) graph.inputs.push_back(value_info_from_proto(in));
  for (const auto& out : g.output()) graph.outputs.push_back(value_info_from_proto(out));
  for (const auto& vi : g.value_info()) graph.value_info[vi.name()] = value_info_from_proto(vi);
  graph.nodes.reserve(g.node_size());
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& np = g.node(i);
    Node n;
    n.name = np.name();
    n.op_type = np.op_type();
    n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    n.doc_string = np.doc_string();
    std::string node_where = where + ": node " + std::to_string(i) + " (" + n.op_type + (n.name.empty() ? "" : " '" + n.name + "'") + ")";
    for (const auto& a : np.attribute()) n.attrs.push_back(attr_from_proto(a, node_where, base_dir));
    graph.nodes.push_back(std::move(n));
  }
  return model;
}

namespace {
void inline_tensor(::onnx::TensorProto* t, const std::string& where, const std::string& base_dir) {
  if (t->data_location() != ::onnx::TensorProto::EXTERNAL) return;
  Tensor v = tensor_from_proto(*t, where + ": tensor '" + t->name() + "'", base_dir);
  std::string name = t->name();
  tensor_to_proto(v, name, t);
}

void inline_graph(::onnx::GraphProto* g, const std::string& where, const std::string& base_dir, int depth) {
  if (depth > 32) throw Error(ErrorCode::kInvalidModel, where + ": subgraphs nested deeper than 32 levels");
  for (auto& t : *g->mutable_initializer()) inline_tensor(&t, where, base_dir);
  for (auto& n : *g->mutable_node())
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t()) inline_tensor(a.mutable_t(), where, base_dir);
      if (a.has_g()) inline_graph(a.mutable_g(), where, base_dir, depth + 1);
      for (auto& sg : *a.mutable_graphs()) inline_graph(&sg, where, base_dir, depth + 1);
    }
}
}  // namespace

void inline_external_data(::onnx::ModelProto* m, const std::string& where, const std::string& base_dir) {
  inline_graph(m->mutable_graph(), where, base_dir, 0);
}


Model model_from_bytes(const std::string& bytes, const std::string& name, const std::string& base_dir) {
  ::onnx::ModelProto m;
  if (!m.ParseFromString(bytes)) throw Error(ErrorCode::kParse, name + ": not a valid ONNX protobuf");
  inline_external_data(&m, name, base_dir);
  Model model = model_from_proto(m, name, base_dir);
  model.source_path = name;
  return model;
}

namespace {

// Subgraphs and string tensors are kept as serialized bytes: compare them as protobuf messages.
template <typename Proto>
std::string canonical_bytes(const std::string& bytes) {
  Proto p;
  if (!p.ParseFromString(bytes)) return "<unparsable>" + bytes;
  return p.SerializeAsString();
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  if (a.empty() != b.empty()) return false;
  if (a.empty()) return true;
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

bool same_value_info(const onnx::ValueInfo& a, const onnx::ValueInfo& b) {
  return a.name == b.name && a.dtype == b.dtype && a.has_shape == b.has_shape && a.shape == b.shape &&
         a.dim_params == b.dim_params && a.doc_string == b.doc_string && a.other_type == b.other_type;
}

bool same_attr(const onnx::Attribute& a, const onnx::Attribute& b) {
  using K = onnx::Attribute::Kind;
  if (a.name != b.name || a.kind != b.kind) return false;
  switch (a.kind) {
    case K::kFloat: return std::memcmp(&a.f, &b.f, sizeof(float)) == 0;
    case K::kInt: return a.i == b.i;
    case K::kString: return a.s == b.s;
    case K::kTensor:
      if (!a.s.empty() || !b.s.empty()) return canonical_bytes<::onnx::TensorProto>(a.s) == canonical_bytes<::onnx::TensorProto>(b.s);
      return same_tensor(a.t, b.t);
    case K::kGraph: return canonical_bytes<::onnx::GraphProto>(a.s) == canonical_bytes<::onnx::GraphProto>(b.s);
    case K::kFloats: return a.floats.size() == b.floats.size() && std::memcmp(a.floats.data(), b.floats.data(), a.floats.size() * 4) == 0;
    case K::kInts: return a.ints == b.ints;
    case K::kStrings: return a.strings == b.strings;
  }
  return false;
}

}  // namespace

std::string first_difference(const onnx::Model& a, const onnx::Model& b) {
  if (a.ir_version != b.ir_version) return "ir_version";
  if (a.opset_imports != b.opset_imports) return "opset_imports";
  if (a.producer_name != b.producer_name || a.producer_version != b.producer_version) return "producer";
  if (a.domain != b.domain || a.model_version != b.model_version || a.doc_string != b.doc_string) return "model fields";
  if (a.metadata != b.metadata) return "metadata";
  const auto& ga = a.graph;
  const auto& gb = b.graph;
  if (ga.name != gb.name || ga.doc_string != gb.doc_string) return "graph name/doc";
  auto same_list = [](const std::vector<onnx::ValueInfo>& x, const std::vector<onnx::ValueInfo>& y) {
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!same_value_info(x[i], y[i])) return false;
    return true;
  };
  if (!same_list(ga.inputs, gb.inputs)) return "graph inputs";
  if (!same_list(ga.outputs, gb.outputs)) return "graph outputs";
  if (ga.value_info.size() != gb.value_info.size()) return "value_info count";
  for (const auto& [name, vi] : ga.value_info) {
    auto it = gb.value_info.find(name);
    if (it == gb.value_info.end() || !same_value_info(vi, it->second)) return "value_info '" + name + "'";
  }
  if (ga.initializers.size() != gb.initializers.size()) return "initializer count";
  for (const auto& [name, t] : ga.initializers) {
    auto it = gb.initializers.find(name);
    if (it == gb.initializers.end() || !same_tensor(t, it->second)) return "initializer '" + name + "'";
  }
  if (ga.nodes.size() != gb.nodes.size()) return "node count";
  for (size_t i = 0; i < ga.nodes.size(); ++i) {
    const auto& na = ga.nodes[i];
    const auto& nb = gb.nodes[i];
    if (na.name != nb.name || na.op_type != nb.op_type || na.domain != nb.domain || na.inputs != nb.inputs ||
        na.outputs != nb.outputs || na.doc_string != nb.doc_string || na.attrs.size() != nb.attrs.size())
      return "node " + std::to_string(i);
    for (size_t k = 0; k < na.attrs.size(); ++k)
      if (!same_attr(na.attrs[k], nb.attrs[k])) return "node " + std::to_string(i) + " attribute '" + na.attrs[k].name + "'";
  }
  return "";
}

Model model_from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string base = std::filesystem::path(path).parent_path().string();
  Model m = model_from_bytes(bytes, path, base.empty() ? "." : base);
  detail::merge_output_types(m.graph);  // as the reader does
  return m;
}

}  // namespace edgeq::onnx::oracle
