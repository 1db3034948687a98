// edgeq bench: the measurement protocol every published figure follows (DESIGN.md, "Measurement
// protocol"), its statistics, the machine description that goes with each figure, the report
// (terminal table, Markdown, JSON, SVG charts) and the peers, each a subprocess that follows the
// same protocol and prints the same per-model JSON: onnxruntime-node (tools/peers/ort_bench.mjs),
// onnxruntime-web's WASM backend in headless Chromium (tools/peers/ort_web/run.mjs) and PyTorch
// eager + TorchScript (tools/peers/torch_bench.py on Debian's python3-torch).
// The module measures callables, so it depends on no runtime or quantizer: whoever builds the
// table wraps Session::run, a LibTorch forward or anything else in a std::function.
// Depends on core and onnx (onnx only to write the no-op model the ORT sidecar calibrates with).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "edgeq/core.h"

namespace edgeq::bench {

// ---------------------------------------------------------------------------------------------
// Statistics over latency samples (nanoseconds).
//
// Percentiles use linear interpolation between closest ranks (Hyndman & Fan type 7, the default of
// numpy.percentile and of tools/peers/ort_bench.mjs): on the ascending samples x[0..n-1],
// h = (n-1)*q, result = x[floor(h)] + (h - floor(h)) * (x[floor(h)+1] - x[floor(h)]).
// So p50 of {1,2,3,4} is 2.5 and p95 of 1..100 is 95.05. stddev is the sample standard deviation
// (divisor n-1; 0 for one sample).
struct LatencyStats {
  int64_t count = 0;
  double mean_ns = 0, p50_ns = 0, p95_ns = 0, p99_ns = 0, min_ns = 0, max_ns = 0, stddev_ns = 0;
};

// q in [0, 1]; `sorted` ascending and non-empty (Error kInvalidArgument otherwise).
double percentile_sorted(std::span<const double> sorted, double q);
// Any order; Error(kInvalidArgument) on no samples.
LatencyStats summarize(std::span<const double> samples_ns);
// Round-to-round spread: (max - min) / median of the per-round p50s; 0 for fewer than 2 rounds.
double round_spread(std::span<const double> round_p50s);

// ---------------------------------------------------------------------------------------------
// Protocol.
struct ProtocolOptions {
  int warmup = 20;     // untimed calls before the first round
  int runs = 300;      // timed calls per round
  int rounds = 3;      // DESIGN.md asks for >= 3 in published figures; tests may use fewer
  int64_t batch = 1;   // items per call, for throughput
  int threads = 1;     // recorded with the figure; the callable decides how many it uses
  std::vector<int> cpus;  // pin the calling thread to these CPUs while measuring; empty = no pinning
  // Called after each round with (round 1..rounds, rounds, that round's statistics): progress lines.
  // Outside the timed calls, so printing here does not show in the figures.
  std::function<void(int, int, const LatencyStats&)> on_round;
};

struct Measurement {
  LatencyStats overall;                 // all runs * rounds samples
  std::vector<LatencyStats> per_round;  // one per round
  std::vector<double> round_p50_ns;
  double spread = 0;                    // round_spread(round_p50_ns)
  double throughput_items_per_s = 0;    // batch / mean latency
  int64_t batch = 1;
  int threads = 1;
  int64_t calls = 0;                    // warmup + runs * rounds, as executed
  std::vector<double> samples_ns;       // every timed sample, round after round
};

// Calls fn `warmup` times, then `rounds` rounds of `runs` timed calls, each timed alone with
// steady_clock (ns). Pins the calling thread to options.cpus for the duration when given.
// Exceptions from fn propagate. Error(kInvalidArgument) on runs < 1, rounds < 1, warmup < 0, batch < 1.
Measurement measure(const std::function<void()>& fn, const ProtocolOptions& options);

// CPUs the calling thread may run on now (sched_getaffinity), ascending.
std::vector<int> allowed_cpus();
// The first `threads` CPUs of allowed_cpus() (all of them when fewer are allowed).
std::vector<int> cpus_for_threads(int threads);

// Pins the calling thread to `cpus` (sched_setaffinity) and restores the previous mask when
// destroyed. Error(kInvalidArgument) naming the CPUs when the kernel refuses the set. Threads
// started while pinned (a runtime's pool, a child process) inherit the mask.
class ScopedAffinity {
 public:
  explicit ScopedAffinity(std::span<const int> cpus);
  ~ScopedAffinity();
  ScopedAffinity(const ScopedAffinity&) = delete;
  ScopedAffinity& operator=(const ScopedAffinity&) = delete;

 private:
  std::vector<int> previous_;
  bool pinned_ = false;
};

// ---------------------------------------------------------------------------------------------
// Machine description, recorded with every figure.
struct MachineInfo {
  std::string cpu_model;             // "AMD EPYC 7B13"
  int logical_cpus = 0;              // processors listed in /proc/cpuinfo
  int allowed_cpus = 0;              // CPUs this process may use (affinity / container limit)
  std::vector<std::string> isa_flags;  // the kernel-relevant flags present, in kIsaFlagsOfInterest order
  std::string kernel;                // uname: "Linux 6.1.0-18-amd64 x86_64"
  std::string compiler;              // "GCC 12.2.0"
  std::string edgeq_version;

  bool has(const std::string& flag) const;
};

// The flags edgeq's kernels care about. /proc/cpuinfo spells VNNI on AVX-512 "avx512_vnni"
// (older kernels "avx512vnni"); both are looked for and reported as found. aarch64 lists "Features":
// asimd (NEON), asimddp (the dot product, SDOT), i8mm, sve.
inline constexpr const char* kIsaFlagsOfInterest[] = {"sse4_2",      "avx2",       "fma",         "avx512f",
                                                      "avx512_vnni", "avx512vnni", "avx512_bf16", "avx_vnni",
                                                      "asimd",       "asimddp",    "i8mm",        "sve"};

// Parses /proc/cpuinfo text (model name, processor count, flags); kernel/compiler left empty. On aarch64,
// which has no "model name": the core named from "CPU implementer" / "CPU part" (Arm's Cortex and
// Neoverse parts, e.g. "Cortex-A76"; else "Arm CPU part 0x..."), followed by the board's "Model" line when
// there is one ("Cortex-A72 (Raspberry Pi 4 Model B Rev 1.4)").
MachineInfo parse_cpuinfo(const std::string& cpuinfo_text);
// This machine: /proc/cpuinfo + uname + compiler + edgeq version.
MachineInfo describe_machine();
std::string machine_to_json(const MachineInfo& machine);  // one JSON object

// Peak resident set size of this process so far, bytes (VmHWM, else getrusage).
int64_t peak_rss_bytes();
// Current resident set size, bytes (VmRSS); 0 when unknown.
int64_t current_rss_bytes();

// Runs fn in a forked child and reports the child's peak RSS (wait4 rusage) and what fn returned,
// so one phase (loading a session, say) is measured without the parent's history in the figure.
// The child starts with one thread: fn must create whatever threads it needs itself. The figure
// includes the parent's pages still resident in the child (a few MiB for a small parent), so
// fork early or compare with a run of an empty fn.
struct ChildPhase {
  bool ok = false;            // fn returned normally
  std::string output;         // fn's return value (ok) or the exception message (!ok)
  int64_t peak_rss_bytes = 0;
  double wall_ms = 0;
};
ChildPhase run_phase_in_child(const std::function<std::string()>& fn);

// ---------------------------------------------------------------------------------------------
// Report: one row per (model variant, engine).
struct Row {
  std::string model;       // variant name: "cnn-s", "cnn-s-static"
  std::string family;      // the model the variant derives from ("cnn-s" for all three); "" = model
  std::string engine;      // "edgeq", "onnxruntime-node", "onnxruntime-web", "pytorch-eager", "torchscript"
  std::string precision;   // "fp32", "int8-static", "int8-dynamic"
  int threads = 0;         // intra-op threads of the measurement; 0 = not recorded
  std::optional<int64_t> size_bytes;
  std::optional<double> p50_ms, p95_ms, p99_ms, mean_ms;
  std::optional<double> spread;               // round-to-round, fraction (0.03 = 3 %)
  std::optional<double> throughput_b64;       // items/s at batch 64
  std::optional<double> top1;                 // fraction of the test set
  std::optional<double> agreement;            // top-1 agreement with the fp32 model, fraction
  std::optional<double> max_logit_diff;       // vs the fp32 model
  std::optional<double> session_ms;           // session creation
  std::optional<int64_t> peak_rss_bytes;
  std::optional<double> call_overhead_ms;     // the engine's own no-op per-call cost (p50), peers only
  // Browser engines: page navigation start to the first prediction's logits, with an empty HTTP cache
  // (cold) and on the second visit (warm); edgeq-wasm only.
  std::optional<double> first_prediction_cold_ms, first_prediction_warm_ms;
  std::optional<double> ratio_vs_best_peer;   // filled by compute_ratios
  std::string status = "ok";                  // "ok" or "skipped: <reason>"
  std::string note;                           // a caveat on an ok row ("top-1 on the first 2000 of 10000 images")

  bool ok() const { return status == "ok"; }
  bool is_edgeq() const;                      // engine starts with "edgeq"
  bool in_browser() const;                    // onnxruntime-web or edgeq-wasm: measured in Chromium
  static Row skipped(std::string model, std::string engine, std::string precision, const std::string& reason);
};

// Copies p50/p95/p99/mean/spread from a batch-1 measurement and throughput from a batch-64 one.
void fill_latency(Row& row, const Measurement& batch1, const Measurement* batch64 = nullptr);

struct Report {
  std::string title = "edgeq benchmark";
  MachineInfo machine;
  ProtocolOptions protocol;
  std::vector<std::pair<std::string, std::string>> versions;  // runtime -> version, in display order
  std::vector<Row> rows;
  std::vector<std::string> notes;
};

// Whether `peer` is a row edgeq_row is compared with: an ok non-edgeq row with a p50 for the same model,
// precision and threads (the same file on another engine; rows with threads 0 match any), on the same
// side of the browser line (edgeq-wasm against onnxruntime-web, native edgeq against native peers).
bool is_comparable_peer(const Row& edgeq_row, const Row& peer);

// For every ok edgeq row: its p50 / the lowest (p50 - call_overhead_ms) among its comparable peers' rows
// (is_comparable_peer). The peer's no-op cost (its binding, a browser's message hop) is subtracted so the ratio
// compares the engines, not how they are called; an overhead >= the p50 is ignored. < 1 means edgeq
// is faster. No peer row: left empty.
void compute_ratios(Report& report);

std::string render_terminal(const Report& report);  // aligned plain-text table + machine line
std::string render_markdown(const Report& report);  // machine, protocol, table, notes
std::string render_json(const Report& report);      // {"machine", "protocol", "versions", "rows", "notes"}
// SVG charts, no dependencies, the viewBox sized from the labels (report.h has the demo's others).
// Latency: one group per model, precision and thread count, one bar per engine (p50) with its p95
// whisker on a log axis; a whisker beyond the axis is clipped and its label says so; edgeq
// highlighted. Size: one bar per file, KiB, "Nx smaller" than the fp32 file. Accuracy: top-1 per
// engine and precision zoomed to the measured range, with the fp32 model's top-1 as a dashed line.
// Skipped rows are not drawn: the summary (report.h) lists them in one line.
std::string render_latency_svg(const Report& report);
std::string render_size_svg(const Report& report);
std::string render_accuracy_svg(const Report& report);

// Writes DIR/<stem>.md, .json, .txt, <stem>-latency.svg, -size.svg, -accuracy.svg atomically
// (creating DIR); returns the paths written.
std::vector<std::string> write_report(const Report& report, const std::string& dir, const std::string& stem = "bench");

// ---------------------------------------------------------------------------------------------
// onnxruntime-node peer: tools/peers/ort_bench.mjs run as `node ort_bench.mjs ...` (protocol,
// statistics and CLI documented at the top of that file).

// Writes a one-node Identity model (float32 input of `shape`, -1 = symbolic "batch") through
// onnx::save_model: the sidecar's no-op, whose p50 is ORT's per-call binding overhead.
void write_identity_model(const std::string& path, const Shape& shape);

struct OrtPeerOptions {
  std::string node = "node";      // executable; a bare name is looked up on PATH
  std::string peers_dir;          // holds ort_bench.mjs and node_modules/; default: the source tree's tools/peers
  int threads = 1;                // intra-op threads (inter-op 1, sequential, all graph optimizations)
  int warmup = 20, runs = 300, rounds = 3;
  int batch_runs = 30;            // timed calls per round for batches > 1 (each lasts ~batch times longer)
  std::vector<int64_t> batches = {1, 64};
  std::string input_f32;          // raw float32 samples; empty = the sidecar's seeded random input
  uint32_t seed = 1;
  std::string noop_model;         // Identity model for the binding overhead; empty = not measured
  std::vector<int> cpus;          // pin the sidecar to these CPUs (it inherits the mask); empty = none
  // Accuracy, after the timing and untimed: every model runs the evaluation set (write_eval_set) in
  // batches of eval_batch (a model with a fixed batch uses its own).
  std::string eval_input;         // raw float32 samples, n x one sample; empty = no evaluation
  std::string eval_labels;        // raw int32 class per sample; empty = no top-1
  std::string eval_reference;     // raw float32 logits of the fp32 model on those samples; empty = no agreement
  int eval_batch = 64;
  int64_t eval_limit = 0;         // the first N samples only (0 = all); the row's note then says so
};

// The evaluation set the peers read (the OrtPeerOptions::eval_* files). Each file is written only
// when it has content: labels one per sample, reference [samples, classes] logits of the fp32 model.
struct EvalFiles {
  std::string input, labels, reference;  // "" = not written
};
// Writes DIR/eval-input.f32 (samples, float32 [n, ...]), DIR/eval-labels.i32 and DIR/eval-reference.f32.
// Error(kInvalidArgument) when labels or reference do not match n samples, or a label is outside int32.
EvalFiles write_eval_set(const std::string& dir, const Tensor& samples, std::span<const int64_t> labels,
                         std::span<const float> reference_logits);

// A peer's accuracy on the evaluation set: the "eval" object of a model in the sidecars' JSON.
struct PeerEval {
  std::string status = "ok";      // "ok" or "skipped: <reason>" (the latency figures stand without it)
  int64_t samples = 0, total = 0; // evaluated, of the set's
  std::optional<double> top1, agreement, max_logit_diff;
  double ms = 0;                  // wall time of the evaluation
};

// A browser peer's time from page load to the first prediction (edgeq_wasm/first.html): a fresh
// profile visited twice, cold (empty HTTP cache) then warm; bytes over the network on each visit.
struct FirstPrediction {
  std::string status = "ok";  // "ok" or "skipped: <reason>"
  double cold_ms = 0, warm_ms = 0;
  int64_t cold_transferred_bytes = 0, warm_transferred_bytes = 0;
};

struct OrtBatchResult {
  int64_t batch = 1;
  LatencyStats stats;               // nanoseconds, like the C++ side
  std::vector<double> round_p50_ns;
  double spread = 0;
  double throughput_items_per_s = 0;
};

// One model on one peer engine (all three subprocess peers report this).
struct OrtModelResult {
  std::string path;
  std::string engine = "onnxruntime-node";  // the Row's engine
  std::string status = "ok";        // "ok" or "skipped: <reason>"
  double session_ms = 0;
  int64_t peak_rss_bytes = 0;       // of the sidecar process that ran only this model
  std::vector<OrtBatchResult> batches;
  std::optional<double> noop_p50_ns;  // same process, measured after the model
  int threads = 0;                    // as run
  std::optional<PeerEval> eval;       // when an evaluation set was given
  std::optional<FirstPrediction> first_prediction;  // browser peers that measure it (edgeq-wasm)
  const OrtBatchResult* batch(int64_t b) const;
  // Row with latency, throughput, session time, RSS (when known), threads, the no-op overhead and the
  // evaluation's top-1, agreement and max logit difference filled (a partial or failed evaluation in
  // the note); the caller adds size.
  Row to_row(const std::string& model, const std::string& precision) const;
};

class OrtPeer {
 public:
  explicit OrtPeer(OrtPeerOptions options);
  // "" when node, the sidecar and onnxruntime-node are all present, else why not.
  std::string unavailable_reason() const;
  std::string ort_version() const { return ort_version_; }  // known after a successful run
  // One sidecar process per model (so its peak RSS is that model's). Never throws for a missing
  // peer or a failing sidecar: the result's status says "skipped: <reason>".
  OrtModelResult run(const std::string& model_path);
  std::vector<OrtModelResult> run_all(const std::vector<std::string>& model_paths);
  // The sidecar's JSON for one model, parsed; exposed for tests. Error(kParse) on malformed JSON.
  static OrtModelResult parse_sidecar_json(const std::string& json_text, std::string* ort_version = nullptr);

 private:
  OrtPeerOptions options_;
  std::string ort_version_;
};

// ---------------------------------------------------------------------------------------------
// onnxruntime-web peer: tools/peers/ort_web/run.mjs serves a page on 127.0.0.1 (COOP/COEP, so WASM
// threads work), drives Debian's chromium headless through playwright-core and prints
// ort_bench.mjs's JSON. One browser per (model, threads) run. peak RSS is not reported (the browser's
// memory is spread over processes). The no-op model's p50 there is the page's per-call cost.
struct OrtWebPeerOptions : OrtPeerOptions {
  std::string chromium;  // default: $EDGEQ_CHROMIUM, else /usr/bin/chromium
};

class OrtWebPeer {
 public:
  explicit OrtWebPeer(OrtWebPeerOptions options);
  // "" when node, chromium, the runner, onnxruntime-web and playwright-core are all present.
  std::string unavailable_reason() const;
  std::string ort_version() const { return ort_version_; }          // after a successful run
  std::string browser_version() const { return browser_version_; }  // after a successful run
  // Never throws for a missing peer or a failing runner: status "skipped: <reason>".
  OrtModelResult run(const std::string& model_path);

 private:
  OrtWebPeerOptions options_;
  std::string ort_version_, browser_version_;
};

// ---------------------------------------------------------------------------------------------
// edgeq's own WebAssembly module as a browser peer: tools/peers/edgeq_wasm/run.mjs (the ort-web peer's
// harness, tools/peers/browser_peer.mjs) serves the wasm build's web/edgeq (edgeq.mjs, edgeq-wasm.mjs,
// edgeq-wasm.wasm) and times session.run() in headless Chromium; engine "edgeq-wasm". Also measures page
// load to first prediction, cold and warm cache (OrtModelResult::first_prediction). One thread only: the
// module is built single-threaded, so other thread counts are skipped results.
struct EdgeqWasmPeerOptions : OrtPeerOptions {
  std::string chromium;    // default: $EDGEQ_CHROMIUM, else /usr/bin/chromium
  std::string module_dir;  // default: default_wasm_module_dir()
};

// Where the bench looks for the wasm build's web module: $EDGEQ_WASM_DIR, else the directory CMake was
// configured with (EDGEQ_WASM_MODULE_DIR, default <source>/build-wasm/web/edgeq: what `make wasm` builds).
std::string default_wasm_module_dir();

class EdgeqWasmPeer {
 public:
  explicit EdgeqWasmPeer(EdgeqWasmPeerOptions options);
  // "" when node, chromium, the runner, playwright-core and the module's three files are all present;
  // a missing module names `make wasm` and where it looked.
  std::string unavailable_reason() const;
  std::string edgeq_version() const { return edgeq_version_; }      // the module's, after a successful run
  std::string browser_version() const { return browser_version_; }  // after a successful run
  // Never throws for a missing peer or a failing runner: status "skipped: <reason>".
  OrtModelResult run(const std::string& model_path);

 private:
  EdgeqWasmPeerOptions options_;
  std::string edgeq_version_, browser_version_;
};

// ---------------------------------------------------------------------------------------------
// PyTorch peer: tools/peers/torch_bench.py on Debian's python3-torch rebuilds the architecture an
// edgeq export was trained as (metadata "arch", or graph name "edgeq_<arch>") from the ONNX weights
// and times it eagerly ("pytorch-eager") and traced + frozen ("torchscript"). Other files (quantized,
// foreign) come back as skipped results with the reason. The no-op is an nn.Identity call.
struct TorchPeerOptions : OrtPeerOptions {
  std::string python = "/usr/bin/python3";  // Debian's interpreter: the one that imports torch and onnx
  std::vector<std::string> modes = {"eager", "torchscript"};
  std::string dump_logits;  // when set: the eager logits of all input samples, raw float32 (tests)
};

class TorchPeer {
 public:
  explicit TorchPeer(TorchPeerOptions options);
  std::string unavailable_reason() const;  // python or the script missing
  std::string torch_version() const { return torch_version_; }
  // One result per mode, in options.modes order; never throws for a missing or failing peer.
  std::vector<OrtModelResult> run(const std::string& model_path);

 private:
  TorchPeerOptions options_;
  std::string torch_version_;
};

// ---------------------------------------------------------------------------------------------
// LibTorch peer: the "libtorch-eager" row, PyTorch eager without Python. edgeq-torch (the LibTorch
// build of the CLI, beside the edgeq binary) runs its hidden verb `bench-peer` on one file: it rebuilds
// the LibTorch module an edgeq fp32 export was trained as (train::Network::from_onnx), times it with
// this module's measure() on the protocol flags every peer takes, evaluates it on the evaluation set
// and prints the peers' JSON (render_peer_json). A subprocess, so that edgeq itself never loads
// LibTorch; its start-up is outside the timing, as it is for the other peers. No no-op: a C++ call
// has no binding to subtract. Other files come back as skipped results with the reason.
struct LibTorchPeerOptions : OrtPeerOptions {
  std::string program;  // edgeq-torch's path; "" = not built in this installation
};

class LibTorchPeer {
 public:
  explicit LibTorchPeer(LibTorchPeerOptions options);
  std::string unavailable_reason() const;  // "" when options.program is executable
  std::string torch_version() const { return torch_version_; }  // after a successful run
  // Never throws for a missing program or a failing run: status "skipped: <reason>".
  OrtModelResult run(const std::string& model_path);

 private:
  LibTorchPeerOptions options_;
  std::string torch_version_;
};

// The JSON the subprocess peers print, as parsed by them all: {"<version_key>": version,
// "protocol": {"threads"}, "models": [{path, engine, status, session_ms, peak_rss_bytes, batches, eval}]}
// (the model's threads go to the protocol object; no-op figures are not written). What a C++ peer
// (edgeq-torch bench-peer) prints; parsing it gives the results back.
std::string render_peer_json(const std::vector<OrtModelResult>& results, const std::string& version_key,
                             const std::string& version);
// A measure() result as a peer reports it.
OrtBatchResult batch_result(const Measurement& m);

}  // namespace edgeq::bench
