// deploy/Dockerfile for real (label container, `make test-container`; not part of `make test`: the first
// run debootstraps a base image and builds the server inside the container, minutes on 2 cores). With
// podman + runc (DEPLOY.md: crun fails on this machine kind; cgroupfs; no registry, so a local
// debian:bookworm-slim is made with debootstrap and cached in podman's store). Builds the image, runs it
// with a model repository volume on a published loopback port, waits for ready, and checks /predict and a
// v2 infer against the engine in process, then what the image holds (non-root, no compiler/LibTorch/Python)
// and its size.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <thread>

#include "edgeq/runtime.h"
#include "run_command.h"
#include "serve/serve_fixtures.h"

namespace edgeq::serve {
namespace {

using edgeq::test::run_command;

const std::string kImage = "localhost/edgeq-serve:test";
const std::string kBase = "localhost/debian:bookworm-slim";

class Container : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    conf_ = tmp_dir() + "/containers.conf";
    std::ofstream(conf_) << "[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = \"cgroupfs\"\n";
  }
  static std::string tmp_dir() {
    static TempDir dir;
    return dir.path();
  }
  static std::string podman(const std::string& args) {
    return "CONTAINERS_CONF=" + conf_ + " podman --runtime runc " + args;
  }
  static std::string conf_;
};
std::string Container::conf_;

TEST_F(Container, ImageBuildsRunsAndAnswersLikeTheEngine) {
  for (const char* tool : {"podman", "runc", "debootstrap"})
    ASSERT_EQ(run_command(std::string("command -v ") + tool + " >/dev/null").exit_code, 0)
        << tool << " is missing: scripts/setup installs it (make test-container)";
  // The base image, once per machine.
  if (run_command(podman("image exists " + kBase)).exit_code != 0) {
    const std::string rootfs = tmp_dir() + "/rootfs";
    const auto boot = run_command("debootstrap --variant=minbase bookworm " + rootfs + " http://deb.debian.org/debian 2>&1 | tail -3");
    ASSERT_EQ(boot.exit_code, 0) << boot.output;
    const auto imp = run_command("tar -C " + rootfs + " -c . | " + podman("import - " + kBase) + " 2>&1");
    ASSERT_EQ(imp.exit_code, 0) << imp.output;
  }
  const auto build = run_command(podman("build --network host --format docker --build-arg BASE=" + kBase + " -f " +
                                        std::string(EDGEQ_SOURCE_DIR) + "/deploy/Dockerfile -t " + kImage + " " +
                                        EDGEQ_SOURCE_DIR + " 2>&1 | tail -20"));
  ASSERT_EQ(build.exit_code, 0) << build.output;
  ASSERT_EQ(run_command(podman("image exists " + kImage)).exit_code, 0) << build.output;

  // A model repository on the host, mounted read-only.
  const std::string repo = tmp_dir() + "/models";
  write_version(repo, "quad", "1", quadrant_model(1.f));
  write_version(repo, "quad", "2", quadrant_model(2.f));
  run_command("chmod -R a+rX " + repo);
  const int port = 18000 + static_cast<int>(::getpid() % 1000);
  run_command(podman("rm -f edgeq-serve-test >/dev/null 2>&1"));
  const auto run = run_command(podman("run -d --name edgeq-serve-test -p 127.0.0.1:" + std::to_string(port) + ":8080 -v " + repo +
                                      ":/models:ro " + kImage + " 2>&1"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  struct Cleanup {
    std::string cmd;
    ~Cleanup() { run_command(cmd); }
  } cleanup{podman("rm -f -t 5 edgeq-serve-test >/dev/null 2>&1")};

  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10, 0);
  bool ready = false;
  for (int i = 0; i < 300 && !ready; ++i) {
    auto res = c.Get("/v2/health/ready");
    ready = res && res->status == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(ready) << run_command(podman("logs edgeq-serve-test 2>&1")).output;

  auto res = c.Post("/predict?top=1", png_bytes(bright_pixel(6, 6)), "image/png");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["predictions"][0]["label"], "bottom-right");
  EXPECT_EQ(json::parse(res->body)["version"], "2");

  const Tensor x = input_of(bright_pixel(1, 1));
  const runtime::Session local = runtime::load_session(repo + "/quad/2/model.onnx");
  const Tensor want = local.run({x})[0];
  res = c.Post("/v2/models/quad/infer", infer_body(x).dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(j["outputs"][0]["data"][i].get<float>(), want.data<float>()[i]) << i;

  // What runs in the image: a non-root user, and nothing of the build.
  EXPECT_EQ(run_command(podman("exec edgeq-serve-test id -u")).output, "10001\n");
  for (const char* absent : {"/usr/bin/g++", "/usr/bin/cc", "/usr/bin/python3", "/usr/bin/cmake"})
    EXPECT_NE(run_command(podman("exec edgeq-serve-test test -e ") + absent).exit_code, 0) << absent;
  EXPECT_EQ(run_command(podman("exec edgeq-serve-test sh -c 'ls /usr/lib/x86_64-linux-gnu | grep -c -E \"torch|protobuf|onnx\"'")).output, "0\n");
  const auto size = run_command(podman("image inspect --format '{{.Size}}' " + kImage));
  std::printf("image %s: %.1f MB\n", kImage.c_str(), std::stod(size.output) / 1e6);
  // SIGTERM (podman stop) drains and exits 0.
  ASSERT_EQ(run_command(podman("stop -t 10 edgeq-serve-test >/dev/null")).exit_code, 0);
  EXPECT_EQ(run_command(podman("inspect --format '{{.State.ExitCode}}' edgeq-serve-test")).output, "0\n");
}

}  // namespace
}  // namespace edgeq::serve
