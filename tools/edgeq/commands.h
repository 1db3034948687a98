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
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "edgeq/core.h"

namespace edgeq::cli {

inline constexpr long long kNoUpperBound = std::numeric_limits<long long>::max();

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

// Flag checks shared by every verb, with one-line messages that state the rule (CLI11's own Range and
// PositiveNumber print the largest double in full and accept "nan").
// A whole number in [min, max] ("--top: must be a whole number >= 1, not '0'").
CLI::Validator whole_number(long long min, long long max = kNoUpperBound);
// A finite real number in [min, max].
CLI::Validator real_number(double min, double max);
// An existing regular file (a directory, pipe, device or dangling link is named as such).
CLI::Validator input_file();
// An existing directory.
CLI::Validator input_directory();
// --threads: a whole number >= min_threads (0 may mean "all"); a count above the CPUs this process
// may use (its affinity mask) is lowered to that with a note on stderr, since more threads than CPUs
// only time-slice, and an absurd count would fail to start.
CLI::Validator thread_count(int min_threads);
// The same ceiling for a number parsed elsewhere (bench's "--threads 1,2,all" list).
int clamp_threads(int requested, const std::string& flag);

// --input-shape NAME=DIMS, repeatable ("images=1x3x224x224"; x or , between dims): the shape to compile
// for an input whose dims the model leaves open (the Session refuses a name that is no input and dims that
// contradict the model's fixed ones). Every verb that compiles a plan before it has data takes it.
void add_input_shape_option(CLI::App* cmd, std::map<std::string, Shape>* shapes);

// edgeq never writes over what it reads: each output (flag, path) that is the same file as an input
// (device and inode, so links and other spellings count) or the same path as an earlier output is an
// Error naming both. Empty paths (flag not given) are skipped.
struct NamedPath {
  std::string flag;  // "--out", or "model" for a positional input
  std::string path;
};
void check_outputs(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs);
// The file a dataset SPEC reads when it names one (sign-mnist:F.csv -> F.csv), else "".
std::string dataset_file(const std::string& spec);

// This process's executable (/proc/self/exe). Error(kIo) when it cannot be read.
std::string self_executable();
// `name` in the directory of self_executable() when it is there and executable, else "".
std::string sibling_executable(const std::string& name);

}  // namespace edgeq::cli
