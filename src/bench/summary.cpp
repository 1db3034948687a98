// The summary a reader sees first: per model, edgeq against the best peer on each file, size and
// accuracy against fp32, three sentences, and every skipped row collapsed into one line.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "bench/format.h"
#include "edgeq/report.h"

namespace edgeq::bench {
namespace {

using detail::family_of;
using detail::fmt_fixed;
using detail::precision_rank;

// compute_ratios' rule: a peer's own per-call cost (its binding, a browser's message hop) does not count.
double net_p50(const Row& peer) {
  double p50 = *peer.p50_ms;
  if (peer.call_overhead_ms && *peer.call_overhead_ms < p50) p50 -= *peer.call_overhead_ms;
  return p50;
}

const Row* best_peer(const Report& report, const Row& edgeq_row) {
  const Row* best = nullptr;
  double best_p50 = std::numeric_limits<double>::infinity();
  for (const Row& peer : report.rows) {
    if (!is_comparable_peer(edgeq_row, peer)) continue;
    const double p50 = net_p50(peer);
    if (p50 < best_p50) {
      best_p50 = p50;
      best = &peer;
    }
  }
  return best;
}

std::string ms_text(double ms) { return detail::fmt_ms(ms) + " ms"; }

std::string times_text(double factor) { return fmt_fixed(factor, factor < 10 ? 1 : 0) + "x"; }

// factor = the other's time / this one's: "3.3x faster", or "1.3x slower" below 1.
std::string faster_or_slower(double factor) {
  return factor >= 1 ? times_text(factor) + " faster" : times_text(1 / factor) + " slower";
}

std::vector<std::string> sentences_for(const ModelSummary& m) {
  const SummaryLine* fp32 = nullptr;
  const SummaryLine* head = nullptr;  // the fastest int8 line edgeq ran, else fp32
  for (const SummaryLine& l : m.lines) {
    if (l.precision == "fp32") fp32 = &l;
    else if (l.edgeq_p50_ms && (!head || *l.edgeq_p50_ms < *head->edgeq_p50_ms)) head = &l;
  }
  if (!head) head = fp32;
  std::vector<std::string> out;
  if (!head || !head->edgeq_p50_ms) {
    out.push_back("edgeq measured no variant of " + m.model + " (see the skipped line).");
    return out;
  }
  const std::string where = m.model + (m.threads > 0 ? " (batch 1, " + std::to_string(m.threads) + (m.threads == 1 ? " thread)" : " threads)") : "");
  std::string speed = "On " + where + ", edgeq runs " + head->precision + " in " + ms_text(*head->edgeq_p50_ms) + " per call (p50)";
  const bool peer = head->speedup && head->peer_p50_ms;
  if (peer)
    speed += ", " + faster_or_slower(*head->speedup) + " than the best peer on the same file (" + head->peer + ", " +
             ms_text(*head->peer_p50_ms) + ")";
  if (head != fp32 && fp32 && fp32->edgeq_p50_ms && *head->edgeq_p50_ms > 0)
    speed += std::string(peer ? ", and " : ", ") + faster_or_slower(*fp32->edgeq_p50_ms / *head->edgeq_p50_ms) +
             " than its own fp32 (" + ms_text(*fp32->edgeq_p50_ms) + ")";
  if (!peer) speed += "; no peer ran this file";
  out.push_back(speed + ".");
  if (head != fp32 && fp32 && head->size_bytes && fp32->size_bytes && *head->size_bytes > 0)
    out.push_back("The " + head->precision + " file is " + detail::fmt_bytes(head->size_bytes) + ", " +
                  times_text(static_cast<double>(*fp32->size_bytes) / static_cast<double>(*head->size_bytes)) +
                  " smaller than fp32 (" + detail::fmt_bytes(fp32->size_bytes) + ").");
  else if (head->size_bytes)
    out.push_back("The " + head->precision + " file is " + detail::fmt_bytes(head->size_bytes) + ".");
  if (head != fp32 && head->top1 && fp32 && fp32->top1) {
    std::string acc = "Its top-1 is " + detail::fmt_percent(head->top1) + " against " + detail::fmt_percent(fp32->top1) +
                      " in fp32 (" + (head->delta_top1_pp && *head->delta_top1_pp >= 0 ? "+" : "") +
                      fmt_fixed(head->delta_top1_pp.value_or(0), 2) + " pp)";
    if (head->agreement) acc += ", and it agrees with fp32 on " + detail::fmt_percent(head->agreement) + " of the images";
    out.push_back(acc + ".");
  } else if (head->top1) {
    out.push_back("Its top-1 is " + detail::fmt_percent(head->top1) + ".");
  }
  return out;
}

void add_unique(std::vector<std::string>& list, const std::string& item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

// Collapsed twice: rows with the same reason, then reasons of the same engines (the reasons name the
// file: "initializer conv1.bias_quantized is not float32" on one, "fc1.weight_quantized" on the next).
std::string skipped_line(const Report& report) {
  struct Group {
    std::vector<std::string> engines, precisions, reasons;
  };
  std::vector<Group> by_reason;
  for (const Row& r : report.rows) {
    if (r.ok()) continue;
    const std::string reason = r.status.rfind("skipped: ", 0) == 0 ? r.status.substr(9) : r.status;
    auto it = std::find_if(by_reason.begin(), by_reason.end(), [&](const Group& g) { return g.reasons[0] == reason; });
    if (it == by_reason.end()) it = by_reason.insert(by_reason.end(), Group{{}, {}, {reason}});
    add_unique(it->engines, r.engine);
    add_unique(it->precisions, r.precision);
  }
  std::vector<Group> groups;
  for (const Group& g : by_reason) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& x) { return x.engines == g.engines; });
    if (it == groups.end()) {
      groups.push_back(g);
      continue;
    }
    for (const auto& p : g.precisions) add_unique(it->precisions, p);
    add_unique(it->reasons, g.reasons[0]);
  }
  auto join = [](const std::vector<std::string>& items) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
    return out;
  };
  std::string out;
  for (const Group& g : groups) {
    out += out.empty() ? "Not measured: " : " · ";
    out += join(g.engines) + " on " + join(g.precisions) + " (" + g.reasons[0] +
           (g.reasons.size() > 1 ? "; likewise on the other files" : "") + ")";
  }
  return out.empty() ? out : out + ".";
}

const std::vector<std::string>& summary_headers() {
  static const std::vector<std::string> h = {"precision", "edgeq p50", "best peer p50", "speed-up", "size", "top-1", "Δ top-1 vs fp32"};
  return h;
}

std::vector<std::string> summary_cells(const SummaryLine& l) {
  const std::string missing = detail::kMissing;
  std::string delta = missing;
  if (l.precision == "fp32" && l.top1) delta = "reference";
  else if (l.delta_top1_pp) delta = (*l.delta_top1_pp >= 0 ? "+" : "") + fmt_fixed(*l.delta_top1_pp, 2) + " pp";
  return {l.precision,
          l.edgeq_p50_ms ? ms_text(*l.edgeq_p50_ms) : missing,
          l.peer_p50_ms ? ms_text(*l.peer_p50_ms) + " (" + l.peer + ")" : "no peer ran it",
          l.speedup ? times_text(*l.speedup) : missing,
          detail::fmt_bytes(l.size_bytes),
          detail::fmt_percent(l.top1),
          delta};
}

std::string caption(const ModelSummary& m) {
  return m.model + ": edgeq vs the best peer on each file" +
         (m.threads > 0 ? ", batch 1, " + std::to_string(m.threads) + (m.threads == 1 ? " thread" : " threads") : "");
}

std::string html_escape(const std::string& s) { return detail::xml_escape(s); }

std::string paragraph(const ModelSummary& m) {
  std::string out;
  for (const auto& sentence : m.sentences) out += (out.empty() ? "" : " ") + sentence;
  return out;
}

const char* kSummaryNote =
    "Best peer p50: the fastest other engine on the same file, its p50 minus its no-op per-call cost (its binding, a "
    "browser's message hop), so that the engines are compared, not how they are called; speed-up: that over edgeq's p50 "
    "(> 1: edgeq faster).";

}  // namespace

Summary summarize_report(const Report& report) {
  Summary out;
  std::vector<std::string> families;
  for (const Row& r : report.rows)
    if (std::find(families.begin(), families.end(), family_of(r)) == families.end()) families.push_back(family_of(r));
  for (const std::string& family : families) {
    ModelSummary m;
    m.model = family;
    m.threads = report.protocol.threads;
    std::vector<std::string> precisions;
    for (const Row& r : report.rows)
      if (family_of(r) == family && std::find(precisions.begin(), precisions.end(), r.precision) == precisions.end())
        precisions.push_back(r.precision);
    std::stable_sort(precisions.begin(), precisions.end(),
                     [](const std::string& a, const std::string& b) { return precision_rank(a) < precision_rank(b); });
    for (const std::string& precision : precisions) {
      SummaryLine line;
      line.precision = precision;
      for (const Row& r : report.rows) {
        if (family_of(r) != family || r.precision != precision) continue;
        if (!line.size_bytes) line.size_bytes = r.size_bytes;
        if (!r.is_edgeq() || !r.ok() || !detail::at_summary_threads(r, report) || line.edgeq_p50_ms) continue;
        line.edgeq_p50_ms = r.p50_ms;
        line.top1 = r.top1;
        line.agreement = r.agreement;
        line.speedup = r.ratio_vs_best_peer && *r.ratio_vs_best_peer > 0 ? std::optional(1 / *r.ratio_vs_best_peer) : std::nullopt;
        if (const Row* peer = best_peer(report, r)) {
          line.peer = peer->engine;
          line.peer_p50_ms = net_p50(*peer);
        }
      }
      m.lines.push_back(std::move(line));
    }
    const auto fp32 = std::find_if(m.lines.begin(), m.lines.end(), [](const SummaryLine& l) { return l.precision == "fp32"; });
    if (fp32 != m.lines.end() && fp32->top1)
      for (SummaryLine& l : m.lines)
        if (l.top1) l.delta_top1_pp = (*l.top1 - *fp32->top1) * 100.0;
    m.sentences = sentences_for(m);
    out.models.push_back(std::move(m));
  }
  out.skipped = skipped_line(report);
  return out;
}

std::string render_summary_markdown(const Summary& summary) {
  std::ostringstream s;
  for (const ModelSummary& m : summary.models) {
    s << "**" << caption(m) << "**\n\n|";
    for (const auto& h : summary_headers()) s << ' ' << h << " |";
    s << "\n|---|";
    for (size_t i = 1; i < summary_headers().size(); ++i) s << "---:|";
    s << "\n";
    for (const SummaryLine& l : m.lines) {
      s << '|';
      for (const auto& c : summary_cells(l)) s << ' ' << c << " |";
      s << "\n";
    }
    s << "\n";
    s << paragraph(m) << "\n\n";
  }
  if (!summary.skipped.empty()) s << summary.skipped << "\n\n";
  s << kSummaryNote << "\n";
  return s.str();
}

std::string render_summary_html(const Summary& summary) {
  std::ostringstream s;
  for (const ModelSummary& m : summary.models) {
    s << "<table class=\"summary\">\n<caption>" << html_escape(caption(m)) << "</caption>\n<thead><tr>";
    for (const auto& h : summary_headers()) s << "<th scope=\"col\">" << html_escape(h) << "</th>";
    s << "</tr></thead>\n<tbody>\n";
    for (const SummaryLine& l : m.lines) {
      const std::vector<std::string> cells = summary_cells(l);
      s << "<tr><th scope=\"row\">" << html_escape(cells[0]) << "</th>";
      for (size_t i = 1; i < cells.size(); ++i) s << "<td>" << html_escape(cells[i]) << "</td>";
      s << "</tr>\n";
    }
    s << "</tbody>\n</table>\n<p class=\"headline\">";
    s << html_escape(paragraph(m)) << "</p>\n";
  }
  if (!summary.skipped.empty()) s << "<p class=\"skipped\">" << html_escape(summary.skipped) << "</p>\n";
  s << "<p class=\"note\">" << html_escape(kSummaryNote) << "</p>\n";
  return s.str();
}

std::string render_summary_terminal(const Summary& summary) {
  std::ostringstream s;
  // Column widths in code points ("Δ" is two bytes, one column).
  auto columns = [](const std::string& t) {
    return static_cast<size_t>(std::count_if(t.begin(), t.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
  };
  for (const ModelSummary& m : summary.models) {
    std::vector<std::vector<std::string>> rows = {summary_headers()};
    for (const SummaryLine& l : m.lines) rows.push_back(summary_cells(l));
    std::vector<size_t> width(summary_headers().size(), 0);
    for (const auto& r : rows)
      for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], columns(r[c]));
    s << caption(m) << "\n";
    for (const auto& r : rows) {
      for (size_t c = 0; c < r.size(); ++c) {
        const std::string pad(width[c] - columns(r[c]), ' ');
        s << "  " << (c == 0 ? r[c] + pad : pad + r[c]);
      }
      s << "\n";
    }
    for (const auto& sentence : m.sentences) s << sentence << "\n";
    s << "\n";
  }
  if (!summary.skipped.empty()) s << summary.skipped << "\n";
  return s.str();
}

}  // namespace edgeq::bench
