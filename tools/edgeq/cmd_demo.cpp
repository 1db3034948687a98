// edgeq demo [--out DIR]: the whole pipeline on one dataset, as a new user would run it —
// train → export → quantize (static, dynamic) → evaluate and benchmark every variant against the
// peers → DIR/report.md and DIR/report.html. Each step runs this same binary's verb, so the demo
// exercises exactly what users call, and a failing step is reported by name.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "edgeq/core.h"

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
  std::string peers = "torch,ort,ort-web";
  std::string threads = "1,all";
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

nlohmann::json read_json(const std::string& path) {
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kParse, path + ": not valid JSON: " + e.what());
  }
}

std::string fmt(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

std::string sqnr_table(const nlohmann::json& q) {
  std::ostringstream s;
  s << "| node | op | quantized | weight SQNR (dB) | output SQNR (dB) | note |\n|---|---|---|---:|---:|---|\n";
  for (const auto& l : q.value("layers", nlohmann::json::array())) {
    auto db = [](const nlohmann::json& v) { return v.is_number() ? fmt(v.get<double>(), 1) : std::string("–"); };
    s << "| " << l.value("node", "") << " | " << l.value("op", "") << " | " << (l.value("quantized", false) ? "int8" : "fp32")
      << " | " << db(l.value("weight_sqnr_db", nlohmann::json())) << " | " << db(l.value("layer_sqnr_db", nlohmann::json()))
      << " | " << l.value("note", "") << " |\n";
  }
  return s.str();
}

std::string html_escape(const std::string& in) {
  std::string o;
  for (char c : in) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else o += c;
  }
  return o;
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
  auto bench = run_step("bench", bench_args, logs);

  nlohmann::json train_json = read_json(a.out + "/fp32/train.json");
  nlohmann::json qjs = read_json(a.out + "/quant-static.json");
  std::string bench_md = read_file(a.out + "/bench.md");

  std::ostringstream md;
  md << "# edgeq demo report\n\n"
     << "Pipeline: train `" << a.arch << "` on `" << a.dataset << "` (" << a.epochs << " epochs) → ONNX fp32 → static int8 (QDQ, "
     << a.calib_samples << "-sample MinMax calibration, per-channel weights) and dynamic int8 (MatMulInteger) → accuracy on the "
     << (a.test_limit ? "first " + std::to_string(a.test_limit) + " test images" : std::string("full test set"))
     << " and latency against the peers, measured side by side in one run.\n\n"
     << "Total time: " << fmt(total.elapsed_ms() / 1000.0, 0) << " s (train " << fmt(train.seconds, 0) << " s, quantize "
     << fmt(quant_static.seconds + quant_dynamic.seconds, 0) << " s, bench " << fmt(bench.seconds, 0) << " s).\n\n"
     << "## Benchmark\n\n" << bench_md << "\n\n"
     << "Charts: [latency](latency.svg), [size](size.svg), [accuracy](accuracy.svg).\n\n"
     << "## What each variant costs and gains\n\n"
     << "- **fp32** is the exported model as trained: the accuracy reference.\n"
     << "- **static int8** (QDQ) quantizes every Conv and Gemm with calibrated activation ranges: about 4x smaller on disk; "
        "the integer kernels are where the speed comes from on engines that fuse QDQ groups.\n"
     << "- **dynamic int8** quantizes only the weights of Gemm/MatMul and computes activation ranges at run time: "
        "smaller, but Conv stays fp32 and each call pays for quantizing activations (the seed studies found it slower than fp32).\n\n"
     << "## Quantization (static): per-layer SQNR\n\n"
     << "Calibration: " << qjs.value("calibration", nlohmann::json::object()).dump() << "; size: " << qjs.value("size", nlohmann::json::object()).dump()
     << "\n\n" << sqnr_table(qjs) << "\n"
     << "## Training\n\n```\n" << train_json.dump(2).substr(0, 3000) << "\n```\n\n"
     << "## How to serve it\n\n"
     << "```sh\nedgeq predict " << q_static << " some-image.png      # top-k labels from the model's own preprocessing metadata\n"
     << "edgeq eval " << q_static << " --dataset " << a.dataset << "\n```\n"
     << "The model files carry their labels, mean/std, input size and calibration in ONNX metadata (`edgeq inspect --json`).\n\n"
     << "Step logs: `" << logs << "/`.\n";
  write_file_atomic(a.out + "/report.md", md.str());

  std::ostringstream html;
  html << "<!doctype html><html><head><meta charset=\"utf-8\"><title>edgeq demo report</title>"
       << "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}</style>"
       << "</head><body><h1>edgeq demo report</h1>";
  for (const char* svg : {"latency.svg", "size.svg", "accuracy.svg"})
    if (fs::exists(a.out + "/" + svg)) html << "<img src=\"" << svg << "\" alt=\"" << svg << "\"><br>";
  html << "<pre>" << html_escape(md.str()) << "</pre></body></html>\n";
  write_file_atomic(a.out + "/report.html", html.str());
  std::cout << "demo: wrote " << a.out << "/report.md and " << a.out << "/report.html in " << fmt(total.elapsed_ms() / 1000.0, 0)
            << " s\n";
}

void setup_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "The whole pipeline (train, quantize, evaluate, benchmark) → DIR/report.md");
  auto a = std::make_shared<DemoArgs>();
  cmd->add_option("--out", a->out, "Output directory")->capture_default_str();
  cmd->add_option("--dataset", a->dataset, "fashion-mnist, sign-mnist:FILE.csv or folder:DIR")->capture_default_str();
  cmd->add_option("--arch", a->arch, "cnn-s, cnn-m or cnn-bn")->capture_default_str();
  cmd->add_option("--epochs", a->epochs, "Training epochs")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--train-limit", a->train_limit, "Train on the first N images only (0 = all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--test-limit", a->test_limit, "Evaluate on the first N test images only (0 = all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--runs", a->runs, "Timed runs per round")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--rounds", a->rounds, "Rounds")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--calib-samples", a->calib_samples, "Calibration samples")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--peers", a->peers, "Peers for the benchmark (torch, ort, ort-web or none)")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Benchmark thread counts")->capture_default_str();
  cmd->add_option("--train-threads", a->train_threads, "LibTorch threads for training (1 = reproducible)")->capture_default_str();
  cmd->callback([a] { run_demo(*a); });
}

}  // namespace

EDGEQ_REGISTER_VERB("demo", 90, setup_demo);

}  // namespace edgeq::cli
