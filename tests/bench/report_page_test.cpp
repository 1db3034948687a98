// The report as a reader sees it: the summary's figures and sentences, the skipped rows in one line,
// SQNR "n/a" where the quantizer measured nothing, the page's order, and every chart label inside
// its viewBox by the same width estimate the layout uses (report_browser_test measures real ones).
#include <gtest/gtest.h>

#include <regex>

#include "bench/report_fixture.h"
#include "edgeq/report.h"

namespace edgeq::bench {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// "0.0 dB" as a figure of its own (not the tail of "50.0 dB"): what a layer without SQNR used to show.
bool shows_zero_db(const std::string& text) { return std::regex_search(text, std::regex("(^|[^0-9])0\\.0 dB")); }

std::string xml_unescape(std::string s) {
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&amp;", "&"}}) {
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  }
  return s;
}

// Every <text> whose estimated box leaves the viewBox, as "label: why"; empty = all inside.
std::vector<std::string> labels_outside_viewbox(const std::string& svg) {
  std::smatch vb;
  if (!std::regex_search(svg, vb, std::regex("viewBox=\"0 0 ([0-9.]+) ([0-9.]+)\""))) return {"no viewBox"};
  const double width = std::stod(vb[1]), height = std::stod(vb[2]);
  const std::regex text_re("<text x=\"([-0-9.]+)\" y=\"([-0-9.]+)\" font-size=\"([0-9.]+)\"( text-anchor=\"(\\w+)\")?([^>]*)>([^<]*)</text>");
  std::vector<std::string> out;
  int texts = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), text_re); it != std::sregex_iterator(); ++it) {
    ++texts;
    const auto& m = *it;
    const double x = std::stod(m[1]), y = std::stod(m[2]), size = std::stod(m[3]);
    const std::string anchor = m[5].matched ? m[5].str() : "start", content = xml_unescape(m[7]);
    const double w = detail::text_width(content, size, m[6].str().find("bold") != std::string::npos);
    const double left = anchor == "end" ? x - w : anchor == "middle" ? x - w / 2 : x;
    if (left < 0 || left + w > width) out.push_back(content + ": x " + std::to_string(left) + ".." + std::to_string(left + w) + " of " + std::to_string(width));
    if (y - size < 0 || y + size * 0.3 > height) out.push_back(content + ": y " + std::to_string(y) + " of " + std::to_string(height));
  }
  if (texts == 0 || texts != static_cast<int>(count(svg, "<text"))) out.push_back("texts not all parsed");
  return out;
}

TEST(ReportSummary, OneTablePerModelWithBestPeerSpeedupAndAccuracyDelta) {
  const Summary s = summarize_report(testing::fixture_report());
  ASSERT_EQ(s.models.size(), 1u) << "fp32 and both int8 files belong to cnn-s";
  const ModelSummary& m = s.models[0];
  EXPECT_EQ(m.model, "cnn-s");
  EXPECT_EQ(m.threads, 1);
  ASSERT_EQ(m.lines.size(), 3u);
  EXPECT_EQ(m.lines[0].precision, "fp32");
  EXPECT_EQ(m.lines[1].precision, "int8-static");
  EXPECT_EQ(m.lines[2].precision, "int8-dynamic");
  const SummaryLine& st = m.lines[1];
  ASSERT_TRUE(st.edgeq_p50_ms && st.peer_p50_ms && st.speedup && st.delta_top1_pp);
  EXPECT_DOUBLE_EQ(*st.edgeq_p50_ms, 0.006) << "the 1-thread row, not the 2-thread one";
  EXPECT_EQ(st.peer, "onnxruntime-node") << "0.090 ms beats onnxruntime-web's 0.215 ms";
  EXPECT_DOUBLE_EQ(*st.peer_p50_ms, 0.090);
  EXPECT_NEAR(*st.speedup, 15.0, 1e-9);
  EXPECT_NEAR(*st.delta_top1_pp, -0.11, 1e-9);
  EXPECT_EQ(st.size_bytes, 216233);
  EXPECT_NEAR(*m.lines[0].speedup, 0.045 / 0.020, 1e-9);

  ASSERT_EQ(m.sentences.size(), 3u);
  EXPECT_NE(m.sentences[0].find("int8-static in 0.006 ms"), std::string::npos) << m.sentences[0];
  EXPECT_NE(m.sentences[0].find("15x faster than the best peer on the same file (onnxruntime-node, 0.090 ms)"), std::string::npos)
      << m.sentences[0];
  EXPECT_NE(m.sentences[0].find("3.3x faster than its own fp32"), std::string::npos) << m.sentences[0];
  EXPECT_NE(m.sentences[1].find("3.8x smaller than fp32"), std::string::npos) << m.sentences[1];
  EXPECT_NE(m.sentences[2].find("91.01 % against 91.12 % in fp32 (-0.11 pp)"), std::string::npos) << m.sentences[2];
}

TEST(ReportSummary, PeerFiguresAreNetOfTheirCallCostLikeTheSpeedup) {
  Report rep = testing::fixture_report();
  for (Row& r : rep.rows)
    if (r.engine == "onnxruntime-node") r.call_overhead_ms = 0.015;
  compute_ratios(rep);
  const SummaryLine& fp32 = summarize_report(rep).models[0].lines[0];
  ASSERT_TRUE(fp32.peer_p50_ms && fp32.speedup && fp32.edgeq_p50_ms);
  EXPECT_NEAR(*fp32.peer_p50_ms, 0.045 - 0.015, 1e-12);
  EXPECT_NEAR(*fp32.speedup, *fp32.peer_p50_ms / *fp32.edgeq_p50_ms, 1e-12) << "the table's columns agree";
}

TEST(ReportSummary, SkippedRowsCollapseIntoOneLine) {
  const Summary s = summarize_report(testing::fixture_report());
  EXPECT_EQ(s.skipped.find('\n'), std::string::npos);
  EXPECT_EQ(count(s.skipped, "a quantized file"), 1u) << "8 skipped rows, one reason: " << s.skipped;
  EXPECT_NE(s.skipped.find("pytorch-eager, torchscript on int8-static, int8-dynamic"), std::string::npos) << s.skipped;

  Report rep = testing::fixture_report();
  rep.rows.push_back(Row::skipped("fp32", "onnxruntime-web", "fp32", "chromium not found"));
  const Summary two = summarize_report(rep);
  EXPECT_EQ(count(two.skipped, " · "), 1u) << "two engine groups: " << two.skipped;
  for (auto& r : rep.rows) r.status = "ok";
  EXPECT_EQ(summarize_report(rep).skipped, "");
}

TEST(ReportSummary, SpeedSentenceSaysSlowerAndNoPeer) {
  Report rep = testing::fixture_report();
  std::erase_if(rep.rows, [](const Row& r) { return r.engine.rfind("onnxruntime", 0) == 0; });
  for (Row& r : rep.rows)
    if (r.engine == "libtorch-eager") r.p50_ms = 0.010;  // faster than edgeq's fp32 0.020
  compute_ratios(rep);
  const Summary s = summarize_report(rep);
  EXPECT_NE(s.models[0].sentences[0].find("int8-static in 0.006 ms per call (p50), 3.3x faster than its own fp32 (0.020 ms); "
                                          "no peer ran this file."),
            std::string::npos)
      << s.models[0].sentences[0];
  for (Row& r : rep.rows)
    if (r.is_edgeq() && r.precision == "int8-static") r.p50_ms = 0.026;  // int8 slower than fp32 (0.020)
  compute_ratios(rep);
  EXPECT_NE(summarize_report(rep).models[0].sentences[0].find("edgeq runs int8-dynamic in 0.017 ms"), std::string::npos)
      << "the fastest int8 variant leads";
  for (Row& r : rep.rows)
    if (r.is_edgeq() && r.precision == "int8-dynamic") r.p50_ms = 0.030;
  compute_ratios(rep);
  EXPECT_NE(summarize_report(rep).models[0].sentences[0].find("1.3x slower than its own fp32"), std::string::npos)
      << summarize_report(rep).models[0].sentences[0];
  EXPECT_NE(render_summary_markdown(s).find("| fp32 | 0.020 ms | 0.010 ms (libtorch-eager) | 0.5x |"), std::string::npos)
      << render_summary_markdown(s);
}

TEST(ReportInputs, SqnrIsAbsentWhereTheQuantizerMeasuredNothing) {
  const QuantSummary q = parse_quant_report(testing::kFixtureQuantJson);
  ASSERT_EQ(q.layers.size(), 7u);
  EXPECT_EQ(q.layers[0].output_db, 47.88);
  EXPECT_EQ(q.layers[0].weight_db, 49.64);
  EXPECT_FALSE(q.layers[1].output_db) << "MaxPool's 0.0 is no SQNR";
  EXPECT_FALSE(q.layers[1].weight_db);
  EXPECT_FALSE(q.layers[4].output_db) << "Flatten";
  const QuantSummary dyn = parse_quant_report(
      R"({"mode":"dynamic","layers":[{"node":"c","op":"Conv","quantized":false,"weight_sqnr_db":0.0,"layer_sqnr_db":0.0}]})");
  EXPECT_FALSE(dyn.layers[0].output_db) << "a layer kept fp32 has no SQNR";
  EXPECT_THROW(parse_quant_report("{not json"), Error);
  EXPECT_THROW(parse_quant_report(R"({"layers":[{"node":3}]})"), Error);
  EXPECT_THROW(parse_training_log(R"({"epochs":[{"epoch":"one"}]})"), Error);
}

TEST(ReportInputs, BenchJsonReadsBackEveryField) {
  const Report rep = testing::fixture_report();
  const Report back = parse_report_json(render_json(rep));
  ASSERT_EQ(back.rows.size(), rep.rows.size());
  EXPECT_EQ(render_json(back), render_json(rep));
  EXPECT_EQ(back.rows[0].family, "cnn-s");
  EXPECT_THROW(parse_report_json("[1,"), Error);
}

TEST(ReportCharts, TextWidthEstimateIsWideEnough) {
  // DejaVu Sans advances (the widest common sans-serif): "W" 0.989 em, "m" 0.974, digits 0.636, "i" 0.278.
  EXPECT_GE(detail::text_width("W", 10), 9.89);
  EXPECT_GE(detail::text_width("m", 10), 9.74);
  EXPECT_GE(detail::text_width("0123456789", 10), 63.6);
  EXPECT_GT(detail::text_width("ab", 12, true), detail::text_width("ab", 12));
  EXPECT_DOUBLE_EQ(detail::text_width("Δ", 10), detail::text_width("Q", 10) + 2.0) << "one code point, not two bytes";
}

TEST(ReportCharts, EveryLabelInsideItsViewBox) {
  const DemoPage page = testing::fixture_page();
  const std::vector<std::pair<std::string, std::string>> charts = {
      {"latency", render_latency_svg(page.bench)},   {"size", render_size_svg(page.bench)},
      {"accuracy", render_accuracy_svg(page.bench)}, {"sqnr", render_sqnr_chart(*page.quant_static)},
      {"loss", render_training_chart(*page.training, false)}, {"training accuracy", render_training_chart(*page.training, true)}};
  for (const auto& [name, svg] : charts) {
    EXPECT_EQ(labels_outside_viewbox(svg), std::vector<std::string>{}) << name;
    EXPECT_NE(svg.find("viewBox"), std::string::npos) << name;
  }
}

TEST(ReportCharts, TheOverflowCheckCatchesACutLabel) {
  // The check the chart test relies on: a label running past the right edge, one past the left.
  EXPECT_EQ(labels_outside_viewbox("<svg viewBox=\"0 0 100 40\"><text x=\"10\" y=\"20\" font-size=\"12\">"
                                   "onnxruntime-web (WebAssembly)</text></svg>")
                .size(),
            1u);
  EXPECT_EQ(labels_outside_viewbox("<svg viewBox=\"0 0 400 40\"><text x=\"40\" y=\"20\" font-size=\"12\" text-anchor=\"end\">"
                                   "int8-dynamic / onnxruntime</text></svg>")
                .size(),
            1u);
  EXPECT_TRUE(labels_outside_viewbox("<svg viewBox=\"0 0 400 40\"><text x=\"200\" y=\"20\" font-size=\"12\" "
                                     "text-anchor=\"middle\">fits</text></svg>")
                  .empty());
}

TEST(ReportCharts, LatencyIsLogScaledWithTheLongWhiskerClipped) {
  const std::string svg = render_latency_svg(testing::fixture_report());
  // Bar widths: on a linear axis up to 16 ms the 0.006 ms bar would be a sliver (< 0.2 px of 360).
  std::vector<double> widths;
  const std::regex bar_re("<rect x=\"[0-9.]+\" y=\"[0-9.]+\" width=\"([0-9.]+)\" height=\"14.0\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), bar_re); it != std::sregex_iterator(); ++it)
    widths.push_back(std::stod((*it)[1]));
  ASSERT_EQ(widths.size(), 18u) << "9 measured rows per thread count";
  const auto [lo, hi] = std::minmax_element(widths.begin(), widths.end());
  EXPECT_GT(*lo, *hi * 0.15) << "log axis: the fastest bar is still visible";
  EXPECT_EQ(count(svg, "(whisker clipped)"), 4u) << "onnxruntime-web's 16 ms p95, two files, two thread counts";
  EXPECT_EQ(count(svg, "<path d="), 4u) << "an arrow head where a whisker is clipped";
  EXPECT_EQ(count(svg, "font-weight=\"bold\" fill=\"#1f6fb2\">edgeq</text>"), 6u) << "edgeq highlighted in every group";
  EXPECT_EQ(count(svg, "cnn-s · int8-static · 2 threads"), 1u);
}

TEST(ReportPage, HtmlIsAPageWithTheSummaryTableFirst) {
  const std::string html = render_demo_html(testing::fixture_page());
  const size_t first_table = html.find("<table");
  ASSERT_NE(first_table, std::string::npos);
  EXPECT_EQ(html.find("<table class=\"summary\">"), first_table);
  EXPECT_LT(html.find("<h2>Summary</h2>"), html.find("<h2>Charts</h2>"));
  EXPECT_LT(html.find("<h2>Charts</h2>"), html.find("<h2>All measurements</h2>"));
  EXPECT_EQ(count(html, "<svg "), 6u) << "latency, size, accuracy, SQNR and two training charts, inline";
  EXPECT_EQ(count(html, "<img"), 0u);
  // No Markdown anywhere in a <pre>: the one <pre> holds the shell commands.
  for (size_t p = html.find("<pre"); p != std::string::npos; p = html.find("<pre", p + 1)) {
    const std::string pre = html.substr(p, html.find("</pre>", p) - p);
    EXPECT_EQ(pre.find("|---"), std::string::npos);
    EXPECT_EQ(pre.find("\n#"), std::string::npos);
    EXPECT_EQ(pre.find("**"), std::string::npos);
  }
  EXPECT_FALSE(shows_zero_db(html));
  EXPECT_TRUE(shows_zero_db("<td>0.0 dB</td>")) << "the check itself";
  EXPECT_FALSE(shows_zero_db("<td>50.0 dB</td>"));
  EXPECT_NE(html.find("<th scope=\"row\">pool1</th><td>MaxPool</td><td>int8</td><td class=\"na\">n/a</td><td class=\"na\">n/a</td>"),
            std::string::npos);
  EXPECT_NE(html.find("conv2&lt;&amp;&gt;"), std::string::npos);
  EXPECT_EQ(html.find("conv2<&>"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"fp32/train.json\">"), std::string::npos) << "JSON details behind links";
  EXPECT_EQ(html.find("\"epoch\":"), std::string::npos) << "no JSON dumped into the page";
  EXPECT_NE(html.find("<td>0.2500</td><td>0.2700</td><td>91.00 %</td><td>90.50 %</td>"), std::string::npos)
      << "epoch 3 as a table row";
}

TEST(ReportPage, MarkdownStartsWithTheSummaryAndKeepsEveryRow) {
  const DemoPage page = testing::fixture_page();
  const std::string md = render_demo_markdown(page);
  EXPECT_LT(md.find("## Summary"), md.find("## All measurements"));
  EXPECT_EQ(md.find("| precision | edgeq p50 |"), md.find('|')) << "the summary table is the first table";
  EXPECT_NE(md.find("| int8-static | 0.006 ms | 0.090 ms (onnxruntime-node) | 15x | 211.2 KiB | 91.01 % | -0.11 pp |"),
            std::string::npos)
      << md.substr(0, 1500);
  EXPECT_EQ(count(md, "| fp32 | edgeq | fp32 |"), 2u) << "the full table, both thread counts";
  EXPECT_FALSE(shows_zero_db(md));
  EXPECT_NE(md.find("| pool1 | MaxPool | int8 | n/a | n/a |"), std::string::npos);
  EXPECT_NE(md.find("![Latency"), std::string::npos);
}

// The demo links the browser app only when it found a build of it, with the command that serves it.
TEST(ReportPage, LinksTheBrowserAppOnlyWhenThereIsOne) {
  DemoPage page = testing::fixture_page();
  EXPECT_EQ(render_demo_markdown(page).find("## Browser app"), std::string::npos);
  EXPECT_EQ(render_demo_html(page).find("id=\"app\""), std::string::npos);
  page.app_link = "app/index.html";
  page.app_serve_command = "edgeq serve --static out/demo/app --port 8080";
  const std::string md = render_demo_markdown(page);
  EXPECT_NE(md.find("## Browser app\n\n[The app](app/index.html)"), std::string::npos) << md;
  EXPECT_NE(md.find("edgeq serve --static out/demo/app --port 8080"), std::string::npos);
  const std::string html = render_demo_html(page);
  EXPECT_NE(html.find("<a href=\"app/index.html\">The app</a>"), std::string::npos);
  EXPECT_LT(html.find("id=\"app\""), html.find("id=\"files\""));
}

// An edgeq-wasm row with its first-prediction figures survives the report's JSON round trip (the demo
// reads bench.json back).
TEST(ReportInputs, EdgeqWasmRowsReadBackWithTheirFirstPrediction) {
  Report rep = testing::fixture_report();
  Row wasm = rep.rows[0];
  wasm.engine = "edgeq-wasm";
  wasm.first_prediction_cold_ms = 512.0;
  wasm.first_prediction_warm_ms = 64.5;
  rep.rows.push_back(wasm);
  const Report back = parse_report_json(render_json(rep));
  ASSERT_EQ(back.rows.size(), rep.rows.size());
  EXPECT_EQ(back.rows.back().engine, "edgeq-wasm");
  EXPECT_EQ(back.rows.back().first_prediction_cold_ms, 512.0);
  EXPECT_EQ(back.rows.back().first_prediction_warm_ms, 64.5);
  EXPECT_EQ(render_json(back), render_json(rep));
}

}  // namespace
}  // namespace edgeq::bench
