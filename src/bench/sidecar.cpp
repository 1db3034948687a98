#include "bench/sidecar.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "bench/subprocess.h"

namespace fs = std::filesystem;

namespace edgeq::bench::detail {
namespace {

std::string last_line(const std::string& text) {
  const size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  const size_t nl = text.rfind('\n', end);
  const size_t begin = nl == std::string::npos ? 0 : nl + 1;
  return text.substr(begin, end - begin + 1);
}

std::string join(const std::vector<int64_t>& values) {
  std::string s;
  for (int64_t v : values) {
    if (!s.empty()) s += ',';
    s += std::to_string(v);
  }
  return s;
}

double ms_to_ns(const nlohmann::json& j, const char* key) { return j.at(key).get<double>() * 1e6; }

OrtBatchResult parse_batch(const nlohmann::json& b) {
  OrtBatchResult r;
  r.batch = b.at("batch").get<int64_t>();
  r.stats.count = b.at("runs").get<int64_t>() * b.at("rounds").get<int64_t>();
  r.stats.p50_ns = ms_to_ns(b, "p50_ms");
  r.stats.p95_ns = ms_to_ns(b, "p95_ms");
  r.stats.p99_ns = ms_to_ns(b, "p99_ms");
  r.stats.mean_ns = ms_to_ns(b, "mean_ms");
  r.stats.min_ns = ms_to_ns(b, "min_ms");
  r.stats.max_ns = ms_to_ns(b, "max_ms");
  r.stats.stddev_ns = ms_to_ns(b, "stddev_ms");
  for (const auto& p : b.at("round_p50_ms")) r.round_p50_ns.push_back(p.get<double>() * 1e6);
  r.spread = b.at("spread").get<double>();
  r.throughput_items_per_s = b.at("throughput_items_per_s").get<double>();
  return r;
}

std::optional<double> optional_number(const nlohmann::json& j, const char* key) {
  if (j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nullopt;
}

PeerEval parse_eval(const nlohmann::json& e) {
  PeerEval r;
  r.status = e.at("status").get<std::string>();
  if (r.status != "ok") return r;
  r.samples = e.at("samples").get<int64_t>();
  r.total = e.at("total").get<int64_t>();
  r.top1 = optional_number(e, "top1");
  r.agreement = optional_number(e, "agreement");
  r.max_logit_diff = optional_number(e, "max_logit_diff");
  r.ms = e.value("ms", 0.0);
  return r;
}

FirstPrediction parse_first_prediction(const nlohmann::json& f) {
  FirstPrediction r;
  r.status = f.at("status").get<std::string>();
  if (r.status != "ok") return r;
  r.cold_ms = f.at("cold_ms").get<double>();
  r.warm_ms = f.at("warm_ms").get<double>();
  r.cold_transferred_bytes = f.value("cold_transferred_bytes", int64_t{0});
  r.warm_transferred_bytes = f.value("warm_transferred_bytes", int64_t{0});
  return r;
}

std::optional<double> noop_p50(const nlohmann::json& noop) {
  if (noop.is_object() && noop.value("status", "") == "ok") return ms_to_ns(noop, "p50_ms");
  return std::nullopt;
}

}  // namespace

std::string default_peers_dir() {
  if (const char* env = std::getenv("EDGEQ_PEERS_DIR"); env && *env) return env;
  return EDGEQ_DEFAULT_PEERS_DIR;
}

std::string default_chromium() {
  if (const char* env = std::getenv("EDGEQ_CHROMIUM"); env && *env) return env;
  return "/usr/bin/chromium";
}

std::string browser_peer_unavailable_reason(const std::string& node_name, const std::string& chromium_path,
                                            const std::string& peers_dir, const std::string& runner,
                                            const std::vector<std::string>& packages) {
  const std::string node = find_executable(node_name), chromium = find_executable(chromium_path);
  if (node.empty()) return "node not found (looked for '" + node_name + "' on PATH)";
  if (chromium.empty()) return "chromium not found at '" + chromium_path + "' (apt-get install chromium, or set EDGEQ_CHROMIUM)";
  for (const std::string& program : {node, chromium})
    if (std::string foreign = foreign_architecture(program); !foreign.empty()) return foreign;
  const fs::path dir(peers_dir);
  if (!fs::exists(dir / runner)) return (dir / runner).string() + " not found";
  for (const std::string& package : packages)
    if (!fs::exists(dir / "node_modules" / package / "package.json"))
      return package + " not installed in " + dir.string() + " (npm install --ignore-scripts there)";
  return "";
}

std::vector<std::string> protocol_args(const OrtPeerOptions& o) {
  std::vector<std::string> args = {"--threads",    std::to_string(o.threads),    "--warmup", std::to_string(o.warmup),
                                   "--runs",       std::to_string(o.runs),       "--batch-runs",
                                   std::to_string(o.batch_runs), "--rounds",     std::to_string(o.rounds),
                                   "--batches",    join(o.batches)};
  if (!o.input_f32.empty()) {
    args.insert(args.end(), {"--input", o.input_f32});
  } else {
    args.insert(args.end(), {"--seed", std::to_string(o.seed)});
  }
  if (!o.noop_model.empty()) args.insert(args.end(), {"--noop", o.noop_model});
  if (!o.eval_input.empty()) {
    args.insert(args.end(), {"--eval-input", o.eval_input, "--eval-batch", std::to_string(o.eval_batch), "--eval-limit",
                             std::to_string(o.eval_limit)});
    if (!o.eval_labels.empty()) args.insert(args.end(), {"--eval-labels", o.eval_labels});
    if (!o.eval_reference.empty()) args.insert(args.end(), {"--eval-reference", o.eval_reference});
  }
  return args;
}

SidecarRun run_sidecar(const std::vector<std::string>& argv, const std::vector<int>& cpus, const std::string& what) {
  SidecarRun run;
  ProcessResult proc;
  {
    ScopedAffinity pin(cpus);  // the child inherits the mask of the thread that starts it
    proc = run_process(argv);
  }
  if (!proc.launched) {
    run.skip_reason = "cannot start " + what + ": " + proc.error;
  } else if (proc.exit_code != 0) {
    const std::string why = last_line(proc.err);
    run.skip_reason = what + " failed (exit " + std::to_string(proc.exit_code) + ")" + (why.empty() ? "" : ": " + why);
  }
  run.out = std::move(proc.out);
  return run;
}

std::vector<OrtModelResult> parse_peer_json(const std::string& json_text, const std::string& what,
                                            const std::string& default_engine, const std::string& version_key,
                                            std::string* version) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw Error(ErrorCode::kParse, what + " output is not a JSON object");
  try {
    if (version) *version = j.value(version_key, "");
    const auto& models = j.at("models");
    if (!models.is_array() || models.empty()) throw Error(ErrorCode::kParse, what + " output has no models");
    const int threads = j.contains("protocol") ? j["protocol"].value("threads", 0) : 0;
    const std::optional<double> shared_noop = noop_p50(j.value("noop", nlohmann::json()));
    std::vector<OrtModelResult> results;
    for (const auto& m : models) {
      OrtModelResult r;
      r.path = m.at("path").get<std::string>();
      r.engine = m.value("engine", default_engine);
      r.status = m.at("status").get<std::string>();
      r.peak_rss_bytes = m.value("peak_rss_bytes", int64_t{0});
      r.threads = threads;
      if (r.status == "ok") {
        r.session_ms = m.at("session_ms").get<double>();
        for (const auto& b : m.at("batches"))
          if (b.at("status").get<std::string>() == "ok") r.batches.push_back(parse_batch(b));
      }
      r.noop_p50_ns = m.contains("noop") ? noop_p50(m["noop"]) : shared_noop;
      if (m.contains("eval") && m["eval"].is_object()) r.eval = parse_eval(m["eval"]);
      if (m.contains("first_prediction") && m["first_prediction"].is_object())
        r.first_prediction = parse_first_prediction(m["first_prediction"]);
      results.push_back(std::move(r));
    }
    return results;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kParse, what + " output: " + e.what());
  }
}

}  // namespace edgeq::bench::detail

namespace edgeq::bench {
namespace {

nlohmann::json batch_json(const OrtBatchResult& b) {
  const int64_t rounds = std::max<int64_t>(1, static_cast<int64_t>(b.round_p50_ns.size()));
  nlohmann::json round_p50 = nlohmann::json::array();
  for (double ns : b.round_p50_ns) round_p50.push_back(ns / 1e6);
  return {{"batch", b.batch},
          {"status", "ok"},
          {"runs", b.stats.count / rounds},
          {"rounds", rounds},
          {"p50_ms", b.stats.p50_ns / 1e6},
          {"p95_ms", b.stats.p95_ns / 1e6},
          {"p99_ms", b.stats.p99_ns / 1e6},
          {"mean_ms", b.stats.mean_ns / 1e6},
          {"min_ms", b.stats.min_ns / 1e6},
          {"max_ms", b.stats.max_ns / 1e6},
          {"stddev_ms", b.stats.stddev_ns / 1e6},
          {"round_p50_ms", round_p50},
          {"spread", b.spread},
          {"throughput_items_per_s", b.throughput_items_per_s}};
}

nlohmann::json optional_json(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

nlohmann::json eval_json(const PeerEval& e) {
  if (e.status != "ok") return {{"status", e.status}};
  return {{"status", e.status}, {"samples", e.samples}, {"total", e.total}, {"top1", optional_json(e.top1)},
          {"agreement", optional_json(e.agreement)}, {"max_logit_diff", optional_json(e.max_logit_diff)}, {"ms", e.ms}};
}

}  // namespace

OrtBatchResult batch_result(const Measurement& m) {
  OrtBatchResult b;
  b.batch = m.batch;
  b.stats = m.overall;
  b.round_p50_ns = m.round_p50_ns;
  b.spread = m.spread;
  b.throughput_items_per_s = m.throughput_items_per_s;
  return b;
}

std::string render_peer_json(const std::vector<OrtModelResult>& results, const std::string& version_key,
                             const std::string& version) {
  nlohmann::json models = nlohmann::json::array();
  int threads = 0;
  for (const OrtModelResult& r : results) {
    threads = std::max(threads, r.threads);
    nlohmann::json m = {{"path", r.path}, {"engine", r.engine}, {"status", r.status}};
    if (r.status == "ok") {
      m["session_ms"] = r.session_ms;
      m["peak_rss_bytes"] = r.peak_rss_bytes;
      nlohmann::json batches = nlohmann::json::array();
      for (const OrtBatchResult& b : r.batches) batches.push_back(batch_json(b));
      m["batches"] = std::move(batches);
      if (r.eval) m["eval"] = eval_json(*r.eval);
    }
    models.push_back(std::move(m));
  }
  return nlohmann::json{{version_key, version}, {"protocol", {{"threads", threads}}}, {"models", std::move(models)}}.dump() + "\n";
}

}  // namespace edgeq::bench
