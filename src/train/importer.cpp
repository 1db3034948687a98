// Network::from_onnx: the inverse of the exporter for edgeq's own fp32 exports. The architecture comes
// from the "arch" metadata, the layers from make_layers (the module the model was trained as), their
// weights from the initializers the exporter named after each layer ("conv1.weight"). A BatchNorm the
// exporter folded into its Conv becomes the identity plus the folded bias (mean 0, var + eps = 1).
#include <algorithm>

#include <torch/version.h>

#include "network_impl.h"

namespace edgeq::train {
namespace {

// Copies initializer `name` into `param`, checking the shape; Error(kUnsupported) names what is wrong.
void load_param(const onnx::Graph& g, const std::string& name, torch::Tensor& param) {
  const auto it = g.initializers.find(name);
  if (it == g.initializers.end())
    throw Error(ErrorCode::kUnsupported, "initializer '" + name + "' missing (not an edgeq fp32 export)");
  const Tensor& t = it->second;
  const Shape want(param.sizes().begin(), param.sizes().end());
  if (t.dtype() != DType::kF32 || t.shape() != want)
    throw Error(ErrorCode::kUnsupported, "initializer '" + name + "' is " + std::string(dtype_name(t.dtype())) + " " +
                                             shape_str(t.shape()) + ", the layer needs float32 " + shape_str(want));
  param.copy_(to_torch(t));
}

bool has_node(const onnx::Graph& g, const std::string& op, const std::string& name) {
  return std::any_of(g.nodes.begin(), g.nodes.end(),
                     [&](const onnx::Node& n) { return n.op_type == op && (name.empty() || n.name == name); });
}

}  // namespace

Network Network::from_onnx(const onnx::Model& model) {
  const onnx::Graph& g = model.graph;
  const std::optional<std::string> arch = model.meta("arch");
  const auto& names = arch_names();
  if (!arch || std::find(names.begin(), names.end(), *arch) == names.end())
    throw Error(ErrorCode::kUnsupported, "no 'arch' metadata naming cnn-s, cnn-m or cnn-bn (not an edgeq export)");
  if (g.inputs.size() != 1 || g.inputs[0].shape.size() != 4)
    throw Error(ErrorCode::kUnsupported, "expected one [N, C, H, W] input");
  const Shape& in = g.inputs[0].shape;
  const auto fc2 = g.initializers.find("fc2.weight");
  if (fc2 == g.initializers.end() || fc2->second.rank() != 2)
    throw Error(ErrorCode::kUnsupported, "initializer 'fc2.weight' missing (not an edgeq fp32 export)");
  auto impl = std::make_shared<Impl>();
  impl->arch = *arch;
  impl->channels = in[1];
  impl->height = in[2];
  impl->width = in[3];
  impl->classes = fc2->second.shape()[0];
  impl->layers = make_layers(impl->arch, impl->channels, impl->height, impl->width, impl->classes);

  torch::NoGradGuard no_grad;
  std::string folded_into;  // the Conv whose bias carries a folded BatchNorm's effect
  for (const auto& child : impl->layers->named_children()) {
    const std::string& name = child.key();
    const auto& module = child.value();
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      load_param(g, name + ".weight", conv->weight);
      if (conv->options.bias()) load_param(g, name + ".bias", conv->bias);
      folded_into = conv->options.bias() ? "" : name;
    } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      if (has_node(g, "BatchNormalization", name)) {
        load_param(g, name + ".weight", bn->weight);
        load_param(g, name + ".bias", bn->bias);
        load_param(g, name + ".running_mean", bn->running_mean);
        load_param(g, name + ".running_var", bn->running_var);
      } else {
        if (folded_into.empty()) throw Error(ErrorCode::kUnsupported, "BatchNorm '" + name + "' follows no bias-free Conv");
        bn->weight.fill_(1.0);
        bn->running_mean.zero_();
        bn->running_var.fill_(1.0 - bn->options.eps());
        load_param(g, folded_into + ".bias", bn->bias);
      }
    } else if (auto* fc = module->as<torch::nn::Linear>()) {
      load_param(g, name + ".weight", fc->weight);
      if (fc->options.bias()) load_param(g, name + ".bias", fc->bias);
    }
  }
  if (has_node(g, "Softmax", "")) impl->layers->push_back("softmax", torch::nn::Softmax(1));
  impl->layers->eval();
  return Network(std::move(impl));
}

void set_inference_threads(int threads) { torch::set_num_threads(std::max(1, threads)); }

std::string torch_version() { return TORCH_VERSION; }

std::function<Tensor()> Network::bind_forward(const Tensor& images) const {
  const Shape want = {-1, impl_->channels, impl_->height, impl_->width};
  if (images.rank() != 4 || images.shape()[1] != want[1] || images.shape()[2] != want[2] || images.shape()[3] != want[3])
    throw Error(ErrorCode::kInvalidArgument,
                impl_->arch + ": input shape " + shape_str(images.shape()) + ", expected " + shape_str(want));
  impl_->layers->eval();
  return [layers = impl_->layers, x = to_torch(images)]() mutable {
    torch::NoGradGuard no_grad;
    return from_torch(layers->forward(x));
  };
}

}  // namespace edgeq::train
