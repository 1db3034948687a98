// The demo page rendered by a real browser (Debian's chromium, headless): screenshots at 1280 px and
// at phone width saved as test artifacts (BUILD/test-artifacts/report/), and what a reader would see
// checked in the rendered DOM: the summary table first, no Markdown in a <pre>, every SVG label's
// bounding box (getBBox, real font metrics) inside its viewBox, no "0.0 dB", no sideways scrolling.
//
// How: `chromium --headless --dump-dom` on a copy of the page with a small inline script appended;
// the script measures and writes its findings as JSON into a <script type="application/json"> element,
// which the dumped DOM carries out. No DevTools protocol, no node: one chromium run per check.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "bench/report_fixture.h"
#include "edgeq/core.h"
#include "edgeq/report.h"
#include "run_command.h"

namespace edgeq::bench {
namespace {

namespace fs = std::filesystem;

const char* kMeasureScript = R"(<script>
(function () {
  const out = {svgs: 0, texts: 0, overflow: [], firstTable: '', preMarkdown: [], zeroDb: [],
               pageOverflowPx: document.documentElement.scrollWidth - window.innerWidth};
  for (const svg of document.querySelectorAll('svg')) {
    out.svgs++;
    const vb = svg.viewBox.baseVal;
    for (const t of svg.querySelectorAll('text')) {
      out.texts++;
      const b = t.getBBox();
      if (b.x < vb.x - 0.5 || b.y < vb.y - 0.5 || b.x + b.width > vb.x + vb.width + 0.5 || b.y + b.height > vb.y + vb.height + 0.5)
        out.overflow.push(t.textContent + ' [' + [b.x, b.y, b.width, b.height].map(v => v.toFixed(1)).join(', ') +
                          '] outside ' + vb.width + 'x' + vb.height);
    }
  }
  const first = document.querySelector('table');
  out.firstTable = first ? first.className : '';
  for (const pre of document.querySelectorAll('pre'))
    if (/\|\s*-{3,}|^#{1,6} |\*\*/m.test(pre.textContent)) out.preMarkdown.push(pre.textContent.slice(0, 80));
  const all = document.body.innerText + '\n' + Array.from(document.querySelectorAll('svg text'), t => t.textContent).join('\n');
  for (const m of all.matchAll(/(^|[^0-9])0\.0 dB/g)) out.zeroDb.push(all.slice(Math.max(0, m.index - 40), m.index + 10));
  const data = document.createElement('script');
  data.type = 'application/json';
  data.id = 'measured';
  data.textContent = JSON.stringify(out);
  document.body.appendChild(data);
})();
</script>
)";

std::string chromium_path() {
  const char* env = std::getenv("EDGEQ_CHROMIUM");
  return env && *env ? env : "/usr/bin/chromium";
}

// --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
std::string chromium(const std::string& args) {
  return chromium_path() + " --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 " + args +
         " 2>/dev/null";
}

class ReportBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(chromium_path())) GTEST_SKIP() << "chromium not found at " << chromium_path() << " (apt-get install chromium)";
    dir_ = fs::path(EDGEQ_BINARY_DIR) / "test-artifacts" / "report";
    fs::create_directories(dir_);
    html_ = render_demo_html(testing::fixture_page());
    write_file_atomic((dir_ / "report.html").string(), html_);
  }

  // The page measured at a window width: the script's JSON.
  nlohmann::json measure(int width) {
    std::string page = html_;
    const size_t body_end = page.rfind("</body>");
    page.insert(body_end, kMeasureScript);
    const fs::path measured = dir_ / ("report-measure-" + std::to_string(width) + ".html");
    write_file_atomic(measured.string(), page);
    const auto r = test::run_command(chromium("--window-size=" + std::to_string(width) + ",900 --dump-dom file://" +
                                              measured.string()));
    EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 500);
    const std::string open = "<script type=\"application/json\" id=\"measured\">";
    const size_t begin = r.output.find(open);
    if (begin == std::string::npos) {
      ADD_FAILURE() << "the measuring script left no result; dumped DOM starts: " << r.output.substr(0, 300);
      return {};
    }
    const size_t from = begin + open.size();
    return nlohmann::json::parse(r.output.substr(from, r.output.find("</script>", from) - from));
  }

  void screenshot(int width, int height, const std::string& name) {
    const fs::path png = dir_ / name;
    fs::remove(png);
    const auto r = test::run_command(chromium("--window-size=" + std::to_string(width) + "," + std::to_string(height) +
                                              " --screenshot=" + png.string() + " file://" + (dir_ / "report.html").string()));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_TRUE(fs::exists(png)) << png;
    const std::string bytes = read_file(png.string());
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << png;
    EXPECT_GT(bytes.size(), 20000u) << "a rendered page, not a blank one: " << png;
    std::cout << "screenshot: " << png.string() << "\n";
  }

  fs::path dir_;
  std::string html_;
};

TEST_F(ReportBrowser, DesktopWidthRendersEveryLabelInsideItsChart) {
  const nlohmann::json m = measure(1280);
  ASSERT_TRUE(m.is_object());
  EXPECT_EQ(m["svgs"], 6) << "latency, size, accuracy, SQNR, loss and accuracy curves inline";
  EXPECT_GT(m["texts"].get<int>(), 100) << "the labels were measured";
  EXPECT_EQ(m["overflow"], nlohmann::json::array()) << m["overflow"].dump(1);
  EXPECT_EQ(m["firstTable"], "summary");
  EXPECT_EQ(m["preMarkdown"], nlohmann::json::array()) << m["preMarkdown"].dump(1);
  EXPECT_EQ(m["zeroDb"], nlohmann::json::array()) << m["zeroDb"].dump(1);
  EXPECT_LE(m["pageOverflowPx"].get<int>(), 0);
  screenshot(1280, 4600, "report-1280.png");
}

TEST_F(ReportBrowser, PhoneWidthNeedsNoSidewaysScrolling) {
  const nlohmann::json m = measure(390);
  ASSERT_TRUE(m.is_object());
  EXPECT_EQ(m["overflow"], nlohmann::json::array()) << m["overflow"].dump(1);
  EXPECT_LE(m["pageOverflowPx"].get<int>(), 0) << "wide tables scroll inside their box, charts scale down";
  screenshot(390, 6000, "report-390.png");
}

}  // namespace
}  // namespace edgeq::bench
