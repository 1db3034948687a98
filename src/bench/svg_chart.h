// Two chart shapes as standalone SVG, laid out from estimated text widths (detail::text_width in
// edgeq/report.h) so that every label lies inside the viewBox: horizontal bar charts in groups
// (linear or log axis, an optional whisker per bar, an optional reference line per group) and line
// charts (one polyline per series, a legend). The report's charts (charts.cpp) fill them in.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace edgeq::bench::svg {

struct Bar {
  std::string label;
  std::optional<double> value;    // nullopt: no bar, "n/a" in the plot (value_text says why)
  std::optional<double> whisker;  // drawn from value to here; clipped at the axis end
  std::string value_text;         // right of the plot
  bool highlight = false;         // edgeq's own rows
};

struct BarGroup {
  std::string heading;               // "" = no heading row
  std::vector<Bar> bars;
  std::optional<double> reference;   // dashed vertical line across the group's bars
};

struct BarChart {
  std::string title, subtitle, axis_label;
  std::vector<BarGroup> groups;
  bool log_axis = false;
  double lo = 0, hi = 1;  // axis range; log: lo > 0
};

struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;  // (x, y), ascending x
  bool dashed = false;
};

struct LineChart {
  std::string title, subtitle, x_label;
  std::vector<Series> series;
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
};

std::string render(const BarChart& chart);
std::string render(const LineChart& chart);

// Axis helpers: a "nice" linear range end (1, 2, 5 x 10^k at or above v) and log decades around [lo, hi].
double nice_ceil(double v);
double decade_floor(double v);
double decade_ceil(double v);
std::string tick_label(double v);  // "0.005", "20", "1e+04"

inline constexpr const char* kHighlight = "#1f6fb2";
inline constexpr const char* kMuted = "#a3adb8";

}  // namespace edgeq::bench::svg
