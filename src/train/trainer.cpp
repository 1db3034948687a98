// The training loop: data from edgeq::data (u8 images, normalized per batch), LibTorch for the math.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <thread>

#include "network_impl.h"

namespace edgeq::train {
namespace {

torch::Tensor labels_tensor(const data::Dataset& ds, std::span<const int64_t> indices) {
  torch::Tensor y = torch::empty({static_cast<int64_t>(indices.size())}, torch::kInt64);
  int64_t* p = y.data_ptr<int64_t>();
  for (size_t k = 0; k < indices.size(); ++k) p[k] = ds.labels[static_cast<size_t>(indices[k])];
  return y;
}

struct Eval {
  double loss = 0, accuracy = 0;
};

Eval evaluate(torch::nn::Sequential& layers, const data::Dataset& ds, std::span<const int64_t> indices,
              const data::Normalization& norm) {
  torch::NoGradGuard no_grad;
  layers->eval();
  constexpr size_t kBatch = 500;
  double loss_sum = 0;
  int64_t correct = 0;
  for (size_t start = 0; start < indices.size(); start += kBatch) {
    auto part = indices.subspan(start, std::min(kBatch, indices.size() - start));
    torch::Tensor x = to_torch(data::make_images(ds, part, norm));
    torch::Tensor y = labels_tensor(ds, part);
    torch::Tensor logits = layers->forward(x);
    namespace F = torch::nn::functional;
    loss_sum += F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
    correct += logits.argmax(1).eq(y).sum().item<int64_t>();
  }
  const auto n = static_cast<double>(indices.size());
  return {loss_sum / n, static_cast<double>(correct) / n};
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& c, torch::nn::Sequential& layers) {
  if (c.optimizer == "adam")
    return std::make_unique<torch::optim::Adam>(layers->parameters(),
                                                torch::optim::AdamOptions(c.lr).weight_decay(c.weight_decay));
  if (c.optimizer == "sgd")
    return std::make_unique<torch::optim::SGD>(
        layers->parameters(), torch::optim::SGDOptions(c.lr).momentum(0.9).nesterov(true).weight_decay(c.weight_decay));
  throw Error(ErrorCode::kInvalidArgument, "unknown optimizer '" + c.optimizer + "' (expected adam or sgd)");
}

// Learning rate at step `step` of `total` (epoch = step / steps_per_epoch).
double lr_at(const TrainConfig& c, int64_t step, int64_t total, int64_t steps_per_epoch) {
  if (c.schedule == "cosine") return c.lr * 0.5 * (1.0 + std::cos(std::numbers::pi * static_cast<double>(step) / static_cast<double>(total)));
  if (c.schedule == "step") return c.lr * std::pow(c.step_gamma, static_cast<double>((step / steps_per_epoch) / std::max<int64_t>(c.step_epochs, 1)));
  return c.lr;
}

void validate(const TrainConfig& c) {
  auto bad = [](const std::string& what) { throw Error(ErrorCode::kInvalidArgument, what); };
  if (c.epochs < 1) bad("epochs must be >= 1, got " + std::to_string(c.epochs));
  if (c.batch_size < 1) bad("batch size must be >= 1, got " + std::to_string(c.batch_size));
  if (!(c.lr > 0)) bad("learning rate must be > 0, got " + std::to_string(c.lr));
  if (c.schedule != "cosine" && c.schedule != "step" && c.schedule != "constant")
    bad("unknown schedule '" + c.schedule + "' (expected cosine, step or constant)");
  if (c.optimizer != "adam" && c.optimizer != "sgd") bad("unknown optimizer '" + c.optimizer + "' (expected adam or sgd)");
  if (c.threads < 0) bad("threads must be >= 0, got " + std::to_string(c.threads));
  if (c.patience < 0) bad("patience must be >= 0, got " + std::to_string(c.patience));
}

std::vector<torch::Tensor> snapshot(torch::nn::Sequential& layers) {
  std::vector<torch::Tensor> state;
  for (const auto& p : layers->parameters()) state.push_back(p.detach().clone());
  for (const auto& b : layers->buffers()) state.push_back(b.detach().clone());
  return state;
}

void restore(torch::nn::Sequential& layers, const std::vector<torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  size_t k = 0;
  for (auto& p : layers->parameters()) p.copy_(state[k++]);
  for (auto& b : layers->buffers()) b.copy_(state[k++]);
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

}  // namespace

Trained train(const TrainConfig& config, const ProgressFn& progress) {
  validate(config);
  Timer wall;
  TrainResult r;
  r.config = config;
  const int64_t threads = config.threads > 0 ? config.threads
                                              : std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
  at::set_num_threads(static_cast<int>(threads));
  r.threads = threads;

  data::Dataset train_ds = data::load_dataset(config.dataset, {.default_split = "train", .limit = config.train_limit});
  std::string test_spec = config.test_dataset;
  if (test_spec.empty() && train_ds.name.starts_with("fashion-mnist")) test_spec = "fashion-mnist:test";
  data::Dataset test_ds;
  if (!test_spec.empty()) {
    test_ds = data::load_dataset(test_spec, {.default_split = "test", .channels = train_ds.channels,
                                             .height = train_ds.height, .width = train_ds.width, .limit = config.test_limit});
    if (test_ds.class_names != train_ds.class_names)
      throw Error(ErrorCode::kInvalidArgument, "test dataset " + test_ds.name + " has other classes than " + train_ds.name);
  }
  r.dataset_name = train_ds.name;
  r.test_dataset_name = test_ds.name;
  r.class_names = train_ds.class_names;

  const data::Split split = data::split_train_val(train_ds.size(), config.val_fraction, config.seed);
  if (split.train.empty()) throw Error(ErrorCode::kInvalidArgument, train_ds.name + ": no training images left");
  r.train_images = static_cast<int64_t>(split.train.size());
  r.val_images = static_cast<int64_t>(split.val.size());
  r.test_images = test_ds.size();
  r.preprocess = {.channels = train_ds.channels, .height = train_ds.height, .width = train_ds.width,
                  .norm = data::compute_normalization(train_ds, split.train)};
  const data::Normalization& norm = r.preprocess.norm;

  Network net = Network::create(config.arch, train_ds.channels, train_ds.height, train_ds.width,
                                train_ds.num_classes(), config.seed);
  torch::nn::Sequential& layers = net.impl().layers;
  r.param_count = net.param_count();
  auto optimizer = make_optimizer(config, layers);

  std::mt19937_64 rng(config.seed ^ 0x9e3779b97f4a7c15ull);  // shuffles + augmentation, apart from torch's init
  std::vector<int64_t> order = split.train;
  const auto batch = static_cast<size_t>(config.batch_size);
  const int64_t steps_per_epoch = static_cast<int64_t>((order.size() + batch - 1) / batch);
  const int64_t total_steps = steps_per_epoch * config.epochs;
  const data::Augment augment{};
  double best_val = -1;
  int64_t epochs_without_gain = 0;
  std::vector<torch::Tensor> best_state;

  for (int64_t epoch = 1; epoch <= config.epochs; ++epoch) {
    Timer epoch_timer;
    layers->train();
    data::shuffle_in_place(order, rng);
    EpochMetrics m;
    m.epoch = epoch;
    m.lr = lr_at(config, (epoch - 1) * steps_per_epoch, total_steps, steps_per_epoch);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    for (int64_t b = 0; b < steps_per_epoch; ++b) {
      const int64_t step = (epoch - 1) * steps_per_epoch + b;
      for (auto& group : optimizer->param_groups()) group.options().set_lr(lr_at(config, step, total_steps, steps_per_epoch));
      std::span<const int64_t> idx(order.data() + static_cast<size_t>(b) * batch,
                                   std::min(batch, order.size() - static_cast<size_t>(b) * batch));
      Tensor images = config.augment ? data::make_augmented_images(train_ds, idx, norm, augment, rng)
                                     : data::make_images(train_ds, idx, norm);
      torch::Tensor x = torch::from_blob(images.raw(), images.shape(), torch::kFloat32);
      torch::Tensor y = labels_tensor(train_ds, idx);
      optimizer->zero_grad();
      torch::Tensor logits = layers->forward(x);
      torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
      loss.backward();
      optimizer->step();
      const auto n = static_cast<int64_t>(idx.size());
      loss_sum += loss.item<double>() * static_cast<double>(n);
      correct += logits.argmax(1).eq(y).sum().item<int64_t>();
      seen += n;
      if (progress) {
        Progress p;
        p.epoch = epoch;
        p.epochs = config.epochs;
        p.batch = b + 1;
        p.batches = steps_per_epoch;
        p.loss = loss_sum / static_cast<double>(seen);
        p.accuracy = static_cast<double>(correct) / static_cast<double>(seen);
        p.images_per_second = static_cast<double>(seen) / (epoch_timer.elapsed_ms() / 1000.0);
        progress(p);
      }
    }
    const double train_seconds = epoch_timer.elapsed_ms() / 1000.0;
    m.train_loss = loss_sum / static_cast<double>(seen);
    m.train_accuracy = static_cast<double>(correct) / static_cast<double>(seen);
    m.images_per_second = static_cast<double>(seen) / train_seconds;
    bool improved = true;
    if (!split.val.empty()) {
      Eval v = evaluate(layers, train_ds, split.val, norm);
      m.val_loss = v.loss;
      m.val_accuracy = v.accuracy;
      improved = v.accuracy > best_val;
      if (improved) {
        best_val = v.accuracy;
        best_state = snapshot(layers);
      }
    }
    m.seconds = epoch_timer.elapsed_ms() / 1000.0;
    r.epochs.push_back(m);
    if (improved) {
      r.best_epoch = epoch;
      epochs_without_gain = 0;
    } else {
      ++epochs_without_gain;
    }
    if (progress) {
      Progress p;
      p.epoch_done = true;
      p.epoch = epoch;
      p.epochs = config.epochs;
      p.batch = p.batches = steps_per_epoch;
      p.loss = m.train_loss;
      p.accuracy = m.train_accuracy;
      p.images_per_second = m.images_per_second;
      p.epoch_metrics = m;
      progress(p);
    }
    if (config.patience > 0 && epochs_without_gain >= config.patience && epoch < config.epochs) {
      r.stopped_early = true;
      break;
    }
  }
  if (!best_state.empty()) restore(layers, best_state);  // keep the epoch with the best val accuracy
  layers->eval();

  if (test_ds.size() > 0) {
    const std::vector<int64_t> all = iota(test_ds.size());
    Eval t = evaluate(layers, test_ds, all, norm);
    r.test_loss = t.loss;
    r.test_accuracy = t.accuracy;
  }
  r.wall_seconds = wall.elapsed_ms() / 1000.0;
  return {net, r};
}

}  // namespace edgeq::train
