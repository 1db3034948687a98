// Network: construction, inference and tensor conversion on the LibTorch side.
#include <cstring>

#include "network_impl.h"

namespace edgeq::train {

torch::Tensor to_torch(const Tensor& t) {
  if (t.dtype() != DType::kF32)
    throw Error(ErrorCode::kInvalidArgument, std::string("expected a float32 tensor, got ") + dtype_name(t.dtype()));
  return torch::from_blob(const_cast<void*>(t.raw()), t.shape(), torch::kFloat32).clone();
}

Tensor from_torch(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
  Tensor out(DType::kF32, Shape(c.sizes().begin(), c.sizes().end()));
  std::memcpy(out.raw(), c.data_ptr<float>(), out.nbytes());
  return out;
}

Network Network::create(const std::string& arch, int64_t channels, int64_t height, int64_t width, int64_t classes,
                        uint64_t seed) {
  auto impl = std::make_shared<Impl>();
  impl->arch = arch;
  impl->channels = channels;
  impl->height = height;
  impl->width = width;
  impl->classes = classes;
  torch::manual_seed(seed);  // LibTorch's default init (Kaiming uniform) draws from this generator
  impl->layers = make_layers(arch, channels, height, width, classes);
  return Network(std::move(impl));
}

const std::string& Network::arch() const { return impl_->arch; }
int64_t Network::channels() const { return impl_->channels; }
int64_t Network::height() const { return impl_->height; }
int64_t Network::width() const { return impl_->width; }
int64_t Network::classes() const { return impl_->classes; }

int64_t Network::param_count() const {
  int64_t n = 0;
  for (const auto& p : impl_->layers->parameters()) n += p.numel();
  return n;
}

Tensor Network::forward(const Tensor& images) const {
  const Shape want = {-1, impl_->channels, impl_->height, impl_->width};
  if (images.rank() != 4 || images.shape()[1] != want[1] || images.shape()[2] != want[2] ||
      images.shape()[3] != want[3])
    throw Error(ErrorCode::kInvalidArgument, impl_->arch + ": input shape " + shape_str(images.shape()) +
                                                 ", expected " + shape_str(want));
  torch::NoGradGuard no_grad;
  const bool was_training = impl_->layers->is_training();
  impl_->layers->eval();
  torch::Tensor logits = impl_->layers->forward(to_torch(images));
  impl_->layers->train(was_training);
  return from_torch(logits);
}

void Network::randomize_batchnorm(uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(seed);
  for (const auto& module : impl_->layers->modules(/*include_self=*/false)) {
    if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      const int64_t n = bn->options.num_features();
      bn->running_mean.copy_(torch::randn({n}, gen) * 0.5);
      bn->running_var.copy_(torch::rand({n}, gen) * 2.0 + 0.1);
      bn->weight.copy_(torch::rand({n}, gen) + 0.5);
      bn->bias.copy_(torch::randn({n}, gen) * 0.2);
    }
  }
}

}  // namespace edgeq::train
