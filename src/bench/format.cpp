#include "bench/format.h"

#include <cstdio>

namespace edgeq::bench::detail {

std::string fmt_fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  return buf;
}

std::string fmt_ms(std::optional<double> ms) {
  if (!ms) return kMissing;
  // Sub-millisecond figures need microsecond resolution; long ones do not need more than 10 us.
  return fmt_fixed(*ms, *ms < 10.0 ? 3 : 2);
}

std::string fmt_bytes(std::optional<int64_t> bytes) {
  if (!bytes) return kMissing;
  const double b = static_cast<double>(*bytes);
  if (b < 1024.0) return std::to_string(*bytes) + " B";
  if (b < 1024.0 * 1024.0) return fmt_fixed(b / 1024.0, 1) + " KiB";
  return fmt_fixed(b / (1024.0 * 1024.0), 2) + " MiB";
}

std::string fmt_percent(std::optional<double> fraction) {
  if (!fraction) return kMissing;
  return fmt_fixed(*fraction * 100.0, 2) + " %";
}

std::string fmt_ratio(std::optional<double> ratio) {
  if (!ratio) return kMissing;
  return fmt_fixed(*ratio, 2) + "x";
}

std::string fmt_rate(std::optional<double> per_second) {
  if (!per_second) return kMissing;
  return fmt_fixed(*per_second, 0) + "/s";
}

std::string fmt_sci(std::optional<double> value) {
  if (!value) return kMissing;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2g", *value);
  return buf;
}

const std::vector<Column>& table_columns() {
  static const std::vector<Column> columns = {
      {"model", false},     {"engine", false},       {"precision", false},   {"thr", true},   {"size", true},
      {"p50 ms", true},     {"p95 ms", true},        {"p99 ms", true},       {"mean ms", true},
      {"spread", true},     {"b64 items/s", true},   {"top-1", true},        {"agree fp32", true},
      {"max abs dlogit", true}, {"session ms", true},  {"peak RSS", true},     {"edgeq/best peer", true},
      {"status", false}};
  return columns;
}

std::vector<std::string> row_cells(const Row& r) {
  return {r.model,
          r.engine,
          r.precision,
          r.threads > 0 ? std::to_string(r.threads) : kMissing,
          fmt_bytes(r.size_bytes),
          fmt_ms(r.p50_ms),
          fmt_ms(r.p95_ms),
          fmt_ms(r.p99_ms),
          fmt_ms(r.mean_ms),
          fmt_percent(r.spread),
          fmt_rate(r.throughput_b64),
          fmt_percent(r.top1),
          fmt_percent(r.agreement),
          fmt_sci(r.max_logit_diff),
          fmt_ms(r.session_ms),
          fmt_bytes(r.peak_rss_bytes),
          fmt_ratio(r.ratio_vs_best_peer),
          r.note.empty() ? r.status : r.status + " (" + r.note + ")"};
}

const std::string& family_of(const Row& row) { return row.family.empty() ? row.model : row.family; }

int precision_rank(const std::string& precision) {
  if (precision == "fp32") return 0;
  if (precision == "int8-static") return 1;
  if (precision == "int8-dynamic") return 2;
  return 3;
}

bool at_summary_threads(const Row& row, const Report& report) {
  return row.threads == 0 || report.protocol.threads == 0 || row.threads == report.protocol.threads;
}

}  // namespace edgeq::bench::detail
