// edgeq-torch: the LibTorch verbs of edgeq (train, and bench-peer for edgeq bench's libtorch-eager row).
// Users reach it through `edgeq train`; it is a program of its own so that edgeq never loads LibTorch.
#include "commands.h"

int main(int argc, char** argv) {
  return edgeq::cli::run_cli(argc, argv, "edgeq-torch: the LibTorch verbs of edgeq (run as `edgeq train`)");
}
