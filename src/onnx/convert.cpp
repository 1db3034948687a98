// edgeq IR -> TensorProto / ValueInfoProto / ModelProto (the writer), and ValueInfoProto -> IR for shape
// inference's results. Files are read by the core's reader (reader.cpp), not through protobuf.
#include "onnx/proto.h"

namespace edgeq::onnx::detail {

void tensor_to_proto(const Tensor& t, const std::string& name, ::onnx::TensorProto* p) {
  p->Clear();
  p->set_name(name);
  p->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) p->add_dims(d);
  if (t.numel() > 0) p->set_raw_data(t.raw(), t.nbytes());
  else p->set_raw_data(std::string());
}

ValueInfo value_info_from_proto(const ::onnx::ValueInfoProto& p) {
  ValueInfo v;
  v.name = p.name();
  v.doc_string = p.doc_string();
  if (p.has_type() && p.type().has_tensor_type()) {
    const auto& tt = p.type().tensor_type();
    v.dtype = dtype_known(tt.elem_type()) ? static_cast<DType>(tt.elem_type()) : DType::kUndefined;
    if (tt.has_shape()) {
      v.has_shape = true;
      for (const auto& d : tt.shape().dim()) {
        v.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
        v.dim_params.push_back(d.has_dim_param() ? d.dim_param() : "");
      }
    }
  } else if (p.has_type() && p.type().value_case() != ::onnx::TypeProto::VALUE_NOT_SET) {
    v.other_type = p.type().SerializeAsString();
  }
  return v;
}

void value_info_to_proto(const ValueInfo& v, ::onnx::ValueInfoProto* p) {
  p->Clear();
  p->set_name(v.name);
  if (!v.doc_string.empty()) p->set_doc_string(v.doc_string);
  if (!v.other_type.empty()) {
    // Bytes the reader took from a model file; protobuf re-checks them (nesting depth included).
    if (!p->mutable_type()->ParseFromString(v.other_type)) p->clear_type();
    return;
  }
  if (v.dtype == DType::kUndefined && !v.has_shape) return;
  auto* tt = p->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(v.dtype));
  if (!v.has_shape) return;
  auto* shape = tt->mutable_shape();
  for (size_t i = 0; i < v.shape.size(); ++i) {
    auto* d = shape->add_dim();
    if (v.shape[i] >= 0) d->set_dim_value(v.shape[i]);
    else if (i < v.dim_params.size() && !v.dim_params[i].empty()) d->set_dim_param(v.dim_params[i]);
  }
}

namespace {

void attr_to_proto(const Attribute& r, ::onnx::AttributeProto* a) {
  using AP = ::onnx::AttributeProto;
  a->set_name(r.name);
  switch (r.kind) {
    case Attribute::Kind::kFloat: a->set_type(AP::FLOAT); a->set_f(r.f); break;
    case Attribute::Kind::kInt: a->set_type(AP::INT); a->set_i(r.i); break;
    case Attribute::Kind::kString: a->set_type(AP::STRING); a->set_s(r.s); break;
    case Attribute::Kind::kTensor:
      a->set_type(AP::TENSOR);
      if (r.t.empty() && !r.s.empty()) a->mutable_t()->ParseFromString(r.s);
      else tensor_to_proto(r.t, "", a->mutable_t());
      break;
    case Attribute::Kind::kGraph: a->set_type(AP::GRAPH); a->mutable_g()->ParseFromString(r.s); break;
    case Attribute::Kind::kFloats: a->set_type(AP::FLOATS); for (float f : r.floats) a->add_floats(f); break;
    case Attribute::Kind::kInts: a->set_type(AP::INTS); for (int64_t i : r.ints) a->add_ints(i); break;
    case Attribute::Kind::kStrings: a->set_type(AP::STRINGS); for (const auto& s : r.strings) a->add_strings(s); break;
  }
}

}  // namespace

void model_to_proto(const Model& model, ::onnx::ModelProto* m) {
  m->Clear();
  m->set_ir_version(model.ir_version);
  for (const auto& [d, v] : model.opset_imports) {
    auto* op = m->add_opset_import();
    op->set_domain(d);
    op->set_version(v);
  }
  if (!model.producer_name.empty()) m->set_producer_name(model.producer_name);
  if (!model.producer_version.empty()) m->set_producer_version(model.producer_version);
  if (!model.domain.empty()) m->set_domain(model.domain);
  if (model.model_version) m->set_model_version(model.model_version);
  if (!model.doc_string.empty()) m->set_doc_string(model.doc_string);
  for (const auto& [k, v] : model.metadata) {
    auto* kv = m->add_metadata_props();
    kv->set_key(k);
    kv->set_value(v);
  }
  const Graph& graph = model.graph;
  auto* g = m->mutable_graph();
  g->set_name(graph.name.empty() ? "edgeq" : graph.name);
  if (!graph.doc_string.empty()) g->set_doc_string(graph.doc_string);
  for (const auto& in : graph.inputs) value_info_to_proto(in, g->add_input());
  if (model.ir_version < 4) {
    // Before IR 4 every initializer had to be listed as a graph input too.
    for (const auto& [name, t] : graph.initializers) {
      ValueInfo vi{name, t.dtype(), true, t.shape(), {}, {}, {}};
      value_info_to_proto(vi, g->add_input());
    }
  }
  for (const auto& out : graph.outputs) value_info_to_proto(out, g->add_output());
  for (const auto& [name, vi] : graph.value_info) value_info_to_proto(vi, g->add_value_info());
  for (const auto& [name, t] : graph.initializers) tensor_to_proto(t, name, g->add_initializer());
  for (const auto& n : graph.nodes) {
    auto* np = g->add_node();
    if (!n.name.empty()) np->set_name(n.name);
    np->set_op_type(n.op_type);
    if (!n.domain.empty()) np->set_domain(n.domain);
    for (const auto& i : n.inputs) np->add_input(i);
    for (const auto& o : n.outputs) np->add_output(o);
    if (!n.doc_string.empty()) np->set_doc_string(n.doc_string);
    for (const auto& a : n.attrs) attr_to_proto(a, np->add_attribute());
  }
}

}  // namespace edgeq::onnx::detail
