// Running a helper program (the Node sidecar) and capturing what it prints.
#pragma once

#include <string>
#include <vector>

namespace edgeq::bench::detail {

struct ProcessResult {
  bool launched = false;   // false: the program could not be started (error says why)
  int exit_code = -1;      // -1 when killed by a signal
  std::string out, err;    // everything written to stdout / stderr
  std::string error;
};

// Runs argv[0] (looked up on PATH when it has no '/') with argv, no shell involved; returns when it exits.
ProcessResult run_process(const std::vector<std::string>& argv);

// Full path of an executable found on PATH (or `name` itself when it contains '/' and is
// executable); "" when absent.
std::string find_executable(const std::string& name);

}  // namespace edgeq::bench::detail
