// The report: ratios, and every output (text, Markdown, JSON, SVG) shows every row and every
// skipped reason.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "edgeq/bench.h"
#include "edgeq/report.h"

namespace edgeq::bench {
namespace {

Row measured(std::string model, std::string engine, std::string precision, double p50, double p95) {
  Row r;
  r.model = std::move(model);
  r.engine = std::move(engine);
  r.precision = std::move(precision);
  r.p50_ms = p50;
  r.p95_ms = p95;
  r.p99_ms = p95 * 1.1;
  r.mean_ms = p50 * 1.05;
  r.spread = 0.02;
  const bool fp32 = r.precision == "fp32";
  r.size_bytes = fp32 ? 1700000 : 430000;
  r.top1 = fp32 ? 0.9123 : 0.9101;
  r.agreement = fp32 ? 1.0 : 0.993;
  r.max_logit_diff = fp32 ? 0.0 : 0.031;
  r.throughput_b64 = 64 / (p50 * 40e-3);
  r.session_ms = 3.5;
  r.peak_rss_bytes = 48 << 20;
  return r;
}

Report sample_report() {
  Report rep;
  rep.title = "cnn-s on Fashion-MNIST";
  rep.machine = parse_cpuinfo("processor : 0\nmodel name : Test CPU\nflags : avx2 fma\n");
  rep.versions = {{"onnxruntime-node", "1.30.0"}, {"libtorch", "1.13.1"}};
  rep.rows.push_back(measured("cnn-s", "edgeq", "fp32", 0.080, 0.095));
  rep.rows.push_back(measured("cnn-s", "onnxruntime-node", "fp32", 0.100, 0.120));
  rep.rows.push_back(measured("cnn-s", "pytorch-eager", "fp32", 0.550, 0.700));
  rep.rows.push_back(measured("cnn-s-static", "edgeq", "int8-static", 0.060, 0.070));
  rep.rows.push_back(Row::skipped("cnn-s-static", "onnxruntime-web", "int8-static", "chromium not found"));
  rep.rows.push_back(Row::skipped("cnn-s", "torchscript", "fp32", "built without LibTorch"));
  rep.notes = {"onnxruntime-node no-op call: 0.009 ms"};
  compute_ratios(rep);
  return rep;
}

TEST(BenchReport, RatioIsEdgeqOverBestPeerOfTheSameFile) {
  const Report rep = sample_report();
  ASSERT_TRUE(rep.rows[0].ratio_vs_best_peer.has_value());
  EXPECT_NEAR(*rep.rows[0].ratio_vs_best_peer, 0.080 / 0.100, 1e-12);  // ORT beats PyTorch: it is the best peer
  EXPECT_FALSE(rep.rows[1].ratio_vs_best_peer.has_value()) << "peers get no ratio";
  EXPECT_FALSE(rep.rows[3].ratio_vs_best_peer.has_value()) << "the only int8 peer was skipped";
  EXPECT_TRUE(rep.rows[3].is_edgeq());
  EXPECT_FALSE(rep.rows[4].ok());
  EXPECT_EQ(rep.rows[4].status, "skipped: chromium not found");
}

TEST(BenchReport, MarkdownHasEveryRowAndReason) {
  const std::string md = render_markdown(sample_report());
  std::istringstream lines(md);
  std::string line;
  int table_rows = 0;
  // Every table line has the same number of cell separators (an unescaped '|' would add a column).
  auto separators = [](const std::string& l) {
    size_t n = 0;
    for (size_t i = 0; i < l.size(); ++i)
      if (l[i] == '|' && (i == 0 || l[i - 1] != '\\')) ++n;
    return n;
  };
  size_t header_separators = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("| model", 0) == 0) header_separators = separators(line);
    if (line.rfind("|---", 0) == 0) {
      EXPECT_EQ(separators(line), header_separators) << line;
    }
    if (line.rfind("| cnn-s", 0) == 0) {
      ++table_rows;
      EXPECT_EQ(separators(line), header_separators) << line;
    }
  }
  EXPECT_EQ(header_separators, 19u) << "18 columns";
  EXPECT_EQ(table_rows, 6) << md;
  EXPECT_NE(md.find("| onnxruntime-node | fp32 |"), std::string::npos);
  EXPECT_NE(md.find("skipped: chromium not found"), std::string::npos);
  EXPECT_NE(md.find("skipped: built without LibTorch"), std::string::npos);
  EXPECT_NE(md.find("0.80x"), std::string::npos) << "edgeq/best peer ratio";
  EXPECT_NE(md.find("Test CPU"), std::string::npos);
  EXPECT_NE(md.find("avx2 fma"), std::string::npos);
  EXPECT_NE(md.find("onnxruntime-node: 1.30.0"), std::string::npos);
  EXPECT_NE(md.find("no-op call"), std::string::npos);
}

TEST(BenchReport, JsonHasEveryRowWithNullsForMissing) {
  const auto j = nlohmann::json::parse(render_json(sample_report()));
  ASSERT_EQ(j.at("rows").size(), 6u);
  EXPECT_EQ(j["rows"][0]["engine"], "edgeq");
  EXPECT_DOUBLE_EQ(j["rows"][0]["p50_ms"].get<double>(), 0.080);
  EXPECT_NEAR(j["rows"][0]["ratio_vs_best_peer"].get<double>(), 0.8, 1e-12);
  EXPECT_EQ(j["rows"][4]["status"], "skipped: chromium not found");
  EXPECT_TRUE(j["rows"][4]["p50_ms"].is_null());
  EXPECT_EQ(j["machine"]["cpu_model"], "Test CPU");
  EXPECT_EQ(j["protocol"]["runs"], 300);
  EXPECT_EQ(j["versions"]["libtorch"], "1.13.1");
}

TEST(BenchReport, TerminalTableIsAligned) {
  const std::string text = render_terminal(sample_report());
  std::istringstream lines(text);
  std::string line;
  size_t status_column = std::string::npos, p50_end = std::string::npos;
  int rows = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("model ", 0) == 0) {
      status_column = line.find("status");
      p50_end = line.find("p50 ms") + 6;
    } else if (status_column != std::string::npos && line.rfind("cnn-s", 0) == 0) {  // the title also starts so
      ++rows;
      const size_t status_at = line.find("skipped:") != std::string::npos ? line.find("skipped:") : line.size() - 2;
      EXPECT_EQ(status_at, status_column) << line;
      // Numbers are right-aligned: the p50 cell ends where its header ends.
      EXPECT_NE(line[p50_end - 1], ' ') << line;
      EXPECT_EQ(line[p50_end], ' ') << line;
    }
  }
  EXPECT_EQ(rows, 6) << text;
  for (const char* needle : {"pytorch-eager", "skipped: chromium not found", "skipped: built without LibTorch", "0.80x"})
    EXPECT_NE(text.find(needle), std::string::npos) << needle;
}

TEST(BenchReport, SvgChartsShowMeasuredRowsWithWhiskersAndLeaveSkipsToTheSummary) {
  Report rep = sample_report();
  for (Row& r : rep.rows) r.family = "cnn-s";  // cnn-s-static is cnn-s quantized
  rep.rows.push_back(measured("a<b&c", "edgeq", "fp32", 0.2, 0.3));  // must be escaped
  const std::string latency = render_latency_svg(rep);
  EXPECT_EQ(latency.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ", 0), 0u);
  EXPECT_EQ(latency.substr(latency.size() - 7), "</svg>\n");
  EXPECT_NE(latency.find(">pytorch-eager</text>"), std::string::npos);
  EXPECT_NE(latency.find("cnn-s · fp32"), std::string::npos) << "grouped by model and precision";
  EXPECT_NE(latency.find("a&lt;b&amp;c · fp32"), std::string::npos);
  EXPECT_EQ(latency.find("a<b"), std::string::npos);
  EXPECT_EQ(latency.find("chromium not found"), std::string::npos) << "skipped rows are listed once, in the summary";
  auto count = [](const std::string& s, const std::string& what) {
    size_t n = 0;
    for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(latency, "<rect"), 1u + 5u) << "background + one bar per measured row";
  EXPECT_EQ(count(latency, "<g class=\"bar\">"), 5u);
  EXPECT_EQ(count(latency, "stroke-width=\"1.5\"/>"), 2u * 5u) << "a whisker and its cap per measured row";
  EXPECT_EQ(count(latency, "<g"), count(latency, "</g>"));

  const std::string size = render_size_svg(rep);
  EXPECT_EQ(count(size, "<rect"), 1u + 3u) << "one bar per file: cnn-s fp32, cnn-s-static int8, a<b&c fp32";
  EXPECT_NE(size.find("1.62 MiB"), std::string::npos);
  EXPECT_NE(size.find("419.9 KiB (4.0x smaller)"), std::string::npos);

  const std::string acc = render_accuracy_svg(rep);
  EXPECT_EQ(count(acc, "<rect"), 1u + 5u);
  EXPECT_NE(acc.find("91.23 %"), std::string::npos);
  EXPECT_EQ(count(acc, "class=\"reference\""), 2u) << "the fp32 line in cnn-s's group and in a<b&c's";
}

TEST(BenchReport, WritesEveryFileAtomically) {
  const auto dir = std::filesystem::temp_directory_path() / ("edgeq_bench_report_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const Report rep = sample_report();
  const auto written = write_report(rep, (dir / "nested").string(), "demo");
  ASSERT_EQ(written.size(), 6u);
  for (const auto& p : written) EXPECT_TRUE(std::filesystem::is_regular_file(p)) << p;
  EXPECT_EQ(read_file((dir / "nested" / "demo.md").string()), render_markdown(rep));
  EXPECT_EQ(read_file((dir / "nested" / "demo-latency.svg").string()), render_latency_svg(rep));
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "nested")) {
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "temp file left: " << e.path();
    ++entries;
  }
  EXPECT_EQ(entries, 6u);
  std::filesystem::remove_all(dir);
}

TEST(BenchReport, FillLatencyFromMeasurements) {
  ProtocolOptions o;
  o.warmup = 0;
  o.runs = 10;
  o.rounds = 3;
  const Measurement b1 = measure([] {}, o);
  o.batch = 64;
  const Measurement b64 = measure([] {}, o);
  Row r;
  fill_latency(r, b1, &b64);
  EXPECT_DOUBLE_EQ(*r.p50_ms, b1.overall.p50_ns / 1e6);
  EXPECT_DOUBLE_EQ(*r.p99_ms, b1.overall.p99_ns / 1e6);
  EXPECT_DOUBLE_EQ(*r.spread, b1.spread);
  EXPECT_DOUBLE_EQ(*r.throughput_b64, b64.throughput_items_per_s);
}

}  // namespace
}  // namespace edgeq::bench

namespace edgeq::bench {
namespace {

TEST(BenchReport, RatioSubtractsThePeersCallOverheadAndMatchesThreads) {
  Report rep;
  auto row = [](std::string engine, int threads, double p50, std::optional<double> overhead) {
    Row r;
    r.model = "m";
    r.engine = std::move(engine);
    r.precision = "fp32";
    r.threads = threads;
    r.p50_ms = p50;
    r.call_overhead_ms = overhead;
    return r;
  };
  rep.rows.push_back(row("edgeq", 1, 0.10, std::nullopt));
  rep.rows.push_back(row("edgeq", 2, 0.06, std::nullopt));
  rep.rows.push_back(row("onnxruntime-node", 1, 0.20, 0.05));  // 0.15 after its overhead
  rep.rows.push_back(row("onnxruntime-web", 1, 0.30, 0.40));   // overhead >= p50: ignored, 0.30
  rep.rows.push_back(row("onnxruntime-node", 2, 0.01, std::nullopt));  // another thread count
  compute_ratios(rep);
  ASSERT_TRUE(rep.rows[0].ratio_vs_best_peer.has_value());
  EXPECT_NEAR(*rep.rows[0].ratio_vs_best_peer, 0.10 / 0.15, 1e-12) << "best 1-thread peer after overhead";
  ASSERT_TRUE(rep.rows[1].ratio_vs_best_peer.has_value());
  EXPECT_NEAR(*rep.rows[1].ratio_vs_best_peer, 0.06 / 0.01, 1e-12) << "only the 2-thread peer";
  const auto j = nlohmann::json::parse(render_json(rep));
  EXPECT_EQ(j["rows"][2]["threads"], 1);
  EXPECT_DOUBLE_EQ(j["rows"][2]["call_overhead_ms"].get<double>(), 0.05);
}

// edgeq-wasm is compared with the browser peer (onnxruntime-web) only, native edgeq with native peers only,
// however fast the other side's rows are; the first-prediction figures go into the JSON.
TEST(BenchReport, WasmRowsAreComparedWithBrowserPeersAndNativeRowsWithNativePeers) {
  Report rep;
  auto row = [](std::string model, std::string engine, double p50, std::optional<double> overhead = std::nullopt) {
    Row r;
    r.model = std::move(model);
    r.engine = std::move(engine);
    r.precision = "int8-static";
    r.threads = 1;
    r.p50_ms = p50;
    r.call_overhead_ms = overhead;
    return r;
  };
  rep.rows.push_back(row("a", "edgeq", 0.10));
  rep.rows.push_back(row("a", "onnxruntime-node", 0.20));
  rep.rows.push_back(row("a", "onnxruntime-web", 0.12, 0.02));  // faster, but in the browser
  rep.rows.push_back(row("b", "edgeq-wasm", 0.15, 0.01));
  rep.rows.back().first_prediction_cold_ms = 420.5;
  rep.rows.back().first_prediction_warm_ms = 80.25;
  rep.rows.push_back(row("b", "onnxruntime-web", 0.32, 0.02));  // 0.30 after its overhead
  rep.rows.push_back(row("b", "onnxruntime-node", 0.05));       // faster, but native
  compute_ratios(rep);
  EXPECT_TRUE(rep.rows[3].is_edgeq());
  EXPECT_TRUE(rep.rows[3].in_browser());
  EXPECT_FALSE(rep.rows[0].in_browser());
  ASSERT_TRUE(rep.rows[0].ratio_vs_best_peer.has_value());
  EXPECT_NEAR(*rep.rows[0].ratio_vs_best_peer, 0.10 / 0.20, 1e-12) << "native edgeq against onnxruntime-node";
  ASSERT_TRUE(rep.rows[3].ratio_vs_best_peer.has_value());
  EXPECT_NEAR(*rep.rows[3].ratio_vs_best_peer, 0.15 / 0.30, 1e-12) << "edgeq-wasm against onnxruntime-web, net of its call cost";
  const auto j = nlohmann::json::parse(render_json(rep));
  EXPECT_EQ(j["rows"][3]["engine"], "edgeq-wasm");
  EXPECT_DOUBLE_EQ(j["rows"][3]["first_prediction_cold_ms"].get<double>(), 420.5);
  EXPECT_DOUBLE_EQ(j["rows"][3]["first_prediction_warm_ms"].get<double>(), 80.25);
  EXPECT_TRUE(j["rows"][0]["first_prediction_cold_ms"].is_null());
  const SummaryLine* line = nullptr;
  const auto summary = summarize_report(rep);
  for (const auto& m : summary.models)
    for (const auto& l : m.lines)
      if (m.model == "a") line = &l;
  ASSERT_NE(line, nullptr);
  EXPECT_EQ(line->peer, "onnxruntime-node") << "the summary's best peer follows the same rule";
}

}  // namespace
}  // namespace edgeq::bench
