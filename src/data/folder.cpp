// Image-folder dataset: DIR/<class>/<image>, classes and files in name order so labels are stable.
#include <algorithm>
#include <filesystem>

#include "edgeq/data.h"

namespace edgeq::data {
namespace {

bool is_image_file(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

}  // namespace

Dataset load_image_folder(const std::string& dir, int64_t channels, int64_t height, int64_t width, int64_t limit,
                          int64_t max_image_bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(ErrorCode::kNotFound, dir + ": not a directory");
  std::vector<fs::path> class_dirs;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory()) class_dirs.push_back(entry.path());
  if (ec) throw Error(ErrorCode::kIo, dir + ": cannot list: " + ec.message());
  std::sort(class_dirs.begin(), class_dirs.end());
  if (class_dirs.empty()) throw Error(ErrorCode::kParse, dir + ": no class subfolders (expected DIR/<class>/<image>)");

  Dataset ds;
  ds.source = dir;
  ds.channels = channels;
  ds.height = height;
  ds.width = width;
  ds.flip_ok = true;  // generic photos: a mirror image shows the same class
  for (size_t label = 0; label < class_dirs.size(); ++label) {
    ds.class_names.push_back(class_dirs[label].filename().string());
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(class_dirs[label], ec))
      if (entry.is_regular_file() && is_image_file(entry.path())) files.push_back(entry.path());
    if (ec) throw Error(ErrorCode::kIo, class_dirs[label].string() + ": cannot list: " + ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      if (limit > 0 && ds.size() >= limit) break;
      const std::string path = file.string();
      std::vector<uint8_t> chw = decode_image_u8(read_file(path), channels, height, width, path, max_image_bytes);
      ds.pixels.insert(ds.pixels.end(), chw.begin(), chw.end());
      ds.labels.push_back(static_cast<int64_t>(label));
    }
  }
  if (ds.size() == 0) throw Error(ErrorCode::kParse, dir + ": no PNG/JPEG/BMP images in its class subfolders");
  return ds;
}

}  // namespace edgeq::data
