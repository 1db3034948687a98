// deploy/: the manifests pass yamllint and agree with the server's routes and the Dockerfile
// (check_manifests.py, a Python oracle over python3-yaml), and deploy/nginx/nginx.conf load-balances two
// edgeq serve processes (both get requests, every answer is right).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <thread>

#include "edgeq/serve.h"
#include "run_command.h"
#include "serve/serve_fixtures.h"

namespace edgeq::serve {
namespace {

using edgeq::test::run_command;
const std::string kDeploy = std::string(EDGEQ_SOURCE_DIR) + "/deploy";

TEST(Deploy, ManifestsLintAndAgreeWithTheServerAndDockerfile) {
  const auto lint = run_command("yamllint -s -c " + kDeploy + "/.yamllint " + kDeploy + "/k8s " + kDeploy + "/kserve 2>&1");
  EXPECT_EQ(lint.exit_code, 0) << lint.output;
  std::string cmd = "/usr/bin/python3 " + std::string(EDGEQ_SOURCE_DIR) + "/tests/serve/check_manifests.py " + kDeploy;
  for (const auto& r : Server::routes()) cmd += " '" + r + "'";
  const auto check = run_command(cmd + " 2>&1");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  // The oracle itself notices a wrong probe path.
  const auto broken = run_command("/usr/bin/python3 " + std::string(EDGEQ_SOURCE_DIR) + "/tests/serve/check_manifests.py " + kDeploy +
                                  " 'GET /v2' 2>&1");
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.output.find("readinessProbe path /v2/health/ready is not a GET route"), std::string::npos) << broken.output;
}

// A port the kernel hands out now (bound, read back, closed).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return -1;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> args;
    std::vector<std::string> copy = argv;
    for (auto& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

bool wait_ready(int port) {
  httplib::Client c("127.0.0.1", port);
  for (int i = 0; i < 500; ++i) {
    auto res = c.Get("/v2/health/ready");
    if (res && res->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(Deploy, NginxConfigBalancesTwoServers) {
  ASSERT_EQ(run_command("test -x /usr/sbin/nginx").exit_code, 0) << "nginx is missing: scripts/setup installs nginx-light";
  TempDir tmp;
  write_version(tmp.path() + "/repo", "quad", "1", quadrant_model());
  const int front = free_port(), a = free_port(), b = free_port();
  std::vector<pid_t> pids;
  for (int port : {a, b})
    pids.push_back(spawn({edgeq::test::edgeq_binary(), "serve", "--model-repository", tmp.path() + "/repo", "--port",
                          std::to_string(port), "--no-request-log"},
                         tmp.path() + "/serve" + std::to_string(port) + ".log"));
  // The shipped config with its ports and temp paths moved to this test's.
  std::ifstream in(kDeploy + "/nginx/nginx.conf");
  std::string conf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  conf = std::regex_replace(conf, std::regex("127\\.0\\.0\\.1:8081"), "127.0.0.1:" + std::to_string(a));
  conf = std::regex_replace(conf, std::regex("127\\.0\\.0\\.1:8082"), "127.0.0.1:" + std::to_string(b));
  conf = std::regex_replace(conf, std::regex("listen 127\\.0\\.0\\.1:8080"), "listen 127.0.0.1:" + std::to_string(front));
  conf = std::regex_replace(conf, std::regex("/tmp/edgeq-nginx"), tmp.path() + "/nginx");
  ASSERT_NE(conf.find(std::to_string(a)), std::string::npos);
  std::ofstream(tmp.path() + "/nginx.conf") << conf;
  pids.push_back(spawn({"/usr/sbin/nginx", "-c", tmp.path() + "/nginx.conf", "-p", tmp.path(), "-g", "daemon off;"},
                       tmp.path() + "/nginx.log"));
  struct Stop {
    std::vector<pid_t>& pids;
    ~Stop() {
      for (pid_t p : pids) ::kill(p, SIGTERM);
      for (pid_t p : pids) ::waitpid(p, nullptr, 0);
    }
  } stop{pids};
  ASSERT_TRUE(wait_ready(a));
  ASSERT_TRUE(wait_ready(b));
  ASSERT_TRUE(wait_ready(front)) << run_command("cat " + tmp.path() + "/nginx.log").output;

  // Concurrent clients through nginx (least_conn spreads concurrent requests); every answer right.
  std::vector<std::thread> clients;
  std::atomic<int> right{0};
  for (int t = 0; t < 4; ++t)
    clients.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", front);
      for (int i = 0; i < 25; ++i) {
        const int q = (t + i) % 4;
        auto res = c.Post("/predict?top=1", png_bytes(bright_pixel(q / 2 * 4 + 1, q % 2 * 4 + 2)), "image/png");
        if (res && res->status == 200 && json::parse(res->body)["predictions"][0]["index"] == q) ++right;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(right.load(), 100);
  const std::string series = "edgeq_inference_request_success{model=\"quad\",version=\"1\"} ";
  int total = 0;
  for (int port : {a, b}) {
    httplib::Client c("127.0.0.1", port);
    const std::string m = c.Get("/metrics")->body;
    const size_t at = m.find(series);
    ASSERT_NE(at, std::string::npos) << "port " << port << " served nothing";
    const int n = std::stoi(m.substr(at + series.size()));
    EXPECT_GT(n, 0) << port;
    total += n;
  }
  EXPECT_EQ(total, 100);
}

}  // namespace
}  // namespace edgeq::serve
