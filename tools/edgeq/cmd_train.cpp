// edgeq train --dataset SPEC --arch NAME [--epochs N --seed S ...] --out DIR: trains with LibTorch and
// writes DIR/model.onnx (opset 17, metadata) and DIR/train.json. Progress goes to stderr: a redrawn
// bar on a terminal, one plain line per quarter epoch otherwise; the summary (or --json) to stdout.
// A verb of edgeq-torch: users run it as `edgeq train`, which execs edgeq-torch (cmd_train_forward.cpp).
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "commands.h"
#include "edgeq/train.h"

namespace edgeq::cli {
namespace {

struct TrainArgs {
  train::TrainConfig config;
  std::string out_dir;
  bool keep_batchnorm = false;
  bool softmax = false;
  bool json = false;
  bool quiet = false;
};

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * fraction);
  return buf;
}

// Draws progress on stderr; a terminal gets one line redrawn in place, a pipe or file gets lines.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet) : quiet_(quiet), tty_(::isatty(STDERR_FILENO) != 0) {}

  void operator()(const train::Progress& p) {
    if (quiet_) return;
    char line[256];
    if (p.epoch_done) {
      const auto& m = p.epoch_metrics;
      std::snprintf(line, sizeof line, "epoch %lld/%lld  loss %.4f  acc %s  %s%s  lr %.2e  %.0f img/s  %.1f s",
                    static_cast<long long>(p.epoch), static_cast<long long>(p.epochs), m.train_loss,
                    percent(m.train_accuracy).c_str(), m.val_accuracy >= 0 ? "val " : "",
                    m.val_accuracy >= 0 ? percent(m.val_accuracy).c_str() : "", m.lr, m.images_per_second, m.seconds);
      std::fprintf(stderr, "%s%s\n", tty_ ? "\r\033[K" : "", line);
      return;
    }
    const int64_t quarter = std::max<int64_t>(1, p.batches / 4);
    if (!tty_ && p.batch % quarter != 0) return;
    if (tty_ && p.batch % 10 != 0 && p.batch != p.batches) return;  // redraw ~ every 10 batches
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * p.batch / p.batches);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::snprintf(line, sizeof line, "epoch %lld/%lld [%s] %lld/%lld  loss %.4f  acc %s  %.0f img/s",
                  static_cast<long long>(p.epoch), static_cast<long long>(p.epochs), bar.c_str(),
                  static_cast<long long>(p.batch), static_cast<long long>(p.batches), p.loss,
                  percent(p.accuracy).c_str(), p.images_per_second);
    if (tty_) std::fprintf(stderr, "\r\033[K%s", line);
    else std::fprintf(stderr, "%s\n", line);
  }

 private:
  bool quiet_, tty_;
};

void setup_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", kTrainSummary);
  auto a = std::make_shared<TrainArgs>();
  train::TrainConfig& c = a->config;
  cmd->add_option("--dataset", c.dataset, "Training data: fashion-mnist[:train], sign-mnist:FILE.csv, folder:DIR")->required();
  cmd->add_option("--arch", c.arch, "Architecture")->required()->check(CLI::IsMember(train::arch_names()));
  cmd->add_option("--out", a->out_dir, "Output directory (created)")->required();
  cmd->add_option("--epochs", c.epochs, "Epochs")->capture_default_str()->check(whole_number(1));
  cmd->add_option("--seed", c.seed, "Seed for init, shuffling, split and augmentation")->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size, "Batch size")->capture_default_str()->check(whole_number(1));
  cmd->add_option("--lr", c.lr, "Peak learning rate")->capture_default_str()->check(real_number(1e-9, 10.0));
  cmd->add_option("--optimizer", c.optimizer, "adam or sgd (momentum 0.9, Nesterov)")
      ->capture_default_str()->check(CLI::IsMember({"adam", "sgd"}));
  cmd->add_option("--schedule", c.schedule, "cosine, step or constant")
      ->capture_default_str()->check(CLI::IsMember({"cosine", "step", "constant"}));
  cmd->add_option("--step-epochs", c.step_epochs, "step schedule: epochs per decay")->capture_default_str()->check(whole_number(1));
  cmd->add_option("--step-gamma", c.step_gamma, "step schedule: decay factor")->capture_default_str()->check(real_number(1e-9, 1.0));
  cmd->add_option("--weight-decay", c.weight_decay, "L2 weight decay")->capture_default_str()->check(real_number(0.0, 1.0));
  cmd->add_option("--threads", c.threads, "LibTorch threads (0 = all cores; 1 = bit-reproducible)")->capture_default_str()->check(whole_number(0));
  cmd->add_option("--val-fraction", c.val_fraction, "Share of the training data held out for validation")
      ->capture_default_str()->check(real_number(0.0, 0.9));
  cmd->add_option("--patience", c.patience, "Early stopping: epochs without a better val accuracy (0 = off)")->capture_default_str()->check(whole_number(0));
  cmd->add_flag("--augment", c.augment, "Random shift +-2 px and flip where the dataset allows it");
  cmd->add_option("--test-dataset", c.test_dataset, "Test data (default fashion-mnist:test for fashion-mnist)");
  cmd->add_option("--limit", c.train_limit, "Use only the first N training images (0 = all)")->check(whole_number(0));
  cmd->add_option("--test-limit", c.test_limit, "Use only the first N test images (0 = all)")->check(whole_number(0));
  cmd->add_flag("--keep-batchnorm", a->keep_batchnorm, "Export BatchNormalization nodes instead of folding them into Conv");
  cmd->add_flag("--softmax", a->softmax, "Append Softmax (output 'probabilities' instead of 'logits')");
  cmd->add_flag("--json", a->json, "Print train.json to stdout instead of the summary");
  cmd->add_flag("--quiet", a->quiet, "No progress output");
  cmd->callback([a] {
    ProgressPrinter printer(a->quiet);
    train::Trained trained = train::train(a->config, [&printer](const train::Progress& p) { printer(p); });
    train::ExportOptions options;
    options.fold_batchnorm = !a->keep_batchnorm;
    options.softmax = a->softmax;
    const std::string model_path = train::write_outputs(trained, a->out_dir, options);
    const train::TrainResult& r = trained.result;
    if (a->json) {
      std::cout << train::train_json(r);
      return;
    }
    std::cout << "model:    " << model_path << " (" << r.config.arch << ", " << r.param_count << " params)\n";
    std::cout << "data:     " << r.dataset_name << ": " << r.train_images << " train, " << r.val_images << " val; "
              << r.threads << " threads\n";
    std::cout << "epochs:   " << r.epochs.size() << " (best " << r.best_epoch << (r.stopped_early ? ", stopped early" : "")
              << "), " << r.wall_seconds << " s wall\n";
    if (r.test_accuracy >= 0)
      std::cout << "test:     " << r.test_dataset_name << ": top-1 " << percent(r.test_accuracy) << " on "
                << r.test_images << " images\n";
  });
}

}  // namespace

EDGEQ_REGISTER_VERB("train", 20, setup_train);

}  // namespace edgeq::cli
