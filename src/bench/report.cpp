// The report model and its text outputs (terminal table, Markdown, JSON); SVG lives in svg.cpp.
#include <algorithm>
#include <filesystem>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/format.h"
#include "edgeq/bench.h"

namespace edgeq::bench {

using detail::row_cells;
using detail::table_columns;
using detail::machine_line;
using detail::protocol_line;

bool Row::is_edgeq() const { return engine.rfind("edgeq", 0) == 0; }

bool Row::in_browser() const { return engine == "onnxruntime-web" || engine == "edgeq-wasm"; }

bool is_comparable_peer(const Row& edgeq_row, const Row& peer) {
  if (!peer.ok() || peer.is_edgeq() || !peer.p50_ms || peer.model != edgeq_row.model || peer.precision != edgeq_row.precision)
    return false;
  if (peer.threads != 0 && edgeq_row.threads != 0 && peer.threads != edgeq_row.threads) return false;
  return peer.in_browser() == edgeq_row.in_browser();
}

Row Row::skipped(std::string model, std::string engine, std::string precision, const std::string& reason) {
  Row r;
  r.model = std::move(model);
  r.engine = std::move(engine);
  r.precision = std::move(precision);
  r.status = "skipped: " + reason;
  return r;
}

void fill_latency(Row& row, const Measurement& batch1, const Measurement* batch64) {
  row.p50_ms = batch1.overall.p50_ns / 1e6;
  row.p95_ms = batch1.overall.p95_ns / 1e6;
  row.p99_ms = batch1.overall.p99_ns / 1e6;
  row.mean_ms = batch1.overall.mean_ns / 1e6;
  row.spread = batch1.spread;
  if (batch64) row.throughput_b64 = batch64->throughput_items_per_s;
}

void compute_ratios(Report& report) {
  for (Row& row : report.rows) {
    row.ratio_vs_best_peer.reset();
    if (!row.ok() || !row.is_edgeq() || !row.p50_ms) continue;
    double best = std::numeric_limits<double>::infinity();
    for (const Row& peer : report.rows) {
      if (!is_comparable_peer(row, peer)) continue;
      double p50 = *peer.p50_ms;
      if (peer.call_overhead_ms && *peer.call_overhead_ms < p50) p50 -= *peer.call_overhead_ms;
      best = std::min(best, p50);
    }
    if (best > 0 && best != std::numeric_limits<double>::infinity()) row.ratio_vs_best_peer = *row.p50_ms / best;
  }
}

namespace detail {

std::string protocol_line(const ProtocolOptions& p) {
  std::ostringstream s;
  s << "warm-up " << p.warmup << ", " << p.runs << " timed runs x " << p.rounds << " rounds, batch " << p.batch
    << ", " << p.threads << (p.threads == 1 ? " thread" : " threads");
  if (!p.cpus.empty()) {
    s << ", pinned to CPU";
    for (size_t i = 0; i < p.cpus.size(); ++i) s << (i ? "," : " ") << p.cpus[i];
  } else {
    s << ", not pinned";
  }
  return s.str();
}

std::string machine_line(const MachineInfo& m) {
  std::ostringstream s;
  s << (m.cpu_model.empty() ? "unknown CPU" : m.cpu_model) << ", " << m.logical_cpus << " logical CPUs ("
    << m.allowed_cpus << " allowed), ISA:";
  if (m.isa_flags.empty()) s << " none of interest";
  for (const auto& f : m.isa_flags) s << ' ' << f;
  for (const std::string& part : {m.kernel, m.compiler})
    if (!part.empty()) s << "; " << part;
  if (!m.edgeq_version.empty()) s << "; edgeq " << m.edgeq_version;
  return s.str();
}

}  // namespace detail

namespace {

std::string escape_markdown_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

template <typename T>
nlohmann::ordered_json opt(const std::optional<T>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

std::string render_terminal(const Report& report) {
  const auto& cols = table_columns();
  std::vector<std::vector<std::string>> cells;
  for (const Row& r : report.rows) cells.push_back(row_cells(r));
  std::vector<size_t> width(cols.size());
  for (size_t c = 0; c < cols.size(); ++c) {
    width[c] = std::string(cols[c].header).size();
    for (const auto& row : cells) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& values) {
    std::string out;
    for (size_t c = 0; c < cols.size(); ++c) {
      const std::string pad(width[c] - values[c].size(), ' ');
      if (c) out += "  ";
      out += cols[c].numeric ? pad + values[c] : values[c] + (c + 1 == cols.size() ? "" : pad);
    }
    return out + "\n";
  };
  std::vector<std::string> header;
  for (const auto& c : cols) header.emplace_back(c.header);
  std::string out = report.title + "\n" + machine_line(report.machine) + "\n" + protocol_line(report.protocol) + "\n\n";
  out += line(header);
  std::vector<std::string> rule;
  for (size_t w : width) rule.emplace_back(w, '-');
  out += line(rule);
  for (const auto& row : cells) out += line(row);
  for (const auto& n : report.notes) out += "note: " + n + "\n";
  return out;
}

std::string render_markdown(const Report& report) {
  std::ostringstream s;
  s << "# " << report.title << "\n\n";
  s << "- Machine: " << machine_line(report.machine) << "\n";
  s << "- Protocol: " << protocol_line(report.protocol) << "\n";
  for (const auto& [runtime, ver] : report.versions) s << "- " << runtime << ": " << ver << "\n";
  s << "\n|";
  for (const auto& c : table_columns()) s << ' ' << escape_markdown_cell(c.header) << " |";
  s << "\n|";
  for (const auto& c : table_columns()) s << (c.numeric ? "---:|" : "---|");
  s << "\n";
  for (const Row& r : report.rows) {
    s << '|';
    for (const auto& cell : row_cells(r)) s << ' ' << escape_markdown_cell(cell) << " |";
    s << "\n";
  }
  s << "\nLatency is per call at batch 1; spread is (max - min) / median of the per-round p50s; "
       "edgeq/best peer is edgeq's p50 over the fastest other engine's p50 on the same file (< 1: edgeq faster).\n";
  if (!report.notes.empty()) {
    s << "\n";
    for (const auto& n : report.notes) s << "- " << n << "\n";
  }
  return s.str();
}

std::string render_json(const Report& report) {
  nlohmann::ordered_json j;
  j["title"] = report.title;
  j["machine"] = nlohmann::ordered_json::parse(machine_to_json(report.machine));
  const auto& p = report.protocol;
  j["protocol"] = {{"warmup", p.warmup}, {"runs", p.runs},       {"rounds", p.rounds},
                   {"batch", p.batch},   {"threads", p.threads}, {"cpus", p.cpus}};
  j["versions"] = nlohmann::ordered_json::object();
  for (const auto& [runtime, ver] : report.versions) j["versions"][runtime] = ver;
  j["rows"] = nlohmann::ordered_json::array();
  for (const Row& r : report.rows) {
    j["rows"].push_back({{"model", r.model},
                         {"family", r.family},
                         {"engine", r.engine},
                         {"precision", r.precision},
                         {"threads", r.threads},
                         {"size_bytes", opt(r.size_bytes)},
                         {"p50_ms", opt(r.p50_ms)},
                         {"p95_ms", opt(r.p95_ms)},
                         {"p99_ms", opt(r.p99_ms)},
                         {"mean_ms", opt(r.mean_ms)},
                         {"spread", opt(r.spread)},
                         {"throughput_b64_items_per_s", opt(r.throughput_b64)},
                         {"top1", opt(r.top1)},
                         {"agreement_vs_fp32", opt(r.agreement)},
                         {"max_logit_diff", opt(r.max_logit_diff)},
                         {"session_ms", opt(r.session_ms)},
                         {"peak_rss_bytes", opt(r.peak_rss_bytes)},
                         {"call_overhead_ms", opt(r.call_overhead_ms)},
                         {"first_prediction_cold_ms", opt(r.first_prediction_cold_ms)},
                         {"first_prediction_warm_ms", opt(r.first_prediction_warm_ms)},
                         {"ratio_vs_best_peer", opt(r.ratio_vs_best_peer)},
                         {"status", r.status},
                         {"note", r.note}});
  }
  j["notes"] = report.notes;
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::vector<std::string> write_report(const Report& report, const std::string& dir, const std::string& stem) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::kIo, dir + ": cannot create the report directory: " + ec.message());
  const std::string base = (std::filesystem::path(dir) / stem).string();
  const std::vector<std::pair<std::string, std::string>> files = {
      {base + ".txt", render_terminal(report)},
      {base + ".md", render_markdown(report)},
      {base + ".json", render_json(report)},
      {base + "-latency.svg", render_latency_svg(report)},
      {base + "-size.svg", render_size_svg(report)},
      {base + "-accuracy.svg", render_accuracy_svg(report)},
  };
  std::vector<std::string> written;
  for (const auto& [path, text] : files) {
    write_file_atomic(path, text);
    written.push_back(path);
  }
  return written;
}

}  // namespace edgeq::bench
