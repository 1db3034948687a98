// Helpers for the kernel tests: seeded random data, guarded output buffers (poisoned slack that must
// survive a kernel call), the f32 tolerance rule, and a loop over every compiled Highway target.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "edgeq/kernels.h"
#include "hwy/targets.h"

namespace edgeq::kernels::test {

inline constexpr uint32_t kSeed = 7767517;

inline std::vector<float> random_floats(std::mt19937& rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline std::vector<uint8_t> random_u8(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(rng() & 0xff);
  return v;
}

// An output byte buffer with kGuard poisoned bytes before and after the n usable ones.
struct GuardedBytes {
  static constexpr size_t kGuard = 64;
  static constexpr uint8_t kPoison = 0xA5;
  explicit GuardedBytes(size_t n) : n(n), bytes(n + 2 * kGuard, kPoison) {}
  uint8_t* data() { return bytes.data() + kGuard; }
  bool guards_intact() const {
    for (size_t i = 0; i < kGuard; ++i)
      if (bytes[i] != kPoison || bytes[kGuard + n + i] != kPoison) return false;
    return true;
  }
  size_t n;
  std::vector<uint8_t> bytes;
};

// An output buffer with kGuard poisoned floats before and after the n usable ones.
class GuardedBuffer {
 public:
  static constexpr size_t kGuard = 64;
  explicit GuardedBuffer(size_t n) : n_(n), storage_(n + 2 * kGuard) { poison_all(); }
  float* data() { return storage_.data() + kGuard; }
  const float* data() const { return storage_.data() + kGuard; }
  size_t size() const { return n_; }
  void poison_all() {
    for (float& x : storage_) std::memcpy(&x, &kPoison, sizeof(float));
  }
  bool is_poison(size_t i) const { return std::memcmp(data() + i, &kPoison, sizeof(float)) == 0; }
  // True when the guards on both sides are intact.
  bool guards_intact() const {
    for (size_t i = 0; i < kGuard; ++i) {
      if (std::memcmp(&storage_[i], &kPoison, sizeof(float)) != 0) return false;
      if (std::memcmp(&storage_[kGuard + n_ + i], &kPoison, sizeof(float)) != 0) return false;
    }
    return true;
  }

 private:
  static constexpr uint32_t kPoison = 0x7fc0dead;  // a quiet NaN with a recognizable payload
  size_t n_;
  std::vector<float> storage_;
};

// STYLE.md rule: |got - want| <= atol + rtol * |want|, atol scaled by the reduction length k (inputs in
// [-1, 1], so each product is at most 1 and the float rounding error grows ~k * eps).
inline bool close_enough(float got, float want, int64_t k, float rtol = 1e-5f) {
  const float atol = 4.0f * static_cast<float>(k) * 1.1920929e-7f;
  return std::fabs(got - want) <= atol + rtol * std::fabs(want);
}

// Runs `body(name)` once per Highway target compiled in and supported by this CPU, with the dispatcher
// forced to that target, then restores normal dispatch. On a target with several int8 products
// (hwy::Q8Product: NEON with the dot product also runs the int16 pairs), once per product, best
// last, named "TARGET+product" (the best product keeps the plain target name). AVX3_DL runs VNNI only,
// as before.
inline void for_each_target(const std::function<void(const std::string&)>& body) {
  for (int64_t target : ::hwy::SupportedAndGeneratedTargets()) {
    ::hwy::SetSupportedTargetsForTest(target);
    ::hwy::GetChosenTarget().Update(::hwy::SupportedTargets());
    // The dispatcher must really run this target, or the loop would test the best one N times.
    ASSERT_EQ(hwy::target_name(), ::hwy::TargetName(target));
    const hwy::Q8Product best = hwy::q8_product();
    std::vector<hwy::Q8Product> products;
    if (best == hwy::Q8Product::kDotProd) products.push_back(hwy::Q8Product::kPairs);
    products.push_back(best);
    for (hwy::Q8Product product : products) {
      hwy::set_q8_product_cap_for_test(product);
      SCOPED_TRACE(std::string("highway target ") + ::hwy::TargetName(target) + ", int8 " + hwy::q8_product_name(product));
      ASSERT_EQ(hwy::q8_product(), product);
      body(product == best ? std::string(::hwy::TargetName(target))
                           : std::string(::hwy::TargetName(target)) + "+" + hwy::q8_product_name(product));
      hwy::set_q8_product_cap_for_test(hwy::Q8Product::kVnni);
    }
  }
  ::hwy::SetSupportedTargetsForTest(0);
  ::hwy::GetChosenTarget().Update(::hwy::SupportedTargets());
}

}  // namespace edgeq::kernels::test
