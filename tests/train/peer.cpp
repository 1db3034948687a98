#include "peer.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace edgeq::testing {

TempDir::TempDir(const std::string& tag)
    : dir_(std::filesystem::temp_directory_path() / ("edgeq_" + tag + "_" + std::to_string(::getpid()))) {
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}
std::string TempDir::path(const std::string& name) const { return name.empty() ? dir_.string() : (dir_ / name).string(); }

std::pair<int, std::string> run_command(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

static std::string peers_dir() { return std::string(EDGEQ_SOURCE_DIR) + "/tools/peers"; }

std::optional<std::string> ort_unavailable() {
  if (run_command("node --version").first != 0) return "node is not installed";
  if (!std::filesystem::exists(peers_dir() + "/node_modules/onnxruntime-node"))
    return "onnxruntime-node is not installed (run scripts/setup: npm install in tools/peers)";
  return std::nullopt;
}

Tensor run_ort(const std::string& model_path, const Tensor& input, const std::string& work_dir,
               const std::string& output_name) {
  const std::string in_file = work_dir + "/ort_input.f32";
  write_file_atomic(in_file, std::string_view(static_cast<const char*>(input.raw()), input.nbytes()));
  std::string dims;
  for (int64_t d : input.shape()) {
    if (!dims.empty()) dims += 'x';
    dims += std::to_string(d);
  }
  const std::string out_dir = work_dir + "/ort_out";
  auto [rc, log] = run_command("node " + peers_dir() + "/ort_run.mjs " + model_path + " --input " + in_file + ":" + dims +
                               " --out-dir " + out_dir + " --threads 1");
  if (rc != 0) throw Error(ErrorCode::kInternal, "ort_run.mjs failed (" + std::to_string(rc) + "): " + log);
  const std::string bytes = read_file(out_dir + "/" + output_name + ".raw");
  Tensor out(DType::kF32, {static_cast<int64_t>(bytes.size() / sizeof(float))});
  std::memcpy(out.raw(), bytes.data(), out.nbytes());
  return out;
}

}  // namespace edgeq::testing
