// edgeq-serve: the server alone (`edgeq-serve ARGS` = `edgeq serve ARGS`), linked with the runtime core, the
// data module and the HTTP library only: no protobuf, libonnx or LibTorch. What the container image ships.
#include <cstring>
#include <vector>

#include "commands.h"

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  static char serve[] = "serve";
  if (argc < 2 || std::strcmp(argv[1], "serve") != 0) args.insert(args.begin() + 1, serve);
  return edgeq::cli::run_cli(static_cast<int>(args.size()), args.data(), "edgeq-serve: the edgeq inference server");
}
