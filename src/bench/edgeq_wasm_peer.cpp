// edgeq's WebAssembly module as a browser peer: runs tools/peers/edgeq_wasm/run.mjs (headless Chromium
// via playwright-core, the ort-web peer's harness) once per model; anything missing, the wasm build
// included, becomes "skipped: <reason>", never an exception.
#include <cstdlib>
#include <filesystem>

#include "bench/sidecar.h"
#include "edgeq/bench.h"

namespace edgeq::bench {
namespace {

namespace fs = std::filesystem;

constexpr const char* kEngine = "edgeq-wasm";
constexpr const char* kModuleFiles[] = {"edgeq.mjs", "edgeq-wasm.mjs", "edgeq-wasm.wasm"};

}  // namespace

std::string default_wasm_module_dir() {
  if (const char* env = std::getenv("EDGEQ_WASM_DIR"); env && *env) return env;
  return EDGEQ_DEFAULT_WASM_MODULE_DIR;
}

EdgeqWasmPeer::EdgeqWasmPeer(EdgeqWasmPeerOptions options) : options_(std::move(options)) {
  if (options_.peers_dir.empty()) options_.peers_dir = detail::default_peers_dir();
  if (options_.chromium.empty()) options_.chromium = detail::default_chromium();
  if (options_.module_dir.empty()) options_.module_dir = default_wasm_module_dir();
}

std::string EdgeqWasmPeer::unavailable_reason() const {
  for (const char* file : kModuleFiles)
    if (!fs::is_regular_file(fs::path(options_.module_dir) / file))
      return "the edgeq wasm module is not built: no " + (fs::path(options_.module_dir) / file).string() +
             " (run make wasm, or point EDGEQ_WASM_DIR / --wasm-dir at a wasm build's web/edgeq)";
  return detail::browser_peer_unavailable_reason(options_.node, options_.chromium, options_.peers_dir,
                                                 "edgeq_wasm/run.mjs", {"playwright-core"});
}

OrtModelResult EdgeqWasmPeer::run(const std::string& model_path) {
  OrtModelResult result;
  result.path = model_path;
  result.engine = kEngine;
  result.threads = options_.threads;
  if (options_.threads != 1) {
    result.status = "skipped: the edgeq wasm module runs one thread (built without pthreads, docs/wasm.md)";
    return result;
  }
  if (std::string reason = unavailable_reason(); !reason.empty()) {
    result.status = "skipped: " + reason;
    return result;
  }
  std::vector<std::string> argv = {options_.node,  (fs::path(options_.peers_dir) / "edgeq_wasm" / "run.mjs").string(),
                                   "--chromium",   options_.chromium,
                                   "--module-dir", options_.module_dir};
  for (auto& a : detail::protocol_args(options_)) argv.push_back(std::move(a));
  argv.push_back(model_path);
  const detail::SidecarRun proc = detail::run_sidecar(argv, options_.cpus, "edgeq-wasm runner");
  if (!proc.skip_reason.empty()) {
    result.status = "skipped: " + proc.skip_reason;
    return result;
  }
  try {
    result = detail::parse_peer_json(proc.out, "edgeq-wasm runner", kEngine, "edgeq_version", &edgeq_version_).front();
    detail::parse_peer_json(proc.out, "edgeq-wasm runner", kEngine, "browser_version", &browser_version_);
  } catch (const Error& e) {
    result.status = std::string("skipped: ") + e.what();
  }
  return result;
}

}  // namespace edgeq::bench
