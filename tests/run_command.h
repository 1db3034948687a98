// Test helper: run a shell command, capture stdout (and optionally stderr) and the exit code.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace edgeq::test {

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::string edgeq_binary() { return std::string(EDGEQ_BINARY_DIR) + "/bin/edgeq"; }

// Debian's interpreter (python3-torch lives there), never whatever python3 is first on PATH.
inline bool python_has(const std::string& module) {
  return run_command("/usr/bin/python3 -c 'import " + module + "' >/dev/null 2>&1").exit_code == 0;
}

}  // namespace edgeq::test
