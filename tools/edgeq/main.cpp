// edgeq: every verb but train's LibTorch side, which `edgeq train` execs (edgeq-torch, beside this binary).
#include "commands.h"

int main(int argc, char** argv) {
  return edgeq::cli::run_cli(argc, argv, "edgeq: train, quantize, run and benchmark small int8 image classifiers");
}
