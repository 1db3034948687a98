// Architectures, exporter structure, trainer behaviour (determinism, early stopping, schedules), outputs.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>
#include <random>

#include "edgeq/onnx.h"
#include "edgeq/train.h"
#include "peer.h"

namespace train = edgeq::train;
namespace onnx = edgeq::onnx;
using edgeq::Error;
using edgeq::ErrorCode;
using edgeq::testing::TempDir;

namespace {

std::map<std::string, int> op_histogram(const onnx::Model& m) {
  std::map<std::string, int> h;
  for (const auto& n : m.graph.nodes) h[n.op_type]++;
  return h;
}

// Small, quick configurations on the real Fashion-MNIST (Debian's dataset-fashion-mnist).
train::TrainConfig quick_config(const std::string& arch, int64_t images) {
  train::TrainConfig c;
  c.arch = arch;
  c.epochs = 1;
  c.train_limit = images;
  c.test_limit = 200;
  c.threads = 1;
  c.seed = 5;
  return c;
}

}  // namespace

TEST(TrainArchTest, ParameterCounts) {
  // cnn-s is the 811 KB model of seed 001 (206922 float32 = 827688 bytes); cnn-m the ~1.5 MB of seed 000.
  EXPECT_EQ(train::Network::create("cnn-s", 1, 28, 28, 10, 1).param_count(), 206922);
  EXPECT_EQ(train::Network::create("cnn-m", 1, 28, 28, 10, 1).param_count(), 377617);
  EXPECT_EQ(train::Network::create("cnn-bn", 1, 28, 28, 10, 1).param_count(), 421738);
  // The class count follows the dataset: 24 for Sign Language MNIST.
  EXPECT_EQ(train::Network::create("cnn-s", 1, 28, 28, 24, 1).param_count(), 206922 + 14 * 129);
  EXPECT_THROW(train::Network::create("resnet", 1, 28, 28, 10, 1), Error);
  EXPECT_THROW(train::Network::create("cnn-m", 1, 4, 4, 10, 1), Error);
}

TEST(TrainArchTest, ForwardShapeAndSeededInit) {
  train::Network a = train::Network::create("cnn-s", 1, 28, 28, 10, 3);
  train::Network b = train::Network::create("cnn-s", 1, 28, 28, 10, 3);
  train::Network c = train::Network::create("cnn-s", 1, 28, 28, 10, 4);
  std::vector<float> x(2 * 784);
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (float& v : x) v = nd(rng);
  edgeq::Tensor in = edgeq::Tensor::from_f32({2, 1, 28, 28}, x);
  edgeq::Tensor la = a.forward(in), lb = b.forward(in), lc = c.forward(in);
  ASSERT_EQ(la.shape(), (edgeq::Shape{2, 10}));
  bool differs = false;
  for (int64_t i = 0; i < la.numel(); ++i) {
    EXPECT_EQ(la.data<float>()[i], lb.data<float>()[i]) << "seed 3 twice, logit " << i;
    differs |= la.data<float>()[i] != lc.data<float>()[i];
  }
  EXPECT_TRUE(differs) << "seeds 3 and 4 gave the same network";
  EXPECT_THROW(a.forward(edgeq::Tensor(edgeq::DType::kF32, {1, 3, 28, 28})), Error);
}

TEST(TrainExportTest, StructureFoldedAndKept) {
  train::Network net = train::Network::create("cnn-bn", 1, 28, 28, 10, 1);
  net.randomize_batchnorm(2);
  onnx::Model folded = net.to_onnx();
  auto h = op_histogram(folded);
  EXPECT_EQ(h["Conv"], 2);
  EXPECT_EQ(h["BatchNormalization"], 0);
  EXPECT_EQ(h["Dropout"], 0);
  EXPECT_EQ(h["Gemm"], 2);
  EXPECT_EQ(h["MaxPool"], 2);
  EXPECT_EQ(h["Relu"], 3);
  EXPECT_EQ(h["Flatten"], 1);
  EXPECT_EQ(folded.opset(), 17);
  ASSERT_EQ(folded.graph.inputs.size(), 1u);
  EXPECT_EQ(folded.graph.inputs[0].name, "input");
  EXPECT_EQ(folded.graph.inputs[0].shape, (edgeq::Shape{-1, 1, 28, 28}));
  EXPECT_EQ(folded.graph.inputs[0].dim_params[0], "batch");
  ASSERT_EQ(folded.graph.outputs.size(), 1u);
  EXPECT_EQ(folded.graph.outputs[0].name, "logits");
  // The folded conv gets a bias although the trained one has none.
  EXPECT_TRUE(folded.graph.is_initializer("conv1.bias"));
  EXPECT_NO_THROW(onnx::check_model(folded));

  onnx::Model kept = net.to_onnx({.fold_batchnorm = false});
  EXPECT_EQ(op_histogram(kept)["BatchNormalization"], 2);
  EXPECT_FALSE(kept.graph.is_initializer("conv1.bias"));
  EXPECT_NO_THROW(onnx::check_model(kept));

  onnx::Model soft = net.to_onnx({.softmax = true});
  EXPECT_EQ(soft.graph.outputs[0].name, "probabilities");
  EXPECT_EQ(soft.graph.nodes.back().op_type, "Softmax");
  EXPECT_NO_THROW(onnx::check_model(soft));
}

TEST(TrainExportTest, SavedModelLoadsWithMetadata) {
  TempDir tmp("train_export");
  train::Trained t = train::train(quick_config("cnn-s", 300));
  const std::string path = train::write_outputs(t, tmp.path("out"));
  onnx::Model m = onnx::load_model(path);  // checker + shape inference
  EXPECT_EQ(m.graph.outputs[0].name, "logits");
  EXPECT_EQ(m.meta("arch").value_or(""), "cnn-s");
  EXPECT_EQ(m.meta("seed").value_or(""), "5");
  EXPECT_EQ(m.meta("dataset").value_or(""), "fashion-mnist:train");
  EXPECT_EQ(m.meta("edgeq_version").value_or(""), edgeq::version());
  EXPECT_TRUE(m.meta("accuracy").has_value());
  edgeq::data::Preprocess pp = edgeq::data::preprocess_from_metadata(m.metadata, path);
  EXPECT_EQ(pp.channels, 1);
  EXPECT_EQ(pp.height, 28);
  EXPECT_EQ(pp.norm.mean, t.result.preprocess.norm.mean);
  EXPECT_EQ(edgeq::data::labels_from_metadata(m.metadata, path)[9], "Ankle boot");

  auto j = nlohmann::json::parse(edgeq::read_file(tmp.path("out/train.json")));
  EXPECT_EQ(j["arch"], "cnn-s");
  ASSERT_EQ(j["epochs"].size(), 1u);
  EXPECT_GT(j["epochs"][0]["images_per_second"].get<double>(), 0.0);
  EXPECT_EQ(j["train_images"], 270);  // 300 minus the 10 % validation split
  EXPECT_EQ(j["val_images"], 30);
  EXPECT_DOUBLE_EQ(j["test_accuracy"].get<double>(), t.result.test_accuracy);
}

// from_onnx is the exporter's inverse: every architecture, BatchNorm folded and kept, with Softmax,
// rebuilt from the ONNX file gives the trained module's logits (folding moves them by rounding only).
TEST(TrainImportTest, RebuiltNetworkMatchesTheExportedOne) {
  std::vector<float> x(3 * 784);
  std::mt19937 rng(2);
  std::normal_distribution<float> nd;
  for (float& v : x) v = nd(rng);
  const edgeq::Tensor in = edgeq::Tensor::from_f32({3, 1, 28, 28}, x);
  for (const std::string arch : {"cnn-s", "cnn-m", "cnn-bn"}) {
    train::Network net = train::Network::create(arch, 1, 28, 28, 10, 7);
    if (arch == "cnn-bn") net.randomize_batchnorm(3);
    const edgeq::Tensor want = net.forward(in);
    for (bool fold : {true, false}) {
      for (bool softmax : {false, true}) {
        SCOPED_TRACE(arch + (fold ? " folded" : " kept") + (softmax ? " softmax" : ""));
        onnx::Model m = net.to_onnx({.fold_batchnorm = fold, .softmax = softmax, .metadata = {{"arch", arch}}});
        const train::Network back = train::Network::from_onnx(m);
        EXPECT_EQ(back.arch(), arch);
        EXPECT_EQ(back.classes(), 10);
        const edgeq::Tensor got = back.bind_forward(in)();
        ASSERT_EQ(got.shape(), want.shape());
        for (int64_t n = 0; n < 3; ++n) {
          const float* w = want.data<float>() + n * 10;
          float denom = 0, top = w[0];
          for (int c = 0; c < 10; ++c) top = std::max(top, w[c]);
          for (int c = 0; c < 10; ++c) denom += std::exp(w[c] - top);
          for (int c = 0; c < 10; ++c) {
            const float expect = softmax ? std::exp(w[c] - top) / denom : w[c];
            EXPECT_NEAR(got.data<float>()[n * 10 + c], expect, 1e-4f) << "sample " << n << " class " << c;
          }
        }
      }
    }
  }
}

TEST(TrainImportTest, FilesThatAreNotEdgeqExportsAreRefusedWithTheReason) {
  train::Network net = train::Network::create("cnn-s", 1, 28, 28, 10, 7);
  auto message_of = [](const onnx::Model& m) {
    try {
      train::Network::from_onnx(m);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message_of(net.to_onnx()).find("no 'arch' metadata"), std::string::npos);
  onnx::Model wrong_arch = net.to_onnx({.metadata = {{"arch", "cnn-m"}}});
  EXPECT_NE(message_of(wrong_arch).find("initializer 'conv1.weight' is float32 [16, 1, 3, 3], the layer needs float32 [32, 1, 3, 3]"),
            std::string::npos)
      << message_of(wrong_arch);
  onnx::Model missing = net.to_onnx({.metadata = {{"arch", "cnn-s"}}});
  missing.graph.initializers.erase("conv2.bias");
  EXPECT_NE(message_of(missing).find("initializer 'conv2.bias' missing"), std::string::npos);
}

TEST(TrainerTest, SingleThreadSeedIsBitReproducible) {
  // cnn-bn exercises dropout and BatchNorm; augmentation exercises the data RNG.
  train::TrainConfig c = quick_config("cnn-bn", 600);
  c.augment = true;
  train::Trained a = train::train(c);
  train::Trained b = train::train(c);
  c.seed = 6;
  train::Trained other = train::train(c);
  EXPECT_EQ(a.result.epochs[0].train_loss, b.result.epochs[0].train_loss);
  EXPECT_EQ(a.result.epochs[0].val_loss, b.result.epochs[0].val_loss);
  EXPECT_NE(a.result.epochs[0].train_loss, other.result.epochs[0].train_loss);
  edgeq::Tensor x(edgeq::DType::kF32, {4, 1, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i % 29) / 10.f - 1.f;
  edgeq::Tensor la = a.network.forward(x), lb = b.network.forward(x);
  for (int64_t i = 0; i < la.numel(); ++i) ASSERT_EQ(la.data<float>()[i], lb.data<float>()[i]) << "logit " << i;
}

TEST(TrainerTest, LearnsOnASubset) {
  train::TrainConfig c = quick_config("cnn-s", 3000);
  c.epochs = 2;
  c.test_limit = 1000;
  std::vector<train::Progress> seen;
  train::Trained t = train::train(c, [&](const train::Progress& p) { seen.push_back(p); });
  ASSERT_EQ(t.result.epochs.size(), 2u);
  // 10 classes: chance is 10 %; two epochs on 2700 images reach well above 70 %.
  EXPECT_GT(t.result.test_accuracy, 0.70) << "seed 5, 3000 images, 2 epochs";
  EXPECT_LT(t.result.epochs[1].train_loss, t.result.epochs[0].train_loss);
  // Cosine: full lr at the start, lower in epoch 2.
  EXPECT_DOUBLE_EQ(t.result.epochs[0].lr, 1e-3);
  EXPECT_LT(t.result.epochs[1].lr, 1e-3);
  // Progress: one update per batch plus one per epoch end.
  const int64_t batches = (2700 + 63) / 64;
  EXPECT_EQ(static_cast<int64_t>(seen.size()), 2 * (batches + 1));
  EXPECT_TRUE(seen.back().epoch_done);
  EXPECT_EQ(t.result.test_images, 1000);
}

TEST(TrainerTest, EarlyStoppingAndStepSchedule) {
  // A learning rate too small to change any prediction: val accuracy never improves after epoch 1.
  train::TrainConfig c = quick_config("cnn-s", 400);
  c.lr = 1e-12;
  c.epochs = 6;
  c.patience = 2;
  c.schedule = "step";
  c.step_epochs = 1;
  c.step_gamma = 0.5;
  train::Trained t = train::train(c);
  EXPECT_TRUE(t.result.stopped_early);
  ASSERT_EQ(t.result.epochs.size(), 3u);
  EXPECT_EQ(t.result.best_epoch, 1);
  EXPECT_DOUBLE_EQ(t.result.epochs[1].lr, 0.5e-12);
  EXPECT_DOUBLE_EQ(t.result.epochs[2].lr, 0.25e-12);
}

TEST(TrainerTest, SignMnistClassesFollowTheDataset) {
  TempDir tmp("train_sign");
  std::string csv = "label";
  for (int i = 1; i <= 784; ++i) {
    csv += ",pixel";
    csv += std::to_string(i);
  }
  csv += "\n";
  std::mt19937 rng(3);
  for (int label = 0; label <= 24; ++label) {
    if (label == 9) continue;
    for (int copy = 0; copy < 3; ++copy) {
      csv += std::to_string(label);
      for (int i = 0; i < 784; ++i) {
        csv += ',';
        csv += std::to_string(rng() % 256);
      }
      csv += "\n";
    }
  }
  edgeq::write_file_atomic(tmp.path("sign.csv"), csv);
  train::TrainConfig c = quick_config("cnn-s", 0);
  c.dataset = "sign-mnist:" + tmp.path("sign.csv");
  c.val_fraction = 0;
  train::Trained t = train::train(c);
  EXPECT_EQ(t.network.classes(), 24);
  EXPECT_LT(t.result.test_accuracy, 0);  // no test set given
  EXPECT_EQ(t.result.best_epoch, 1);
  onnx::Model m = t.network.to_onnx({.metadata = train::model_metadata(t.result)});
  EXPECT_EQ(m.graph.outputs[0].shape, (edgeq::Shape{-1, 24}));
  EXPECT_EQ(edgeq::data::labels_from_metadata(m.metadata, "m")[23], "Y");
  EXPECT_FALSE(m.meta("accuracy").has_value());
}

TEST(TrainerTest, BadConfigs) {
  train::TrainConfig c = quick_config("cnn-s", 100);
  c.epochs = 0;
  EXPECT_THROW(train::train(c), Error);
  c = quick_config("cnn-s", 100);
  c.optimizer = "lbfgs";
  EXPECT_THROW(train::train(c), Error);
  c = quick_config("cnn-s", 100);
  c.dataset = "imagenet";
  try {
    train::train(c);
    FAIL() << "unknown dataset accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("imagenet"), std::string::npos);
  }
}
