// Number formatting and row grouping shared by the text, Markdown, SVG and summary renderers, so a
// figure reads the same in every output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "edgeq/bench.h"

namespace edgeq::bench::detail {

inline constexpr const char* kMissing = "-";

std::string fmt_ms(std::optional<double> ms);             // "0.123", "12.35"
std::string fmt_bytes(std::optional<int64_t> bytes);      // "412.0 KiB", "1.21 MiB"
std::string fmt_percent(std::optional<double> fraction);  // "91.23 %"
std::string fmt_ratio(std::optional<double> ratio);       // "0.84x"
std::string fmt_rate(std::optional<double> per_second);   // "15234/s"
std::string fmt_sci(std::optional<double> value);         // "3.1e-06"
std::string fmt_fixed(double value, int decimals);

// The cells of one row, in table column order (shared by the terminal and Markdown tables).
struct Column {
  const char* header;
  bool numeric;  // right-aligned
};
const std::vector<Column>& table_columns();
std::vector<std::string> row_cells(const Row& row);

std::string machine_line(const MachineInfo& machine);     // "AMD EPYC, 2 logical CPUs (2 allowed), ISA: ..."
std::string protocol_line(const ProtocolOptions& protocol);  // "warm-up 20, 300 timed runs x 3 rounds, ..."

// Grouping shared by the summary and the charts.
const std::string& family_of(const Row& row);     // Row::family, else Row::model
int precision_rank(const std::string& precision);  // fp32 0, int8-static 1, int8-dynamic 2, others 3
// Rows of the summary's thread count: the protocol's first (rows without a count match any).
bool at_summary_threads(const Row& row, const Report& report);  // "cnn-s / onnxruntime-node / fp32" (+ " / 2 thr" when recorded)

}  // namespace edgeq::bench::detail
