// edgeq bench MODEL.onnx... [--threads 1,all --batch 1 --throughput-batch 64 --warmup 20 --runs 300
//   --rounds 3 --peers torch,ort,ort-web,edgeq-wasm --wasm-dir DIR --dataset SPEC --limit N --json F --md F --svg-dir D]
// DESIGN.md's measurement protocol in one command: edgeq's Session on every model and thread count,
// then every peer on the same input tensor in the same run, and one table with the ratio edgeq /
// best peer per row. A peer that cannot run is a "skipped: <reason>" row, never dropped.
// Peers, each a subprocess: torch = PyTorch eager twice, the LibTorch module in edgeq-torch bench-peer
// (libtorch-eager; skipped when this installation has no edgeq-torch) and Debian's python3-torch
// (pytorch-eager, torchscript); ort = onnxruntime-node; ort-web = onnxruntime-web's WASM backend in
// headless Chromium; edgeq-wasm = edgeq's own WebAssembly module (make wasm) in the same harness, one thread.
// The core-only build (EDGEQ_CORE_ONLY: -DEDGEQ_RT_ONLY=ON -DEDGEQ_RT_BENCH=ON, e.g. for aarch64) refuses
// --dataset (no data module: seeded samples, agreement only), reads models with the core's
// reader instead of the checked loader, and gives the peers no no-op model (their per-call overhead is
// then neither measured nor subtracted: a note says so).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include <unistd.h>

#include "commands.h"
#include "edgeq/bench.h"
#include "edgeq/kernels.h"
#ifndef EDGEQ_CORE_ONLY
#include "edgeq/data.h"
#endif
#include "edgeq/report.h"
#include "edgeq/runtime.h"
#include "engine_eval.h"

namespace edgeq::cli {
namespace {

namespace fs = std::filesystem;

struct BenchArgs {
  std::vector<std::string> models;
  std::string threads = "1,all", peers = "torch,ort,ort-web", dataset, json, md, svg_dir;
  std::string wasm_dir;  // the wasm build's web/edgeq for the edgeq-wasm peer; "" = bench::default_wasm_module_dir()
  int64_t batch = 1, throughput_batch = 64, limit = 0;
  int warmup = 20, runs = 300, rounds = 3, batch_runs = 30;
  bool quiet = false;
  std::map<std::string, Shape> input_shapes;  // sample dims for inputs the models leave open
};

// One model file and what the run learned about it.
struct Variant {
  std::string path, name, precision;
  std::string family;                     // the architecture it was trained as (metadata "arch"), else name
  int64_t size_bytes = 0;
  Shape sample_shape;                     // one sample, no batch dim
  int64_t fixed_batch = 0;                // the batch dim the file fixes (TFLite conversions: 1), 0 when open
  std::string edgeq_skip;                 // why edgeq's runtime cannot run it ("" = it can)
  std::optional<double> top1;             // on the evaluation set's labels
  std::vector<float> logits;              // on the evaluation set, [n, classes]
  int64_t classes = 0;
  std::optional<double> agreement, max_logit_diff;
};

// Progress on stderr, so a run of minutes is never silent: "bench [step k/N, 12 s]: what". Each
// session load, evaluation and measurement is a step; edgeq's rounds and each peer's end print as
// they happen (a peer is one subprocess, its rounds are its own). --quiet silences it.
class Progress {
 public:
  Progress(bool quiet, int total_steps) : quiet_(quiet), total_(total_steps) {}
  void step(const std::string& what) {
    ++done_;
    print("step " + std::to_string(done_) + "/" + std::to_string(total_), what);
  }
  void detail(const std::string& what) const { print("", "  " + what); }
  // The protocol's per-round callback: "round 2 of 3: p50 0.021 ms".
  std::function<void(int, int, const bench::LatencyStats&)> rounds() const {
    if (quiet_) return {};
    return [this](int round, int rounds, const bench::LatencyStats& stats) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "round %d of %d: p50 %.3f ms, p95 %.3f ms", round, rounds, stats.p50_ns / 1e6,
                    stats.p95_ns / 1e6);
      detail(buf);
    };
  }

 private:
  void print(const std::string& counter, const std::string& what) const {
    if (quiet_) return;
    char elapsed[32];
    std::snprintf(elapsed, sizeof elapsed, "%.0f s", timer_.elapsed_ms() / 1000.0);
    std::cerr << "bench [" << (counter.empty() ? "" : counter + ", ") << elapsed << "]: " << what << "\n" << std::flush;
  }
  bool quiet_;
  int total_, done_ = 0;
  Timer timer_;
};

std::vector<int> parse_threads(const std::string& text) {
  const int all = static_cast<int>(bench::allowed_cpus().size());
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int n = 0;
    if (item == "all") {
      n = std::max(all, 1);
    } else {
      try {
        size_t used = 0;
        n = std::stoi(item, &used);
        if (used != item.size()) n = 0;
      } catch (const std::exception&) {
        n = 0;
      }
    }
    if (n < 1) throw Error(ErrorCode::kInvalidArgument, "--threads: '" + printable(item, 40) + "' is not a positive integer or 'all'");
    n = clamp_threads(n, "--threads");
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  if (out.empty()) throw Error(ErrorCode::kInvalidArgument, "--threads: empty list");
  return out;
}

std::set<std::string> parse_peers(const std::string& text) {
  std::set<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty() || item == "none") continue;
    if (item != "torch" && item != "ort" && item != "ort-web" && item != "edgeq-wasm")
      throw Error(ErrorCode::kInvalidArgument,
                  "--peers: unknown peer '" + item + "' (expected torch, ort, ort-web, edgeq-wasm or none)");
    out.insert(item);
  }
  return out;
}

std::string precision_of(const onnx::Model& model) {
  const onnx::ModelSummary s = onnx::summarize(model);
  if (!s.quantized) return "fp32";
  return s.op_histogram.count("DynamicQuantizeLinear") ? "int8-dynamic" : "int8-static";
}

// "runs/cnn-s/model.onnx" -> "cnn-s"; "cnn-s-static.onnx" -> "cnn-s-static".
std::string variant_name(const std::string& path) {
  const fs::path p(path);
  const std::string stem = p.stem().string();
  if (stem == "model" && p.has_parent_path() && !p.parent_path().filename().empty()) return p.parent_path().filename().string();
  return stem;
}

// What every engine's accuracy is measured on: the whole dataset (after --limit; preprocessing from the
// first model's metadata) when one is given, else seeded uniform [0, 1) samples without labels
// (agreement and logit difference only).
struct EvalSet {
  Tensor samples;               // [n, sample...]
  std::vector<int64_t> labels;  // one per sample, or empty
  std::string description;      // for the notes
  std::string source;           // what the timed calls ran on, for the notes
};

EvalSet make_eval_set(const BenchArgs& a, const Variant& first, const onnx::Model& first_model, int64_t random_count) {
  EvalSet set;
#ifndef EDGEQ_CORE_ONLY
  if (!a.dataset.empty()) {
    const data::Preprocess pp = data::preprocess_from_metadata(first_model.metadata, first.path);
    const data::Dataset ds = data::load_dataset(a.dataset, data::dataset_options_for(pp, "test", a.limit));
    if (ds.size() == 0) throw Error(ErrorCode::kInvalidArgument, a.dataset + ": no images");
    std::vector<int64_t> idx(static_cast<size_t>(ds.size()));
    std::iota(idx.begin(), idx.end(), 0);
    set.samples = data::make_images(ds, idx, pp.norm);
    set.labels = ds.labels;
    set.description = ds.name + " (" + std::to_string(ds.size()) + " images)";
    set.source = "the first images of " + ds.name;
    return set;
  }
#endif
  set.samples = uniform_samples(first.sample_shape, random_count, 1);
  set.description = std::to_string(random_count) + " seeded uniform [0,1) samples, no labels";
  set.source = "seeded uniform [0,1)";
  return set;
}

// Agreement and max logit difference of v's logits against the reference file's (the first model's).
void compare_with_reference(Variant& v, const Variant& ref) {
  const LogitScores scores = score_logits(v.logits, v.classes, {}, v.classes == ref.classes ? ref.logits : std::vector<float>());
  v.agreement = scores.agreement;
  v.max_logit_diff = scores.max_logit_diff;
}

// "m.onnx: 22 unsupported node(s):\n  - QuantizeLinear 'q': operator not implemented\n..." -> its first
// two lines on one line: a table cell, not a log.
std::string short_reason(const std::string& message) {
  std::stringstream ss(message);
  std::string first, second;
  std::getline(ss, first);
  std::getline(ss, second);
  const size_t start = second.find_first_not_of(" -");
  return second.empty() || start == std::string::npos ? first : first + " " + second.substr(start) + (ss.peek() != EOF ? ", ..." : "");
}

// The row of a peer's result; its throughput is the one at the run's throughput batch, as edgeq's own.
void add_peer_row(bench::Report& report, const bench::OrtModelResult& r, const Variant& v, int64_t throughput_batch) {
  bench::Row row = r.to_row(v.name, v.precision);
  if (const bench::OrtBatchResult* b = r.batch(throughput_batch); b && throughput_batch > 1)
    row.throughput_b64 = b->throughput_items_per_s;
  row.size_bytes = v.size_bytes;
  report.rows.push_back(std::move(row));
}

using Versions = std::vector<std::pair<std::string, std::string>>;  // runtime -> version, display order

// Records a runtime's version, in place when already listed; "" (not learned) is ignored.
void set_version(Versions& versions, const std::string& runtime, const std::string& version) {
  if (version.empty()) return;
  for (auto& [name, ver] : versions)
    if (name == runtime) {
      ver = version;
      return;
    }
  versions.emplace_back(runtime, version);
}

// A subprocess peer as the bench loop drives it: one file at the options' thread count, and the
// runtime versions it reported.
struct PeerDriver {
  std::string key;    // its name in --peers
  std::string label;  // in progress lines
  std::function<std::vector<bench::OrtModelResult>(const bench::OrtPeerOptions&, const BenchArgs& args,
                                                    const std::string& path, Versions* versions)>
      run;
};

// The protocol and evaluation options are the peers' common base; each adds its own defaults.
template <typename PeerOptions>
PeerOptions options_of(const bench::OrtPeerOptions& common) {
  PeerOptions o;
  static_cast<bench::OrtPeerOptions&>(o) = common;
  return o;
}

const std::vector<PeerDriver>& peer_drivers() {
  static const std::vector<PeerDriver> drivers = {
      {"torch", "pytorch",
       [](const bench::OrtPeerOptions& common, const BenchArgs&, const std::string& path, Versions* versions) {
         bench::TorchPeer peer(options_of<bench::TorchPeerOptions>(common));
         std::vector<bench::OrtModelResult> results = peer.run(path);  // eager and TorchScript
         *versions = {{"pytorch (python3-torch)", peer.torch_version()}};
         return results;
       }},
      {"ort", "onnxruntime-node",
       [](const bench::OrtPeerOptions& common, const BenchArgs&, const std::string& path, Versions* versions) {
         bench::OrtPeer peer(common);
         std::vector<bench::OrtModelResult> results = {peer.run(path)};
         *versions = {{"onnxruntime-node", peer.ort_version()}};
         return results;
       }},
      {"ort-web", "onnxruntime-web (headless chromium)",
       [](const bench::OrtPeerOptions& common, const BenchArgs&, const std::string& path, Versions* versions) {
         bench::OrtWebPeer peer(options_of<bench::OrtWebPeerOptions>(common));
         std::vector<bench::OrtModelResult> results = {peer.run(path)};
         *versions = {{"onnxruntime-web", peer.ort_version()}, {"chromium", peer.browser_version()}};
         return results;
       }},
      {"edgeq-wasm", "edgeq wasm (headless chromium)",
       [](const bench::OrtPeerOptions& common, const BenchArgs& args, const std::string& path, Versions* versions) {
         bench::EdgeqWasmPeerOptions options = options_of<bench::EdgeqWasmPeerOptions>(common);
         options.module_dir = args.wasm_dir;
         bench::EdgeqWasmPeer peer(options);
         std::vector<bench::OrtModelResult> results = {peer.run(path)};
         *versions = {{"edgeq-wasm", peer.edgeq_version()}, {"chromium", peer.browser_version()}};
         return results;
       }},
  };
  return drivers;
}

// PyTorch eager without Python: edgeq-torch bench-peer, when this installation has it (a sibling of
// this binary). Only edgeq's fp32 exports are LibTorch modules; other files are skipped here, without
// paying LibTorch's start-up to learn it.
bench::OrtModelResult libtorch_result(const Variant& v, const bench::OrtPeerOptions& common, Versions* versions) {
  if (v.precision != "fp32") {
    bench::OrtModelResult r;
    r.path = v.path;
    r.engine = "libtorch-eager";
    r.threads = common.threads;
    r.status = "skipped: LibTorch eager runs the fp32 architecture; this file is " + v.precision;
    return r;
  }
  bench::LibTorchPeerOptions options = options_of<bench::LibTorchPeerOptions>(common);
  options.program = sibling_executable(kTorchProgram);
  bench::LibTorchPeer peer(options);
  bench::OrtModelResult r = peer.run(v.path);
  *versions = {{"libtorch (edgeq-torch)", peer.torch_version()}};
  return r;
}

void run_bench(BenchArgs a) {
#ifdef EDGEQ_CORE_ONLY
  if (!a.dataset.empty())
    throw Error(ErrorCode::kUnsupported, "--dataset: this edgeq is the runtime core build (no data module); top-1 on a "
                                         "dataset needs the full build, agreement on seeded samples does not");
#endif
  {
    std::vector<NamedPath> inputs{{"--dataset", dataset_file(a.dataset)}};
    for (const auto& m : a.models) inputs.push_back({"model", m});
    std::vector<NamedPath> outputs{{"--json", a.json}, {"--md", a.md}};
    if (!a.svg_dir.empty())
      for (const char* chart : {"latency.svg", "size.svg", "accuracy.svg"})
        outputs.push_back({"--svg-dir", (std::filesystem::path(a.svg_dir) / chart).string()});
    check_outputs(inputs, outputs);
  }
  const std::vector<int> thread_counts = parse_threads(a.threads);
  const std::set<std::string> peers = parse_peers(a.peers);
  // An explicit --wasm-dir is the user's path: wrong is an error. The default place (make wasm's
  // build-wasm/, or EDGEQ_WASM_DIR) missing is only a skipped edgeq-wasm row.
  if (!a.wasm_dir.empty() && !fs::is_regular_file(fs::path(a.wasm_dir) / "edgeq-wasm.wasm"))
    throw Error(ErrorCode::kInvalidArgument, "--wasm-dir " + a.wasm_dir +
                                                 ": no edgeq-wasm.wasm there (make wasm builds build-wasm/web/edgeq)");
  bench::ProtocolOptions protocol;
  protocol.warmup = a.warmup;
  protocol.runs = a.runs;
  protocol.rounds = a.rounds;
  protocol.batch = a.batch;

  // 1. What each file is, and its session creation time and peak RSS in a child process: before this
  //    process holds a dataset or a thread pool, so the child's figure is mostly the session's.
  std::vector<Variant> variants;
  std::optional<onnx::Model> first_model;
  std::set<std::string> named_inputs;  // --input-shape names some model's input
  for (const auto& path : a.models) {
#ifdef EDGEQ_CORE_ONLY
    onnx::Model model = onnx::read_model(path);
#else
    onnx::Model model = onnx::load_model(path);
#endif
    Variant v;
    v.path = path;
    v.name = variant_name(path);
    v.precision = precision_of(model);
    v.size_bytes = static_cast<int64_t>(fs::file_size(path));
    v.family = v.name;
    for (const auto& [key, value] : model.metadata)
      if (key == "arch" && !value.empty()) v.family = value;
    if (model.graph.inputs.size() != 1)
      throw Error(ErrorCode::kUnsupported, path + ": bench needs a model with exactly one input");
    const auto& input = model.graph.inputs[0];
    Shape in = input.shape;
    if (auto given = a.input_shapes.find(input.name); given != a.input_shapes.end()) {
      named_inputs.insert(input.name);
      if (in.empty())  // no rank in the file: nothing to check the dims against
        throw Error(ErrorCode::kInvalidArgument, "--input-shape " + input.name + ": " + path + " does not say the input's rank");
      Shape dims = given->second;
      if (!dims.empty()) dims[0] = in[0];  // dim 0 is the batch: --batch sets it
      in = runtime::checked_input_shape(in, dims, "--input-shape " + input.name + " (" + path + ")");
    }
    v.sample_shape.assign(in.begin() + (in.empty() ? 0 : 1), in.end());
    if (!in.empty() && in[0] > 0) v.fixed_batch = in[0];
    for (int64_t d : v.sample_shape)
      if (d < 1)
        throw Error(ErrorCode::kUnsupported, path + ": input " + shape_str(in) + " leaves a sample dim open (give --input-shape " +
                                                 input.name + "=DIMS)");
    variants.push_back(std::move(v));
    if (!first_model) first_model = std::move(model);
  }
  // A batch dim the file fixes is the only batch its sessions take: the latency batch must be it, the
  // throughput runs are left out at any other size, and the accuracy pass goes in batches of it.
  int64_t fixed_batch = 0;
  for (const auto& v : variants) {
    if (v.fixed_batch == 0) continue;
    if (fixed_batch != 0 && v.fixed_batch != fixed_batch)
      throw Error(ErrorCode::kInvalidArgument, v.path + ": the models fix different batch sizes (" + std::to_string(fixed_batch) +
                                                   " and " + std::to_string(v.fixed_batch) + ")");
    fixed_batch = v.fixed_batch;
  }
  if (fixed_batch != 0) {
    if (a.batch != fixed_batch)
      throw Error(ErrorCode::kInvalidArgument, "--batch " + std::to_string(a.batch) + ": the model's batch dim is fixed to " +
                                                   std::to_string(fixed_batch) + " (give --batch " + std::to_string(fixed_batch) + ")");
    if (a.throughput_batch > 0 && a.throughput_batch != fixed_batch) {
      if (!a.quiet)
        std::fprintf(stderr, "bench: the batch dim is fixed to %lld: no throughput runs at batch %lld\n",
                     static_cast<long long>(fixed_batch), static_cast<long long>(a.throughput_batch));
      a.throughput_batch = 0;
    }
  }
  for (const auto& [name, dims] : a.input_shapes)
    if (!named_inputs.count(name))
      throw Error(ErrorCode::kNotFound, "--input-shape names '" + name + "', which is not the input of any model given");
  const int n_models = static_cast<int>(variants.size()), n_threads = static_cast<int>(thread_counts.size());
  int peer_steps = peers.count("torch") ? 1 : 0;  // the LibTorch row, then one per subprocess driver
  for (const auto& driver : peer_drivers()) peer_steps += peers.count(driver.key) ? 1 : 0;
  Progress progress(a.quiet, n_models * n_threads * (2 + peer_steps) + n_models);
  std::map<std::pair<size_t, int>, bench::ChildPhase> phases;
  for (size_t m = 0; m < variants.size(); ++m) {
    for (int threads : thread_counts) {
      progress.step("session " + variants[m].name + ", " + std::to_string(threads) + " thread(s), in a child process");
      const std::string path = variants[m].path;
      phases[{m, threads}] = bench::run_phase_in_child([path, threads] {
        Timer timer;
        runtime::SessionOptions so;
        so.threads = threads;
        runtime::Session session = runtime::load_session(path, so);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.6f", timer.elapsed_ms());
        return std::string(buf);
      });
      if (!phases[{m, threads}].ok) {
        // Not fatal: the peers still run the file, and edgeq's row says why it could not.
        variants[m].edgeq_skip = "edgeq cannot run it: " + short_reason(phases[{m, threads}].output);
        break;
      }
    }
  }

  // 2. Inputs: the dataset or seeded random samples; the timed calls take the first of them, the
  //    accuracy figures all of them.
  const Shape sample = variants[0].sample_shape;
  const int64_t n_inputs = std::max<int64_t>(a.throughput_batch, std::max<int64_t>(a.batch, 64));
  const EvalSet eval_set = make_eval_set(a, variants[0], *first_model, n_inputs);
  const Tensor inputs = slice_samples(eval_set.samples, 0, std::min(n_inputs, eval_set.samples.shape()[0]));
  const fs::path work = fs::temp_directory_path() / ("edgeq-bench-" + std::to_string(::getpid()));
  fs::create_directories(work);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{work};
  const std::string input_file = (work / "input.f32").string();
  write_file_atomic(input_file, std::string_view(reinterpret_cast<const char*>(inputs.data<float>()),
                                                 static_cast<size_t>(inputs.numel()) * sizeof(float)));
#ifdef EDGEQ_CORE_ONLY
  const std::string noop_file;  // no ONNX writer in the core
#else
  const std::string noop_file = (work / "noop.onnx").string();
  Shape noop_shape = {-1};
  noop_shape.insert(noop_shape.end(), sample.begin(), sample.end());
  bench::write_identity_model(noop_file, noop_shape);
#endif

  bench::Report report;
  report.title = "edgeq benchmark";
  report.machine = bench::describe_machine();
  protocol.threads = thread_counts.front();
  protocol.cpus = bench::cpus_for_threads(thread_counts.front());
  report.protocol = protocol;
  report.versions.push_back({"edgeq", version()});

  // A run where no engine can measure anything is an error, not a report of skipped rows.
  if (peers.empty() && std::all_of(variants.begin(), variants.end(), [](const Variant& v) { return !v.edgeq_skip.empty(); }))
    throw Error(ErrorCode::kUnsupported, "nothing to measure: " + variants[0].path + ": " + variants[0].edgeq_skip +
                                             (variants.size() > 1 ? " (and the other models too)" : "") + ", and --peers is none");
  // 3. edgeq: accuracy and agreement once per model, latency per thread count. The first model's
  //    logits are the reference every engine's agreement is measured against.
  for (size_t m = 0; m < variants.size(); ++m) {
    Variant& v = variants[m];
    if (!v.edgeq_skip.empty()) continue;
    runtime::SessionOptions so;
    so.threads = thread_counts.back();
    const runtime::Session session = runtime::load_session(v.path, so);
    progress.step("accuracy of " + v.name + " on " + eval_set.description);
    // In batches of 64, or of the fixed batch over whole batches only.
    const int64_t eval_batch = fixed_batch != 0 ? fixed_batch : 64;
    const int64_t eval_count = fixed_batch != 0 ? eval_set.samples.shape()[0] / eval_batch * eval_batch : 0;  // 0: all
    v.logits = logits_on([&](const Tensor& x) { return session.run({x})[0]; }, eval_set.samples, eval_batch, &v.classes, eval_count);
    v.top1 = score_logits(v.logits, v.classes, eval_set.labels, {}).top1;
    if (m > 0 && variants[0].edgeq_skip.empty()) compare_with_reference(v, variants[0]);
  }
  const bench::EvalFiles eval_files = bench::write_eval_set(work.string(), eval_set.samples, eval_set.labels, variants[0].logits);
  const Tensor batch_input = slice_samples(inputs, 0, a.batch);
  const Tensor throughput_input = slice_samples(inputs, 0, std::max<int64_t>(a.throughput_batch, 1));
  for (size_t m = 0; m < variants.size(); ++m) {
    const Variant& v = variants[m];
    for (int threads : thread_counts) {
      if (!v.edgeq_skip.empty()) {
        progress.step("edgeq " + v.name + ", " + std::to_string(threads) + " thread(s): skipped (" + v.edgeq_skip + ")");
        bench::Row row = bench::Row::skipped(v.name, "edgeq", v.precision, v.edgeq_skip);
        row.threads = threads;
        row.size_bytes = v.size_bytes;
        report.rows.push_back(std::move(row));
        continue;
      }
      progress.step("edgeq " + v.name + ", " + std::to_string(threads) + " thread(s): " + std::to_string(a.warmup) +
                    " warm-up calls, " + std::to_string(a.rounds) + " rounds of " + std::to_string(a.runs));
      runtime::SessionOptions so;
      so.threads = threads;
      bench::ProtocolOptions po = protocol;
      po.threads = threads;
      po.cpus = bench::cpus_for_threads(threads);
      po.on_round = progress.rounds();
      // Loaded while pinned (measure pins again, the same CPUs): the session's pool inherits the mask.
      const bench::ScopedAffinity pin(po.cpus);
      const runtime::Session session = runtime::load_session(v.path, so);
      bench::Row row;
      row.model = v.name;
      row.engine = "edgeq";
      row.precision = v.precision;
      row.threads = threads;
      const bench::Measurement b1 = bench::measure([&] { session.run({batch_input}); }, po);
      std::optional<bench::Measurement> bt;
      if (a.throughput_batch > 0) {
        bench::ProtocolOptions pt = po;
        pt.on_round = {};
        progress.detail("throughput at batch " + std::to_string(a.throughput_batch));
        pt.runs = a.batch_runs;
        pt.batch = a.throughput_batch;
        bt = bench::measure([&] { session.run({throughput_input}); }, pt);
      }
      bench::fill_latency(row, b1, bt ? &*bt : nullptr);
      row.size_bytes = v.size_bytes;
      row.top1 = v.top1;
      row.agreement = m == 0 ? std::optional<double>(1.0) : v.agreement;
      row.max_logit_diff = m == 0 ? std::optional<double>(0.0) : v.max_logit_diff;
      const bench::ChildPhase& phase = phases[{m, threads}];
      row.session_ms = std::stod(phase.output);
      row.peak_rss_bytes = phase.peak_rss_bytes;
      report.rows.push_back(std::move(row));
    }
  }

  // 4. Peers, same input file, same evaluation set, same thread counts, one subprocess per model.
  auto peer_options = [&](int threads) {
    bench::OrtPeerOptions o;
    o.threads = threads;
    o.warmup = a.warmup;
    o.runs = a.runs;
    o.rounds = a.rounds;
    o.batch_runs = a.batch_runs;
    o.batches = {a.batch};
    if (a.throughput_batch > 0 && a.throughput_batch != a.batch) o.batches.push_back(a.throughput_batch);
    o.input_f32 = input_file;
    o.noop_model = noop_file;
    o.cpus = bench::cpus_for_threads(threads);
    o.eval_input = eval_files.input;
    o.eval_labels = eval_files.labels;
    o.eval_reference = eval_files.reference;
    return o;
  };
  for (int threads : thread_counts) {
    const bench::OrtPeerOptions options = peer_options(threads);
    for (const Variant& v : variants) {
      Timer peer_timer;
      auto add_results = [&](const std::vector<bench::OrtModelResult>& results, const Versions& found) {
        for (const auto& r : results) {
          add_peer_row(report, r, v, a.throughput_batch);
          char took[32];
          std::snprintf(took, sizeof took, " (%.1f s)", peer_timer.elapsed_ms() / 1000.0);
          progress.detail(r.engine + ": " + (r.status == "ok" ? "measured" : short_reason(r.status)) + took);
        }
        for (const auto& [runtime, ver] : found) set_version(report.versions, runtime, ver);
      };
      if (peers.count("torch")) {
        progress.step("libtorch (edgeq-torch) " + v.name + ", " + std::to_string(threads) + " thread(s)");
        peer_timer.reset();
        Versions found;
        const bench::OrtModelResult r = libtorch_result(v, options, &found);
        add_results({r}, found);
      }
      for (const PeerDriver& driver : peer_drivers()) {
        if (!peers.count(driver.key)) continue;
        progress.step(driver.label + " " + v.name + ", " + std::to_string(threads) + " thread(s), in a subprocess");
        peer_timer.reset();
        Versions found;
        const std::vector<bench::OrtModelResult> results = driver.run(options, a, v.path, &found);
        add_results(results, found);
      }
    }
  }

  // Every row of a file names the model it derives from, so the summary groups fp32 and its int8 files.
  for (bench::Row& row : report.rows)
    for (const Variant& v : variants)
      if (row.model == v.name) row.family = v.family;
  bench::compute_ratios(report);
  std::string thread_list;
  for (int t : thread_counts) {
    if (!thread_list.empty()) thread_list += ", ";
    thread_list += std::to_string(t);
  }
  report.notes = {
      "edgeq/best peer: edgeq's p50 divided by the lowest peer p50 for the same file and thread count, after "
      "subtracting that peer's no-op per-call overhead (column call_overhead_ms in the JSON: an Identity model "
      "for onnxruntime-node/web, an nn.Identity call for PyTorch); < 1 means edgeq is faster.",
      "Latency at batch " + std::to_string(a.batch) + "; b64 items/s at batch " + std::to_string(a.throughput_batch) +
          " (" + std::to_string(a.batch_runs) + " runs x " + std::to_string(a.rounds) + " rounds); thread counts " + thread_list +
          " (column thr; the protocol line names the first); every engine pinned to the first N allowed CPUs for N threads.",
      "All engines ran on the same input samples (" + eval_set.source +
          "). Accuracy, every engine on the same preprocessed samples, " + eval_set.description + ", in batches of 64 (peers: "
          "after their timing, untimed): top-1 against the labels; agreement and max logit difference against edgeq's "
          "logits of the first model (" + variants[0].name + ")" + (variants[0].logits.empty() ? ", which edgeq could not run: none" : "") + ".",
      "edgeq session ms and peak RSS: loading the session in a forked child (includes the parent's resident pages at "
      "fork time); peers: their own process (onnxruntime-web: not measured, the browser spreads memory over processes).",
  };
  report.notes.push_back("edgeq's kernels on this CPU: Highway target " + kernels::hwy::target_name() + ", int8 product " +
                         kernels::hwy::q8_product_name(kernels::hwy::q8_product()) + ".");
  if (noop_file.empty())
    report.notes.push_back("core-only build of edgeq: the peers' no-op per-call overhead is not measured, so not subtracted.");
  // One line per engine and thread count: the range of its no-op p50 over the models' processes.
  std::map<std::pair<std::string, int>, std::pair<double, double>> overhead_us;
  for (const auto& r : report.rows) {
    if (!r.ok() || !r.call_overhead_ms) continue;
    const double us = *r.call_overhead_ms * 1000.0;
    auto [it, fresh] = overhead_us.try_emplace({r.engine, r.threads}, us, us);
    if (!fresh) it->second = {std::min(it->second.first, us), std::max(it->second.second, us)};
  }
  for (const auto& [key, range] : overhead_us) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "no-op per-call overhead subtracted for %s, %d thread(s): %.1f-%.1f us", key.first.c_str(),
                  key.second, range.first, range.second);
    report.notes.push_back(buf);
  }

  std::cout << bench::render_terminal(report);
  if (!a.json.empty()) write_file_atomic(a.json, bench::render_json(report));
  if (!a.md.empty()) {
    // The headline first: the summary between the title and the full table.
    std::string md = bench::render_markdown(report);
    const size_t after_title = md.find("\n\n") + 2;
    md.insert(after_title, "## Summary\n\n" + bench::render_summary_markdown(bench::summarize_report(report)) +
                               "\n## All measurements\n\n");
    write_file_atomic(a.md, md);
  }
  if (!a.svg_dir.empty()) {
    fs::create_directories(a.svg_dir);
    write_file_atomic((fs::path(a.svg_dir) / "latency.svg").string(), bench::render_latency_svg(report));
    write_file_atomic((fs::path(a.svg_dir) / "size.svg").string(), bench::render_size_svg(report));
    write_file_atomic((fs::path(a.svg_dir) / "accuracy.svg").string(), bench::render_accuracy_svg(report));
  }
}

void setup_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Benchmark models on edgeq against PyTorch, onnxruntime-node and onnxruntime-web");
  auto a = std::make_shared<BenchArgs>();
  cmd->add_option("models", a->models, "ONNX files; the first is the fp32 reference for agreement")->required()->check(input_file());
  cmd->add_option("--threads", a->threads, "Thread counts, comma-separated ('all' = every allowed CPU)")->capture_default_str();
  cmd->add_option("--batch", a->batch, "Batch size of the latency runs")->capture_default_str()->check(whole_number(1));
  cmd->add_option("--throughput-batch", a->throughput_batch, "Batch size of the throughput runs (0 = none)")->capture_default_str()->check(whole_number(0));
  cmd->add_option("--warmup", a->warmup, "Untimed calls before timing")->capture_default_str()->check(whole_number(0));
  cmd->add_option("--runs", a->runs, "Timed calls per round at the latency batch")->capture_default_str()->check(whole_number(1));
  cmd->add_option("--batch-runs", a->batch_runs, "Timed calls per round at the throughput batch")->capture_default_str()->check(whole_number(1));
  cmd->add_option("--rounds", a->rounds, "Rounds (round-to-round spread)")->capture_default_str()->check(whole_number(1));
  cmd->add_option("--peers", a->peers, "Peers: torch (LibTorch via edgeq-torch + python3-torch), ort (onnxruntime-node), ort-web, "
                  "edgeq-wasm (edgeq's wasm module in chromium) (comma-separated) or none")->capture_default_str();
  cmd->add_option("--wasm-dir", a->wasm_dir, "The wasm build's web/edgeq for --peers edgeq-wasm (default: $EDGEQ_WASM_DIR, else " +
                  bench::default_wasm_module_dir() + ")");
  cmd->add_option("--dataset", a->dataset, "Dataset SPEC for top-1 (fashion-mnist, sign-mnist:F.csv, folder:DIR; default split test)");
  cmd->add_option("--limit", a->limit, "Use only the first N dataset images (0 = the full set)")->check(whole_number(0));
  cmd->add_option("--json", a->json, "Write the report as JSON to this file");
  cmd->add_option("--md", a->md, "Write the report as Markdown to this file");
  cmd->add_option("--svg-dir", a->svg_dir, "Write latency.svg, size.svg and accuracy.svg here");
  cmd->add_flag("--quiet", a->quiet, "No progress lines on stderr");
  add_input_shape_option(cmd, &a->input_shapes);
  cmd->callback([a] { run_bench(*a); });
}

}  // namespace

EDGEQ_REGISTER_VERB("bench", 70, setup_bench);

}  // namespace edgeq::cli
