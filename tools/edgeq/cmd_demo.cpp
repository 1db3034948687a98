// edgeq demo [--out DIR]: the whole pipeline on one dataset, as a new user would run it —
// train → export → quantize (static, dynamic) → evaluate and benchmark every variant against the
// peers → DIR/report.md and DIR/report.html. Each step runs this same binary's verb, so the demo
// exercises exactly what users call, and a failing step is reported by name.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "edgeq/core.h"
#include "edgeq/report.h"

namespace edgeq::cli {
namespace {

namespace fs = std::filesystem;

struct DemoArgs {
  std::string out = "out/demo";
  std::string dataset = "fashion-mnist";
  std::string arch = "cnn-s";
  int epochs = 3;
  int64_t train_limit = 0;
  int64_t test_limit = 0;
  int runs = 300;
  int rounds = 3;
  int calib_samples = 512;
  std::string peers = "torch,ort,ort-web,edgeq-wasm";
  std::string threads = "1,all";
  std::string wasm_dir;  // passed to bench --wasm-dir when set
  int train_threads = 1;
};

std::string quote(const std::string& s) {
  std::string r = "'";
  for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}

struct StepResult {
  std::string output;
  double seconds = 0;
};

// Runs `edgeq ARGS...`, streaming its output to stderr as progress and keeping it.
StepResult run_step(const std::string& label, const std::vector<std::string>& args, const std::string& log_dir) {
  std::string cmd = quote(self_executable());
  for (const auto& a : args) cmd += " " + quote(a);
  std::cerr << "\n== demo: " << label << "\n   $ edgeq";
  for (const auto& a : args) std::cerr << " " << a;
  std::cerr << "\n" << std::flush;
  Timer t;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) throw Error(ErrorCode::kIo, "demo: cannot start step '" + label + "'");
  StepResult r;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) {
    r.output += buf;
    std::cerr << "   " << buf << std::flush;
  }
  int status = ::pclose(p);
  r.seconds = t.elapsed_ms() / 1000.0;
  write_file_atomic(log_dir + "/" + label + ".log", r.output);
  if (status != 0) {
    std::string last = r.output.substr(r.output.rfind('\n', r.output.size() >= 2 ? r.output.size() - 2 : 0) + 1);
    throw Error(ErrorCode::kInvalidArgument, "demo: step '" + label + "' failed (log: " + log_dir + "/" + label + ".log): " + last);
  }
  return r;
}

std::string fmt(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

void run_demo(const DemoArgs& a) {
  Timer total;
  fs::create_directories(a.out + "/logs");
  std::string logs = a.out + "/logs";
  std::string fp32 = a.out + "/fp32/model.onnx";
  std::string q_static = a.out + "/int8-static.onnx";
  std::string q_dynamic = a.out + "/int8-dynamic.onnx";
  std::string train_split = a.dataset.find(':') == std::string::npos ? a.dataset + ":train" : a.dataset;

  std::vector<std::string> train_args = {"train", "--dataset", a.dataset, "--arch", a.arch, "--epochs", std::to_string(a.epochs),
                                         "--seed", "1", "--threads", std::to_string(a.train_threads), "--out", a.out + "/fp32"};
  if (a.train_limit) train_args.insert(train_args.end(), {"--limit", std::to_string(a.train_limit)});
  if (a.test_limit) train_args.insert(train_args.end(), {"--test-limit", std::to_string(a.test_limit)});
  auto train = run_step("train", train_args, logs);

  std::vector<std::string> qs = {"quantize", fp32, "--mode", "static", "--calib", train_split, "--calib-samples",
                                 std::to_string(a.calib_samples), "--method", "minmax", "--per-channel", "--out", q_static,
                                 "--report", a.out + "/quant-static.json"};
  auto quant_static = run_step("quantize-static", qs, logs);
  auto quant_dynamic = run_step("quantize-dynamic", {"quantize", fp32, "--mode", "dynamic", "--out", q_dynamic, "--report",
                                                     a.out + "/quant-dynamic.json"}, logs);

  std::vector<std::string> bench_args = {"bench", fp32, q_static, q_dynamic, "--dataset", a.dataset, "--peers", a.peers,
                                         "--threads", a.threads, "--runs", std::to_string(a.runs), "--rounds", std::to_string(a.rounds),
                                         "--json", a.out + "/bench.json", "--md", a.out + "/bench.md", "--svg-dir", a.out};
  if (a.test_limit) bench_args.insert(bench_args.end(), {"--limit", std::to_string(a.test_limit)});
  if (!a.wasm_dir.empty()) bench_args.insert(bench_args.end(), {"--wasm-dir", a.wasm_dir});
  auto bench_step = run_step("bench", bench_args, logs);

  bench::DemoPage page;
  page.pipeline = "Trained " + a.arch + " on " + a.dataset + " (" + std::to_string(a.epochs) + " epochs), exported to ONNX fp32, "
                  "quantized to static int8 (QDQ, " + std::to_string(a.calib_samples) + "-sample MinMax calibration, per-channel "
                  "weights) and dynamic int8 (MatMulInteger), then measured accuracy on the " +
                  (a.test_limit ? "first " + std::to_string(a.test_limit) + " test images" : std::string("full test set")) +
                  " and latency against the peers, side by side in one run.";
  page.step_seconds = {{"train", train.seconds},
                       {"quantize", quant_static.seconds + quant_dynamic.seconds},
                       {"bench", bench_step.seconds}};
  page.total_seconds = total.elapsed_ms() / 1000.0;
  page.bench = bench::parse_report_json(read_file(a.out + "/bench.json"));
  page.training = bench::parse_training_log(read_file(a.out + "/fp32/train.json"));
  page.quant_static = bench::parse_quant_report(read_file(a.out + "/quant-static.json"));
  page.quant_dynamic = bench::parse_quant_report(read_file(a.out + "/quant-dynamic.json"));
  page.files = {{"bench.json: every measurement", "bench.json"},
                {"bench.md: the benchmark alone", "bench.md"},
                {"quant-static.json: calibration ranges and SQNR per tensor", "quant-static.json"},
                {"quant-dynamic.json", "quant-dynamic.json"},
                {"fp32/train.json: training log and configuration", "fp32/train.json"},
                {"logs/: each step's output", "logs/"}};
  page.serve_commands = {"edgeq predict " + q_static + " some-image.png", "edgeq eval " + q_static + " --dataset " + a.dataset};
  // The browser app (web/app's build output) when it was put beside the report: linked, not built here.
  if (fs::is_regular_file(fs::path(a.out) / "app" / "index.html")) {
    page.app_link = "app/index.html";
    page.app_serve_command = "edgeq serve --static " + a.out + "/app --port 8080   # then open http://127.0.0.1:8080/";
  }
  // The bench step wrote latency/size/accuracy.svg; the page's other charts go beside them.
  write_file_atomic(a.out + "/sqnr.svg", bench::render_sqnr_chart(*page.quant_static));
  write_file_atomic(a.out + "/training-loss.svg", bench::render_training_chart(*page.training, false));
  write_file_atomic(a.out + "/training-accuracy.svg", bench::render_training_chart(*page.training, true));
  write_file_atomic(a.out + "/report.md", bench::render_demo_markdown(page));
  write_file_atomic(a.out + "/report.html", bench::render_demo_html(page));
  std::cout << "\n" << bench::render_summary_terminal(bench::summarize_report(page.bench)) << "demo: wrote " << a.out
            << "/report.html and " << a.out << "/report.md in " << fmt(total.elapsed_ms() / 1000.0, 0) << " s\n";
}

void setup_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "The whole pipeline (train, quantize, evaluate, benchmark) → DIR/report.html and DIR/report.md");
  auto a = std::make_shared<DemoArgs>();
  cmd->add_option("--out", a->out, "Output directory")->capture_default_str();
  cmd->add_option("--dataset", a->dataset, "fashion-mnist, sign-mnist:FILE.csv or folder:DIR")->capture_default_str();
  cmd->add_option("--arch", a->arch, "cnn-s, cnn-m or cnn-bn")->capture_default_str();
  cmd->add_option("--epochs", a->epochs, "Training epochs")->capture_default_str()->check(whole_number(1));
  cmd->add_option("--train-limit", a->train_limit, "Train on the first N images only (0 = all)")->check(whole_number(0));
  cmd->add_option("--test-limit", a->test_limit, "Evaluate on the first N test images only (0 = all)")->check(whole_number(0));
  cmd->add_option("--runs", a->runs, "Timed runs per round")->capture_default_str()->check(whole_number(1));
  cmd->add_option("--rounds", a->rounds, "Rounds")->capture_default_str()->check(whole_number(1));
  cmd->add_option("--calib-samples", a->calib_samples, "Calibration samples")->capture_default_str()->check(whole_number(1));
  cmd->add_option("--peers", a->peers, "Peers for the benchmark (torch, ort, ort-web, edgeq-wasm or none)")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Benchmark thread counts")->capture_default_str();
  cmd->add_option("--wasm-dir", a->wasm_dir, "The wasm build's web/edgeq for the edgeq-wasm rows (bench --wasm-dir)");
  cmd->add_option("--train-threads", a->train_threads, "LibTorch threads for training (1 = reproducible)")->capture_default_str()->transform(thread_count(0));
  cmd->callback([a] { run_demo(*a); });
}

}  // namespace

EDGEQ_REGISTER_VERB("demo", 90, setup_demo);

}  // namespace edgeq::cli
