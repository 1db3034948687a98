// hwy gemm vs the reference: shapes around the panel width and tile height, both B layouts, alpha,
// bias, column/row range splits, guards.
#include <sstream>

#include "edgeq/kernels.h"
#include "kernels/kernel_test_util.h"

namespace edgeq::kernels {
namespace {

using test::GuardedBuffer;

struct GemmCase {
  int64_t m, k, n;
  BLayout layout;
  bool bias;
  float alpha;
  Activation act;
};

void check_gemm(const GemmCase& c, uint32_t seed) {
  std::ostringstream name;
  name << "seed " << seed << " M " << c.m << " K " << c.k << " N " << c.n << " layout "
       << (c.layout == BLayout::kKN ? "KN" : "NK") << " alpha " << c.alpha;
  SCOPED_TRACE(name.str());
  std::mt19937 rng(seed);
  const int64_t lda = c.k + 3, ldc = c.n + 5;  // strided rows
  const auto a = test::random_floats(rng, static_cast<size_t>(c.m * lda));
  const auto b = test::random_floats(rng, static_cast<size_t>(c.k * c.n));
  const auto bias = test::random_floats(rng, static_cast<size_t>(c.n));
  const PackedGemmF32 ref_packed = ref::pack_gemm_f32(b.data(), c.k, c.n, c.layout, c.bias ? bias.data() : nullptr, c.alpha);
  std::vector<float> want(static_cast<size_t>(c.m * ldc), 0.0f);
  ref::gemm_f32(ref_packed, a.data(), lda, want.data(), ldc, {0, c.m, 0, c.n}, c.act);

  const PackedGemmF32 packed = hwy::pack_gemm_f32(b.data(), c.k, c.n, c.layout, c.bias ? bias.data() : nullptr, c.alpha);
  GuardedBuffer got(static_cast<size_t>(c.m * ldc));
  // Split: rows in two, columns at a multiple of 16 when N allows.
  const int64_t m_mid = c.m / 2;
  const int64_t n_mid = c.n > 16 ? (c.n / 2) / 16 * 16 : c.n;
  for (const GemmRange& r : {GemmRange{0, m_mid, 0, n_mid}, GemmRange{0, m_mid, n_mid, c.n},
                             GemmRange{m_mid, c.m, 0, n_mid}, GemmRange{m_mid, c.m, n_mid, c.n}})
    hwy::gemm_f32(packed, a.data(), lda, got.data(), ldc, r, c.act);
  ASSERT_TRUE(got.guards_intact());
  int bad = 0;
  for (int64_t i = 0; i < c.m && bad < 5; ++i) {
    for (int64_t j = 0; j < ldc && bad < 5; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      if (j >= c.n) {  // padding columns of C must stay untouched
        if (!got.is_poison(at)) {
          ADD_FAILURE() << "wrote padding column " << j << " of row " << i;
          ++bad;
        }
        continue;
      }
      if (!test::close_enough(got.data()[at], want[at], c.k * static_cast<int64_t>(std::fabs(c.alpha) + 1))) {
        ADD_FAILURE() << "C[" << i << "][" << j << "] got " << got.data()[at] << " want " << want[at];
        ++bad;
      }
    }
  }
}

TEST(GemmHwy, MatchesReference) {
  std::vector<GemmCase> cases = {
      {1, 1568, 128, BLayout::kNK, true, 1.0f, Activation::relu()},  // cnn-s fc1 at batch 1
      {1, 128, 10, BLayout::kNK, true, 1.0f, Activation::none()},    // cnn-s fc2
      {1, 1152, 245, BLayout::kNK, true, 1.0f, Activation::relu()},  // cnn-m fc1
      {64, 1568, 128, BLayout::kNK, true, 1.0f, Activation::relu()}, // batch 64
      {7, 33, 17, BLayout::kKN, false, 0.5f, Activation::clip(-0.3f, 0.3f)},
      {2, 5, 1, BLayout::kKN, true, 1.0f, Activation::leaky_relu(0.2f)},
      {5, 70, 37, BLayout::kNK, true, 1.0f, Activation::silu()},  // partial panel, Silu epilogue
  };
  std::mt19937 rng(test::kSeed);
  const int64_t sizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65};
  for (int i = 0; i < 40; ++i)
    cases.push_back({sizes[rng() % 12], sizes[rng() % 12], sizes[rng() % 12], rng() % 2 ? BLayout::kKN : BLayout::kNK,
                     rng() % 2 == 0, 1.0f, Activation::none()});
  test::for_each_target([&](const std::string&) {
    for (size_t i = 0; i < cases.size(); ++i) {
      check_gemm(cases[i], test::kSeed + static_cast<uint32_t>(i));
      if (testing::Test::HasFailure()) return;
    }
  });
}

TEST(GemmHwy, PackIntoCallerMemoryAndErrors) {
  const int64_t k = 20, n = 18;
  std::vector<float> b(static_cast<size_t>(k * n), 0.25f), a(static_cast<size_t>(k), 1.0f), c(n);
  auto storage = aligned_alloc_shared(hwy::packed_gemm_f32_floats(k, n) * sizeof(float));
  const PackedGemmF32 view = hwy::pack_gemm_f32_into(reinterpret_cast<float*>(storage.get()), b.data(), k, n,
                                                     BLayout::kKN, nullptr, 2.0f);
  EXPECT_EQ(view.storage, nullptr);
  hwy::gemm_f32(view, a.data(), k, c.data(), n, {0, 1, 0, n}, Activation::none());
  for (float v : c) EXPECT_FLOAT_EQ(v, 2.0f * 0.25f * k);
  EXPECT_THROW(hwy::gemm_f32(view, a.data(), k, c.data(), n, {0, 1, 8, n}, Activation::none()), Error);  // not /16
  EXPECT_THROW(hwy::gemm_f32(view, a.data(), k - 1, c.data(), n, {0, 1, 0, n}, Activation::none()), Error);
  const PackedGemmF32 ref_packed = ref::pack_gemm_f32(b.data(), k, n, BLayout::kKN, nullptr, 1.0f);
  EXPECT_THROW(hwy::gemm_f32(ref_packed, a.data(), k, c.data(), n, {0, 1, 0, n}, Activation::none()), Error);
}

}  // namespace
}  // namespace edgeq::kernels
