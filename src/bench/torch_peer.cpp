// PyTorch peer: runs tools/peers/torch_bench.py with Debian's python3 once per model (one process,
// so its peak RSS is that model's); eager and TorchScript come back as two results. Anything missing
// becomes "skipped: <reason>", never an exception.
#include <filesystem>

#include "bench/sidecar.h"
#include "bench/subprocess.h"
#include "edgeq/bench.h"

namespace edgeq::bench {
namespace {

namespace fs = std::filesystem;

std::string engine_of(const std::string& mode) { return mode == "eager" ? "pytorch-eager" : "torchscript"; }

}  // namespace

TorchPeer::TorchPeer(TorchPeerOptions options) : options_(std::move(options)) {
  if (options_.peers_dir.empty()) options_.peers_dir = detail::default_peers_dir();
}

std::string TorchPeer::unavailable_reason() const {
  const std::string python = detail::find_executable(options_.python);
  if (python.empty()) return "python not found at '" + options_.python + "' (Debian's python3-torch is needed)";
  if (std::string foreign = detail::foreign_architecture(python); !foreign.empty()) return foreign;
  const fs::path script = fs::path(options_.peers_dir) / "torch_bench.py";
  if (!fs::exists(script)) return script.string() + " not found";
  if (options_.modes.empty()) return "no mode asked for";
  return "";
}

std::vector<OrtModelResult> TorchPeer::run(const std::string& model_path) {
  auto skipped_all = [&](const std::string& reason) {
    std::vector<OrtModelResult> results;
    for (const auto& mode : options_.modes) {
      OrtModelResult r;
      r.path = model_path;
      r.engine = engine_of(mode);
      r.threads = options_.threads;
      r.status = "skipped: " + reason;
      results.push_back(std::move(r));
    }
    return results;
  };
  if (std::string reason = unavailable_reason(); !reason.empty()) return skipped_all(reason);
  std::string modes;
  for (const auto& m : options_.modes) {
    if (!modes.empty()) modes += ',';
    modes += m;
  }
  std::vector<std::string> argv = {options_.python, (fs::path(options_.peers_dir) / "torch_bench.py").string(),
                                   "--modes", modes};
  // The script measures nn.Identity itself as its no-op; --noop is for the ONNX peers.
  TorchPeerOptions o = options_;
  o.noop_model.clear();
  for (auto& a : detail::protocol_args(o)) argv.push_back(std::move(a));
  if (!options_.dump_logits.empty()) argv.insert(argv.end(), {"--dump-logits", options_.dump_logits});
  argv.push_back(model_path);
  const detail::SidecarRun proc = detail::run_sidecar(argv, options_.cpus, "torch_bench.py");
  if (!proc.skip_reason.empty()) return skipped_all(proc.skip_reason);
  try {
    return detail::parse_peer_json(proc.out, "torch_bench.py", "pytorch-eager", "torch_version", &torch_version_);
  } catch (const Error& e) {
    return skipped_all(e.what());
  }
}

}  // namespace edgeq::bench
