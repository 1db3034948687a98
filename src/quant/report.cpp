// The quantization report: JSON (for tools and the bench) and a fixed-width table (for people).
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "edgeq/quant.h"

namespace edgeq::quant {

namespace {

nlohmann::ordered_json db_json(double v) { return std::isfinite(v) ? nlohmann::ordered_json(std::round(v * 100) / 100) : nlohmann::ordered_json(nullptr); }

std::string db_text(double v) {
  if (!std::isfinite(v)) return v > 0 ? "exact" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

std::string report_json(const QuantizeReport& r) {
  nlohmann::ordered_json j;
  j["mode"] = r.mode;
  if (!r.method.empty()) j["calibration"] = {{"method", r.method}, {"samples", r.calibration_samples}};
  j["activation_type"] = r.activation_type;
  j["weights"] = r.per_channel ? "int8 symmetric per-channel" : "int8 symmetric per-tensor";
  j["size"] = {{"fp32_bytes", r.bytes_fp32}, {"quant_bytes", r.bytes_quant},
               {"ratio", r.bytes_fp32 ? static_cast<double>(r.bytes_quant) / static_cast<double>(r.bytes_fp32) : 0.0}};
  if (r.accuracy_fp32 >= 0)
    j["accuracy"] = {{"fp32", r.accuracy_fp32}, {"quant", r.accuracy_quant}, {"drop_pp", (r.accuracy_fp32 - r.accuracy_quant) * 100.0}};
  j["fp32_layers"] = r.fp32_layers;
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"node", l.node}, {"op", l.op_type}, {"quantized", l.quantized}, {"weight_sqnr_db", db_json(l.weight_sqnr_db)},
                      {"layer_sqnr_db", db_json(l.layer_sqnr_db)}, {"note", l.note}});
  j["layers"] = layers;
  nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
  for (const auto& t : r.tensors)
    tensors.push_back({{"tensor", t.name}, {"min", t.range.min}, {"max", t.range.max}, {"scale", t.scale}, {"zero_point", t.zero_point},
                       {"sqnr_db", db_json(t.sqnr_db)}});
  j["tensors"] = tensors;
  j["warnings"] = r.warnings;
  return j.dump(2);
}

std::string report_table(const QuantizeReport& r) {
  std::ostringstream out;
  char line[256];
  out << "mode " << r.mode;
  if (!r.method.empty()) out << ", calibration " << r.method << " on " << r.calibration_samples << " samples";
  out << ", activations " << r.activation_type << ", weights int8 " << (r.per_channel ? "per-channel" : "per-tensor") << "\n";
  std::snprintf(line, sizeof line, "size: %lld -> %lld bytes (%.3fx)\n", static_cast<long long>(r.bytes_fp32),
                static_cast<long long>(r.bytes_quant), r.bytes_fp32 ? static_cast<double>(r.bytes_quant) / r.bytes_fp32 : 0.0);
  out << line;
  if (r.accuracy_fp32 >= 0) {
    std::snprintf(line, sizeof line, "top-1: fp32 %.2f%% -> quantized %.2f%% (%+.2f pp)\n", r.accuracy_fp32 * 100, r.accuracy_quant * 100,
                  (r.accuracy_quant - r.accuracy_fp32) * 100);
    out << line;
  }
  std::snprintf(line, sizeof line, "\n%-28s %-18s %-6s %12s %12s  %s\n", "layer", "op", "int8", "weight dB", "alone dB", "note");
  out << line;
  for (const auto& l : r.layers) {
    std::snprintf(line, sizeof line, "%-28s %-18s %-6s %12s %12s  %s\n", l.node.c_str(), l.op_type.c_str(), l.quantized ? "yes" : "no",
                  l.weight_sqnr_db != 0 ? db_text(l.weight_sqnr_db).c_str() : "-", l.layer_sqnr_db != 0 ? db_text(l.layer_sqnr_db).c_str() : "-",
                  l.note.c_str());
    out << line;
  }
  if (!r.tensors.empty()) {
    std::snprintf(line, sizeof line, "\n%-36s %11s %11s %12s %5s %9s\n", "tensor", "min", "max", "scale", "zp", "SQNR dB");
    out << line;
    for (const auto& t : r.tensors) {
      std::snprintf(line, sizeof line, "%-36s %11.4g %11.4g %12.6g %5d %9s\n", t.name.c_str(), t.range.min, t.range.max, t.scale,
                    t.zero_point, db_text(t.sqnr_db).c_str());
      out << line;
    }
  }
  if (!r.fp32_layers.empty()) {
    out << "\nkept in fp32 by the accuracy budget:";
    for (const auto& l : r.fp32_layers) out << " " << l;
    out << "\n";
  }
  for (const auto& w : r.warnings) out << "warning: " << w << "\n";
  return out.str();
}

}  // namespace edgeq::quant
