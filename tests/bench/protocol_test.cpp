// The protocol: call counts, untimed warm-up, per-round figures, throughput, pinning.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "edgeq/bench.h"

namespace edgeq::bench {
namespace {

TEST(BenchProtocol, CallsWarmupPlusRunsTimesRounds) {
  int calls = 0;
  ProtocolOptions o;
  o.warmup = 5;
  o.runs = 7;
  o.rounds = 3;
  const Measurement m = measure([&] { ++calls; }, o);
  EXPECT_EQ(calls, 5 + 7 * 3);
  EXPECT_EQ(m.calls, 5 + 7 * 3);
  EXPECT_EQ(m.samples_ns.size(), 21u);
  EXPECT_EQ(m.overall.count, 21);
  ASSERT_EQ(m.per_round.size(), 3u);
  ASSERT_EQ(m.round_p50_ns.size(), 3u);
  for (size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(m.per_round[r].count, 7);
    EXPECT_DOUBLE_EQ(m.round_p50_ns[r], m.per_round[r].p50_ns);
  }
  EXPECT_DOUBLE_EQ(m.spread, round_spread(m.round_p50_ns));
}

TEST(BenchProtocol, ReportsEachRoundAfterItsCalls) {
  int calls = 0;
  std::vector<std::pair<int, int>> seen;  // (round, calls made when it was reported)
  ProtocolOptions o;
  o.warmup = 2;
  o.runs = 4;
  o.rounds = 3;
  o.on_round = [&](int round, int rounds, const LatencyStats& stats) {
    EXPECT_EQ(rounds, 3);
    EXPECT_EQ(stats.count, 4);
    seen.emplace_back(round, calls);
  };
  measure([&] { ++calls; }, o);
  const std::vector<std::pair<int, int>> expected = {{1, 2 + 4}, {2, 2 + 8}, {3, 2 + 12}};
  EXPECT_EQ(seen, expected);
}

TEST(BenchProtocol, WarmupIsNotTimed) {
  // Warm-up calls sleep 200 ms, timed calls return at once: no sample may contain a warm-up call.
  int calls = 0;
  ProtocolOptions o;
  o.warmup = 3;
  o.runs = 50;
  o.rounds = 3;
  const Measurement m = measure(
      [&] {
        if (calls++ < 3) std::this_thread::sleep_for(std::chrono::milliseconds(200));
      },
      o);
  EXPECT_LT(m.overall.max_ns, 150e6) << "a warm-up call leaked into the timed samples";
}

TEST(BenchProtocol, MeasuresTheCallAndThroughput) {
  ProtocolOptions o;
  o.warmup = 1;
  o.runs = 5;
  o.rounds = 3;
  o.batch = 64;
  const Measurement m = measure([] { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }, o);
  EXPECT_GE(m.overall.min_ns, 2e6);
  EXPECT_LE(m.overall.p50_ns, m.overall.p95_ns);
  EXPECT_LE(m.overall.p95_ns, m.overall.p99_ns);
  EXPECT_LE(m.overall.p99_ns, m.overall.max_ns);
  EXPECT_DOUBLE_EQ(m.throughput_items_per_s, 64 * 1e9 / m.overall.mean_ns);
  EXPECT_LT(m.throughput_items_per_s, 64 / 2e-3);
}

TEST(BenchProtocol, RejectsBadOptions) {
  ProtocolOptions o;
  o.runs = 0;
  EXPECT_THROW(measure([] {}, o), Error);
  o = {};
  o.rounds = 0;
  EXPECT_THROW(measure([] {}, o), Error);
  o = {};
  o.warmup = -1;
  EXPECT_THROW(measure([] {}, o), Error);
  o = {};
  o.batch = 0;
  EXPECT_THROW(measure([] {}, o), Error);
}

TEST(BenchProtocol, PinsWhileMeasuringAndRestores) {
  const std::vector<int> before = allowed_cpus();
  ASSERT_FALSE(before.empty());
  const int target = before.back();
  ProtocolOptions o;
  o.warmup = 0;
  o.runs = 3;
  o.rounds = 1;
  o.cpus = {target};
  std::vector<int> seen_inside;
  measure([&] { seen_inside = allowed_cpus(); }, o);
  EXPECT_EQ(seen_inside, std::vector<int>{target});
  EXPECT_EQ(allowed_cpus(), before) << "the affinity mask was not restored";
}

TEST(BenchProtocol, ScopedAffinityAndCpuChoice) {
  const std::vector<int> before = allowed_cpus();
  EXPECT_EQ(cpus_for_threads(1), std::vector<int>{before.front()});
  EXPECT_EQ(cpus_for_threads(100000), before);
  {
    const std::vector<int> one = {before.front()};
    ScopedAffinity pin(one);
    EXPECT_EQ(allowed_cpus(), one);
  }
  EXPECT_EQ(allowed_cpus(), before);
  const std::vector<int> bad = {-1};
  EXPECT_THROW(ScopedAffinity{bad}, Error);
  EXPECT_EQ(allowed_cpus(), before);
}

}  // namespace
}  // namespace edgeq::bench
