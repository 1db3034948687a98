// torch -> ONNX: walks the flat Sequential and emits one ONNX node per layer (opset 17), weights as
// initializers named after the layer ("conv1.weight"). BatchNorm after a Conv is folded into it in
// double precision (or kept as BatchNormalization); Dropout is the identity at inference and vanishes.
#include <cmath>

#include "network_impl.h"

namespace edgeq::train {
namespace {

using onnx::Attribute;

Tensor initializer(const torch::Tensor& t) { return from_torch(t); }

struct Emitter {
  onnx::Graph& graph;
  std::string current = "input";  // name of the value flowing out of the last node

  void add(const std::string& op, const std::string& name, std::vector<std::string> extra_inputs,
           std::vector<Attribute> attrs = {}) {
    onnx::Node node;
    node.name = name;
    node.op_type = op;
    node.inputs.push_back(current);
    for (auto& in : extra_inputs) node.inputs.push_back(std::move(in));
    node.outputs.push_back(name + "_out");
    node.attrs = std::move(attrs);
    current = node.outputs[0];
    graph.nodes.push_back(std::move(node));
  }
  std::string weight(const std::string& name, const torch::Tensor& t) {
    graph.initializers[name] = initializer(t);
    return name;
  }
};

std::vector<int64_t> ints2(const torch::ExpandingArray<2>& a) { return {(*a)[0], (*a)[1]}; }

// Conv weight/bias after folding y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta.
std::pair<torch::Tensor, torch::Tensor> fold(const torch::nn::Conv2dImpl& conv, const torch::nn::BatchNorm2dImpl& bn) {
  torch::Tensor w = conv.weight.detach().to(torch::kFloat64);
  const int64_t out = w.size(0);
  torch::Tensor b = conv.options.bias() ? conv.bias.detach().to(torch::kFloat64) : torch::zeros({out}, torch::kFloat64);
  torch::Tensor gamma = bn.options.affine() ? bn.weight.detach().to(torch::kFloat64) : torch::ones({out}, torch::kFloat64);
  torch::Tensor beta = bn.options.affine() ? bn.bias.detach().to(torch::kFloat64) : torch::zeros({out}, torch::kFloat64);
  torch::Tensor scale = gamma / torch::sqrt(bn.running_var.to(torch::kFloat64) + bn.options.eps());
  torch::Tensor folded_w = w * scale.view({out, 1, 1, 1});
  torch::Tensor folded_b = (b - bn.running_mean.to(torch::kFloat64)) * scale + beta;
  return {folded_w.to(torch::kFloat32), folded_b.to(torch::kFloat32)};
}

}  // namespace

onnx::Model Network::to_onnx(const ExportOptions& options) const {
  torch::NoGradGuard no_grad;
  onnx::Model model;
  model.ir_version = 8;
  model.opset_imports[""] = 17;
  model.producer_name = "edgeq";
  model.producer_version = version();
  model.doc_string = "edgeq " + impl_->arch + " exported from LibTorch";
  onnx::Graph& g = model.graph;
  g.name = "edgeq_" + impl_->arch;

  onnx::ValueInfo input;
  input.name = "input";
  input.dtype = DType::kF32;
  input.has_shape = true;
  input.shape = {-1, impl_->channels, impl_->height, impl_->width};
  input.dim_params = {"batch", "", "", ""};
  g.inputs.push_back(input);

  Emitter e{g};
  const auto named = impl_->layers->named_children();
  const auto& children = named.items();
  for (size_t i = 0; i < children.size(); ++i) {
    const std::string& name = children[i].key();
    const auto& module = children[i].value();
    if (const auto* conv = module->as<torch::nn::Conv2d>()) {
      const auto& o = conv->options;
      const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
      if (!padding || o.padding_mode().index() != 0 /* kZeros */)
        throw Error(ErrorCode::kUnsupported, "export " + name + ": only explicit zero padding is supported");
      std::vector<int64_t> pads = ints2(*padding);
      std::vector<Attribute> attrs = {Attribute::make_ints("kernel_shape", ints2(o.kernel_size())),
                                      Attribute::make_ints("strides", ints2(o.stride())),
                                      Attribute::make_ints("pads", {pads[0], pads[1], pads[0], pads[1]}),
                                      Attribute::make_ints("dilations", ints2(o.dilation())),
                                      Attribute::make_int("group", o.groups())};
      const torch::nn::BatchNorm2dImpl* bn =
          i + 1 < children.size() ? children[i + 1].value()->as<torch::nn::BatchNorm2d>() : nullptr;
      torch::Tensor w = conv->weight, b = o.bias() ? conv->bias : torch::Tensor();
      if (bn && options.fold_batchnorm) {
        std::tie(w, b) = fold(*conv, *bn);
        ++i;  // the BatchNorm is consumed
      }
      std::vector<std::string> inputs = {e.weight(name + ".weight", w)};
      if (b.defined()) inputs.push_back(e.weight(name + ".bias", b));
      e.add("Conv", name, inputs, attrs);
    } else if (const auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      const int64_t n = bn->options.num_features();
      torch::Tensor gamma = bn->options.affine() ? bn->weight : torch::ones({n});
      torch::Tensor beta = bn->options.affine() ? bn->bias : torch::zeros({n});
      e.add("BatchNormalization", name,
            {e.weight(name + ".weight", gamma), e.weight(name + ".bias", beta),
             e.weight(name + ".running_mean", bn->running_mean), e.weight(name + ".running_var", bn->running_var)},
            {Attribute::make_float("epsilon", static_cast<float>(bn->options.eps()))});
    } else if (module->as<torch::nn::ReLU>()) {
      e.add("Relu", name, {});
    } else if (const auto* pool = module->as<torch::nn::MaxPool2d>()) {
      const auto& o = pool->options;
      std::vector<int64_t> pads = ints2(o.padding());
      e.add("MaxPool", name, {},
            {Attribute::make_ints("kernel_shape", ints2(o.kernel_size())), Attribute::make_ints("strides", ints2(o.stride())),
             Attribute::make_ints("pads", {pads[0], pads[1], pads[0], pads[1]}),
             Attribute::make_ints("dilations", ints2(o.dilation())), Attribute::make_int("ceil_mode", o.ceil_mode())});
    } else if (module->as<torch::nn::Dropout>()) {
      continue;  // identity at inference
    } else if (const auto* flatten = module->as<torch::nn::Flatten>()) {
      if (flatten->options.start_dim() != 1 || flatten->options.end_dim() != -1)
        throw Error(ErrorCode::kUnsupported, "export " + name + ": only Flatten(1, -1) is supported");
      e.add("Flatten", name, {}, {Attribute::make_int("axis", 1)});
    } else if (const auto* fc = module->as<torch::nn::Linear>()) {
      std::vector<std::string> inputs = {e.weight(name + ".weight", fc->weight)};
      if (fc->options.bias()) inputs.push_back(e.weight(name + ".bias", fc->bias));
      e.add("Gemm", name, inputs, {Attribute::make_int("transB", 1)});
    } else {
      throw Error(ErrorCode::kUnsupported, "export: layer '" + name + "' (" + module->name() + ") has no ONNX mapping");
    }
  }
  if (options.softmax) e.add("Softmax", "softmax", {}, {Attribute::make_int("axis", 1)});

  // Name the final value after what it is: rename the last node's output.
  const std::string out_name = options.softmax ? "probabilities" : "logits";
  g.nodes.back().outputs[0] = out_name;
  onnx::ValueInfo output;
  output.name = out_name;
  output.dtype = DType::kF32;
  output.has_shape = true;
  output.shape = {-1, impl_->classes};
  output.dim_params = {"batch", ""};
  g.outputs.push_back(output);

  for (const auto& [k, v] : options.metadata) model.set_meta(k, v);
  return model;
}

}  // namespace edgeq::train
