// edgeq-torch bench-peer MODEL.onnx [--threads N --warmup N --runs N --batch-runs N --rounds N --batches 1,64
//   --input F | --seed S, --eval-input F --eval-labels F --eval-reference F --eval-batch N --eval-limit N]
// Hidden, machine-facing: edgeq bench's libtorch-eager row (bench::LibTorchPeer runs it). PyTorch eager
// without Python: the LibTorch module the file was trained as (train::Network::from_onnx) on OpenBLAS,
// timed by bench::measure on the same flags and files as every other peer (tools/peers/torch_bench.py
// documents them), then evaluated on the evaluation set; prints the peers' JSON on stdout. A file that
// is not an edgeq fp32 export is a skipped model with the reason (exit 0); bad flags or unreadable input
// files exit 1 with one line. The process measures itself, so its start-up is not in any figure.
#include <cstring>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "edgeq/bench.h"
#include "edgeq/onnx.h"
#include "edgeq/train.h"
#include "engine_eval.h"

namespace edgeq::cli {
namespace {

struct PeerArgs {
  std::string model, input, eval_input, eval_labels, eval_reference, batches = "1,64";
  int threads = 1, warmup = 20, runs = 300, batch_runs = 30, rounds = 3;
  int64_t eval_batch = 64, eval_limit = 0;
  uint32_t seed = 1;
};

std::vector<int64_t> parse_batches(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const long long b = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || b < 1) throw Error(ErrorCode::kInvalidArgument, "--batches: '" + item + "' is not a positive integer");
    out.push_back(b);
  }
  if (out.empty()) throw Error(ErrorCode::kInvalidArgument, "--batches: empty list");
  return out;
}

// A raw little-endian array of T (the peers' file format), whole elements only.
template <typename T>
std::vector<T> read_array(const std::string& path, const char* flag) {
  const std::string bytes = read_file(path);
  if (bytes.empty() || bytes.size() % sizeof(T) != 0)
    throw Error(ErrorCode::kParse, std::string(flag) + " " + path + ": " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
                                       std::to_string(sizeof(T)) + "-byte values");
  std::vector<T> values(bytes.size() / sizeof(T));
  std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

// Samples of shape `sample` from a float32 file: [n, sample...].
Tensor read_samples(const std::string& path, const char* flag, const Shape& sample) {
  const std::vector<float> values = read_array<float>(path, flag);
  const int64_t per = shape_numel(sample);
  if (static_cast<int64_t>(values.size()) % per != 0)
    throw Error(ErrorCode::kInvalidArgument, std::string(flag) + " " + path + " holds " + std::to_string(values.size()) +
                                                 " floats, not a multiple of one sample " + shape_str(sample));
  Shape shape = {static_cast<int64_t>(values.size()) / per};
  shape.insert(shape.end(), sample.begin(), sample.end());
  Tensor t(DType::kF32, shape);
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

bench::PeerEval evaluate(const train::Network& net, const PeerArgs& a, const Shape& sample) {
  Timer timer;
  const Tensor samples = read_samples(a.eval_input, "--eval-input", sample);
  bench::PeerEval e;
  e.total = samples.shape()[0];
  int64_t classes = 0;
  const std::vector<float> logits =
      logits_on([&](const Tensor& x) { return net.forward(x); }, samples, a.eval_batch, &classes, a.eval_limit);
  e.samples = static_cast<int64_t>(logits.size()) / classes;
  std::vector<int64_t> labels;
  if (!a.eval_labels.empty()) {
    const std::vector<int32_t> raw = read_array<int32_t>(a.eval_labels, "--eval-labels");
    if (static_cast<int64_t>(raw.size()) != e.total)
      throw Error(ErrorCode::kInvalidArgument, "--eval-labels holds " + std::to_string(raw.size()) + " labels for " +
                                                   std::to_string(e.total) + " samples");
    labels.assign(raw.begin(), raw.end());
  }
  std::vector<float> reference;
  if (!a.eval_reference.empty()) {
    reference = read_array<float>(a.eval_reference, "--eval-reference");
    if (static_cast<int64_t>(reference.size()) != e.total * classes)
      throw Error(ErrorCode::kInvalidArgument, "--eval-reference holds " + std::to_string(reference.size()) + " floats, not " +
                                                   std::to_string(e.total) + " samples x " + std::to_string(classes) + " classes");
    reference.resize(logits.size());  // the evaluated samples only
  }
  const LogitScores s = score_logits(logits, classes, labels, reference);
  e.top1 = s.top1;
  e.agreement = s.agreement;
  e.max_logit_diff = s.max_logit_diff;
  e.ms = timer.elapsed_ms();
  return e;
}

void run_bench_peer(const PeerArgs& a) {
  const std::vector<int64_t> batches = parse_batches(a.batches);
  bench::OrtModelResult r;
  r.path = a.model;
  r.engine = "libtorch-eager";
  r.threads = a.threads;
  // Session: the module built and its weights loaded, plus one forward (LibTorch allocates lazily).
  Timer timer;
  train::set_inference_threads(a.threads);
  std::optional<train::Network> net;
  try {
    net.emplace(train::Network::from_onnx(onnx::load_model(a.model)));
    net->bind_forward(Tensor(DType::kF32, {1, net->channels(), net->height(), net->width()}))();
  } catch (const std::exception& e) {
    const std::string why = e.what();
    r.status = "skipped: " + why.substr(0, why.find('\n'));
    std::cout << bench::render_peer_json({r}, "torch_version", train::torch_version());
    return;
  }
  r.session_ms = timer.elapsed_ms();
  r.peak_rss_bytes = bench::peak_rss_bytes();
  const Shape sample = {net->channels(), net->height(), net->width()};
  const Tensor source = a.input.empty() ? uniform_samples(sample, 1, a.seed) : read_samples(a.input, "--input", sample);
  for (int64_t b : batches) {
    bench::ProtocolOptions po;
    po.warmup = a.warmup;
    po.runs = b > 1 ? a.batch_runs : a.runs;
    po.rounds = a.rounds;
    po.batch = b;
    po.threads = a.threads;
    po.cpus = bench::cpus_for_threads(a.threads);
    const std::function<Tensor()> forward = net->bind_forward(slice_samples(source, 0, b));
    r.batches.push_back(bench::batch_result(bench::measure([&forward] { forward(); }, po)));
  }
  if (!a.eval_input.empty()) r.eval = evaluate(*net, a, sample);
  std::cout << bench::render_peer_json({r}, "torch_version", train::torch_version());
}

void setup_bench_peer(CLI::App& app) {
  // Hidden from --help (no group); edgeq bench is the way in.
  auto* cmd = app.add_subcommand("bench-peer", "LibTorch peer of edgeq bench (machine-facing)")->group("");
  auto a = std::make_shared<PeerArgs>();
  cmd->add_option("model", a->model, "edgeq fp32 ONNX export")->required();
  cmd->add_option("--threads", a->threads)->transform(thread_count(1));
  cmd->add_option("--warmup", a->warmup)->check(whole_number(0));
  cmd->add_option("--runs", a->runs)->check(whole_number(1));
  cmd->add_option("--batch-runs", a->batch_runs)->check(whole_number(1));
  cmd->add_option("--rounds", a->rounds)->check(whole_number(1));
  cmd->add_option("--batches", a->batches);
  cmd->add_option("--input", a->input);
  cmd->add_option("--seed", a->seed);
  cmd->add_option("--eval-input", a->eval_input);
  cmd->add_option("--eval-labels", a->eval_labels)->needs("--eval-input");
  cmd->add_option("--eval-reference", a->eval_reference)->needs("--eval-input");
  cmd->add_option("--eval-batch", a->eval_batch)->check(whole_number(1));
  cmd->add_option("--eval-limit", a->eval_limit)->check(whole_number(0));
  cmd->callback([a] { run_bench_peer(*a); });
}

}  // namespace

EDGEQ_REGISTER_VERB("bench-peer", 90, setup_bench_peer);

}  // namespace edgeq::cli
