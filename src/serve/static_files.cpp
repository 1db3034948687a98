#include "static_files.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "edgeq/core.h"

namespace edgeq::serve {
namespace {

// The headers every static response carries: cross-origin isolation for the page and what it loads.
const std::pair<const char*, const char*> kIsolationHeaders[] = {
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Embedder-Policy", "require-corp"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
    {"X-Content-Type-Options", "nosniff"},
};

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// "a/b/c" opened beneath dir_fd. openat2's RESOLVE_BENEATH refuses any resolution that leaves the
// directory (a ".." or a symbolic link pointing outside, EXDEV); kernels or sandboxes without openat2
// (ENOSYS, EPERM from seccomp) get the component walk, which follows no symbolic link at all.
int open_beneath(int dir_fd, const std::string& relative, const std::vector<std::string>& segments, bool walk_only) {
  if (!walk_only) {
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const long fd = ::syscall(SYS_openat2, dir_fd, relative.c_str(), &how, sizeof how);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return static_cast<int>(fd);
  }
  int current = ::dup(dir_fd);
  for (const std::string& segment : segments) {
    if (current < 0) return -1;
    const int next = ::openat(current, segment.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ::close(current);
    current = next;
  }
  return current;
}

std::string extension_of(std::string_view path) {
  const size_t slash = path.rfind('/');
  const size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return "";
  std::string ext(path.substr(dot));
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return ext;
}

}  // namespace

std::string static_content_type(std::string_view path) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"}, {".js", "text/javascript"},
      {".mjs", "text/javascript"},           {".wasm", "application/wasm"},         {".json", "application/json"},
      {".css", "text/css"},                  {".png", "image/png"},                 {".svg", "image/svg+xml"},
      {".jpg", "image/jpeg"},                {".jpeg", "image/jpeg"},               {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"}, {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
  };
  const std::string ext = extension_of(path);
  for (const auto& [e, type] : kTypes)
    if (ext == e) return type;
  return "application/octet-stream";
}

StaticFiles::StaticFiles(const std::string& dir, int64_t max_bytes, Lookup lookup)
    : dir_(dir), max_bytes_(max_bytes), lookup_(lookup) {
  dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) throw Error(ErrorCode::kInvalidArgument, "--static " + dir + ": not a readable directory (" + std::strerror(errno) + ")");
}

StaticFiles::~StaticFiles() {
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

StaticFiles::Reply StaticFiles::get(const std::string& method, const std::string& path, const std::string& if_none_match) const {
  Reply r;
  auto refuse = [&r](int status, std::string why) {
    r.status = status;
    r.error = std::move(why);
    return r;
  };
  for (const auto& [name, value] : kIsolationHeaders) r.headers.emplace_back(name, value);
  if (method != "GET" && method != "HEAD") {
    r.headers.emplace_back("Allow", "GET, HEAD");
    return refuse(405, "method " + method + " is not allowed on static files (allowed: GET, HEAD)");
  }
  if (path.empty() || path.front() != '/') return refuse(400, "the path must start with /");
  // Segments of the path after the leading "/": none may be empty ("//x" would name /x), ".", "..", or
  // hold a NUL (decoded from %00); a hidden name (".git", ".env") is not served either.
  std::vector<std::string> segments;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string segment = path.substr(start, end - start);
    const bool last = end == path.size();
    if (segment.empty() && !(last && start == path.size())) return refuse(400, "empty path segment in " + printable(path, 128));
    if (segment == "." || segment == "..") return refuse(400, "'" + segment + "' in a static path is not allowed");
    if (segment.find('\0') != std::string::npos) return refuse(400, "NUL in a static path");
    if (!segment.empty() && segment.front() == '.') return refuse(404, "no file " + printable(path, 128));
    if (!segment.empty()) segments.push_back(std::move(segment));
    start = end + 1;
  }
  std::string relative;
  for (const auto& s : segments) relative += (relative.empty() ? "" : "/") + s;
  Fd file(segments.empty() ? ::dup(dir_fd_) : open_beneath(dir_fd_, relative, segments, lookup_ == Lookup::kNoFollowWalk));
  if (file.fd < 0) return refuse(404, "no file " + printable(path, 128));
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) return refuse(404, "no file " + printable(path, 128));
  std::string served = relative;
  if (S_ISDIR(st.st_mode)) {  // a directory serves its index.html
    Fd index(::openat(file.fd, "index.html", O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (index.fd < 0 || ::fstat(index.fd, &st) != 0) return refuse(404, "no file " + printable(path, 128));
    std::swap(file.fd, index.fd);
    served += "/index.html";
  }
  if (!S_ISREG(st.st_mode)) return refuse(404, "no file " + printable(path, 128));
  if (st.st_size > max_bytes_)
    return refuse(403, printable(path, 128) + " is " + std::to_string(st.st_size) + " bytes, over --static-max-bytes " +
                           std::to_string(max_bytes_));
  char etag[64];
  std::snprintf(etag, sizeof etag, "\"%llx-%llx\"", static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ull + static_cast<unsigned long long>(st.st_mtim.tv_nsec));
  r.headers.emplace_back("ETag", etag);
  // No max-age: an app's files change under the same name between builds; the ETag makes a revisit a 304.
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.content_type = static_content_type(served);
  if (!if_none_match.empty() && (if_none_match == etag || if_none_match == "*")) {
    r.status = 304;
    return r;
  }
  r.body.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < r.body.size()) {
    const ssize_t n = ::pread(file.fd, r.body.data() + done, r.body.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return refuse(500, "reading " + printable(path, 128) + " failed");
    done += static_cast<size_t>(n);
  }
  return r;
}

}  // namespace edgeq::serve
