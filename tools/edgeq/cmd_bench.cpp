// edgeq bench MODEL.onnx... [--threads 1,all --batch 1 --throughput-batch 64 --warmup 20 --runs 300
//   --rounds 3 --peers torch,ort,ort-web --dataset SPEC --limit N --json F --md F --svg-dir D]
// DESIGN.md's measurement protocol in one command: edgeq's Session on every model and thread count,
// then every peer on the same input tensor in the same run, and one table with the ratio edgeq /
// best peer per row. A peer that cannot run is a "skipped: <reason>" row, never dropped.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include <unistd.h>

#include "commands.h"
#include "edgeq/bench.h"
#include "edgeq/data.h"
#include "edgeq/runtime.h"

namespace edgeq::cli {
namespace {

namespace fs = std::filesystem;

struct BenchArgs {
  std::vector<std::string> models;
  std::string threads = "1,all", peers = "torch,ort,ort-web", dataset, json, md, svg_dir;
  int64_t batch = 1, throughput_batch = 64, limit = 0;
  int warmup = 20, runs = 300, rounds = 3, batch_runs = 30;
  bool quiet = false;
};

// One model file and what the run learned about it.
struct Variant {
  std::string path, name, precision;
  int64_t size_bytes = 0;
  Shape sample_shape;                     // one sample, no batch dim
  std::string edgeq_skip;                 // why edgeq's runtime cannot run it ("" = it can)
  std::optional<double> top1;             // on the dataset
  std::vector<float> logits;              // on the agreement inputs, [n, classes]
  int64_t classes = 0;
  std::optional<double> agreement, max_logit_diff;
};

void progress(const BenchArgs& a, const std::string& line) {
  if (!a.quiet) std::cerr << "bench: " << line << "\n";
}

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
    if (n < 1) throw Error(ErrorCode::kInvalidArgument, "--threads: '" + item + "' is not a positive integer or 'all'");
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
    if (item != "torch" && item != "ort" && item != "ort-web")
      throw Error(ErrorCode::kInvalidArgument, "--peers: unknown peer '" + item + "' (expected torch, ort, ort-web or none)");
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

// The agreement/peer inputs: the dataset's first images when a dataset is given, else seeded
// uniform [0, 1) samples. [n, sample_shape...].
Tensor make_inputs(const Shape& sample, int64_t n, const data::Dataset* ds, const data::Normalization& norm) {
  if (ds) {
    std::vector<int64_t> idx(static_cast<size_t>(std::min(n, ds->size())));
    std::iota(idx.begin(), idx.end(), 0);
    return data::make_images(*ds, idx, norm);
  }
  Shape shape = {n};
  shape.insert(shape.end(), sample.begin(), sample.end());
  Tensor t(DType::kF32, shape);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = uniform(rng);
  return t;
}

Tensor first_samples(const Tensor& inputs, int64_t n) {
  Shape shape = inputs.shape();
  const int64_t per = inputs.numel() / shape[0];
  shape[0] = n;
  Tensor t(DType::kF32, shape);
  for (int64_t i = 0; i < n; ++i)
    std::copy_n(inputs.data<float>() + (i % inputs.shape()[0]) * per, per, t.data<float>() + i * per);
  return t;
}

std::vector<float> run_logits(const runtime::Session& session, const Tensor& inputs, int64_t* classes) {
  const Tensor out = session.run({inputs})[0];
  if (out.rank() != 2) throw Error(ErrorCode::kUnsupported, "bench: the first output is " + shape_str(out.shape()) + ", not [batch, classes]");
  *classes = out.shape()[1];
  return std::vector<float>(out.data<float>(), out.data<float>() + out.numel());
}

double top1_on(const runtime::Session& session, const data::Dataset& ds, const data::Normalization& norm) {
  int64_t correct = 0;
  for (int64_t start = 0; start < ds.size(); start += 64) {
    std::vector<int64_t> idx(static_cast<size_t>(std::min<int64_t>(64, ds.size() - start)));
    std::iota(idx.begin(), idx.end(), start);
    int64_t classes = 0;
    const std::vector<float> logits = run_logits(session, data::make_images(ds, idx, norm), &classes);
    for (size_t i = 0; i < idx.size(); ++i) {
      const float* row = logits.data() + static_cast<int64_t>(i) * classes;
      correct += (std::max_element(row, row + classes) - row) == ds.labels[static_cast<size_t>(idx[i])];
    }
  }
  return static_cast<double>(correct) / static_cast<double>(ds.size());
}

void compare_with_reference(Variant& v, const Variant& ref) {
  if (v.classes != ref.classes || v.logits.size() != ref.logits.size()) return;
  int64_t agree = 0;
  double max_diff = 0;
  const int64_t n = static_cast<int64_t>(v.logits.size()) / v.classes;
  for (int64_t i = 0; i < n; ++i) {
    const float* a = v.logits.data() + i * v.classes;
    const float* b = ref.logits.data() + i * v.classes;
    agree += (std::max_element(a, a + v.classes) - a) == (std::max_element(b, b + v.classes) - b);
    for (int64_t c = 0; c < v.classes; ++c) max_diff = std::max(max_diff, static_cast<double>(std::fabs(a[c] - b[c])));
  }
  v.agreement = static_cast<double>(agree) / static_cast<double>(n);
  v.max_logit_diff = max_diff;
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

void add_peer_row(bench::Report& report, const bench::OrtModelResult& r, const Variant& v) {
  bench::Row row = r.to_row(v.name, v.precision);
  row.size_bytes = v.size_bytes;
  report.rows.push_back(std::move(row));
}

void run_bench(const BenchArgs& a) {
  const std::vector<int> thread_counts = parse_threads(a.threads);
  const std::set<std::string> peers = parse_peers(a.peers);
  bench::ProtocolOptions protocol;
  protocol.warmup = a.warmup;
  protocol.runs = a.runs;
  protocol.rounds = a.rounds;
  protocol.batch = a.batch;

  // 1. What each file is, and its session creation time and peak RSS in a child process: before this
  //    process holds a dataset or a thread pool, so the child's figure is mostly the session's.
  std::vector<Variant> variants;
  std::vector<data::Metadata> metadata;
  for (const auto& path : a.models) {
    onnx::Model model = onnx::load_model(path);
    Variant v;
    v.path = path;
    v.name = variant_name(path);
    v.precision = precision_of(model);
    v.size_bytes = static_cast<int64_t>(fs::file_size(path));
    metadata.push_back(model.metadata);
    if (model.graph.inputs.size() != 1)
      throw Error(ErrorCode::kUnsupported, path + ": bench needs a model with exactly one input");
    const Shape& in = model.graph.inputs[0].shape;
    v.sample_shape.assign(in.begin() + (in.empty() ? 0 : 1), in.end());
    for (int64_t d : v.sample_shape)
      if (d < 1) throw Error(ErrorCode::kUnsupported, path + ": input " + shape_str(in) + " leaves a sample dim open");
    variants.push_back(std::move(v));
  }
  std::map<std::pair<size_t, int>, bench::ChildPhase> phases;
  for (size_t m = 0; m < variants.size(); ++m) {
    for (int threads : thread_counts) {
      progress(a, "session " + variants[m].name + ", " + std::to_string(threads) + " thread(s), in a child process");
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

  // 2. Inputs: the dataset (preprocessing from the first model's metadata) or seeded random samples.
  std::optional<data::Dataset> dataset;
  data::Preprocess pp;
  if (!a.dataset.empty()) {
    pp = data::preprocess_from_metadata(metadata[0], variants[0].path);
    data::DatasetOptions dopt;
    dopt.default_split = "test";
    dopt.channels = pp.channels;
    dopt.height = pp.height;
    dopt.width = pp.width;
    dopt.limit = a.limit;
    dataset = data::load_dataset(a.dataset, dopt);
    if (dataset->size() == 0) throw Error(ErrorCode::kInvalidArgument, a.dataset + ": no images");
  }
  const Shape sample = variants[0].sample_shape;
  const int64_t n_inputs = std::max<int64_t>(a.throughput_batch, std::max<int64_t>(a.batch, 64));
  const Tensor inputs = make_inputs(sample, n_inputs, dataset ? &*dataset : nullptr, pp.norm);
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
  const std::string noop_file = (work / "noop.onnx").string();
  Shape noop_shape = {-1};
  noop_shape.insert(noop_shape.end(), sample.begin(), sample.end());
  bench::write_identity_model(noop_file, noop_shape);

  bench::Report report;
  report.title = "edgeq benchmark";
  report.machine = bench::describe_machine();
  protocol.threads = thread_counts.front();
  protocol.cpus = bench::cpus_for_threads(thread_counts.front());
  report.protocol = protocol;
  report.versions.push_back({"edgeq", version()});

  // 3. edgeq: accuracy and agreement once per model, latency per thread count.
  for (size_t m = 0; m < variants.size(); ++m) {
    Variant& v = variants[m];
    if (!v.edgeq_skip.empty()) continue;
    runtime::SessionOptions so;
    so.threads = thread_counts.back();
    const runtime::Session session = runtime::load_session(v.path, so);
    v.logits = run_logits(session, inputs, &v.classes);
    if (dataset) {
      progress(a, "accuracy of " + v.name + " on " + dataset->name + " (" + std::to_string(dataset->size()) + " images)");
      v.top1 = top1_on(session, *dataset, pp.norm);
    }
    if (m > 0 && variants[0].edgeq_skip.empty()) compare_with_reference(v, variants[0]);
  }
  const Tensor batch_input = first_samples(inputs, a.batch);
  const Tensor throughput_input = first_samples(inputs, std::max<int64_t>(a.throughput_batch, 1));
  for (size_t m = 0; m < variants.size(); ++m) {
    const Variant& v = variants[m];
    for (int threads : thread_counts) {
      if (!v.edgeq_skip.empty()) {
        bench::Row row = bench::Row::skipped(v.name, "edgeq", v.precision, v.edgeq_skip);
        row.threads = threads;
        row.size_bytes = v.size_bytes;
        report.rows.push_back(std::move(row));
        continue;
      }
      progress(a, "edgeq " + v.name + ", " + std::to_string(threads) + " thread(s)");
      runtime::SessionOptions so;
      so.threads = threads;
      bench::ProtocolOptions po = protocol;
      po.threads = threads;
      po.cpus = bench::cpus_for_threads(threads);
      const bench::ScopedAffinity pin(po.cpus);  // the session's pool inherits the mask
      const runtime::Session session = runtime::load_session(v.path, so);
      const bench::Measurement b1 = bench::measure([&] { session.run({batch_input}); }, po);
      std::optional<bench::Measurement> b64;
      if (a.throughput_batch > 0) {
        bench::ProtocolOptions pt = po;
        pt.runs = a.batch_runs;
        pt.batch = a.throughput_batch;
        b64 = bench::measure([&] { session.run({throughput_input}); }, pt);
      }
      bench::Row row;
      row.model = v.name;
      row.engine = "edgeq";
      row.precision = v.precision;
      row.threads = threads;
      bench::fill_latency(row, b1, b64 ? &*b64 : nullptr);
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

  // 4. Peers, same input file, same thread counts, one subprocess per model.
  auto peer_options = [&](auto& o, int threads) {
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
  };
  std::string ort_version, ort_web_version, browser_version, torch_version;
  for (int threads : thread_counts) {
    for (const Variant& v : variants) {
      if (peers.count("torch")) {
        progress(a, "pytorch " + v.name + ", " + std::to_string(threads) + " thread(s)");
        bench::TorchPeerOptions o;
        peer_options(o, threads);
        bench::TorchPeer peer(o);
        for (const auto& r : peer.run(v.path)) add_peer_row(report, r, v);
        if (!peer.torch_version().empty()) torch_version = peer.torch_version();
      }
      if (peers.count("ort")) {
        progress(a, "onnxruntime-node " + v.name + ", " + std::to_string(threads) + " thread(s)");
        bench::OrtPeerOptions o;
        peer_options(o, threads);
        bench::OrtPeer peer(o);
        add_peer_row(report, peer.run(v.path), v);
        if (!peer.ort_version().empty()) ort_version = peer.ort_version();
      }
      if (peers.count("ort-web")) {
        progress(a, "onnxruntime-web " + v.name + ", " + std::to_string(threads) + " thread(s), headless chromium");
        bench::OrtWebPeerOptions o;
        peer_options(o, threads);
        bench::OrtWebPeer peer(o);
        add_peer_row(report, peer.run(v.path), v);
        if (!peer.ort_version().empty()) ort_web_version = peer.ort_version();
        if (!peer.browser_version().empty()) browser_version = peer.browser_version();
      }
    }
  }
  if (!torch_version.empty()) report.versions.push_back({"pytorch (python3-torch)", torch_version});
  if (!ort_version.empty()) report.versions.push_back({"onnxruntime-node", ort_version});
  if (!ort_web_version.empty()) report.versions.push_back({"onnxruntime-web", ort_web_version});
  if (!browser_version.empty()) report.versions.push_back({"chromium", browser_version});

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
      "All engines ran on the same input samples (" + std::string(dataset ? "the first images of " + dataset->name : "seeded uniform [0,1)") +
          "). top-1, agreement and max logit difference are edgeq's, against the first model (" + variants[0].name + ").",
      "edgeq session ms and peak RSS: loading the session in a forked child (includes the parent's resident pages at "
      "fork time); peers: their own process (onnxruntime-web: not measured, the browser spreads memory over processes).",
  };
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
  if (!a.md.empty()) write_file_atomic(a.md, bench::render_markdown(report));
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
  cmd->add_option("models", a->models, "ONNX files; the first is the fp32 reference for agreement")->required()->check(CLI::ExistingFile);
  cmd->add_option("--threads", a->threads, "Thread counts, comma-separated ('all' = every allowed CPU)")->capture_default_str();
  cmd->add_option("--batch", a->batch, "Batch size of the latency runs")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--throughput-batch", a->throughput_batch, "Batch size of the throughput runs (0 = none)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--warmup", a->warmup, "Untimed calls before timing")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--runs", a->runs, "Timed calls per round at the latency batch")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--batch-runs", a->batch_runs, "Timed calls per round at the throughput batch")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--rounds", a->rounds, "Rounds (round-to-round spread)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--peers", a->peers, "Peers: torch, ort, ort-web (comma-separated) or none")->capture_default_str();
  cmd->add_option("--dataset", a->dataset, "Dataset SPEC for top-1 (fashion-mnist, sign-mnist:F.csv, folder:DIR; default split test)");
  cmd->add_option("--limit", a->limit, "Use only the first N dataset images (0 = the full set)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--json", a->json, "Write the report as JSON to this file");
  cmd->add_option("--md", a->md, "Write the report as Markdown to this file");
  cmd->add_option("--svg-dir", a->svg_dir, "Write latency.svg, size.svg and accuracy.svg here");
  cmd->add_flag("--quiet", a->quiet, "No progress lines on stderr");
  cmd->callback([a] { run_bench(*a); });
}

}  // namespace

EDGEQ_REGISTER_VERB("bench", 70, setup_bench);

}  // namespace edgeq::cli
