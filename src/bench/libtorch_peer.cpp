// LibTorch peer: runs `edgeq-torch bench-peer` once per model (one process, so its peak RSS is that
// model's). A missing edgeq-torch or a failing run becomes "skipped: <reason>", never an exception.
#include "bench/sidecar.h"
#include "bench/subprocess.h"
#include "edgeq/bench.h"

namespace edgeq::bench {
namespace {

constexpr const char* kEngine = "libtorch-eager";

}  // namespace

LibTorchPeer::LibTorchPeer(LibTorchPeerOptions options) : options_(std::move(options)) {}

std::string LibTorchPeer::unavailable_reason() const {
  if (options_.program.empty() || detail::find_executable(options_.program).empty())
    return "edgeq-torch (LibTorch) is not built in this installation (configure with -DEDGEQ_WITH_TORCH=ON)";
  return "";
}

OrtModelResult LibTorchPeer::run(const std::string& model_path) {
  OrtModelResult skipped;
  skipped.path = model_path;
  skipped.engine = kEngine;
  skipped.threads = options_.threads;
  if (std::string reason = unavailable_reason(); !reason.empty()) {
    skipped.status = "skipped: " + reason;
    return skipped;
  }
  std::vector<std::string> argv = {options_.program, "bench-peer"};
  // No binding to measure: the no-op model is for the ONNX peers.
  LibTorchPeerOptions o = options_;
  o.noop_model.clear();
  for (auto& a : detail::protocol_args(o)) argv.push_back(std::move(a));
  argv.push_back(model_path);
  const detail::SidecarRun proc = detail::run_sidecar(argv, options_.cpus, "edgeq-torch bench-peer");
  try {
    if (!proc.skip_reason.empty()) throw Error(ErrorCode::kUnsupported, proc.skip_reason);
    std::vector<OrtModelResult> results =
        detail::parse_peer_json(proc.out, "edgeq-torch bench-peer", kEngine, "torch_version", &torch_version_);
    if (results.size() != 1) throw Error(ErrorCode::kParse, "edgeq-torch bench-peer reported " + std::to_string(results.size()) + " models, not 1");
    return std::move(results[0]);
  } catch (const Error& e) {
    skipped.status = "skipped: " + std::string(e.what());
    return skipped;
  }
}

}  // namespace edgeq::bench
