// onnxruntime-web peer: runs tools/peers/ort_web/run.mjs (headless Chromium via playwright-core) once
// per model and thread count; anything missing becomes "skipped: <reason>", never an exception.
#include <filesystem>

#include "bench/sidecar.h"
#include "bench/subprocess.h"
#include "edgeq/bench.h"

namespace edgeq::bench {
namespace {

namespace fs = std::filesystem;

}  // namespace

OrtWebPeer::OrtWebPeer(OrtWebPeerOptions options) : options_(std::move(options)) {
  if (options_.peers_dir.empty()) options_.peers_dir = detail::default_peers_dir();
  if (options_.chromium.empty()) options_.chromium = detail::default_chromium();
}

std::string OrtWebPeer::unavailable_reason() const {
  return detail::browser_peer_unavailable_reason(options_.node, options_.chromium, options_.peers_dir, "ort_web/run.mjs",
                                                 {"onnxruntime-web", "playwright-core"});
}

OrtModelResult OrtWebPeer::run(const std::string& model_path) {
  OrtModelResult result;
  result.path = model_path;
  result.engine = "onnxruntime-web";
  result.threads = options_.threads;
  if (std::string reason = unavailable_reason(); !reason.empty()) {
    result.status = "skipped: " + reason;
    return result;
  }
  std::vector<std::string> argv = {options_.node, (fs::path(options_.peers_dir) / "ort_web" / "run.mjs").string(),
                                   "--chromium", options_.chromium};
  for (auto& a : detail::protocol_args(options_)) argv.push_back(std::move(a));
  argv.push_back(model_path);
  const detail::SidecarRun proc = detail::run_sidecar(argv, options_.cpus, "ort-web runner");
  if (!proc.skip_reason.empty()) {
    result.status = "skipped: " + proc.skip_reason;
    return result;
  }
  try {
    result = detail::parse_peer_json(proc.out, "ort-web runner", "onnxruntime-web", "ort_version", &ort_version_).front();
    detail::parse_peer_json(proc.out, "ort-web runner", "onnxruntime-web", "browser_version", &browser_version_);
  } catch (const Error& e) {
    result.status = std::string("skipped: ") + e.what();
  }
  return result;
}

}  // namespace edgeq::bench
