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
  const data::DatasetOptions opt = data::dataset_options_for(back, "test", 7);
  EXPECT_EQ(opt.default_split, "test");
  EXPECT_EQ(opt.channels, 3);
  EXPECT_EQ(opt.height, 32);
  EXPECT_EQ(opt.width, 24);
  EXPECT_EQ(opt.limit, 7);
  EXPECT_EQ(opt.max_image_bytes, data::DatasetOptions{}.max_image_bytes);
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

// ---------------------------------------------------------------------------------------------
// Hostile files (issue 23): sizes from headers checked before allocation, truncation detected,
// file bytes escaped in messages, metadata errors blamed on the model.
namespace {

void put_chunk(std::string& png, const char* type, const std::string& body) {
  put_be32(png, static_cast<uint32_t>(body.size()));
  const std::string typed = std::string(type, 4) + body;
  png += typed;
  put_be32(png, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(typed.data()), static_cast<uInt>(typed.size()))));
}

// A valid all-black 8-bit PNG of any size (color type 0 gray, 2 RGB), deflated row by row so the
// raw image never exists in memory: an 8192x8192 RGB image is ~200 KB.
std::string black_png(uint32_t w, uint32_t h, uint8_t color_type) {
  const uint32_t channels = color_type == 2 ? 3 : 1;
  std::string ihdr;
  put_be32(ihdr, w);
  put_be32(ihdr, h);
  ihdr += std::string{8, static_cast<char>(color_type), 0, 0, 0};
  std::string idat;
  z_stream zs{};
  EXPECT_EQ(deflateInit(&zs, 1), Z_OK);
  std::vector<Bytef> row(1 + size_t{w} * channels, 0);  // filter byte 0 + black pixels
  std::vector<Bytef> out(1 << 16);
  for (uint32_t y = 0; y < h; ++y) {
    zs.next_in = row.data();
    zs.avail_in = static_cast<uInt>(row.size());
    const int flush = y + 1 == h ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = out.data();
      zs.avail_out = static_cast<uInt>(out.size());
      deflate(&zs, flush);
      idat.append(reinterpret_cast<const char*>(out.data()), out.size() - zs.avail_out);
    } while (zs.avail_out == 0);
  }
  deflateEnd(&zs);
  std::string png = "\x89PNG\r\n\x1a\n";
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", idat);
  put_chunk(png, "IEND", "");
  return png;
}

void append_to_string(void* ctx, void* chunk, int size) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(chunk), static_cast<size_t>(size));
}

// A BMP header (24 bits per pixel, uncompressed) declaring w x h, with only `pixel_bytes` of data.
std::string bmp_header_only(uint32_t w, uint32_t h, size_t pixel_bytes) {
  auto le32 = [](std::string& s, uint32_t v) {
    for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  std::string b = "BM";
  le32(b, static_cast<uint32_t>(54 + pixel_bytes));
  le32(b, 0);
  le32(b, 54);  // pixel data offset
  le32(b, 40);  // BITMAPINFOHEADER
  le32(b, w);
  le32(b, h);
  b += std::string{1, 0, 24, 0};  // planes, bits per pixel
  le32(b, 0);                     // BI_RGB
  for (int i = 0; i < 5; ++i) le32(b, 0);
  b.append(pixel_bytes, '\x40');
  return b;
}

}  // namespace

TEST(DataImageLimitsTest, PixelBudgetCheckedFromHeaderBeforeDecoding) {
  // The case: a small file whose header declares 8192x8192 RGB (192 MiB decoded).
  const std::string big = black_png(8192, 8192, 2);
  ASSERT_LT(big.size(), 1u << 20);
  const edgeq::Timer timer;
  std::string msg = error_message([&] { data::decode_image_u8(big, 1, 28, 28, "huge.png"); }, ErrorCode::kInvalidArgument);
  EXPECT_LT(timer.elapsed_ms(), 500.0) << "decoded before refusing";
  EXPECT_NE(msg.find("huge.png"), std::string::npos) << msg;
  EXPECT_NE(msg.find("8192x8192"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(big.size()) + "-byte file"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(data::kDefaultMaxImageBytes) + "-byte image budget"), std::string::npos) << msg;
  // The budget is the caller's: a 64x64 image passes by default and is refused under 4096 bytes.
  const std::string small = black_png(64, 64, 0);
  EXPECT_EQ(data::decode_image_u8(small, 1, 8, 8, "small.png").size(), 64u);
  msg = error_message([&] { data::decode_image_u8(small, 1, 8, 8, "small.png", 4095); }, ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("4095-byte image budget"), std::string::npos) << msg;
  data::Preprocess pp{.channels = 1, .height = 8, .width = 8, .norm = {}, .max_image_bytes = 4095};
  error_message([&] { data::decode_image(small, pp, "small.png"); }, ErrorCode::kInvalidArgument);
  // The target size (from a model's metadata) counts against the same budget.
  error_message([&] { data::decode_image_u8(small, 3, 8192, 8192, "small.png"); }, ErrorCode::kInvalidArgument);
}

TEST_F(DataTest, FolderImageOverBudgetNamesFile) {
  fs::create_directories(dir_ / "c");
  edgeq::write_file_atomic(path("c/a.png"), black_png(64, 64, 0));
  data::DatasetOptions options;
  options.max_image_bytes = 1000;
  std::string msg = error_message([&] { data::load_dataset("folder:" + dir_.string(), options); },
                                  ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find(path("c/a.png")), std::string::npos) << msg;
  EXPECT_EQ(data::load_dataset("folder:" + dir_.string()).size(), 1);
}

TEST(DataImageLimitsTest, TruncatedBmpIsAnErrorNotABlackImage) {
  // 100x100 at 24 bits: 100 rows of 300 bytes (stride 300); the file holds 3 rows.
  std::string msg = error_message([&] { data::decode_image_u8(bmp_header_only(100, 100, 900), 1, 28, 28, "cut.bmp"); },
                                  ErrorCode::kParse);
  EXPECT_NE(msg.find("cut.bmp: truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("100x100"), std::string::npos) << msg;
  // The case: 8000x8000 promised, no pixel at all.
  msg = error_message([&] { data::decode_image_u8(bmp_header_only(8000, 8000, 0), 1, 28, 28, "empty.bmp"); },
                      ErrorCode::kParse);
  EXPECT_NE(msg.find("empty.bmp: truncated"), std::string::npos) << msg;
  // Complete: decodes (every pixel 0x40).
  const std::vector<uint8_t> px = data::decode_image_u8(bmp_header_only(4, 2, 24), 1, 2, 4, "ok.bmp");
  EXPECT_EQ(px, std::vector<uint8_t>(8, 0x40));
}

TEST(DataImageLimitsTest, ZeroSizedImageIsAnError) {
  // Found by image_decode_fuzz: a BMP of 4x0 pixels went on to the resizer, which read out of bounds.
  std::string msg = error_message([&] { data::decode_image_u8(bmp_header_only(4, 0, 0), 1, 28, 28, "flat.bmp"); },
                                  ErrorCode::kParse);
  EXPECT_NE(msg.find("flat.bmp: image header declares 4x0 pixels"), std::string::npos) << msg;
}

TEST(DataImageLimitsTest, PngChunkLongerThanTheFileIsRefusedBeforeAllocating) {
  // Found by image_decode_fuzz: an IDAT chunk declaring 2^31 - 1 bytes made stb realloc 2 GB first.
  std::string png = black_png(8, 8, 0);
  const size_t idat = png.find("IDAT") - 4;
  png.replace(idat, 4, std::string("\x7f\xff\xff\xff", 4));
  std::string msg = error_message([&] { data::decode_image_u8(png, 1, 8, 8, "long.png"); }, ErrorCode::kParse);
  EXPECT_NE(msg.find("long.png: truncated image: PNG chunk 'IDAT' declares 2147483647 bytes"), std::string::npos) << msg;
}

TEST(DataImageLimitsTest, JpegHuffmanTableOverflowIsRefusedBeforeStb) {
  // Found by image_decode_fuzz: a DHT segment whose 16 code counts sum past 256 made stb 2.27 write
  // past its Huffman arrays (in stbi_info already). Build one from a valid JPEG: first table's counts
  // all 0xFF.
  std::vector<uint8_t> px(8 * 8, 100);
  std::string jpg;
  ASSERT_NE(stbi_write_jpg_to_func(append_to_string, &jpg, 8, 8, 1, px.data(), 90), 0);
  const size_t dht = jpg.find("\xff\xc4");
  ASSERT_NE(dht, std::string::npos);
  for (size_t i = 0; i < 16; ++i) jpg[dht + 5 + i] = '\xff';
  std::string msg = error_message([&] { data::decode_image_u8(jpg, 1, 8, 8, "dht.jpg"); }, ErrorCode::kParse);
  EXPECT_NE(msg.find("dht.jpg: corrupt JPEG: a Huffman table declares 4080 codes"), std::string::npos) << msg;
  // The same table past its segment's declared end (length 3): stb still reads it, so it is checked.
  jpg[dht + 2] = '\0';
  jpg[dht + 3] = '\3';
  msg = error_message([&] { data::decode_image_u8(jpg, 1, 8, 8, "short-dht.jpg"); }, ErrorCode::kParse);
  EXPECT_NE(msg.find("short-dht.jpg: corrupt JPEG: a Huffman table declares 4080 codes"), std::string::npos) << msg;
  // Fill bytes before the start-of-image marker (stb skips them): still recognized as a JPEG.
  msg = error_message([&] { data::decode_image_u8("\xff\xff" + jpg, 1, 8, 8, "fill.jpg"); }, ErrorCode::kParse);
  EXPECT_NE(msg.find("fill.jpg: corrupt JPEG: a Huffman table declares 4080 codes"), std::string::npos) << msg;
}

TEST(DataImageLimitsTest, TruncatedJpegIsAnError) {
  std::vector<uint8_t> px(64 * 64 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 37 % 251);
  std::string jpg;
  ASSERT_NE(stbi_write_jpg_to_func(append_to_string, &jpg, 64, 64, 3, px.data(), 90), 0);
  EXPECT_EQ(data::decode_image_u8(jpg, 3, 64, 64, "whole.jpg").size(), px.size());
  const std::string cut = jpg.substr(0, jpg.size() / 2);
  std::string msg = error_message([&] { data::decode_image_u8(cut, 3, 64, 64, "cut.jpg"); }, ErrorCode::kParse);
  EXPECT_NE(msg.find("cut.jpg: truncated"), std::string::npos) << msg;
}

TEST_F(DataTest, IdxGzipInflatesNoFurtherThanItsDims) {
  // 2 images of 4x5 declared, 64 MiB of zeros after them: refused without inflating them all.
  std::string bomb = idx_bytes(0x803, {2, 4, 5}, std::vector<uint8_t>(40, 9));
  bomb.append(size_t{64} << 20, '\0');
  write_gz(path("img.gz"), bomb);
  write_gz(path("lbl.gz"), idx_bytes(0x801, {2}, {3, 4}));
  std::string msg = error_message([&] { data::load_idx(path("img.gz"), path("lbl.gz")); }, ErrorCode::kParse);
  EXPECT_NE(msg.find(path("img.gz") + ": gzip stream inflates past the 56 bytes its IDX dims declare"),
            std::string::npos) << msg;
  // With a limit only the records kept are inflated, so the same file's first image loads.
  data::Dataset ds = data::load_idx(path("img.gz"), path("lbl.gz"), 1);
  EXPECT_EQ(ds.pixels, std::vector<uint8_t>(20, 9));
}

TEST_F(DataTest, IdxDimsCheckedBeforeAllocation) {
  // 2^32-1 images of 4096x4096 (2^56 bytes): refused from the header, plain or gzip'd.
  const std::string header = idx_bytes(0x803, {0xffffffffu, 4096, 4096}, {});
  edgeq::write_file_atomic(path("img"), header);
  write_gz(path("img.gz"), header);
  edgeq::write_file_atomic(path("lbl"), idx_bytes(0x801, {1}, {0}));
  for (const char* name : {"img", "img.gz"}) {
    std::string msg = error_message([&] { data::load_idx(path(name), path("lbl")); }, ErrorCode::kParse);
    EXPECT_NE(msg.find(path(name) + ": IDX dims declare more than " + std::to_string(data::kMaxIdxBytes)),
              std::string::npos) << msg;
  }
  // 2^28 images of 2x2 (1 GiB, at the ceiling) in a 60-byte gzip: "truncated" at once, with no 1 GiB
  // buffer allocated first (deflate cannot expand 60 bytes that far).
  write_gz(path("big.gz"), idx_bytes(0x803, {1u << 28, 2, 2}, std::vector<uint8_t>(8, 1)));
  write_gz(path("big-labels.gz"), idx_bytes(0x801, {1u << 28}, {}));
  const edgeq::Timer timer;
  std::string msg = error_message([&] { data::load_idx(path("big.gz"), path("big-labels.gz")); }, ErrorCode::kParse);
  EXPECT_NE(msg.find(path("big.gz") + ": truncated at record 2 of 268435456"), std::string::npos) << msg;
  EXPECT_LT(timer.elapsed_ms(), 100.0) << "allocated what the dims declare before inflating";
  // A labels file of 2^32-1 labels, gzip'd and nearly empty: refused the same way.
  write_gz(path("lbl.gz"), idx_bytes(0x801, {0xffffffffu}, {}));
  edgeq::write_file_atomic(path("one"), idx_bytes(0x803, {1, 4, 5}, std::vector<uint8_t>(20)));
  error_message([&] { data::load_idx(path("one"), path("lbl.gz")); }, ErrorCode::kParse);
}

TEST(DataCsvLimitsTest, BinaryBytesAreEscapedInErrors) {
  std::string row = "3,\x1b[2J\x1b]0;pwned\x07";
  for (int i = 1; i < 784; ++i) row += ",0";
  std::string msg = error_message([&] { data::load_sign_mnist_csv_from_bytes(row + "\n", "evil.csv"); },
                                  ErrorCode::kParse);
  EXPECT_EQ(msg.find('\x1b'), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\x07'), std::string::npos) << msg;
  EXPECT_NE(msg.find("evil.csv:1: field 2 '\\x1b[2J\\x1b]0;pwned\\x07' is not an integer"), std::string::npos) << msg;
  // A megabyte-long field is quoted cut short, not whole.
  msg = error_message([&] { data::load_sign_mnist_csv_from_bytes("1," + std::string(1 << 20, 'z'), "long.csv"); },
                      ErrorCode::kParse);
  EXPECT_LT(msg.size(), 200u) << msg.size();
  // A row with a million fields is refused as too long, naming the line.
  msg = error_message([&] { data::load_sign_mnist_csv_from_bytes(csv_row(1, 1 << 20), "wide.csv"); }, ErrorCode::kParse);
  EXPECT_NE(msg.find("wide.csv:1: row has more than 784 pixels"), std::string::npos) << msg;
}

TEST(DataMetadataLimitsTest, BadValuesAreMetadataErrorsNamingModelAndKey) {
  const data::Metadata good = data::preprocess_metadata(data::Preprocess{}, {"a", "b"});
  auto with = [&](const std::string& key, const std::string& value) {
    data::Metadata m = good;
    for (auto& [k, v] : m)
      if (k == key) v = value;
    return m;
  };
  // channels 4 used to pass here and fail later, naming the image being predicted.
  std::string msg = error_message([&] { data::preprocess_from_metadata(with("channels", "4"), "m.onnx"); },
                                  ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("m.onnx: metadata 'channels'"), std::string::npos) << msg;
  msg = error_message([&] { data::preprocess_from_metadata(with("channels", "2"), "m.onnx"); }, ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("m.onnx: metadata 'channels'"), std::string::npos) << msg;
  msg = error_message([&] { data::preprocess_from_metadata(with("height", "65536"), "m.onnx"); }, ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("m.onnx: metadata 'height' = '65536' is not an integer in 1..8192"), std::string::npos) << msg;
  msg = error_message([&] { data::preprocess_from_metadata(with("width", "2\x1b[2J"), "m.onnx"); },
                      ErrorCode::kInvalidModel);
  EXPECT_EQ(msg.find('\x1b'), std::string::npos) << msg;
  msg = error_message([&] { data::preprocess_from_metadata(with("mean", "[1e300]"), "m.onnx"); },
                      ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("m.onnx: metadata 'mean'"), std::string::npos) << msg;
}
