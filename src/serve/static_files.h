// `edgeq serve --static DIR`: the files under DIR at / (the browser app's build output, `vite build`),
// for GET and HEAD, with the headers a page needs to be cross-origin isolated (COOP/COEP: WASM threads),
// its content types (.wasm application/wasm: streaming compilation) and an ETag. Nothing outside DIR can
// be reached: ".." and hidden segments are refused before any lookup, and the file is opened beneath DIR's
// descriptor with openat2(RESOLVE_BENEATH), or component by component without following symbolic links
// where the kernel lacks openat2. The API's routes come first (server.cpp); this answers the rest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgeq::serve {

// By file extension; application/octet-stream for the rest (.onnx included).
std::string static_content_type(std::string_view path);

class StaticFiles {
 public:
  struct Reply {
    int status = 200;           // 200, 304; an error status (4xx, 500 on a failed read) with `error` set
    std::string error;          // why, for a 4xx
    std::string content_type;
    std::string body;           // the file (also for HEAD: the HTTP layer sends only its length)
    std::vector<std::pair<std::string, std::string>> headers;
  };

  // How a path is opened beneath the directory: openat2(RESOLVE_BENEATH), falling back to the walk where the
  // kernel lacks it (the server), or always the walk (tests of the fallback on kernels that have openat2).
  enum class Lookup { kBeneath, kNoFollowWalk };

  // dir must be a directory (Error(kInvalidArgument) naming it otherwise); files larger than max_bytes are
  // refused with 403.
  StaticFiles(const std::string& dir, int64_t max_bytes, Lookup lookup = Lookup::kBeneath);
  ~StaticFiles();
  StaticFiles(const StaticFiles&) = delete;
  StaticFiles& operator=(const StaticFiles&) = delete;

  // path: percent-decoded, starting with "/"; "/" and directories serve their index.html.
  Reply get(const std::string& method, const std::string& path, const std::string& if_none_match) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int dir_fd_ = -1;
  int64_t max_bytes_;
  Lookup lookup_;
};

}  // namespace edgeq::serve
