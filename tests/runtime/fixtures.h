// Torch-exported model fixtures for the runtime's e2e tests, generated on first use by
// make_fixtures.py with Debian's /usr/bin/python3 (never committed). Generation goes to a private
// directory renamed into place, so tests running in parallel never see half-written files.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace edgeq::testing {

inline std::filesystem::path model_fixtures_dir() {
  return std::filesystem::path(EDGEQ_BINARY_DIR) / "fixtures" / "runtime_models";
}

// Empty when the fixtures are ready; otherwise why they cannot be made (the caller skips).
inline std::string ensure_model_fixtures() {
  namespace fs = std::filesystem;
  const fs::path dir = model_fixtures_dir();
  if (fs::exists(dir / "DONE")) return "";
  if (std::system("/usr/bin/python3 -c 'import torch, onnx' > /dev/null 2>&1") != 0)
    return "/usr/bin/python3 cannot import torch and onnx (Debian python3-torch, python3-onnx)";
  const fs::path tmp = dir.string() + ".tmp." + std::to_string(::getpid());
  fs::create_directories(tmp);
  const std::string log = (dir.parent_path() / "make_fixtures.log").string();
  const std::string cmd = "/usr/bin/python3 " + std::string(EDGEQ_SOURCE_DIR) + "/tests/runtime/make_fixtures.py " +
                          tmp.string() + " > " + log + " 2>&1";
  if (std::system(cmd.c_str()) != 0) return "fixture generation failed, see " + log;
  std::error_code ec;
  fs::rename(tmp, dir, ec);  // fails harmlessly when another test process got there first
  if (ec) fs::remove_all(tmp, ec);
  return fs::exists(dir / "DONE") ? "" : "fixtures incomplete in " + dir.string();
}

}  // namespace edgeq::testing
