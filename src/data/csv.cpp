// Sign Language MNIST CSV reader: `label,pixel1,...,pixel784` per row (28x28 grayscale), an optional
// header line, labels 0..24 for A..Y with 9 (J) absent (J and Z need motion), remapped to 24 classes.
// Bytes quoted from the file in an error go through printable(): a CSV may hold anything.
#include <charconv>

#include "edgeq/data.h"

namespace edgeq::data {
namespace {

constexpr int64_t kSide = 28;
constexpr int64_t kPixels = kSide * kSide;
constexpr int64_t kLetterJ = 9;
constexpr int64_t kLastLabel = 24;  // Y; Z (25) is absent too

[[noreturn]] void fail(const std::string& path, int64_t line, const std::string& what) {
  throw Error(ErrorCode::kParse, path + ":" + std::to_string(line) + ": " + what);
}

// Parses one unsigned integer field of [begin, end); returns false if it is not one.
bool parse_int(const char* begin, const char* end, int64_t& value) {
  while (begin < end && (*begin == ' ' || *begin == '\t')) ++begin;
  while (end > begin && (end[-1] == ' ' || end[-1] == '\t')) --end;
  if (begin == end) return false;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  return ec == std::errc() && ptr == end;
}

}  // namespace

const std::vector<std::string>& sign_mnist_class_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (char c = 'A'; c <= 'Y'; ++c)
      if (c != 'J') v.emplace_back(1, c);
    return v;
  }();
  return names;
}

Dataset load_sign_mnist_csv(const std::string& path, int64_t limit) {
  return load_sign_mnist_csv_from_bytes(read_file(path), path, limit);
}

Dataset load_sign_mnist_csv_from_bytes(std::string_view text, const std::string& path, int64_t limit) {
  Dataset ds;
  ds.source = path;
  ds.class_names = sign_mnist_class_names();
  ds.channels = 1;
  ds.height = kSide;
  ds.width = kSide;
  ds.flip_ok = false;  // a mirrored hand sign is the other hand: keep the data as recorded

  size_t pos = 0;
  int64_t line_no = 0;
  std::vector<int64_t> fields;
  fields.reserve(kPixels + 1);
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    const char* begin = text.data() + pos;
    const char* end = text.data() + eol;
    pos = eol + 1;
    ++line_no;
    if (end > begin && end[-1] == '\r') --end;
    if (begin == end) continue;  // blank line (trailing newline)
    if (line_no == 1 && std::string_view(begin, static_cast<size_t>(end - begin)).starts_with("label")) continue;

    fields.clear();
    const char* field = begin;
    for (const char* p = begin;; ++p) {
      if (p == end || *p == ',') {
        int64_t v = 0;
        if (!parse_int(field, p, v))
          fail(path, line_no, "field " + std::to_string(fields.size() + 1) + " '" +
                                  printable(std::string_view(field, static_cast<size_t>(p - field)), 40) +
                                  "' is not an integer");
        // A row never needs more than label + kPixels fields: stop counting past one extra.
        if (fields.size() > static_cast<size_t>(kPixels) + 1) break;
        fields.push_back(v);
        if (p == end) break;
        field = p + 1;
      }
    }
    const int64_t pixels = static_cast<int64_t>(fields.size()) - 1;
    if (pixels > kPixels)
      fail(path, line_no, "row has more than " + std::to_string(kPixels) + " pixels");
    if (pixels != kPixels)
      fail(path, line_no, "row has " + std::to_string(pixels) + " pixels (expected " + std::to_string(kPixels) + ")");
    const int64_t label = fields[0];
    if (label < 0 || label > kLastLabel || label == kLetterJ)
      fail(path, line_no, "label " + std::to_string(label) + " out of range (0..24 without 9 = J)");
    for (int64_t i = 1; i <= kPixels; ++i) {
      if (fields[static_cast<size_t>(i)] < 0 || fields[static_cast<size_t>(i)] > 255)
        fail(path, line_no, "pixel" + std::to_string(i) + " = " + std::to_string(fields[static_cast<size_t>(i)]) +
                                " out of range 0..255");
      ds.pixels.push_back(static_cast<uint8_t>(fields[static_cast<size_t>(i)]));
    }
    ds.labels.push_back(label > kLetterJ ? label - 1 : label);
    if (limit > 0 && ds.size() >= limit) break;
  }
  if (ds.size() == 0) throw Error(ErrorCode::kParse, path + ": no data rows");
  return ds;
}

}  // namespace edgeq::data
