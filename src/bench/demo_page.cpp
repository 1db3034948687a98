// The demo's page, in Markdown and in HTML: the same sections in the same order, the summary first.
// The HTML is written as HTML (tables, headings, the SVG charts inline), never Markdown in a <pre>.
#include <sstream>

#include "bench/format.h"
#include "edgeq/report.h"

namespace edgeq::bench {
namespace {

using detail::fmt_fixed;
using detail::xml_escape;

std::string seconds_text(double s) { return fmt_fixed(s, s < 10 ? 1 : 0) + " s"; }

std::string timing_sentence(const DemoPage& p) {
  if (p.total_seconds <= 0) return "";
  std::string out = "Total time " + seconds_text(p.total_seconds);
  for (size_t i = 0; i < p.step_seconds.size(); ++i)
    out += (i ? ", " : " (") + p.step_seconds[i].first + " " + seconds_text(p.step_seconds[i].second);
  return out + (p.step_seconds.empty() ? "." : ").");
}

std::string db_text(const std::optional<double>& db) { return db ? fmt_fixed(*db, 1) + " dB" : "n/a"; }

// The chart files the demo writes beside the page, with what each shows.
struct ChartFile {
  std::string file, caption;
};

std::vector<ChartFile> chart_files(const DemoPage& p) {
  std::vector<ChartFile> out = {
      {"latency.svg", "Latency per call (log scale): bar p50, whisker p95; edgeq highlighted."},
      {"size.svg", "Model file size."},
      {"accuracy.svg", "Top-1 accuracy, zoomed to the measured range; dashed: fp32 on edgeq."},
  };
  if (p.quant_static) out.push_back({"sqnr.svg", "Per-layer SQNR of the static int8 model; n/a: layers without an SQNR of their own."});
  if (p.training && !p.training->epochs.empty()) {
    out.push_back({"training-loss.svg", "Training and validation loss per epoch."});
    out.push_back({"training-accuracy.svg", "Training and validation accuracy per epoch."});
  }
  return out;
}

std::string training_sentence(const TrainingLog& t) {
  std::ostringstream s;
  s << (t.arch.empty() ? "The model" : t.arch) << " (" << t.param_count << " parameters) trained on " << t.dataset << " ("
    << t.train_images << " images, " << t.val_images << " held out for validation) for " << t.epochs.size()
    << (t.epochs.size() == 1 ? " epoch" : " epochs");
  if (!t.optimizer.empty())
    s << " with " << t.optimizer << " (learning rate " << t.lr << ", " << t.schedule << " schedule, batch " << t.batch_size << ")";
  s << " in " << seconds_text(t.wall_seconds) << "; best epoch " << t.best_epoch << (t.stopped_early ? " (stopped early)" : "");
  if (t.test_accuracy)
    s << "; top-1 " << detail::fmt_percent(t.test_accuracy) << " on " << t.test_images << " images of " << t.test_dataset;
  s << ".";
  return s.str();
}

std::vector<std::pair<std::string, std::string>> quant_facts(const QuantSummary& q) {
  std::vector<std::pair<std::string, std::string>> out = {{"mode", q.mode}};
  if (!q.method.empty())
    out.emplace_back("calibration", q.method + " on " + std::to_string(q.calibration_samples) + " training images");
  out.emplace_back("weights", q.weights);
  out.emplace_back("activations", q.activation_type);
  if (q.fp32_bytes > 0 && q.quant_bytes > 0)
    out.emplace_back("file size", detail::fmt_bytes(q.fp32_bytes) + " → " + detail::fmt_bytes(q.quant_bytes) + " (" +
                                      fmt_fixed(static_cast<double>(q.fp32_bytes) / static_cast<double>(q.quant_bytes), 1) +
                                      "x smaller)");
  int quantized = 0;
  for (const auto& l : q.layers) quantized += l.quantized ? 1 : 0;
  out.emplace_back("layers", std::to_string(quantized) + " of " + std::to_string(q.layers.size()) + " in int8");
  return out;
}

std::string epoch_value(const std::optional<double>& v, bool percent) {
  if (!v) return detail::kMissing;
  return percent ? detail::fmt_percent(v) : fmt_fixed(*v, 4);
}

std::vector<std::string> epoch_cells(const EpochLog& e) {
  return {std::to_string(e.epoch),        epoch_value(e.train_loss, false),    epoch_value(e.val_loss, false),
          epoch_value(e.train_accuracy, true), epoch_value(e.val_accuracy, true),
          e.seconds ? fmt_fixed(*e.seconds, 1) : std::string(detail::kMissing)};
}
const std::vector<std::string> kEpochHeaders = {"epoch", "train loss", "val loss", "train acc", "val acc", "seconds"};

std::vector<std::string> layer_cells(const LayerSqnr& l) {
  return {l.node, l.op, l.quantized ? "int8" : "fp32", db_text(l.weight_db), db_text(l.output_db), l.note};
}
const std::vector<std::string> kLayerHeaders = {"node", "op", "runs in", "weight SQNR", "output SQNR", "note"};

std::string md_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
  std::ostringstream s;
  s << '|';
  for (const auto& h : headers) s << ' ' << h << " |";
  s << "\n|";
  for (size_t i = 0; i < headers.size(); ++i) s << (i ? "---:|" : "---|");
  s << "\n";
  for (const auto& r : rows) {
    s << '|';
    for (const auto& c : r) {
      std::string cell = c;
      for (size_t p = cell.find('|'); p != std::string::npos; p = cell.find('|', p + 2)) cell.replace(p, 1, "\\|");
      s << ' ' << cell << " |";
    }
    s << "\n";
  }
  return s.str();
}

std::string html_table(const std::string& cls, const std::string& caption, const std::vector<std::string>& headers,
                       const std::vector<std::vector<std::string>>& rows) {
  std::ostringstream s;
  s << "<table class=\"" << cls << "\">\n";
  if (!caption.empty()) s << "<caption>" << xml_escape(caption) << "</caption>\n";
  s << "<thead><tr>";
  for (const auto& h : headers) s << "<th scope=\"col\">" << xml_escape(h) << "</th>";
  s << "</tr></thead>\n<tbody>\n";
  for (const auto& r : rows) {
    s << "<tr>";
    for (size_t i = 0; i < r.size(); ++i) {
      const std::string cell = xml_escape(r[i]);
      s << (i == 0 ? "<th scope=\"row\">" + cell + "</th>" : (r[i] == "n/a" ? "<td class=\"na\">" : "<td>") + cell + "</td>");
    }
    s << "</tr>\n";
  }
  s << "</tbody>\n</table>\n";
  return s.str();
}

std::string html_facts(const std::vector<std::pair<std::string, std::string>>& facts) {
  std::ostringstream s;
  s << "<dl class=\"facts\">\n";
  for (const auto& [k, v] : facts) s << "<dt>" << xml_escape(k) << "</dt><dd>" << xml_escape(v) << "</dd>\n";
  s << "</dl>\n";
  return s.str();
}

// What the page shows in the "all measurements" section: bench's Markdown without its title line.
std::string bench_markdown_body(const Report& r) {
  const std::string md = render_markdown(r);
  const size_t first = md.find('\n');
  return first == std::string::npos ? md : md.substr(first + 1);
}

const char* kStyle =
    "body{font-family:system-ui,sans-serif;line-height:1.45;max-width:1100px;margin:0 auto;padding:1em;color:#1d2329}"
    "p,li{overflow-wrap:anywhere}.bench td,.bench th{white-space:nowrap}"
    "h1{font-size:1.7em}h2{border-bottom:1px solid #d8dde3;padding-bottom:.2em;margin-top:1.8em}"
    "table{border-collapse:collapse;margin:.8em 0;font-size:.92em}caption{text-align:left;font-weight:600;padding:.3em 0}"
    "th,td{border:1px solid #d8dde3;padding:.3em .6em;text-align:right}th[scope=row],thead th{text-align:left}"
    "thead th{background:#f1f4f7}td.na{color:#777}.summary th[scope=row]{font-weight:600}"
    ".scroll{overflow-x:auto}.summary td{white-space:nowrap}.headline{font-size:1.08em}.skipped,.note{color:#555;font-size:.92em}"
    "figure{margin:1.2em 0;overflow-x:auto}figure svg{max-width:100%;min-width:600px;height:auto;display:block}figcaption{color:#555;font-size:.9em}"
    ".pair{display:flex;flex-wrap:wrap;gap:1em}.pair figure{flex:1 1 420px}.pair svg{min-width:0}"
    "dl.facts{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}"
    "pre{background:#f1f4f7;padding:.8em;overflow-x:auto}";

}  // namespace

std::string render_demo_markdown(const DemoPage& p) {
  std::ostringstream s;
  s << "# " << p.title << "\n\n";
  if (!p.pipeline.empty()) s << p.pipeline << "\n\n";
  s << "## Summary\n\n" << render_summary_markdown(summarize_report(p.bench)) << "\n";
  if (const std::string t = timing_sentence(p); !t.empty()) s << t << "\n\n";
  s << "## Charts\n\n";
  for (const ChartFile& c : chart_files(p)) s << "![" << c.caption << "](" << c.file << ")\n\n";
  s << "## All measurements\n\n" << bench_markdown_body(p.bench) << "\n";
  for (const auto* q : {&p.quant_static, &p.quant_dynamic}) {
    if (!*q) continue;
    s << "## Quantization (" << (*q)->mode << "): per-layer SQNR\n\n";
    for (const auto& [k, v] : quant_facts(**q)) s << "- " << k << ": " << v << "\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : (*q)->layers) rows.push_back(layer_cells(l));
    s << "\n" << md_table(kLayerHeaders, rows) << "\nn/a: the layer has no SQNR of its own (no weights, such as MaxPool and "
      << "Flatten, or it stays fp32).\n\n";
  }
  if (p.training) {
    s << "## Training\n\n" << training_sentence(*p.training) << "\n\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : p.training->epochs) rows.push_back(epoch_cells(e));
    s << md_table(kEpochHeaders, rows) << "\n";
  }
  if (!p.serve_commands.empty()) {
    s << "## How to serve it\n\n```sh\n";
    for (const auto& c : p.serve_commands) s << c << "\n";
    s << "```\n\nThe model files carry their labels, mean/std, input size and calibration in ONNX metadata "
         "(`edgeq inspect --json`).\n\n";
  }
  if (!p.app_link.empty()) {
    s << "## Browser app\n\n[The app](" << p.app_link << ") runs these models in the browser (edgeq wasm int8 / fp32, "
      << "onnxruntime-web WebGPU / WASM). Its page needs HTTP with cross-origin isolation, not a file: URL:\n\n```sh\n"
      << p.app_serve_command << "\n```\n\n";
  }
  if (!p.files.empty()) {
    s << "## Files\n\n";
    for (const auto& [label, path] : p.files) s << "- [" << label << "](" << path << ")\n";
  }
  return s.str();
}

std::string render_demo_html(const DemoPage& p) {
  std::ostringstream s;
  s << "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" << xml_escape(p.title)
    << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<header>\n<h1>" << xml_escape(p.title) << "</h1>\n";
  if (!p.pipeline.empty()) s << "<p>" << xml_escape(p.pipeline) << "</p>\n";
  s << "</header>\n<main>\n<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"scroll\">\n"
    << render_summary_html(summarize_report(p.bench)) << "</div>\n";
  if (const std::string t = timing_sentence(p); !t.empty()) s << "<p class=\"note\">" << xml_escape(t) << "</p>\n";
  s << "</section>\n";

  s << "<section id=\"charts\">\n<h2>Charts</h2>\n";
  s << "<figure>\n" << render_latency_svg(p.bench) << "<figcaption>" << xml_escape(chart_files(p)[0].caption) << "</figcaption>\n</figure>\n";
  s << "<figure>\n" << render_size_svg(p.bench) << "<figcaption>" << xml_escape(chart_files(p)[1].caption)
    << "</figcaption>\n</figure>\n<figure>\n" << render_accuracy_svg(p.bench) << "<figcaption>"
    << xml_escape(chart_files(p)[2].caption) << "</figcaption>\n</figure>\n</section>\n";

  for (const auto* q : {&p.quant_static, &p.quant_dynamic}) {
    if (!*q) continue;
    const QuantSummary& quant = **q;
    s << "<section id=\"quant-" << xml_escape(quant.mode) << "\">\n<h2>Quantization (" << xml_escape(quant.mode) << ")</h2>\n"
      << html_facts(quant_facts(quant));
    if (&p.quant_static == q) s << "<figure>\n" << render_sqnr_chart(quant) << "</figure>\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : quant.layers) rows.push_back(layer_cells(l));
    s << "<div class=\"scroll\">\n" << html_table("layers", "Per-layer SQNR (" + quant.mode + ")", kLayerHeaders, rows)
      << "</div>\n<p class=\"note\">n/a: the layer has no SQNR of its own (no weights, such as MaxPool and Flatten, or it "
         "stays fp32).</p>\n</section>\n";
  }

  if (p.training) {
    s << "<section id=\"training\">\n<h2>Training</h2>\n<p>" << xml_escape(training_sentence(*p.training)) << "</p>\n";
    if (!p.training->epochs.empty())
      s << "<div class=\"pair\">\n<figure>\n" << render_training_chart(*p.training, false) << "</figure>\n<figure>\n"
        << render_training_chart(*p.training, true) << "</figure>\n</div>\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : p.training->epochs) rows.push_back(epoch_cells(e));
    s << html_table("epochs", "Per epoch", kEpochHeaders, rows) << "</section>\n";
  }

  s << "<section id=\"measurements\">\n<h2>All measurements</h2>\n<ul>\n<li>Machine: "
    << xml_escape(detail::machine_line(p.bench.machine)) << "</li>\n<li>Protocol: " << xml_escape(detail::protocol_line(p.bench.protocol))
    << "</li>\n";
  for (const auto& [runtime, ver] : p.bench.versions) s << "<li>" << xml_escape(runtime) << ": " << xml_escape(ver) << "</li>\n";
  s << "</ul>\n";
  std::vector<std::string> headers;
  for (const auto& c : detail::table_columns()) headers.emplace_back(c.header);
  std::vector<std::vector<std::string>> rows;
  for (const Row& r : p.bench.rows) rows.push_back(detail::row_cells(r));
  s << "<div class=\"scroll\">\n" << html_table("bench", "", headers, rows) << "</div>\n<ul class=\"note\">\n";
  for (const auto& n : p.bench.notes) s << "<li>" << xml_escape(n) << "</li>\n";
  s << "</ul>\n</section>\n";

  if (!p.serve_commands.empty()) {
    s << "<section id=\"serve\">\n<h2>How to serve it</h2>\n<pre><code>";
    for (const auto& c : p.serve_commands) s << xml_escape(c) << "\n";
    s << "</code></pre>\n<p>The model files carry their labels, mean/std, input size and calibration in ONNX metadata "
         "(<code>edgeq inspect --json</code>).</p>\n</section>\n";
  }
  if (!p.app_link.empty()) {
    s << "<section id=\"app\">\n<h2>Browser app</h2>\n<p><a href=\"" << xml_escape(p.app_link) << "\">The app</a> runs "
      << "these models in the browser (edgeq wasm int8 / fp32, onnxruntime-web WebGPU / WASM). Its page needs HTTP with "
      << "cross-origin isolation, not a file: URL:</p>\n<pre><code>" << xml_escape(p.app_serve_command) << "\n</code></pre>\n</section>\n";
  }
  if (!p.files.empty()) {
    s << "<section id=\"files\">\n<h2>Files</h2>\n<ul>\n";
    for (const auto& [label, path] : p.files)
      s << "<li><a href=\"" << xml_escape(path) << "\">" << xml_escape(label) << "</a></li>\n";
    s << "</ul>\n</section>\n";
  }
  s << "</main>\n</body>\n</html>\n";
  return s.str();
}

}  // namespace edgeq::bench
