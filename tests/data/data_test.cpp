// Dataset readers and preprocessing: every fixture (IDX, CSV, PNG/JPEG) is written by the test itself.
#include <gtest/gtest.h>
// The PNG/JPEG writer makes the fixtures; only the test needs it.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "edgeq/data.h"

namespace fs = std::filesystem;
using edgeq::Error;
using edgeq::ErrorCode;
namespace data = edgeq::data;

namespace {

class DataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("edgeq_data_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

void put_be32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& payload) {
  std::string s;
  put_be32(s, magic);
  for (uint32_t d : dims) put_be32(s, d);
  s.append(payload.begin(), payload.end());
  return s;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

// Three 4x5 images whose pixel k of image i is 10*i + k, labels 2, 0, 7.
std::vector<uint8_t> sample_pixels() {
  std::vector<uint8_t> px;
  for (uint8_t i = 0; i < 3; ++i)
    for (uint8_t k = 0; k < 20; ++k) px.push_back(static_cast<uint8_t>(10 * i + k));
  return px;
}

template <typename F>
std::string error_message(F&& f, ErrorCode want) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(want)) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no edgeq::Error thrown";
  return "";
}

std::string csv_row(int label, int pixels, int value = 7) {
  std::string row = std::to_string(label);
  const std::string field = "," + std::to_string(value);
  for (int i = 0; i < pixels; ++i) row += field;
  return row + "\n";
}

std::string csv_header() {
  std::string h = "label";
  for (int i = 1; i <= 784; ++i) h += ",pixel" + std::to_string(i);
  return h + "\n";
}

}  // namespace

TEST_F(DataTest, IdxGzipRoundTrip) {
  write_gz(path("img.gz"), idx_bytes(0x803, {3, 4, 5}, sample_pixels()));
  write_gz(path("lbl.gz"), idx_bytes(0x801, {3}, {2, 0, 7}));
  data::Dataset ds = data::load_idx(path("img.gz"), path("lbl.gz"));
  ASSERT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.height, 4);
  EXPECT_EQ(ds.width, 5);
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{2, 0, 7}));
  EXPECT_EQ(ds.pixels, sample_pixels());
  EXPECT_EQ(ds.num_classes(), 8);  // a bare IDX pair: classes 0..max label
}

TEST_F(DataTest, IdxPlainAndLimit) {
  edgeq::write_file_atomic(path("img"), idx_bytes(0x803, {3, 4, 5}, sample_pixels()));
  edgeq::write_file_atomic(path("lbl"), idx_bytes(0x801, {3}, {2, 0, 7}));
  data::Dataset ds = data::load_idx(path("img"), path("lbl"), 2);
  ASSERT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.image(1)[0], 10);
  EXPECT_EQ(ds.pixels.size(), 40u);
}

TEST_F(DataTest, IdxBadMagicNamesFile) {
  write_gz(path("img.gz"), idx_bytes(0x801, {3, 4, 5}, sample_pixels()));  // labels magic on an image file
  write_gz(path("lbl.gz"), idx_bytes(0x801, {3}, {2, 0, 7}));
  std::string msg = error_message([&] { data::load_idx(path("img.gz"), path("lbl.gz")); }, ErrorCode::kParse);
  EXPECT_NE(msg.find(path("img.gz")), std::string::npos) << msg;
  EXPECT_NE(msg.find("magic"), std::string::npos) << msg;
}

TEST_F(DataTest, IdxTruncatedNamesRecord) {
  std::vector<uint8_t> px = sample_pixels();
  px.resize(45);  // image 2 is cut short
  write_gz(path("img.gz"), idx_bytes(0x803, {3, 4, 5}, px));
  write_gz(path("lbl.gz"), idx_bytes(0x801, {3}, {2, 0, 7}));
  std::string msg = error_message([&] { data::load_idx(path("img.gz"), path("lbl.gz")); }, ErrorCode::kParse);
  EXPECT_NE(msg.find("record 2"), std::string::npos) << msg;
}

TEST_F(DataTest, IdxLabelCountMismatch) {
  write_gz(path("img.gz"), idx_bytes(0x803, {3, 4, 5}, sample_pixels()));
  write_gz(path("lbl.gz"), idx_bytes(0x801, {2}, {2, 0}));
  std::string msg = error_message([&] { data::load_idx(path("img.gz"), path("lbl.gz")); }, ErrorCode::kParse);
  EXPECT_NE(msg.find("2 labels for 3 images"), std::string::npos) << msg;
}

TEST_F(DataTest, IdxCorruptGzip) {
  std::string bytes = "\x1f\x8b\x08\x00garbage-not-deflate";
  edgeq::write_file_atomic(path("img.gz"), bytes);
  write_gz(path("lbl.gz"), idx_bytes(0x801, {3}, {2, 0, 7}));
  std::string msg = error_message([&] { data::load_idx(path("img.gz"), path("lbl.gz")); }, ErrorCode::kParse);
  EXPECT_NE(msg.find(path("img.gz")), std::string::npos) << msg;
}

TEST_F(DataTest, MissingFileIsNotFound) {
  std::string msg = error_message([&] { data::load_idx(path("nope.gz"), path("lbl.gz")); }, ErrorCode::kNotFound);
  EXPECT_NE(msg.find("nope.gz"), std::string::npos) << msg;
  error_message([&] { data::load_dataset("sign-mnist:" + path("missing.csv")); }, ErrorCode::kNotFound);
}

TEST_F(DataTest, FashionMnistDirOverride) {
  write_gz(path("t10k-images-idx3-ubyte.gz"), idx_bytes(0x803, {3, 4, 5}, sample_pixels()));
  write_gz(path("t10k-labels-idx1-ubyte.gz"), idx_bytes(0x801, {3}, {2, 0, 7}));
  ::setenv("EDGEQ_FASHION_MNIST_DIR", dir_.c_str(), 1);
  data::Dataset ds = data::load_dataset("fashion-mnist:test");
  ::unsetenv("EDGEQ_FASHION_MNIST_DIR");
  EXPECT_EQ(ds.name, "fashion-mnist:test");
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.class_names.size(), 10u);
  EXPECT_EQ(ds.class_names[7], "Sneaker");
  EXPECT_TRUE(ds.flip_ok);
}

TEST_F(DataTest, FashionMnistLabelOutOfRange) {
  write_gz(path("t10k-images-idx3-ubyte.gz"), idx_bytes(0x803, {3, 4, 5}, sample_pixels()));
  write_gz(path("t10k-labels-idx1-ubyte.gz"), idx_bytes(0x801, {3}, {2, 12, 7}));
  ::setenv("EDGEQ_FASHION_MNIST_DIR", dir_.c_str(), 1);
  std::string msg = error_message([&] { data::load_dataset("fashion-mnist:test"); }, ErrorCode::kParse);
  ::unsetenv("EDGEQ_FASHION_MNIST_DIR");
  EXPECT_NE(msg.find("record 1: label 12"), std::string::npos) << msg;
}

TEST(DataRealTest, DebianFashionMnist) {
  // dataset-fashion-mnist is a declared dependency (scripts/setup): its absence is a setup failure.
  data::Dataset test = data::load_dataset("fashion-mnist:test");
  ASSERT_EQ(test.size(), 10000);
  EXPECT_EQ(test.height, 28);
  EXPECT_EQ(test.width, 28);
  std::vector<int64_t> per_class(10, 0);
  for (int64_t l : test.labels) per_class[static_cast<size_t>(l)]++;
  for (int64_t c : per_class) EXPECT_EQ(c, 1000);  // the test split is balanced
  data::Dataset train = data::load_dataset("fashion-mnist", {.limit = 500});
  EXPECT_EQ(train.name, "fashion-mnist:train");
  EXPECT_EQ(train.size(), 500);
  // Fashion-MNIST train statistics, as published: mean 0.2860, std 0.3530.
  data::Normalization n = data::compute_normalization(data::load_dataset("fashion-mnist:train"));
  EXPECT_NEAR(n.mean[0], 0.2860, 5e-4);
  EXPECT_NEAR(n.std[0], 0.3530, 5e-4);
}

TEST(DataSpecTest, BadSpecs) {
  error_message([] { data::load_dataset("mnist"); }, ErrorCode::kInvalidArgument);
  error_message([] { data::load_dataset("fashion-mnist:valid"); }, ErrorCode::kInvalidArgument);
  error_message([] { data::load_dataset("sign-mnist"); }, ErrorCode::kInvalidArgument);
  error_message([] { data::load_dataset("fashion-mnist:test", {.channels = 3}); }, ErrorCode::kInvalidArgument);
}

TEST_F(DataTest, SignMnistCsv) {
  std::string text = csv_header() + csv_row(0, 784, 1) + csv_row(10, 784, 2) + csv_row(24, 784, 255);
  edgeq::write_file_atomic(path("sign.csv"), text);
  data::Dataset ds = data::load_dataset("sign-mnist:" + path("sign.csv"));
  ASSERT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.num_classes(), 24);
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{0, 9, 23}));  // K (10) and Y (24) shift down past J
  EXPECT_EQ(ds.class_names[9], "K");
  EXPECT_EQ(ds.class_names[23], "Y");
  EXPECT_EQ(ds.image(2)[783], 255);
  EXPECT_EQ(ds.image(1)[0], 2);
  EXPECT_FALSE(ds.flip_ok);
}

TEST_F(DataTest, SignMnistCrlfWithoutHeader) {
  std::string row = csv_row(3, 784);
  row.insert(row.size() - 1, "\r");
  edgeq::write_file_atomic(path("sign.csv"), row + row);
  EXPECT_EQ(data::load_sign_mnist_csv(path("sign.csv")).size(), 2);
}

TEST_F(DataTest, SignMnistShortRowNamesLine) {
  edgeq::write_file_atomic(path("sign.csv"), csv_header() + csv_row(1, 784) + csv_row(2, 783));
  std::string msg = error_message([&] { data::load_sign_mnist_csv(path("sign.csv")); }, ErrorCode::kParse);
  EXPECT_NE(msg.find(path("sign.csv") + ":3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("783 pixels"), std::string::npos) << msg;
}

TEST_F(DataTest, SignMnistLabelOutOfRange) {
  for (int label : {9, 25, 26, -1}) {
    edgeq::write_file_atomic(path("sign.csv"), csv_row(1, 784) + csv_row(label, 784));
    std::string msg = error_message([&] { data::load_sign_mnist_csv(path("sign.csv")); }, ErrorCode::kParse);
    EXPECT_NE(msg.find(":2: label " + std::to_string(label) + " out of range"), std::string::npos) << msg;
  }
}

TEST_F(DataTest, SignMnistBadPixel) {
  std::string row = csv_row(1, 784);
  edgeq::write_file_atomic(path("a.csv"), row + "1,x" + row.substr(row.find(',', 2)));
  std::string msg = error_message([&] { data::load_sign_mnist_csv(path("a.csv")); }, ErrorCode::kParse);
  EXPECT_NE(msg.find(":2: field 2 'x' is not an integer"), std::string::npos) << msg;
  edgeq::write_file_atomic(path("b.csv"), csv_row(1, 784, 256));
  msg = error_message([&] { data::load_sign_mnist_csv(path("b.csv")); }, ErrorCode::kParse);
  EXPECT_NE(msg.find(":1: pixel1 = 256 out of range"), std::string::npos) << msg;
  edgeq::write_file_atomic(path("c.csv"), csv_header());
  msg = error_message([&] { data::load_sign_mnist_csv(path("c.csv")); }, ErrorCode::kParse);
  EXPECT_NE(msg.find("no data rows"), std::string::npos) << msg;
}

namespace {
void write_png(const std::string& path, int w, int h, int comp, const std::vector<uint8_t>& px) {
  ASSERT_NE(stbi_write_png(path.c_str(), w, h, comp, px.data(), w * comp), 0) << path;
}
}  // namespace

TEST_F(DataTest, ImageFolder) {
  fs::create_directories(dir_ / "b_cat");
  fs::create_directories(dir_ / "a_dog");
  write_png(path("a_dog/1.png"), 8, 8, 1, std::vector<uint8_t>(64, 200));
  write_png(path("a_dog/2.PNG"), 8, 8, 3, std::vector<uint8_t>(192, 100));
  std::vector<uint8_t> rgb(16 * 4 * 3, 0);
  for (size_t i = 0; i < rgb.size(); i += 3) rgb[i] = 255;  // pure red
  ASSERT_NE(stbi_write_jpg(path("b_cat/x.jpg").c_str(), 16, 4, 3, rgb.data(), 95), 0);
  edgeq::write_file_atomic(path("b_cat/notes.txt"), "not an image, ignored");
  data::Dataset ds = data::load_dataset("folder:" + dir_.string(), {.channels = 1, .height = 4, .width = 4});
  ASSERT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"a_dog", "b_cat"}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{0, 0, 1}));
  EXPECT_EQ(ds.image_elems(), 16);
  // A flat image stays flat through the resize filter.
  for (int64_t i = 0; i < 16; ++i) {
    EXPECT_NEAR(ds.image(0)[i], 200, 1) << "pixel " << i;
    EXPECT_NEAR(ds.image(1)[i], 100, 1) << "pixel " << i;
    // stb's luminance: (77 r + 150 g + 29 b) >> 8 = 76 for pure red; JPEG adds a little error.
    EXPECT_NEAR(ds.image(2)[i], 76, 4) << "pixel " << i;
  }
}

TEST_F(DataTest, ImageFolderUnreadableImageNamesFile) {
  fs::create_directories(dir_ / "c");
  edgeq::write_file_atomic(path("c/broken.png"), "\x89PNG\r\n\x1a\n truncated");
  std::string msg = error_message([&] { data::load_dataset("folder:" + dir_.string()); }, ErrorCode::kParse);
  EXPECT_NE(msg.find(path("c/broken.png")), std::string::npos) << msg;
  error_message([&] { data::load_dataset("folder:" + path("absent")); }, ErrorCode::kNotFound);
}

TEST(DataImageTest, DecodeNormalizeRgb) {
  // 2x1 RGB: left pixel white, right pixel (0, 128, 255).
  std::vector<uint8_t> px = {255, 255, 255, 0, 128, 255};
  std::string bytes;
  auto append = [](void* ctx, void* chunk, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(chunk), static_cast<size_t>(size));
  };
  ASSERT_NE(stbi_write_png_to_func(append, &bytes, 2, 1, 3, px.data(), 6), 0);
  data::Preprocess pp{.channels = 3, .height = 1, .width = 2, .norm = {{0.5f, 0.5f, 0.f}, {0.5f, 0.25f, 1.f}}};
  edgeq::Tensor t = data::decode_image(bytes, pp, "mem.png");
  ASSERT_EQ(t.shape(), (edgeq::Shape{1, 3, 1, 2}));
  const float* v = t.data<float>();
  EXPECT_FLOAT_EQ(v[0], 1.f);                               // R white: (1 - .5) / .5
  EXPECT_FLOAT_EQ(v[1], -1.f);                              // R 0
  EXPECT_FLOAT_EQ(v[2], 2.f);                               // G white: (1 - .5) / .25
  EXPECT_FLOAT_EQ(v[3], (128.f / 255.f - 0.5f) / 0.25f);    // G 128
  EXPECT_FLOAT_EQ(v[4], 1.f);                               // B white
  EXPECT_FLOAT_EQ(v[5], 1.f);                               // B 255
  try {
    data::decode_image("definitely not an image", pp, "junk.bin");
    FAIL() << "decoded junk";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("junk.bin"), std::string::npos) << e.what();
  }
  pp.norm.std = {0.f};
  EXPECT_THROW(data::decode_image(bytes, pp, "mem.png"), Error);
}

namespace {
data::Dataset tiny_dataset(int64_t n) {
  data::Dataset ds;
  ds.name = "tiny";
  ds.height = 3;
  ds.width = 4;
  ds.class_names = {"a", "b"};
  ds.flip_ok = true;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < 12; ++k) ds.pixels.push_back(static_cast<uint8_t>(i * 12 + k));
    ds.labels.push_back(i % 2);
  }
  return ds;
}
}  // namespace

TEST(DataBatchTest, NormalizationAndBatches) {
  data::Dataset ds = tiny_dataset(2);
  std::fill(ds.pixels.begin(), ds.pixels.begin() + 12, uint8_t{0});
  std::fill(ds.pixels.begin() + 12, ds.pixels.end(), uint8_t{255});
  data::Normalization n = data::compute_normalization(ds);
  EXPECT_FLOAT_EQ(n.mean[0], 0.5f);
  EXPECT_FLOAT_EQ(n.std[0], 0.5f);
  std::vector<int64_t> idx = {1, 0};
  edgeq::Tensor x = data::make_images(ds, idx, n);
  ASSERT_EQ(x.shape(), (edgeq::Shape{2, 1, 3, 4}));
  EXPECT_FLOAT_EQ(x.data<float>()[0], 1.f);
  EXPECT_FLOAT_EQ(x.data<float>()[12], -1.f);
  edgeq::Tensor y = data::make_labels(ds, idx);
  EXPECT_EQ(y.data<int64_t>()[0], 1);
  EXPECT_EQ(y.data<int64_t>()[1], 0);
  std::vector<int64_t> bad = {2};
  EXPECT_THROW(data::make_images(ds, bad, n), Error);
}

TEST(DataBatchTest, AugmentShiftsAndFlips) {
  data::Dataset ds = tiny_dataset(1);
  std::vector<int64_t> idx = {0};
  data::Normalization raw{{0.f}, {1.f / 255.f}};  // keeps pixel values
  std::mt19937_64 rng(7);
  // No shift, no flip: identical to make_images.
  edgeq::Tensor plain = data::make_images(ds, idx, raw);
  edgeq::Tensor same = data::make_augmented_images(ds, idx, raw, {.max_shift = 0, .flip = false}, rng);
  for (int64_t i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(same.data<float>()[i], plain.data<float>()[i]);
  // Flips only: each draw is the image or its mirror, and both appear within 64 draws.
  std::set<int> seen;
  for (int draw = 0; draw < 64; ++draw) {
    edgeq::Tensor t = data::make_augmented_images(ds, idx, raw, {.max_shift = 0, .flip = true}, rng);
    auto v = [&](int i) { return std::lround(t.data<float>()[i]); };
    bool mirrored = v(0) == 3 && v(3) == 0 && v(4) == 7;
    bool original = v(0) == 0 && v(3) == 3 && v(4) == 4;
    ASSERT_TRUE(mirrored || original) << "draw " << draw;
    seen.insert(mirrored ? 1 : 0);
  }
  EXPECT_EQ(seen.size(), 2u);
  // Shifts keep every nonzero pixel at its source value moved by at most max_shift; same seed, same output.
  std::mt19937_64 a(11), b(11);
  edgeq::Tensor ta = data::make_augmented_images(ds, idx, raw, {.max_shift = 1, .flip = false}, a);
  edgeq::Tensor tb = data::make_augmented_images(ds, idx, raw, {.max_shift = 1, .flip = false}, b);
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(ta.data<float>()[i], tb.data<float>()[i]);
  std::set<std::pair<int64_t, int64_t>> offsets;  // one (dy, dx) for the whole image
  for (int64_t y = 0; y < 3; ++y)
    for (int64_t x = 0; x < 4; ++x) {
      const int64_t v = std::lround(ta.data<float>()[y * 4 + x]);
      if (v == 0) continue;  // zero fill (pixel 0 of the source is 0 as well)
      const int64_t sy = v / 4, sx = v % 4;
      EXPECT_LE(std::abs(sy - y), 1);
      EXPECT_LE(std::abs(sx - x), 1);
      offsets.insert({sy - y, sx - x});
    }
  EXPECT_EQ(offsets.size(), 1u);
}

TEST(DataSplitTest, DeterministicDisjointSplit) {
  data::Split a = data::split_train_val(1000, 0.1, 42);
  data::Split b = data::split_train_val(1000, 0.1, 42);
  data::Split c = data::split_train_val(1000, 0.1, 43);
  EXPECT_EQ(a.val.size(), 100u);
  EXPECT_EQ(a.train.size(), 900u);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.val, b.val);
  EXPECT_NE(a.val, c.val);
  std::set<int64_t> all(a.train.begin(), a.train.end());
  all.insert(a.val.begin(), a.val.end());
  EXPECT_EQ(all.size(), 1000u);
  EXPECT_EQ(*all.rbegin(), 999);
  // Pin the order: a change of shuffle algorithm would silently change every seeded run.
  std::vector<int64_t> s = data::shuffled_indices(5, 1);
  std::vector<int64_t> again = data::shuffled_indices(5, 1);
  EXPECT_EQ(s, again);
  EXPECT_THROW(data::split_train_val(10, 1.0, 1), Error);
}

TEST(DataMetadataTest, RoundTripAndErrors) {
  data::Preprocess pp{.channels = 3, .height = 32, .width = 24, .norm = {{0.5f, 0.25f, 0.125f}, {0.2f, 0.3f, 0.4f}}};
  std::vector<std::string> labels = {"cat", "dog \"big\"", "Ankle boot"};
  data::Metadata meta = data::preprocess_metadata(pp, labels);
  data::Preprocess back = data::preprocess_from_metadata(meta, "m.onnx");
  EXPECT_EQ(back.channels, 3);
  EXPECT_EQ(back.height, 32);
  EXPECT_EQ(back.width, 24);
  EXPECT_EQ(back.norm.mean, pp.norm.mean);
  EXPECT_EQ(back.norm.std, pp.norm.std);
  EXPECT_EQ(data::labels_from_metadata(meta, "m.onnx"), labels);
  data::Metadata broken = meta;
  broken[3].second = "three";
  std::string msg = error_message([&] { data::preprocess_from_metadata(broken, "m.onnx"); }, ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("m.onnx: metadata 'channels'"), std::string::npos) << msg;
  broken = meta;
  broken[1].second = "[0.5";
  error_message([&] { data::preprocess_from_metadata(broken, "m.onnx"); }, ErrorCode::kInvalidModel);
  broken = meta;
  broken[2].second = "[0.1, 0.2]";  // 2 std values for 3 channels
  error_message([&] { data::preprocess_from_metadata(broken, "m.onnx"); }, ErrorCode::kInvalidModel);
  error_message([&] { data::labels_from_metadata({}, "m.onnx"); }, ErrorCode::kNotFound);
  // The lenient form: no labels is an empty list, malformed labels are still an error.
  EXPECT_TRUE(data::labels_from_metadata_if_any({}, "m.onnx").empty());
  EXPECT_EQ(data::labels_from_metadata_if_any(meta, "m.onnx"), labels);
  error_message([&] { data::labels_from_metadata_if_any({{"labels", "[1, 2]"}}, "m.onnx"); }, ErrorCode::kInvalidModel);
}
