// edgeq: every verb but train's LibTorch side, which `edgeq train` execs (edgeq-torch, beside this binary).
// In the core-only build (EDGEQ_CORE_ONLY) the bench verb alone.
#include "commands.h"

int main(int argc, char** argv) {
#ifdef EDGEQ_CORE_ONLY
  return edgeq::cli::run_cli(argc, argv, "edgeq (runtime core build: the bench verb only)");
#else
  return edgeq::cli::run_cli(argc, argv, "edgeq: train, quantize, run and benchmark small int8 image classifiers");
#endif
}
