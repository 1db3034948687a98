// Runs the edgeq CLI as a hostile-input test needs it: in a child process under a memory ceiling
// (RLIMIT_AS) and a wall-clock limit, with its CPU time, peak RSS, exit code and stderr recorded, and
// the files of a folder compared before and after.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace edgeq::test {

struct Limits {
  uint64_t address_space_bytes = uint64_t{2} << 30;  // the child cannot map more (a runaway allocation fails)
  double wall_seconds = 30;                          // killed after this: a hang
};

struct HostileRun {
  int exit_code = -1;     // -1 when killed by a signal or the wall limit
  int signal = 0;         // the signal that ended it, if any
  bool timed_out = false;
  double cpu_seconds = 0;  // user + system
  double wall_seconds = 0;
  uint64_t max_rss_bytes = 0;
  std::string out, err;
};

// Runs `args` (argv[0] is the program) with ENV added to the environment.
HostileRun run_limited(const std::vector<std::string>& args, const Limits& limits = {},
                       const std::map<std::string, std::string>& env = {});

// Every entry under DIR (recursively, symbolic links not followed): path -> size and modification
// time, so a changed, added or removed file shows as a difference.
std::map<std::string, std::string> snapshot(const std::string& dir);

}  // namespace edgeq::test
