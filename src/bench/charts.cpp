// The report's charts: which rows become which bars, on which axis. Layout and drawing are
// svg_chart.cpp's.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "bench/format.h"
#include "bench/svg_chart.h"
#include "edgeq/bench.h"
#include "edgeq/report.h"

namespace edgeq::bench {
namespace {

using detail::family_of;
using detail::fmt_fixed;
using detail::precision_rank;

std::string threads_text(int threads) {
  return threads <= 0 ? std::string() : std::to_string(threads) + (threads == 1 ? " thread" : " threads");
}

// Groups of rows in display order: model (first appearance), precision rank, thread count.
using GroupKey = std::tuple<size_t, int, std::string, int>;

GroupKey group_key(const Row& r, std::map<std::string, size_t>& family_order) {
  const size_t f = family_order.try_emplace(family_of(r), family_order.size()).first->second;
  return {f, precision_rank(r.precision), r.precision, r.threads};
}

const char* kNoRows = "no measured rows";

svg::BarGroup empty_group() {
  svg::BarGroup g;
  g.bars.push_back({kNoRows, std::nullopt, std::nullopt, kNoRows, false});
  return g;
}

}  // namespace

std::string render_latency_svg(const Report& report) {
  std::map<std::string, size_t> family_order;
  std::map<GroupKey, std::vector<const Row*>> groups;
  double min_p50 = 0, max_p50 = 0;
  for (const Row& r : report.rows) {
    if (!r.ok() || !r.p50_ms || *r.p50_ms <= 0) continue;
    groups[group_key(r, family_order)].push_back(&r);
    min_p50 = min_p50 == 0 ? *r.p50_ms : std::min(min_p50, *r.p50_ms);
    max_p50 = std::max(max_p50, *r.p50_ms);
  }
  svg::BarChart chart;
  chart.title = report.title + ": latency";
  chart.subtitle = "batch 1, ms per call, log scale: bar = p50, whisker = p95 (shorter is better); edgeq in blue";
  chart.axis_label = "ms per call (log scale)";
  chart.log_axis = true;
  chart.lo = min_p50 > 0 ? svg::decade_floor(min_p50 * 0.8) : 0.001;
  // Room for every p50 and for whiskers up to 3x the slowest p50; longer ones are clipped (labelled).
  chart.hi = max_p50 > 0 ? svg::decade_ceil(max_p50 * 3) : 1;
  for (auto& [key, rows] : groups) {
    std::stable_sort(rows.begin(), rows.end(), [](const Row* a, const Row* b) {
      if (a->is_edgeq() != b->is_edgeq()) return a->is_edgeq();
      return *a->p50_ms < *b->p50_ms;
    });
    svg::BarGroup g;
    const Row& first = *rows.front();
    g.heading = family_of(first) + " · " + first.precision + (first.threads > 0 ? " · " + threads_text(first.threads) : "");
    for (const Row* r : rows) {
      std::string text = "p50 " + detail::fmt_ms(r->p50_ms) + " ms";
      if (r->p95_ms) {
        text += ", p95 " + detail::fmt_ms(r->p95_ms) + " ms";
        if (*r->p95_ms > chart.hi) text += " (whisker clipped)";
      }
      g.bars.push_back({r->engine, r->p50_ms, r->p95_ms, text, r->is_edgeq()});
    }
    chart.groups.push_back(std::move(g));
  }
  if (chart.groups.empty()) chart.groups.push_back(empty_group());
  return svg::render(chart);
}

std::string render_size_svg(const Report& report) {
  // One bar per file: the same file appears once per engine and thread count in the rows.
  std::map<std::string, size_t> family_order;
  std::map<std::pair<size_t, std::string>, svg::BarGroup> groups;
  std::map<std::string, int64_t> fp32_bytes;
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<const Row*> files;
  double max_kib = 0;
  for (const Row& r : report.rows) {
    if (!r.size_bytes || !seen.insert({r.model, r.precision}).second) continue;
    files.push_back(&r);
    if (r.precision == "fp32") fp32_bytes.try_emplace(family_of(r), *r.size_bytes);
    max_kib = std::max(max_kib, static_cast<double>(*r.size_bytes) / 1024.0);
  }
  std::stable_sort(files.begin(), files.end(),
                   [](const Row* a, const Row* b) { return precision_rank(a->precision) < precision_rank(b->precision); });
  for (const Row* r : files) {
    const size_t f = family_order.try_emplace(family_of(*r), family_order.size()).first->second;
    svg::BarGroup& g = groups[{f, family_of(*r)}];
    g.heading = family_of(*r);
    std::string text = detail::fmt_bytes(r->size_bytes);
    const auto fp32 = fp32_bytes.find(family_of(*r));
    if (r->precision != "fp32" && fp32 != fp32_bytes.end() && *r->size_bytes > 0)
      text += " (" + fmt_fixed(static_cast<double>(fp32->second) / static_cast<double>(*r->size_bytes), 1) + "x smaller)";
    g.bars.push_back({r->precision + (r->model != r->precision ? " (" + r->model + ")" : ""),
                      static_cast<double>(*r->size_bytes) / 1024.0, std::nullopt, text, r->precision != "fp32"});
  }
  svg::BarChart chart;
  chart.title = report.title + ": model size";
  chart.subtitle = "size of the ONNX file on disk (smaller is better)";
  chart.axis_label = "KiB";
  chart.hi = svg::nice_ceil(max_kib * 1.05);
  for (auto& [key, g] : groups) chart.groups.push_back(std::move(g));
  if (chart.groups.empty()) chart.groups.push_back(empty_group());
  return svg::render(chart);
}

std::string render_accuracy_svg(const Report& report) {
  std::map<std::string, size_t> family_order;
  std::map<std::pair<size_t, std::string>, std::vector<const Row*>> groups;
  std::set<std::tuple<std::string, std::string, std::string>> seen;  // accuracy does not depend on threads
  double lo = 100, hi = 0;
  for (const Row& r : report.rows) {
    if (!r.ok() || !r.top1 || !seen.insert({r.model, r.engine, r.precision}).second) continue;
    const size_t f = family_order.try_emplace(family_of(r), family_order.size()).first->second;
    groups[{f, family_of(r)}].push_back(&r);
    lo = std::min(lo, *r.top1 * 100);
    hi = std::max(hi, *r.top1 * 100);
  }
  svg::BarChart chart;
  chart.title = report.title + ": accuracy";
  chart.axis_label = "top-1 %";
  // Zoomed: the differences between precisions are tenths of a point, invisible on 0-100.
  chart.lo = lo <= hi ? std::max(0.0, std::floor(lo - 1.0)) : 0;
  chart.hi = lo <= hi ? std::min(100.0, std::ceil(hi + 1.0)) : 100;
  chart.subtitle = "top-1 on the test set, axis from " + svg::tick_label(chart.lo) + " to " + svg::tick_label(chart.hi) +
                   " %; dashed line: the fp32 model on edgeq";
  for (auto& [key, rows] : groups) {
    std::stable_sort(rows.begin(), rows.end(), [](const Row* a, const Row* b) {
      if (precision_rank(a->precision) != precision_rank(b->precision))
        return precision_rank(a->precision) < precision_rank(b->precision);
      return a->is_edgeq() && !b->is_edgeq();
    });
    svg::BarGroup g;
    g.heading = key.second;
    for (const Row* r : rows) {
      if (r->is_edgeq() && r->precision == "fp32") g.reference = *r->top1 * 100;
      std::string text = detail::fmt_percent(r->top1);
      if (r->agreement && r->precision != "fp32") text += " (agrees with fp32 on " + detail::fmt_percent(r->agreement) + ")";
      g.bars.push_back({r->precision + " · " + r->engine, *r->top1 * 100, std::nullopt, text, r->is_edgeq()});
    }
    chart.groups.push_back(std::move(g));
  }
  if (chart.groups.empty()) chart.groups.push_back(empty_group());
  return svg::render(chart);
}

std::string render_sqnr_chart(const QuantSummary& quant) {
  svg::BarChart chart;
  chart.title = "Per-layer SQNR (" + quant.mode + " int8)";
  chart.subtitle = "signal-to-quantization-noise ratio of each layer's output vs fp32, dB (higher is better)";
  chart.axis_label = "dB";
  svg::BarGroup g;
  double max_db = 0;
  for (const LayerSqnr& l : quant.layers) {
    std::string text;
    if (l.output_db) {
      text = fmt_fixed(*l.output_db, 1) + " dB";
      if (l.weight_db) text += " (weights " + fmt_fixed(*l.weight_db, 1) + " dB)";
      max_db = std::max({max_db, *l.output_db, l.weight_db.value_or(0.0)});
    } else {
      text = l.quantized ? "n/a: " + l.op + " has no SQNR of its own" : "n/a: kept fp32" + (l.note.empty() ? "" : " (" + l.note + ")");
    }
    g.bars.push_back({l.node + " · " + l.op, l.output_db, std::nullopt, text, l.output_db.has_value()});
  }
  if (g.bars.empty()) g = empty_group();
  chart.groups.push_back(std::move(g));
  chart.hi = svg::nice_ceil(std::max(max_db * 1.05, 10.0));
  return svg::render(chart);
}

std::string render_training_chart(const TrainingLog& log, bool accuracy) {
  svg::LineChart chart;
  chart.title = accuracy ? "Training: accuracy per epoch" : "Training: loss per epoch";
  chart.x_label = "epoch";
  struct Pick {
    const char* name;
    std::optional<double> EpochLog::*field;
    const char* color;
    bool dashed;
  };
  const std::vector<Pick> picks = accuracy ? std::vector<Pick>{{"train", &EpochLog::train_accuracy, svg::kHighlight, false},
                                                               {"validation", &EpochLog::val_accuracy, "#c0392b", true}}
                                           : std::vector<Pick>{{"train", &EpochLog::train_loss, svg::kHighlight, false},
                                                               {"validation", &EpochLog::val_loss, "#c0392b", true}};
  const double scale = accuracy ? 100.0 : 1.0;
  double lo = 1e300, hi = -1e300;
  for (const Pick& p : picks) {
    svg::Series s{p.name, p.color, {}, p.dashed};
    for (const EpochLog& e : log.epochs)
      if (e.*(p.field)) {
        const double v = *(e.*(p.field)) * scale;
        s.points.emplace_back(e.epoch, v);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    if (!s.points.empty()) chart.series.push_back(std::move(s));
  }
  if (accuracy && log.test_accuracy)
    chart.subtitle = "%, train and validation split; test top-1 after training " + detail::fmt_percent(log.test_accuracy);
  else
    chart.subtitle = accuracy ? "%, train and validation split" : "cross-entropy, train and validation split";
  if (lo > hi) {
    lo = 0;
    hi = 1;
  }
  const double pad = std::max((hi - lo) * 0.1, accuracy ? 1.0 : 0.05);
  const double step = svg::nice_ceil((hi - lo + 2 * pad) / 6);
  chart.y_lo = std::max(0.0, std::floor((lo - pad) / step) * step);
  chart.y_hi = std::ceil((hi + pad) / step) * step;
  if (accuracy) chart.y_hi = std::min(chart.y_hi, 100.0);
  chart.x_lo = 1;
  chart.x_hi = std::max<double>(2, log.epochs.empty() ? 1 : log.epochs.back().epoch);
  return svg::render(chart);
}

}  // namespace edgeq::bench
