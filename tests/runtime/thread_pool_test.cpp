// ThreadPool: every index exactly once, exceptions reach the caller, concurrent callers are safe.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <stdexcept>
#include <thread>
#include <vector>

#include "edgeq/core.h"

namespace {

TEST(ThreadPool, CoversEachIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    edgeq::ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      for (int rep = 0; rep < 20; ++rep)
        pool.parallel_for(n, [&](int64_t b, int64_t e) {
          ASSERT_LE(0, b);
          ASSERT_LE(b, e);
          ASSERT_LE(e, n);
          for (int64_t i = b; i < e; ++i) hits[i]++;
        });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 20) << "threads " << threads << " n " << n << " i " << i;
    }
  }
}

TEST(ThreadPool, ExceptionPropagatesToCaller) {
  edgeq::ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(2, [](int64_t b, int64_t) {
                 if (b == 1) throw std::runtime_error("boom");
               }),
               std::runtime_error);
  // And the pool still works afterwards.
  std::atomic<int64_t> sum{0};
  pool.parallel_for(100, [&](int64_t b, int64_t e) { for (int64_t i = b; i < e; ++i) sum += i; });
  EXPECT_EQ(sum.load(), 4950);
}

TEST(ThreadPool, ConcurrentCallersEachGetTheirWholeRange) {
  edgeq::ThreadPool pool(2);
  std::atomic<int> bad{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int rep = 0; rep < 200; ++rep) {
        std::atomic<int64_t> sum{0};
        pool.parallel_for(64, [&](int64_t b, int64_t e) { for (int64_t i = b; i < e; ++i) sum += i; });
        if (sum.load() != 64 * 63 / 2) ++bad;
      }
    });
  for (auto& c : callers) c.join();
  EXPECT_EQ(bad.load(), 0);
}

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Spinning after a job is bounded by spin_us: over 300 ms idle, a pool spinning at most 20 ms burns
// about 20 ms of CPU (not 300), and one that does not spin burns none; both still split every range.
TEST(ThreadPool, SpinningAfterAJobIsBounded) {
  for (int spin_us : {0, 20000}) {
    edgeq::ThreadPool pool(2, spin_us);
    EXPECT_EQ(pool.spin_us(), spin_us);
    std::atomic<int64_t> sum{0};
    pool.parallel_for(1000, [&](int64_t b, int64_t e) { for (int64_t i = b; i < e; ++i) sum += i; });
    EXPECT_EQ(sum.load(), 1000 * 999 / 2);
    const double before = process_cpu_ms();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const double burnt = process_cpu_ms() - before;
    EXPECT_LT(burnt, spin_us / 1000.0 + 60.0) << "spin_us " << spin_us;
    sum = 0;
    pool.parallel_for(1000, [&](int64_t b, int64_t e) { for (int64_t i = b; i < e; ++i) sum += i; });
    EXPECT_EQ(sum.load(), 1000 * 999 / 2) << "after sleeping";
  }
}

}  // namespace
