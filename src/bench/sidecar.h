// What the subprocess peers (ort_bench.mjs, ort_web/run.mjs, torch_bench.py) share: where they live,
// the protocol flags they all take, starting one with a CPU mask, and their common JSON.
#pragma once

#include <string>
#include <vector>

#include "edgeq/bench.h"

namespace edgeq::bench::detail {

// $EDGEQ_PEERS_DIR, else the source tree's tools/peers.
std::string default_peers_dir();

// --threads --warmup --runs --batch-runs --rounds --batches, then --input FILE or --seed S, then
// --noop MODEL and the --eval-* flags when set: the flags every peer script understands.
std::vector<std::string> protocol_args(const OrtPeerOptions& options);

// $EDGEQ_CHROMIUM, else /usr/bin/chromium.
std::string default_chromium();

// Why a headless-Chromium peer cannot run ("" = it can): node and chromium found (and of this machine's
// architecture), peers_dir/<runner> present, and each of `packages` installed in peers_dir/node_modules.
std::string browser_peer_unavailable_reason(const std::string& node, const std::string& chromium,
                                            const std::string& peers_dir, const std::string& runner,
                                            const std::vector<std::string>& packages);

struct SidecarRun {
  std::string skip_reason;  // "" = ran and exited 0
  std::string out;          // its stdout
};
// Runs argv pinned to `cpus` (the child inherits the mask); a failed start or non-zero exit becomes
// a skip reason naming `what` and the last line of its stderr.
SidecarRun run_sidecar(const std::vector<std::string>& argv, const std::vector<int>& cpus, const std::string& what);

// The per-model results of a peer's JSON ({models: [...], noop}). A model's own "noop" object wins
// over the top-level one; "engine" defaults to `default_engine`. `version_key` names the top-level
// field copied to *version. Error(kParse) naming `what` ("ort sidecar") on malformed JSON.
std::vector<OrtModelResult> parse_peer_json(const std::string& json_text, const std::string& what,
                                            const std::string& default_engine, const std::string& version_key,
                                            std::string* version);

}  // namespace edgeq::bench::detail
