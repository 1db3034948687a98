// edgeq's reports as a reader sees them: the summary that comes first (one small table per model and
// three sentences with the numbers), the SVG charts (latency on a log axis, size, accuracy zoomed to
// the measured range, per-layer SQNR, training curves) and the demo's page in Markdown and HTML.
// Measures nothing: everything comes from a bench::Report (edgeq/bench.h, or its JSON read back) and
// the JSON files edgeq train and edgeq quantize write. Part of the edgeq_bench library.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgeq/bench.h"

namespace edgeq::bench {

// ---------------------------------------------------------------------------------------------
// Summary: per model (Row::family, else Row::model), one line per precision (fp32, int8-static,
// int8-dynamic, then any other) at the report's first thread count (protocol.threads).
struct SummaryLine {
  std::string precision;
  std::optional<double> edgeq_p50_ms;
  std::optional<double> peer_p50_ms;   // the best peer on the same file: its p50 minus its no-op per-call cost
  std::string peer;                    // its engine; "" when no peer ran the file
  std::optional<double> speedup;       // best peer / edgeq, from Row::ratio_vs_best_peer (> 1: edgeq faster)
  std::optional<int64_t> size_bytes;
  std::optional<double> top1;          // fraction, edgeq's
  std::optional<double> delta_top1_pp; // top-1 minus the fp32 line's, percentage points
  std::optional<double> agreement;     // top-1 agreement with fp32, fraction
};

struct ModelSummary {
  std::string model;
  int threads = 0;                     // of every line's figures (0 = not recorded)
  std::vector<SummaryLine> lines;
  std::vector<std::string> sentences;  // speed, size, accuracy, each with its numbers
};

struct Summary {
  std::vector<ModelSummary> models;
  std::string skipped;  // every skipped row in one line, grouped by engine and reason; "" = none
};

Summary summarize_report(const Report& report);
std::string render_summary_markdown(const Summary& summary);
std::string render_summary_html(const Summary& summary);      // <table>s and <p>s, no page around them
std::string render_summary_terminal(const Summary& summary);  // aligned plain text

// The inverse of render_json: the demo reads bench.json back. Error(kParse) naming what is wrong.
Report parse_report_json(const std::string& json_text);

// ---------------------------------------------------------------------------------------------
// Inputs of the demo page besides the bench report: what edgeq quantize --report and edgeq train write.
struct LayerSqnr {
  std::string node, op, note;
  bool quantized = false;
  // nullopt = no SQNR for this layer (not quantized, or an op without weights such as MaxPool and
  // Flatten, which the quantizer reports as 0.0): shown as "n/a", never "0.0 dB".
  std::optional<double> weight_db, output_db;
};

struct QuantSummary {
  std::string mode, method, activation_type, weights;  // method/samples: static only
  int64_t calibration_samples = 0;
  int64_t fp32_bytes = 0, quant_bytes = 0;
  std::vector<LayerSqnr> layers;
};
QuantSummary parse_quant_report(const std::string& json_text);  // Error(kParse) on malformed JSON

struct EpochLog {
  int epoch = 0;
  std::optional<double> train_loss, val_loss, train_accuracy, val_accuracy, seconds;
};

struct TrainingLog {
  std::string arch, dataset, test_dataset, optimizer, schedule;
  int64_t train_images = 0, val_images = 0, test_images = 0, param_count = 0, batch_size = 0;
  double lr = 0, wall_seconds = 0;
  int best_epoch = 0;
  bool stopped_early = false;
  std::optional<double> test_accuracy, test_loss;
  std::vector<EpochLog> epochs;
};
TrainingLog parse_training_log(const std::string& json_text);  // Error(kParse) on malformed JSON

// ---------------------------------------------------------------------------------------------
// Charts: standalone SVG (viewBox sized from the labels' estimated widths, so no label is cut; the
// page scales them with width:100%). The bench charts (latency, size, accuracy) are bench.h's
// render_*_svg; these two are the demo's.
std::string render_sqnr_chart(const QuantSummary& quant); // output SQNR per layer, "n/a" where none
std::string render_training_chart(const TrainingLog& log, bool accuracy);  // per epoch: loss or accuracy

// ---------------------------------------------------------------------------------------------
// The demo page. File paths are relative to the page's directory (they become links).
struct DemoPage {
  std::string title = "edgeq demo report";
  std::string pipeline;                                   // one sentence: what ran on what
  std::vector<std::pair<std::string, double>> step_seconds;  // "train" -> 95.2, in order
  double total_seconds = 0;
  Report bench;
  std::optional<TrainingLog> training;
  std::optional<QuantSummary> quant_static, quant_dynamic;
  std::vector<std::pair<std::string, std::string>> files;  // label -> relative path (JSON, logs)
  std::vector<std::string> serve_commands;                 // shell lines
  // The browser app's page relative to the report ("app/index.html") when the demo found a build of it
  // (web/app's output, copied or built into DIR/app/); "" = no link. Served with `edgeq serve --static`.
  std::string app_link;
  std::string app_serve_command;                           // the shell line that serves it
};

// Markdown: summary, chart links, every bench row, quantization, training, files.
std::string render_demo_markdown(const DemoPage& page);
// HTML: the same in semantic tables and headings, the charts inline, a short stylesheet; the summary
// table is the page's first table.
std::string render_demo_html(const DemoPage& page);

namespace detail {
// A conservative (wide) estimate of a sans-serif text's advance width in px: every layout decision in
// the charts uses it, and tests check each label's extent against the viewBox with it.
double text_width(std::string_view text, double font_size, bool bold = false);
std::string xml_escape(std::string_view text);
}  // namespace detail

}  // namespace edgeq::bench
