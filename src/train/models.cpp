// The architectures. cnn-s and cnn-m follow the seed studies (001: 811 KB, 000: ~1.5 MB); cnn-bn is ours:
// the cnn-s layout widened to 32/64 channels with BatchNorm after each conv and dropout before and
// inside the classifier (the BN + dropout model that reaches >= 92 % on Fashion-MNIST).
#include "network_impl.h"

namespace edgeq::train {
namespace {

namespace nn = torch::nn;

nn::Conv2d conv3x3(int64_t in, int64_t out) { return nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1)); }
nn::MaxPool2d pool2() { return nn::MaxPool2d(nn::MaxPool2dOptions(2)); }

void check_size(const std::string& arch, int64_t height, int64_t width, int64_t pools) {
  if ((height >> pools) < 1 || (width >> pools) < 1)
    throw Error(ErrorCode::kInvalidArgument, "arch " + arch + ": input " + std::to_string(height) + "x" +
                                                 std::to_string(width) + " is too small for " + std::to_string(pools) +
                                                 " 2x2 poolings");
}

}  // namespace

const std::vector<std::string>& arch_names() {
  static const std::vector<std::string> names = {"cnn-s", "cnn-m", "cnn-bn"};
  return names;
}

torch::nn::Sequential make_layers(const std::string& arch, int64_t c, int64_t h, int64_t w, int64_t classes) {
  if (classes < 2) throw Error(ErrorCode::kInvalidArgument, "arch " + arch + ": needs at least 2 classes");
  nn::Sequential s;
  if (arch == "cnn-s") {
    check_size(arch, h, w, 2);
    s->push_back("conv1", conv3x3(c, 16));
    s->push_back("relu1", nn::ReLU());
    s->push_back("pool1", pool2());
    s->push_back("conv2", conv3x3(16, 32));
    s->push_back("relu2", nn::ReLU());
    s->push_back("pool2", pool2());
    s->push_back("flatten", nn::Flatten());
    s->push_back("fc1", nn::Linear(32 * (h / 4) * (w / 4), 128));
    s->push_back("relu3", nn::ReLU());
    s->push_back("fc2", nn::Linear(128, classes));
  } else if (arch == "cnn-m") {
    check_size(arch, h, w, 3);
    s->push_back("conv1", conv3x3(c, 32));
    s->push_back("relu1", nn::ReLU());
    s->push_back("pool1", pool2());
    s->push_back("conv2", conv3x3(32, 64));
    s->push_back("relu2", nn::ReLU());
    s->push_back("pool2", pool2());
    s->push_back("conv3", conv3x3(64, 128));
    s->push_back("relu3", nn::ReLU());
    s->push_back("pool3", pool2());
    s->push_back("flatten", nn::Flatten());
    s->push_back("fc1", nn::Linear(128 * (h / 8) * (w / 8), 245));
    s->push_back("relu4", nn::ReLU());
    s->push_back("fc2", nn::Linear(245, classes));
  } else if (arch == "cnn-bn") {
    check_size(arch, h, w, 2);
    // Conv bias is redundant before BatchNorm; keep it off so the folded Conv has exactly one bias.
    s->push_back("conv1", nn::Conv2d(nn::Conv2dOptions(c, 32, 3).padding(1).bias(false)));
    s->push_back("bn1", nn::BatchNorm2d(32));
    s->push_back("relu1", nn::ReLU());
    s->push_back("pool1", pool2());
    s->push_back("conv2", nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1).bias(false)));
    s->push_back("bn2", nn::BatchNorm2d(64));
    s->push_back("relu2", nn::ReLU());
    s->push_back("pool2", pool2());
    s->push_back("drop1", nn::Dropout(0.25));
    s->push_back("flatten", nn::Flatten());
    s->push_back("fc1", nn::Linear(64 * (h / 4) * (w / 4), 128));
    s->push_back("relu3", nn::ReLU());
    s->push_back("drop2", nn::Dropout(0.4));
    s->push_back("fc2", nn::Linear(128, classes));
  } else {
    throw Error(ErrorCode::kInvalidArgument, "unknown arch '" + arch + "' (expected cnn-s, cnn-m or cnn-bn)");
  }
  return s;
}

}  // namespace edgeq::train
