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

// The architecture this program was built for, as Node's process.arch and onnxruntime-node's binary
// directories name it: "x64", "arm64" ("" for others).
const char* node_arch();

// "" when the executable at `path` can run on this program's CPU as this program does: an ELF file for
// the same machine, or not an ELF file at all (a script: its interpreter is checked where it is known).
// Otherwise why not, as a row's skip reason: "/usr/bin/node is built for x86-64 and this edgeq for
// aarch64" (an aarch64 edgeq under qemu-user on an x86 host would otherwise start the host's node and
// time x86 code beside emulated code).
std::string foreign_architecture(const std::string& path);

}  // namespace edgeq::bench::detail
