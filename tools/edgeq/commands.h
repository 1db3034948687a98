// The edgeq CLI's verb registry and driver, shared by its two programs (DESIGN.md, "The CLI contract"):
//   edgeq        every verb that does not need LibTorch; starts in milliseconds (no LibTorch linked).
//   edgeq-torch  the LibTorch verbs: train, and the hidden bench-peer that edgeq bench runs for its
//                libtorch-eager row. Built only with EDGEQ_WITH_TORCH; installed beside edgeq.
// `edgeq train ...` execs edgeq-torch (found next to /proc/self/exe) with the same arguments, git-style.
// Each verb is one thin file (cmd_<verb>.cpp) over one module that registers itself with
// EDGEQ_REGISTER_VERB; a program is its main(), which calls run_cli, plus the verb files linked into it.
// Verb callbacks throw edgeq::Error for user errors; run_cli prints one line and returns 1.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace edgeq::cli {

struct Verb {
  const char* name;
  int order;  // position in --help (DESIGN.md's CLI contract order)
  void (*setup)(CLI::App& app);
};

std::vector<Verb>& verb_registry();

struct VerbRegistrar {
  VerbRegistrar(const char* name, int order, void (*setup)(CLI::App&)) {
    verb_registry().push_back({name, order, setup});
  }
};

#define EDGEQ_REGISTER_VERB(name, order, setup) \
  static ::edgeq::cli::VerbRegistrar edgeq_verb_registrar_##setup(name, order, setup)

// Builds the CLI11 app from the registered verbs and runs the chosen one. Exit codes: 0 success,
// 1 user error (one line on stderr, prefixed with the program name as invoked: "edgeq: error: ..."),
// 2 bug. `description` heads --help.
int run_cli(int argc, char** argv, const char* description);

// The LibTorch program and what its train verb says in either program's --help.
inline constexpr const char* kTorchProgram = "edgeq-torch";
inline constexpr const char* kTrainSummary = "Train a reference CNN with LibTorch and export DIR/model.onnx + train.json";

// This process's executable (/proc/self/exe). Error(kIo) when it cannot be read.
std::string self_executable();
// `name` in the directory of self_executable() when it is there and executable, else "".
std::string sibling_executable(const std::string& name);

}  // namespace edgeq::cli
