// `edgeq serve --static DIR`: the files under DIR at / with COOP/COEP and their content types, GET and
// HEAD only, an ETag that turns a revisit into a 304, the size cap, the API's routes untouched, and no way
// out of DIR: "..", its percent-encoded form, "//", NUL, hidden names and symbolic links that point outside
// all get a 4xx and never the outside file's bytes (requests sent as raw bytes, so no client normalizes them).
#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "edgeq/serve.h"
#include "run_command.h"
#include "serve/serve_fixtures.h"
#include "serve/static_files.h"

namespace edgeq::serve {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSecret = "outside-secret-4b1d";
const std::string kWasmBytes("\0asm\x01\0\0\0", 8);

// Sends `request_line` + Host + Connection: close as raw bytes; returns the whole response.
std::string raw_request(int port, const std::string& request_line, const std::string& extra_headers = "") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  const std::string req = request_line + "\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra_headers + "\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

int status_of(const std::string& response) {
  return response.size() > 12 ? std::atoi(response.substr(9, 3).c_str()) : -1;
}

std::string header_of(const std::string& response, const std::string& name) {
  std::string lower = response.substr(0, response.find("\r\n\r\n"));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string key = "\r\n" + name + ": ";
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  const size_t at = lower.find(key);
  if (at == std::string::npos) return "";
  const size_t begin = at + key.size();
  return response.substr(begin, response.find("\r\n", begin) - begin);
}

std::string body_of(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

class ServeStatic : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = tmp_.path() + "/app";
    fs::create_directories(app_ + "/sub");
    fs::create_directories(app_ + "/.git");
    const std::pair<std::string, std::string> files[] = {
        {"index.html", "<!doctype html><title>app</title>"}, {"main.mjs", "export const x = 1;"},
        {"edgeq-wasm.wasm", kWasmBytes},                      {"models.json", "{\"models\": []}"},
        {"style.css", "body{}"},                              {"icon.png", "\x89PNG"},
        {"model.onnx", "\x08\x07"},                          {"sub/index.html", "<p>sub</p>"},
        {".env", kSecret},                                    {".git/config", kSecret},
        {"big.bin", std::string(200, 'x')},
    };
    for (const auto& [name, content] : files) write_file_atomic(app_ + "/" + name, content);
    write_file_atomic(tmp_.path() + "/secret.txt", kSecret);
    fs::create_symlink(tmp_.path() + "/secret.txt", app_ + "/leak.txt");  // absolute, outside
    fs::create_symlink("../secret.txt", app_ + "/sub/rel-leak.txt");     // relative, outside
    fs::create_directory_symlink(tmp_.path(), app_ + "/outside");         // a directory outside
    write_version(tmp_.path() + "/repo", "quad", "1", quadrant_model(1.f));
    repo_.add_repository(tmp_.path() + "/repo");
    repo_.load_all();
    ServerOptions options;
    options.port = 0;
    options.log_requests = false;
    options.static_dir = app_;
    options.static_max_bytes = 100;
    server_ = std::make_unique<Server>(repo_, options);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->serve(); });
  }
  void TearDown() override {
    server_->stop();
    thread_.join();
  }
  std::string get(const std::string& target, const std::string& method = "GET", const std::string& headers = "") {
    return raw_request(port_, method + " " + target + " HTTP/1.1", headers);
  }

  TempDir tmp_;
  std::string app_;
  ModelRepository repo_{RepositoryOptions{}};
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(ServeStatic, ServesFilesWithIsolationHeadersAndTheirContentTypes) {
  const std::pair<const char*, const char*> expected[] = {
      {"/", "text/html; charset=utf-8"},         {"/index.html", "text/html; charset=utf-8"},
      {"/main.mjs", "text/javascript"},          {"/edgeq-wasm.wasm", "application/wasm"},
      {"/models.json", "application/json"},      {"/style.css", "text/css"},
      {"/icon.png", "image/png"},                {"/model.onnx", "application/octet-stream"},
      {"/sub/", "text/html; charset=utf-8"},
  };
  for (const auto& [path, type] : expected) {
    SCOPED_TRACE(path);
    const std::string r = get(path);
    ASSERT_EQ(status_of(r), 200) << r;
    EXPECT_EQ(header_of(r, "Content-Type"), type);
    EXPECT_EQ(header_of(r, "Cross-Origin-Opener-Policy"), "same-origin");
    EXPECT_EQ(header_of(r, "Cross-Origin-Embedder-Policy"), "require-corp");
    EXPECT_FALSE(header_of(r, "ETag").empty());
  }
  EXPECT_EQ(body_of(get("/")), "<!doctype html><title>app</title>");
  EXPECT_EQ(body_of(get("/sub/")), "<p>sub</p>");
  EXPECT_EQ(body_of(get("/edgeq-wasm.wasm")), kWasmBytes);
}

TEST_F(ServeStatic, HeadAndEtagRevalidationAndOnlyGetAndHead) {
  const std::string head = get("/main.mjs", "HEAD");
  EXPECT_EQ(status_of(head), 200) << head;
  EXPECT_EQ(header_of(head, "Content-Length"), "19");
  EXPECT_EQ(body_of(head), "");
  const std::string etag = header_of(get("/main.mjs"), "ETag");
  ASSERT_FALSE(etag.empty());
  const std::string again = get("/main.mjs", "GET", "If-None-Match: " + etag + "\r\n");
  EXPECT_EQ(status_of(again), 304) << again;
  EXPECT_EQ(body_of(again), "");
  EXPECT_EQ(status_of(get("/main.mjs", "GET", "If-None-Match: \"other\"\r\n")), 200);
  const std::string post = get("/main.mjs", "POST", "Content-Length: 0\r\n");
  EXPECT_EQ(status_of(post), 405) << post;
  EXPECT_EQ(header_of(post, "Allow"), "GET, HEAD");
}

TEST_F(ServeStatic, NothingOutsideTheDirectoryIsReachable) {
  for (const std::string target : {"/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt", "/sub/%2E%2E/%2e%2e/secret.txt",
                                   "//etc/passwd", "/sub//index.html", "/./index.html", "/leak.txt", "/sub/rel-leak.txt",
                                   "/outside/secret.txt", "/.env", "/.git/config", "/index.html%00.png", "/nonexistent.js"}) {
    SCOPED_TRACE(target);
    const std::string r = get(target);
    const int status = status_of(r);
    EXPECT_GE(status, 400) << r;
    EXPECT_LT(status, 500) << r;
    EXPECT_EQ(r.find(kSecret), std::string::npos) << "the outside file's bytes were served";
  }
  EXPECT_EQ(status_of(get("/../secret.txt")), 400) << "'..' is refused before any lookup";
  EXPECT_EQ(status_of(get("/leak.txt")), 404) << "a link out of the directory is not found beneath it";
}

TEST_F(ServeStatic, FilesOverTheCapAreRefusedAndTheApiStillAnswers) {
  const std::string big = get("/big.bin");
  EXPECT_EQ(status_of(big), 403) << big;
  EXPECT_NE(body_of(big).find("over --static-max-bytes 100"), std::string::npos) << big;
  const std::string live = get("/v2/health/live");
  EXPECT_EQ(status_of(live), 200) << live;
  EXPECT_EQ(header_of(live, "Content-Type"), "application/json");
  EXPECT_EQ(status_of(get("/v2/models/quad")), 200);
  EXPECT_EQ(status_of(get("/predict")), 405) << "an API path keeps its own method rules";
}

// Both ways of opening beneath the directory, called directly: openat2 (what the server uses here) serves a
// link that stays inside and refuses those that leave; the walk used where openat2 is missing follows no link
// at all, and serves plain files and directories like the other.
TEST_F(ServeStatic, TheNoFollowWalkServesFilesAndRefusesEveryLink) {
  fs::create_symlink("index.html", app_ + "/inside-link.html");  // relative, stays inside
  const StaticFiles beneath(app_, 1000, StaticFiles::Lookup::kBeneath);
  const StaticFiles walk(app_, 1000, StaticFiles::Lookup::kNoFollowWalk);
  for (const StaticFiles* files : {&beneath, &walk}) {
    const bool is_walk = files == &walk;
    SCOPED_TRACE(is_walk ? "walk" : "openat2");
    EXPECT_EQ(files->get("GET", "/sub/index.html", "").body, "<p>sub</p>");
    EXPECT_EQ(files->get("GET", "/sub/", "").body, "<p>sub</p>");
    EXPECT_EQ(files->get("GET", "/models.json", "").content_type, "application/json");
    for (const char* out : {"/leak.txt", "/sub/rel-leak.txt", "/outside/secret.txt"}) {
      const StaticFiles::Reply r = files->get("GET", out, "");
      EXPECT_EQ(r.status, 404) << out;
      EXPECT_EQ(r.body.find(kSecret), std::string::npos) << out;
    }
    EXPECT_EQ(files->get("GET", "/inside-link.html", "").status, is_walk ? 404 : 200) << "a link that stays inside";
  }
}

TEST(ServeStaticCli, RefusesAMissingDirectoryWithOneLine) {
  const auto r = edgeq::test::run_command(edgeq::test::edgeq_binary() + " serve --static /nonexistent/app 2>&1 >/dev/null");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/app"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

}  // namespace
}  // namespace edgeq::serve
