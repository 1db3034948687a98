// Layout first, drawing second: every column is as wide as its widest label (estimated wide, see
// text_width), the plot gets what is left of a minimum width, and the viewBox is the sum, so a long
// engine name widens the chart instead of being cut at its edge.
#include "bench/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "edgeq/report.h"

namespace edgeq::bench {

namespace detail {

double text_width(std::string_view text, double font_size, bool bold) {
  // Fractions of the font size, at or above DejaVu Sans's advances (Debian's sans-serif, the widest of
  // the common ones): digits 0.636, lower case up to 0.98 ("m"), capitals up to 1.0 ("W").
  double em = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      if ((c & 0xC0) != 0x80) em += 1.0;  // one code point (its first byte): "·", "Δ", "×"
      continue;
    }
    if (std::string_view(" .,:;'|!il()[]").find(static_cast<char>(c)) != std::string_view::npos) em += 0.42;
    else if (std::string_view("mwMW@%").find(static_cast<char>(c)) != std::string_view::npos) em += 1.0;
    else if (c >= 'A' && c <= 'Z') em += 0.8;
    else em += 0.66;
  }
  return em * font_size * (bold ? 1.12 : 1.0);
}

std::string xml_escape(std::string_view s) {
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

}  // namespace detail

namespace svg {
namespace {

using detail::text_width;
using detail::xml_escape;

constexpr double kMargin = 12, kTitleSize = 16, kTextSize = 13, kSmallSize = 12;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// One <text>; anchor "start", "middle" or "end".
std::string text(double x, double y, const std::string& content, double size, const char* anchor = "start",
                 const char* extra = "") {
  std::ostringstream s;
  s << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\" font-size=\"" << num(size) << "\"";
  if (std::string_view(anchor) != "start") s << " text-anchor=\"" << anchor << "\"";
  if (*extra) s << ' ' << extra;
  s << '>' << xml_escape(content) << "</text>\n";
  return s.str();
}

std::string open_svg(double width, double height, const std::string& title) {
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << num(width) << ' ' << num(height) << "\" width=\""
    << num(width) << "\" height=\"" << num(height) << "\" font-family=\"sans-serif\" role=\"img\">\n"
    << "<title>" << xml_escape(title) << "</title>\n"
    << "<rect width=\"" << num(width) << "\" height=\"" << num(height) << "\" fill=\"#ffffff\"/>\n";
  return s.str();
}

struct Axis {
  bool log = false;
  double lo = 0, hi = 1, x0 = 0, x1 = 1;
  double x(double v) const {
    double f = 0;
    if (log) f = (std::log10(std::max(v, lo)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    else f = (v - lo) / (hi - lo);
    return x0 + (x1 - x0) * std::clamp(f, 0.0, 1.0);
  }
  std::vector<double> ticks() const {
    std::vector<double> out;
    if (log) {
      for (int k = static_cast<int>(std::floor(std::log10(lo))); k <= static_cast<int>(std::ceil(std::log10(hi))); ++k)
        for (double m : {1.0, 2.0, 5.0}) {
          const double v = m * std::pow(10.0, k);
          if (v >= lo * 0.999 && v <= hi * 1.001) out.push_back(v);
        }
      if (out.size() > 9) std::erase_if(out, [](double v) { return std::abs(std::log10(v) - std::round(std::log10(v))) > 1e-9; });
      return out;
    }
    const double step = nice_ceil((hi - lo) / 6);
    for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-6; v += step) out.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
};

}  // namespace

double nice_ceil(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= v * (1 - 1e-12)) return m * p;
  return 10 * p;
}

double decade_floor(double v) { return std::pow(10.0, std::floor(std::log10(v))); }
double decade_ceil(double v) { return std::pow(10.0, std::ceil(std::log10(v))); }

std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string render(const BarChart& c) {
  constexpr double kRow = 22, kHeadingRow = 26, kBarHeight = 14, kGap = 10, kMinPlot = 360;
  Axis axis{c.log_axis, c.lo, c.hi > c.lo ? c.hi : c.lo + 1, 0, 0};
  if (axis.log && axis.lo <= 0) axis.lo = 1e-3;

  // Column widths from the labels.
  double label_w = 0, value_w = 0, full_w = std::max(text_width(c.title, kTitleSize, true), text_width(c.subtitle, kSmallSize));
  for (const BarGroup& g : c.groups) {
    full_w = std::max(full_w, text_width(g.heading, kTextSize, true));
    for (const Bar& b : g.bars) {
      label_w = std::max(label_w, text_width(b.label, kTextSize, b.highlight));
      value_w = std::max(value_w, text_width(b.value_text, kSmallSize));
    }
  }
  const std::vector<double> ticks = axis.ticks();
  double tick_w = 0;
  for (double t : ticks) tick_w = std::max(tick_w, text_width(tick_label(t), kSmallSize));
  axis.x0 = std::max(kMargin + label_w + kGap, kMargin + tick_w / 2);
  axis.x1 = axis.x0 + kMinPlot;
  const double value_x = axis.x1 + kGap;
  const double width = std::max({value_x + value_w + kMargin, axis.x1 + tick_w / 2 + kMargin, full_w + 2 * kMargin,
                                 axis.x0 + text_width(c.axis_label, kSmallSize) + kMargin});

  double height = c.subtitle.empty() ? 40 : 58;
  const double plot_top = height;
  for (const BarGroup& g : c.groups) height += (g.heading.empty() ? 0 : kHeadingRow) + kRow * static_cast<double>(g.bars.size());
  const double plot_bottom = height + 4;
  height = plot_bottom + 40;

  std::ostringstream s;
  s << open_svg(width, height, c.title);
  s << text(kMargin, 24, c.title, kTitleSize, "start", "font-weight=\"bold\"");
  if (!c.subtitle.empty()) s << text(kMargin, 44, c.subtitle, kSmallSize, "start", "fill=\"#444444\"");
  // Grid and axis.
  for (double t : ticks) {
    const double x = axis.x(t);
    s << "<line x1=\"" << num(x) << "\" y1=\"" << num(plot_top) << "\" x2=\"" << num(x) << "\" y2=\"" << num(plot_bottom)
      << "\" stroke=\"#e3e6ea\"/>\n";
    s << text(x, plot_bottom + 16, tick_label(t), kSmallSize, "middle", "fill=\"#444444\"");
  }
  s << "<line x1=\"" << num(axis.x0) << "\" y1=\"" << num(plot_bottom) << "\" x2=\"" << num(axis.x1) << "\" y2=\""
    << num(plot_bottom) << "\" stroke=\"#666666\"/>\n";
  s << text(axis.x0, plot_bottom + 34, c.axis_label, kSmallSize, "start", "fill=\"#444444\"");

  double y = plot_top;
  for (const BarGroup& g : c.groups) {
    if (!g.heading.empty()) {
      s << text(kMargin, y + 18, g.heading, kTextSize, "start", "font-weight=\"bold\"");
      y += kHeadingRow;
    }
    const double group_top = y;
    for (const Bar& b : g.bars) {
      const double mid = y + kRow / 2;
      s << "<g class=\"bar\">\n";
      s << text(axis.x0 - kGap, mid + 4.5, b.label, kTextSize, "end",
                b.highlight ? "font-weight=\"bold\" fill=\"#1f6fb2\"" : "fill=\"#222222\"");
      if (b.value) {
        const double x = axis.x(*b.value);
        s << "<rect x=\"" << num(axis.x0) << "\" y=\"" << num(mid - kBarHeight / 2) << "\" width=\""
          << num(std::max(x - axis.x0, 2.0)) << "\" height=\"" << num(kBarHeight) << "\" fill=\""
          << (b.highlight ? kHighlight : kMuted) << "\"/>\n";
        if (b.whisker && *b.whisker > *b.value) {
          const bool clipped = *b.whisker > axis.hi;
          const double xw = axis.x(*b.whisker);
          s << "<line x1=\"" << num(x) << "\" y1=\"" << num(mid) << "\" x2=\"" << num(xw) << "\" y2=\"" << num(mid)
            << "\" stroke=\"#222222\" stroke-width=\"1.5\"/>\n";
          if (clipped)  // an arrow head at the axis end: the whisker goes on
            s << "<path d=\"M" << num(xw - 6) << ' ' << num(mid - 4) << " L" << num(xw) << ' ' << num(mid) << " L" << num(xw - 6)
              << ' ' << num(mid + 4) << "\" fill=\"none\" stroke=\"#222222\" stroke-width=\"1.5\"/>\n";
          else
            s << "<line x1=\"" << num(xw) << "\" y1=\"" << num(mid - 5) << "\" x2=\"" << num(xw) << "\" y2=\"" << num(mid + 5)
              << "\" stroke=\"#222222\" stroke-width=\"1.5\"/>\n";
        }
      } else {
        s << text(axis.x0 + 4, mid + 4.5, "n/a", kSmallSize, "start", "fill=\"#777777\"");
      }
      s << text(value_x, mid + 4.5, b.value_text, kSmallSize, "start", b.value ? "fill=\"#222222\"" : "fill=\"#777777\"");
      s << "</g>\n";
      y += kRow;
    }
    if (g.reference) {
      const double x = axis.x(*g.reference);
      s << "<line class=\"reference\" x1=\"" << num(x) << "\" y1=\"" << num(group_top) << "\" x2=\"" << num(x) << "\" y2=\""
        << num(y) << "\" stroke=\"#c0392b\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\n";
    }
  }
  s << "</svg>\n";
  return s.str();
}

std::string render(const LineChart& c) {
  constexpr double kPlotW = 380, kPlotH = 200, kSwatch = 18;
  const Axis x_axis{false, c.x_lo, c.x_hi > c.x_lo ? c.x_hi : c.x_lo + 1, 0, 0};
  const Axis y_axis{false, c.y_lo, c.y_hi > c.y_lo ? c.y_hi : c.y_lo + 1, 0, 0};
  const std::vector<double> y_ticks = y_axis.ticks();
  double y_tick_w = 0;
  for (double t : y_ticks) y_tick_w = std::max(y_tick_w, text_width(tick_label(t), kSmallSize));
  const double plot_x0 = kMargin + y_tick_w + 8, plot_x1 = plot_x0 + kPlotW;
  double width = std::max({plot_x1 + 2 * kMargin, text_width(c.title, kTitleSize, true) + 2 * kMargin,
                           text_width(c.subtitle, kSmallSize) + 2 * kMargin});
  // Legend entries flow left to right and wrap at the chart's width.
  std::vector<std::pair<double, int>> legend_pos;  // x, line
  double lx = kMargin;
  int line = 0;
  for (const Series& sr : c.series) {
    const double w = kSwatch + 6 + text_width(sr.name, kSmallSize) + 16;
    if (lx > kMargin && lx + w > width - kMargin) {
      lx = kMargin;
      ++line;
    }
    legend_pos.emplace_back(lx, line);
    lx += w;
    width = std::max(width, lx + kMargin);
  }
  const double legend_top = c.subtitle.empty() ? 44 : 62;
  const double plot_top = legend_top + 18.0 * (line + 1) + 6, plot_bottom = plot_top + kPlotH;
  const double height = plot_bottom + 44;
  Axis xa = x_axis, ya = y_axis;
  xa.x0 = plot_x0;
  xa.x1 = plot_x1;
  ya.x0 = plot_bottom;  // y grows downwards: the axis maps lo to the bottom
  ya.x1 = plot_top;

  std::ostringstream s;
  s << open_svg(width, height, c.title);
  s << text(kMargin, 24, c.title, kTitleSize, "start", "font-weight=\"bold\"");
  if (!c.subtitle.empty()) s << text(kMargin, 44, c.subtitle, kSmallSize, "start", "fill=\"#444444\"");
  for (size_t i = 0; i < c.series.size(); ++i) {
    const auto [x, ln] = legend_pos[i];
    const double y = legend_top + 18.0 * ln;
    s << "<line x1=\"" << num(x) << "\" y1=\"" << num(y - 4) << "\" x2=\"" << num(x + kSwatch) << "\" y2=\"" << num(y - 4)
      << "\" stroke=\"" << c.series[i].color << "\" stroke-width=\"2.5\"" << (c.series[i].dashed ? " stroke-dasharray=\"5 3\"" : "")
      << "/>\n";
    s << text(x + kSwatch + 6, y, c.series[i].name, kSmallSize);
  }
  for (double t : y_ticks) {
    const double y = ya.x(t);
    s << "<line x1=\"" << num(plot_x0) << "\" y1=\"" << num(y) << "\" x2=\"" << num(plot_x1) << "\" y2=\"" << num(y)
      << "\" stroke=\"#e3e6ea\"/>\n";
    s << text(plot_x0 - 6, y + 4, tick_label(t), kSmallSize, "end", "fill=\"#444444\"");
  }
  // x ticks: integers (epochs), at most ~10 labels.
  const double span = xa.hi - xa.lo;
  const double step = std::max(1.0, nice_ceil(span / 10));
  for (double t = std::ceil(xa.lo); t <= xa.hi + 1e-9; t += step)
    s << text(xa.x(t), plot_bottom + 16, tick_label(t), kSmallSize, "middle", "fill=\"#444444\"");
  s << "<line x1=\"" << num(plot_x0) << "\" y1=\"" << num(plot_bottom) << "\" x2=\"" << num(plot_x1) << "\" y2=\""
    << num(plot_bottom) << "\" stroke=\"#666666\"/>\n";
  s << text(plot_x0, plot_bottom + 34, c.x_label, kSmallSize, "start", "fill=\"#444444\"");
  for (const Series& sr : c.series) {
    std::string points;
    for (const auto& [x, y] : sr.points) points += num(xa.x(x)) + "," + num(ya.x(y)) + " ";
    if (sr.points.size() > 1)
      s << "<polyline points=\"" << points << "\" fill=\"none\" stroke=\"" << sr.color << "\" stroke-width=\"2\""
        << (sr.dashed ? " stroke-dasharray=\"5 3\"" : "") << "/>\n";
    for (const auto& [x, y] : sr.points)
      s << "<circle cx=\"" << num(xa.x(x)) << "\" cy=\"" << num(ya.x(y)) << "\" r=\"3\" fill=\"" << sr.color << "\"/>\n";
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace svg
}  // namespace edgeq::bench
