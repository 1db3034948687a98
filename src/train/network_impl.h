// The LibTorch module behind edgeq::train::Network. Only libedgeq_train's files include this.
#pragma once

#include <torch/torch.h>

#include "edgeq/train.h"

namespace edgeq::train {

struct Network::Impl {
  std::string arch;
  int64_t channels = 1, height = 28, width = 28, classes = 10;
  // A flat Sequential of Conv2d, BatchNorm2d, ReLU, MaxPool2d, Dropout, Flatten, Linear: the exporter
  // walks it layer by layer, so every architecture must stay within these types.
  torch::nn::Sequential layers;
};

// Builds the Sequential of an architecture (models.cpp).
torch::nn::Sequential make_layers(const std::string& arch, int64_t channels, int64_t height, int64_t width,
                                  int64_t classes);

// edgeq Tensor [N, C, H, W] float32 <-> torch tensors (copies).
torch::Tensor to_torch(const Tensor& t);
Tensor from_torch(const torch::Tensor& t);

}  // namespace edgeq::train
