// A demo page built from synthetic inputs shaped like a real `edgeq demo` run (cnn-s, three
// precisions, four peers, skipped PyTorch rows on the quantized files, onnxruntime-web's long p95
// tail, MaxPool/Flatten layers the quantizer reports as 0.0 dB), plus the traps the page must
// survive: a long engine name and markup in a label. Shared by the unit and browser tests.
#pragma once

#include <string>

#include "edgeq/bench.h"
#include "edgeq/report.h"

namespace edgeq::bench::testing {

inline Row fixture_row(const std::string& model, const std::string& engine, const std::string& precision, int threads,
                       double p50, double p95, double top1) {
  Row r;
  r.model = model;
  r.family = "cnn-s";
  r.engine = engine;
  r.precision = precision;
  r.threads = threads;
  r.p50_ms = p50;
  r.p95_ms = p95;
  r.p99_ms = p95 * 1.2;
  r.mean_ms = p50 * 1.1;
  r.spread = 0.01;
  r.size_bytes = precision == "fp32" ? 829357 : precision == "int8-static" ? 216233 : 226194;
  r.top1 = top1;
  r.agreement = precision == "fp32" ? 1.0 : 0.9967;
  return r;
}

inline Report fixture_report() {
  Report rep;
  rep.title = "edgeq benchmark";
  rep.machine = parse_cpuinfo("processor : 0\nprocessor : 1\nmodel name : AMD EPYC\nflags : avx2 fma avx512f avx512_vnni\n");
  rep.protocol.runs = 300;
  rep.protocol.rounds = 3;
  rep.protocol.threads = 1;
  rep.versions = {{"edgeq", "0.1.0"}, {"onnxruntime-node", "1.30.0"}};
  for (int threads : {1, 2}) {
    const double t = threads == 1 ? 1.0 : 0.6;
    rep.rows.push_back(fixture_row("fp32", "edgeq", "fp32", threads, 0.020 * t, 0.025 * t, 0.9112));
    rep.rows.push_back(fixture_row("int8-static", "edgeq", "int8-static", threads, 0.006 * t, 0.007 * t, 0.9101));
    rep.rows.push_back(fixture_row("int8-dynamic", "edgeq", "int8-dynamic", threads, 0.017 * t, 0.019 * t, 0.9105));
    rep.rows.push_back(fixture_row("fp32", "libtorch-eager", "fp32", threads, 0.138 * t, 0.420 * t, 0.9112));
    rep.rows.push_back(fixture_row("fp32", "onnxruntime-node", "fp32", threads, 0.045 * t, 0.060 * t, 0.9112));
    rep.rows.push_back(fixture_row("int8-static", "onnxruntime-node", "int8-static", threads, 0.090 * t, 0.110 * t, 0.9100));
    rep.rows.push_back(fixture_row("int8-dynamic", "onnxruntime-node", "int8-dynamic", threads, 0.160 * t, 0.200 * t, 0.9104));
    // The browser's tail: a p95 a hundred times its p50, the whisker that flattened every other bar.
    rep.rows.push_back(fixture_row("fp32", "onnxruntime-web (WebAssembly SIMD, threaded)", "fp32", threads, 0.140, 16.2, 0.9112));
    rep.rows.push_back(fixture_row("int8-static", "onnxruntime-web (WebAssembly SIMD, threaded)", "int8-static", threads, 0.215,
                                   15.9, 0.9100));
    for (const char* precision : {"int8-static", "int8-dynamic"}) {
      for (const char* engine : {"pytorch-eager", "torchscript"}) {
        Row s = Row::skipped(precision, engine, precision, "initializer fc1.weight_quantized is not float32 (a quantized file)");
        s.family = "cnn-s";
        s.threads = threads;
        rep.rows.push_back(s);
      }
    }
  }
  compute_ratios(rep);
  return rep;
}

inline const char* kFixtureQuantJson = R"({
  "mode": "static", "calibration": {"method": "minmax", "samples": 512},
  "activation_type": "uint8", "weights": "int8 symmetric per-channel",
  "size": {"fp32_bytes": 829714, "quant_bytes": 216233, "ratio": 0.26},
  "layers": [
    {"node": "conv1", "op": "Conv", "quantized": true, "weight_sqnr_db": 49.64, "layer_sqnr_db": 47.88, "note": "followed by Relu 'relu1'"},
    {"node": "pool1", "op": "MaxPool", "quantized": true, "weight_sqnr_db": 0.0, "layer_sqnr_db": 0.0, "note": ""},
    {"node": "conv2<&>", "op": "Conv", "quantized": true, "weight_sqnr_db": 47.44, "layer_sqnr_db": 50.9, "note": ""},
    {"node": "pool2", "op": "MaxPool", "quantized": true, "weight_sqnr_db": 0.0, "layer_sqnr_db": 0.0, "note": ""},
    {"node": "flatten", "op": "Flatten", "quantized": true, "weight_sqnr_db": 0.0, "layer_sqnr_db": 0.0, "note": ""},
    {"node": "fc1", "op": "Gemm", "quantized": true, "weight_sqnr_db": 45.84, "layer_sqnr_db": 46.97, "note": ""},
    {"node": "fc2", "op": "Gemm", "quantized": true, "weight_sqnr_db": 47.73, "layer_sqnr_db": 49.14, "note": ""}
  ]})";

inline const char* kFixtureTrainJson = R"({
  "arch": "cnn-s", "best_epoch": 3, "dataset": "fashion-mnist:train", "test_dataset": "fashion-mnist:test",
  "config": {"batch_size": 64, "lr": 0.001, "optimizer": "adam", "schedule": "cosine"},
  "epochs": [
    {"epoch": 1, "seconds": 30.1, "train_accuracy": 0.82, "train_loss": 0.50, "val_accuracy": 0.87, "val_loss": 0.36},
    {"epoch": 2, "seconds": 29.8, "train_accuracy": 0.89, "train_loss": 0.30, "val_accuracy": 0.89, "val_loss": 0.30},
    {"epoch": 3, "seconds": 30.4, "train_accuracy": 0.91, "train_loss": 0.25, "val_accuracy": 0.905, "val_loss": 0.27}
  ],
  "param_count": 206922, "stopped_early": false, "test_accuracy": 0.9112, "test_images": 10000,
  "train_images": 54000, "val_images": 6000, "wall_seconds": 91.2})";

inline DemoPage fixture_page() {
  DemoPage page;
  page.pipeline = "Trained cnn-s on fashion-mnist (3 epochs), quantized to static and dynamic int8, measured against the peers.";
  page.step_seconds = {{"train", 95.0}, {"quantize", 4.0}, {"bench", 210.0}};
  page.total_seconds = 309.0;
  page.bench = fixture_report();
  page.training = parse_training_log(kFixtureTrainJson);
  page.quant_static = parse_quant_report(kFixtureQuantJson);
  page.files = {{"bench.json", "bench.json"}, {"quant-static.json", "quant-static.json"}, {"train.json", "fp32/train.json"}};
  page.serve_commands = {"edgeq predict out/demo/int8-static.onnx some-image.png"};
  return page;
}

}  // namespace edgeq::bench::testing
