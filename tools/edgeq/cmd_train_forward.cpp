// edgeq train ...: replaces this process with edgeq-torch (the LibTorch build of the CLI, in the same
// directory as this binary) given the same arguments, git-style. exec, not a child: the exit code,
// stdin/stdout/stderr and signals are edgeq-torch's own, and `edgeq train --help` is its help.
// Why a second program and not dlopen of the LibTorch library: see docs/design.md, "Two programs".
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "commands.h"
#include "edgeq/core.h"

namespace edgeq::cli {
namespace {

[[noreturn]] void exec_torch_program(const std::string& invoked_as, const std::vector<std::string>& verb_args) {
  const std::string path = sibling_executable(kTorchProgram);
  if (path.empty())
    throw Error(ErrorCode::kUnsupported, std::string("train needs ") + kTorchProgram +
                                             " (LibTorch), not built in this installation (configure with -DEDGEQ_WITH_TORCH=ON)");
  // argv[0] stays edgeq's, so usage lines and error prefixes read as the command the user typed.
  std::vector<std::string> args = {invoked_as, "train"};
  args.insert(args.end(), verb_args.begin(), verb_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::cout.flush();
  std::cerr.flush();
  ::execv(path.c_str(), argv.data());
  throw Error(ErrorCode::kIo, "cannot run " + path + ": " + std::strerror(errno));
}

void setup_train_forward(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", kTrainSummary);
  // Every argument after "train", --help included, goes to edgeq-torch untouched and in order.
  cmd->prefix_command();
  cmd->set_help_flag();
  cmd->callback([cmd] { exec_torch_program(cmd->get_parent()->get_name(), cmd->remaining()); });
}

}  // namespace

EDGEQ_REGISTER_VERB("train", 20, setup_train_forward);

}  // namespace edgeq::cli
