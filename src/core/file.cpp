// Whole-file reads (regular files only, so a pipe or a device cannot hang or flood a reader) and
// atomic writes (a unique temp file created with O_EXCL|O_NOFOLLOW, fsync, rename).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "edgeq/core.h"

namespace edgeq {

namespace {

std::string describe_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "is a directory, not a file";
  if (S_ISFIFO(mode)) return "is a pipe (FIFO), not a file";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "is a device, not a file";
  if (S_ISSOCK(mode)) return "is a socket, not a file";
  return "is not a regular file";
}

// Files whose size stat reports as 0 but that hold text (procfs, sysfs) are read up to this much.
constexpr size_t kUnsizedFileLimit = size_t{64} << 20;

}  // namespace

std::string regular_file_problem(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    struct stat lst {};
    if (e == ENOENT && ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode))
      return "is a symbolic link to a file that does not exist";
    if (e == ENOENT || e == ENOTDIR) return "no such file";
    return std::string("cannot open: ") + std::strerror(e);
  }
  return S_ISREG(st.st_mode) ? "" : describe_kind(st.st_mode);
}

std::string read_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; the fstat below refuses it anyway.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const std::string problem = regular_file_problem(path);
    const int e = errno;
    throw Error(e == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                path + ": " + (problem.empty() ? std::string("cannot open: ") + std::strerror(e) : problem));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(ErrorCode::kIo, path + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(ErrorCode::kInvalidArgument, path + ": " + describe_kind(st.st_mode));
  // Back to blocking reads (a regular file never blocks, but be explicit).
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const bool sized = st.st_size > 0;
  const size_t limit = sized ? static_cast<size_t>(st.st_size) : kUnsizedFileLimit;
  std::string bytes;
  bytes.resize(sized ? limit : 64 * 1024);
  size_t have = 0;
  for (;;) {
    if (have == bytes.size()) {
      if (sized || bytes.size() >= limit) break;
      bytes.resize(std::min(limit, bytes.size() * 2));
    }
    const ssize_t n = ::read(fd, bytes.data() + have, bytes.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorCode::kIo, path + ": read failed: " + std::strerror(errno));
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  if (!sized && have == limit)
    throw Error(ErrorCode::kInvalidArgument, path + ": reports no size and holds more than " +
                                                 std::to_string(kUnsizedFileLimit >> 20) + " MiB");
  bytes.resize(have);  // a file that shrank while being read gives what was there
  return bytes;
}

namespace {

// PATH.tmp.<pid>.<random>, created exclusively and never through a symbolic link: a name planted
// in the directory cannot redirect the write.
std::pair<int, std::string> create_temp_beside(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const uint64_t tag = (static_cast<uint64_t>(rd()) << 20) ^ counter.fetch_add(1);
    std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(tag % 1000000007ull);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) return {fd, tmp};
    if (errno != EEXIST) throw Error(ErrorCode::kIo, path + ": cannot create: " + std::strerror(errno));
  }
  throw Error(ErrorCode::kIo, path + ": cannot create a temporary file beside it (16 names taken)");
}

// Writes BYTES to a new temp file beside PATH and flushes it to disk; returns the temp's name.
std::string write_temp(const std::string& path, std::string_view bytes) {
  auto [fd, tmp] = create_temp_beside(path);
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(ErrorCode::kIo, path + ": write failed: " + std::strerror(e));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw Error(ErrorCode::kIo, path + ": flush failed: " + std::strerror(e));
  }
  return tmp;
}

void sync_directory_of(const std::string& path) {
  // Not `dir = "."` on an empty string: GCC 12 -O3 warns (-Wrestrict) about its own inlined copy there
  // (aarch64 build).
  const std::string parent = std::filesystem::path(path).parent_path().string();
  const std::string dir = parent.empty() ? std::string(".") : parent;
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);  // the renames reach the disk; best effort (some file systems refuse)
    ::close(fd);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view bytes) { write_files_atomic({{path, bytes}}); }

void write_files_atomic(const std::vector<std::pair<std::string, std::string_view>>& files) {
  // Every temp is written and flushed before the first rename, so a failure or a kill while
  // writing leaves every old file in place; the renames that follow are a few system calls.
  std::vector<std::string> temps;
  try {
    for (const auto& [path, bytes] : files) temps.push_back(write_temp(path, bytes));
  } catch (...) {
    for (const auto& t : temps) ::unlink(t.c_str());
    throw;
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (::rename(temps[i].c_str(), files[i].first.c_str()) != 0) {
      const int e = errno;
      for (size_t j = i; j < temps.size(); ++j) ::unlink(temps[j].c_str());
      throw Error(ErrorCode::kIo, files[i].first + ": rename failed: " + std::strerror(e));
    }
  }
  if (!files.empty()) sync_directory_of(files.back().first);
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace edgeq
