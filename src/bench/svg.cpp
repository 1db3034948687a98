// Hand-written SVG bar charts: horizontal bars (labels need the room), one optional whisker per
// bar, skipped rows listed under the chart with their reason. No dependencies, valid standalone SVG.
#include <algorithm>
#include <set>
#include <sstream>

#include "bench/format.h"
#include "edgeq/bench.h"

namespace edgeq::bench {
namespace {

struct Bar {
  std::string label;
  double value = 0;
  std::optional<double> whisker;  // drawn from value to here (p95 beside a p50 bar)
  std::string value_text;
  bool edgeq = false;             // edgeq's own rows get their own colour
};

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v) { return detail::fmt_fixed(v, 1); }

std::string bar_chart(const std::string& title, const std::string& axis_note, const std::vector<Bar>& bars,
                      const std::vector<std::string>& skipped, std::optional<double> fixed_max = std::nullopt) {
  constexpr double kWidth = 900, kLabelWidth = 330, kValueWidth = 130, kRowHeight = 24, kTop = 50;
  const double plot_width = kWidth - kLabelWidth - kValueWidth;
  double max_value = fixed_max.value_or(0.0);
  if (!fixed_max)
    for (const Bar& b : bars) max_value = std::max({max_value, b.value, b.whisker.value_or(0.0)});
  if (max_value <= 0) max_value = 1;
  const double height = kTop + kRowHeight * static_cast<double>(std::max<size_t>(bars.size(), 1)) + 30 +
                        18 * static_cast<double>(skipped.size()) + 10;
  auto x_of = [&](double v) { return kLabelWidth + plot_width * std::clamp(v / max_value, 0.0, 1.0); };

  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(kWidth) << "\" height=\"" << num(height)
    << "\" viewBox=\"0 0 " << num(kWidth) << ' ' << num(height) << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s << "<title>" << xml_escape(title) << "</title>\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  s << "<text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">" << xml_escape(title) << "</text>\n";
  s << "<text x=\"10\" y=\"40\" fill=\"#555555\">" << xml_escape(axis_note) << "</text>\n";
  double y = kTop;
  if (bars.empty()) s << "<text x=\"10\" y=\"" << num(y + 16) << "\" fill=\"#555555\">no measured rows</text>\n";
  for (const Bar& b : bars) {
    const double bar_y = y + 4, bar_h = kRowHeight - 8, mid = y + kRowHeight / 2;
    s << "<g>\n<text x=\"" << num(kLabelWidth - 8) << "\" y=\"" << num(mid + 4) << "\" text-anchor=\"end\">"
      << xml_escape(b.label) << "</text>\n";
    s << "<rect x=\"" << num(kLabelWidth) << "\" y=\"" << num(bar_y) << "\" width=\""
      << num(x_of(b.value) - kLabelWidth) << "\" height=\"" << num(bar_h) << "\" fill=\""
      << (b.edgeq ? "#2b7bb9" : "#9aa5b1") << "\"/>\n";
    double text_x = x_of(b.value);
    if (b.whisker) {
      const double x0 = x_of(b.value), x1 = x_of(*b.whisker);
      s << "<line x1=\"" << num(x0) << "\" y1=\"" << num(mid) << "\" x2=\"" << num(x1) << "\" y2=\"" << num(mid)
        << "\" stroke=\"#222222\" stroke-width=\"1.5\"/>\n";
      s << "<line x1=\"" << num(x1) << "\" y1=\"" << num(bar_y + 2) << "\" x2=\"" << num(x1) << "\" y2=\""
        << num(bar_y + bar_h - 2) << "\" stroke=\"#222222\" stroke-width=\"1.5\"/>\n";
      text_x = std::max(text_x, x1);
    }
    s << "<text x=\"" << num(text_x + 6) << "\" y=\"" << num(mid + 4) << "\">" << xml_escape(b.value_text)
      << "</text>\n</g>\n";
    y += kRowHeight;
  }
  y = kTop + kRowHeight * static_cast<double>(std::max<size_t>(bars.size(), 1)) + 20;
  for (const std::string& line : skipped) {
    s << "<text x=\"10\" y=\"" << num(y) << "\" fill=\"#a33a3a\">" << xml_escape(line) << "</text>\n";
    y += 18;
  }
  s << "</svg>\n";
  return s.str();
}

std::vector<std::string> skipped_lines(const Report& report) {
  std::vector<std::string> lines;
  for (const Row& r : report.rows)
    if (!r.ok()) lines.push_back(detail::row_label(r) + ": " + r.status);
  return lines;
}

}  // namespace

std::string render_latency_svg(const Report& report) {
  std::vector<Bar> bars;
  for (const Row& r : report.rows) {
    if (!r.ok() || !r.p50_ms) continue;
    Bar b{detail::row_label(r), *r.p50_ms, r.p95_ms,
          "p50 " + detail::fmt_ms(r.p50_ms) + " / p95 " + detail::fmt_ms(r.p95_ms) + " ms", r.is_edgeq()};
    bars.push_back(std::move(b));
  }
  return bar_chart(report.title + ": latency", "batch 1, ms per call: bar = p50, whisker = p95 (shorter is better)",
                   bars, skipped_lines(report));
}

std::string render_size_svg(const Report& report) {
  // One bar per file: the same file appears once per engine in the rows.
  std::vector<Bar> bars;
  std::set<std::pair<std::string, std::string>> seen;
  for (const Row& r : report.rows) {
    if (!r.size_bytes || !seen.insert({r.model, r.precision}).second) continue;
    bars.push_back({r.model + " / " + r.precision, static_cast<double>(*r.size_bytes) / 1024.0, std::nullopt,
                    detail::fmt_bytes(r.size_bytes), false});
  }
  return bar_chart(report.title + ": model size", "size on disk, KiB", bars, skipped_lines(report));
}

std::string render_accuracy_svg(const Report& report) {
  std::vector<Bar> bars;
  for (const Row& r : report.rows) {
    if (!r.ok() || !r.top1) continue;
    std::string text = detail::fmt_percent(r.top1);
    if (r.agreement) text += " (agree " + detail::fmt_percent(r.agreement) + ")";
    bars.push_back({detail::row_label(r), *r.top1 * 100.0, std::nullopt, text, r.is_edgeq()});
  }
  return bar_chart(report.title + ": accuracy", "top-1 on the test set, % (scale 0-100)", bars,
                   skipped_lines(report), 100.0);
}

}  // namespace edgeq::bench
