// Test helpers: temp dirs and onnxruntime-node through tools/peers/ort_run.mjs.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "edgeq/core.h"

namespace edgeq::testing {

// A fresh directory under /tmp, removed at scope exit.
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  std::string path(const std::string& name = "") const;

 private:
  std::filesystem::path dir_;
};

// Why onnxruntime-node cannot run here (node or tools/peers/node_modules missing), or nullopt.
std::optional<std::string> ort_unavailable();
// Runs MODEL on ORT with one float32 input (written raw to `work_dir`) and returns its first output.
Tensor run_ort(const std::string& model_path, const Tensor& input, const std::string& work_dir,
               const std::string& output_name = "logits");

// Runs a shell command, returns (exit status, stdout + stderr).
std::pair<int, std::string> run_command(const std::string& command);

}  // namespace edgeq::testing
