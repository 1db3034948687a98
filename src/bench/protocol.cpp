// The measurement protocol: warm-up, then rounds of individually timed calls, on a pinned thread.
#include <sched.h>

#include <chrono>
#include <string>

#include "edgeq/bench.h"

namespace edgeq::bench {
namespace {

std::string cpu_list_str(std::span<const int> cpus) {
  std::string s;
  for (int c : cpus) s += (s.empty() ? "" : ",") + std::to_string(c);
  return s;
}

void set_affinity(std::span<const int> cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) {
    if (c < 0 || c >= CPU_SETSIZE) throw Error(ErrorCode::kInvalidArgument, "pinning: CPU " + std::to_string(c) + " out of range");
    CPU_SET(c, &set);
  }
  // pid 0 = the calling thread, not the whole process: other threads keep their own masks.
  if (::sched_setaffinity(0, sizeof(set), &set) != 0)
    throw Error(ErrorCode::kInvalidArgument, "pinning: the kernel refused CPU set {" + cpu_list_str(cpus) + "}");
}

}  // namespace

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

std::vector<int> cpus_for_threads(int threads) {
  std::vector<int> cpus = allowed_cpus();
  if (threads > 0 && static_cast<size_t>(threads) < cpus.size()) cpus.resize(static_cast<size_t>(threads));
  return cpus;
}

ScopedAffinity::ScopedAffinity(std::span<const int> cpus) {
  if (cpus.empty()) return;
  previous_ = allowed_cpus();
  set_affinity(cpus);
  pinned_ = true;
}

ScopedAffinity::~ScopedAffinity() {
  if (!pinned_ || previous_.empty()) return;
  try {
    set_affinity(previous_);
  } catch (const Error&) {
    // A destructor must not throw; the previous mask was accepted once, so this cannot happen
    // short of CPU hot-unplug, where staying pinned is the harmless outcome.
  }
}

Measurement measure(const std::function<void()>& fn, const ProtocolOptions& options) {
  if (options.runs < 1) throw Error(ErrorCode::kInvalidArgument, "protocol: runs must be >= 1");
  if (options.rounds < 1) throw Error(ErrorCode::kInvalidArgument, "protocol: rounds must be >= 1");
  if (options.warmup < 0) throw Error(ErrorCode::kInvalidArgument, "protocol: warmup must be >= 0");
  if (options.batch < 1) throw Error(ErrorCode::kInvalidArgument, "protocol: batch must be >= 1");
  ScopedAffinity pin(options.cpus);

  Measurement m;
  m.batch = options.batch;
  m.threads = options.threads;
  for (int i = 0; i < options.warmup; ++i) fn();
  m.calls = options.warmup;

  m.samples_ns.reserve(static_cast<size_t>(options.runs) * static_cast<size_t>(options.rounds));
  using Clock = std::chrono::steady_clock;
  for (int r = 0; r < options.rounds; ++r) {
    const size_t round_begin = m.samples_ns.size();
    for (int i = 0; i < options.runs; ++i) {
      const auto t0 = Clock::now();
      fn();
      const auto t1 = Clock::now();
      m.samples_ns.push_back(static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    }
    m.calls += options.runs;
    m.per_round.push_back(summarize(std::span<const double>(m.samples_ns).subspan(round_begin)));
    m.round_p50_ns.push_back(m.per_round.back().p50_ns);
    if (options.on_round) options.on_round(r + 1, options.rounds, m.per_round.back());
  }
  m.overall = summarize(m.samples_ns);
  m.spread = round_spread(m.round_p50_ns);
  m.throughput_items_per_s = m.overall.mean_ns > 0 ? static_cast<double>(options.batch) * 1e9 / m.overall.mean_ns : 0.0;
  return m;
}

}  // namespace edgeq::bench
