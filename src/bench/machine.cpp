// Machine description (CPU model, ISA flags, kernel, compiler) and resident-memory figures.
#include <poll.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "edgeq/bench.h"

namespace edgeq::bench {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string compiler_string() {
#if defined(__clang__)
  return std::string("Clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("GCC ") + __VERSION__;
#else
  return "unknown compiler";
#endif
}

// A "VmHWM:   1234 kB" style field of /proc/self/status, in bytes; 0 when absent.
int64_t proc_status_kb_field(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream values(line.substr(field.size() + 1));
      int64_t kb = 0;
      values >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

}  // namespace

bool MachineInfo::has(const std::string& flag) const {
  return std::find(isa_flags.begin(), isa_flags.end(), flag) != isa_flags.end();
}

namespace {

// Arm Ltd's (implementer 0x41) part numbers of the cores edge boards and servers use (Linux's
// arch/arm64/include/asm/cputype.h).
std::string arm_part_name(const std::string& implementer, const std::string& part) {
  static const std::pair<const char*, const char*> kArmParts[] = {
      {"0xd03", "Cortex-A53"}, {"0xd04", "Cortex-A35"}, {"0xd05", "Cortex-A55"}, {"0xd07", "Cortex-A57"},
      {"0xd08", "Cortex-A72"}, {"0xd09", "Cortex-A73"}, {"0xd0a", "Cortex-A75"}, {"0xd0b", "Cortex-A76"},
      {"0xd0c", "Neoverse N1"}, {"0xd0d", "Cortex-A77"}, {"0xd40", "Neoverse V1"}, {"0xd41", "Cortex-A78"},
      {"0xd46", "Cortex-A510"}, {"0xd47", "Cortex-A710"}, {"0xd49", "Neoverse N2"}, {"0xd4f", "Neoverse V2"}};
  if (implementer == "0x41")
    for (const auto& [number, name] : kArmParts)
      if (part == number) return name;
  return "Arm CPU implementer " + implementer + " part " + part;
}

}  // namespace

MachineInfo parse_cpuinfo(const std::string& cpuinfo_text) {
  MachineInfo info;
  std::set<std::string> flags;
  std::istringstream in(cpuinfo_text);
  std::string line;
  bool flags_read = false;
  std::string implementer, part, board;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon));
    const std::string value = trim(line.substr(colon + 1));
    if (key == "processor") {
      ++info.logical_cpus;
    } else if (key == "model name" && info.cpu_model.empty()) {
      info.cpu_model = value;
    } else if (key == "CPU implementer" && implementer.empty()) {
      implementer = value;
    } else if (key == "CPU part" && part.empty()) {
      part = value;
    } else if (key == "Model") {
      board = value;
    } else if ((key == "flags" || key == "Features") && !flags_read) {
      // Every processor lists the same flags on the machines we target; the first list is enough.
      std::istringstream words(value);
      std::string w;
      while (words >> w) flags.insert(w);
      flags_read = true;
    }
  }
  for (const char* f : kIsaFlagsOfInterest)
    if (flags.count(f)) info.isa_flags.emplace_back(f);
  if (info.cpu_model.empty() && !part.empty()) info.cpu_model = arm_part_name(implementer, part);
  if (!board.empty()) info.cpu_model = info.cpu_model.empty() ? board : info.cpu_model + " (" + board + ")";
  return info;
}

MachineInfo describe_machine() {
  std::string cpuinfo;
  try {
    cpuinfo = read_file("/proc/cpuinfo");
  } catch (const Error&) {
    // Not Linux or /proc hidden: the description stays partial rather than failing a benchmark.
  }
  MachineInfo info = parse_cpuinfo(cpuinfo);
  if (info.logical_cpus == 0) info.logical_cpus = hardware_threads();
  info.allowed_cpus = static_cast<int>(allowed_cpus().size());
  struct utsname u {};
  if (::uname(&u) == 0) info.kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
  info.compiler = compiler_string();
  info.edgeq_version = version();
  return info;
}

std::string machine_to_json(const MachineInfo& m) {
  nlohmann::ordered_json j;
  j["cpu_model"] = m.cpu_model;
  j["logical_cpus"] = m.logical_cpus;
  j["allowed_cpus"] = m.allowed_cpus;
  j["isa_flags"] = m.isa_flags;
  j["kernel"] = m.kernel;
  j["compiler"] = m.compiler;
  j["edgeq_version"] = m.edgeq_version;
  return j.dump();
}

int64_t peak_rss_bytes() {
  if (int64_t hwm = proc_status_kb_field("VmHWM"); hwm > 0) return hwm;
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;  // Linux reports kilobytes
}

int64_t current_rss_bytes() { return proc_status_kb_field("VmRSS"); }

ChildPhase run_phase_in_child(const std::function<std::string()>& fn) {
  int fds[2];
  if (::pipe(fds) != 0) throw Error(ErrorCode::kIo, std::string("run_phase_in_child: pipe: ") + std::strerror(errno));
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw Error(ErrorCode::kIo, std::string("run_phase_in_child: fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    // Wire format: one status byte ('1' ok, '0' exception) then the payload.
    std::string message;
    char status = '1';
    try {
      message = fn();
    } catch (const std::exception& e) {
      status = '0';
      message = e.what();
    } catch (...) {
      status = '0';
      message = "unknown exception";
    }
    message.insert(message.begin(), status);
    size_t off = 0;
    while (off < message.size()) {
      const ssize_t n = ::write(fds[1], message.data() + off, message.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fds[1]);
    ::_exit(0);  // no atexit handlers, no static destructors of the parent's copy
  }
  ::close(fds[1]);
  std::string received;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n > 0) {
      received.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  ::close(fds[0]);
  int wstatus = 0;
  struct rusage ru {};
  while (::wait4(pid, &wstatus, 0, &ru) < 0 && errno == EINTR) {
  }
  ChildPhase phase;
  phase.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  phase.peak_rss_bytes = static_cast<int64_t>(ru.ru_maxrss) * 1024;
  if (received.empty()) {
    phase.ok = false;
    phase.output = WIFSIGNALED(wstatus) ? "child killed by signal " + std::to_string(WTERMSIG(wstatus))
                                        : "child exited without a result";
    return phase;
  }
  phase.ok = received[0] == '1';
  phase.output = received.substr(1);
  return phase;
}

}  // namespace edgeq::bench
