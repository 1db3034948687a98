// ThreadPool: a fixed set of workers that split one range at a time with the caller.
// Work is cut into one chunk per thread and chunks are claimed with an atomic counter, so a worker
// that wakes late costs nothing: the caller takes its chunk. Workers spin (with a pause) for at most
// spin_us after each job, then sleep on a condition variable.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "edgeq/core.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EDGEQ_CPU_RELAX() _mm_pause()
#else
#define EDGEQ_CPU_RELAX() std::this_thread::yield()
#endif

namespace edgeq {
namespace {
// WebAssembly built without threads (Emscripten without -pthread, cmake/wasm.cmake): std::thread cannot
// start there, so every pool is the caller alone, whatever was asked; threads() says so.
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
constexpr bool kCanStartThreads = false;
#else
constexpr bool kCanStartThreads = true;
#endif
}  // namespace

namespace edgeq_detail {

struct ThreadPoolState {
  // The job being run. Written by the submitting thread before `generation` is bumped.
  void (*fn)(void*, int64_t, int64_t) = nullptr;
  void* ctx = nullptr;
  int64_t n = 0;
  int64_t chunks = 0;
  std::atomic<int64_t> next_chunk{0};
  std::atomic<int64_t> done_chunks{0};
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> stop{false};

  std::mutex submit_mutex;  // one job at a time; busy => caller runs serially
  std::mutex sleep_mutex;
  std::condition_variable wake;
  std::atomic<int> sleepers{0};

  std::mutex error_mutex;
  std::exception_ptr error;

  std::vector<std::thread> workers;
  std::chrono::microseconds spin{0};

  void run_chunks() {
    for (;;) {
      const int64_t c = next_chunk.fetch_add(1, std::memory_order_acq_rel);
      if (c >= chunks) return;
      const int64_t begin = n * c / chunks;
      const int64_t end = n * (c + 1) / chunks;
      try {
        fn(ctx, begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
      done_chunks.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void worker_loop() {
    uint64_t seen = generation.load(std::memory_order_acquire);
    for (;;) {
      // Spin up to `spin` before sleeping: consecutive operators of one run arrive within microseconds.
      // The clock is read every 64 pauses (a pause is ~10-140 cycles, CPU-dependent: a count alone
      // would not bound the time).
      const auto spin_until = std::chrono::steady_clock::now() + spin;
      bool spinning = spin.count() > 0;
      int spins = 0;
      uint64_t g;
      while ((g = generation.load(std::memory_order_acquire)) == seen && !stop.load(std::memory_order_relaxed)) {
        if (spinning) {
          EDGEQ_CPU_RELAX();
          if (++spins % 64 == 0) spinning = std::chrono::steady_clock::now() < spin_until;
          continue;
        }
        std::unique_lock<std::mutex> lock(sleep_mutex);
        sleepers.fetch_add(1, std::memory_order_acq_rel);
        wake.wait(lock, [&] {
          return generation.load(std::memory_order_acquire) != seen || stop.load(std::memory_order_relaxed);
        });
        sleepers.fetch_sub(1, std::memory_order_acq_rel);
      }
      if (stop.load(std::memory_order_relaxed)) return;
      seen = g;
      run_chunks();
    }
  }
};

}  // namespace edgeq_detail

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

int allowed_threads() {
  // The CPUs this process may run on (taskset, cgroup cpusets), not every CPU of the machine.
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return hardware_threads();
}

ThreadPool::ThreadPool(int threads, int spin_us)
    : threads_(kCanStartThreads ? std::max(1, threads) : 1), spin_us_(std::max(0, spin_us)), state_(std::make_unique<edgeq_detail::ThreadPoolState>()) {
  state_->spin = std::chrono::microseconds(spin_us_);
  try {
    state_->workers.reserve(static_cast<size_t>(threads_ - 1));
    for (int i = 1; i < threads_; ++i) state_->workers.emplace_back([s = state_.get()] { s->worker_loop(); });
  } catch (const std::exception& e) {
    // Thread creation failed part-way (EAGAIN: a process or memory limit). The workers already
    // started must be joined before the state goes, or std::thread's destructor calls terminate.
    const size_t started = state_->workers.size();
    stop_workers();
    throw Error(ErrorCode::kIo, "cannot start " + std::to_string(threads_) + " threads (started " +
                                          std::to_string(started + 1) + "): " + e.what());
  }
}

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(state_->sleep_mutex);
    state_->stop.store(true);
  }
  state_->wake.notify_all();
  for (auto& t : state_->workers) t.join();
  state_->workers.clear();
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::run_ranges(int64_t n, void (*fn)(void*, int64_t, int64_t), void* ctx) {
  auto& s = *state_;
  std::unique_lock<std::mutex> busy(s.submit_mutex, std::try_to_lock);
  if (!busy.owns_lock()) {  // another run() owns the workers: do this range alone
    fn(ctx, 0, n);
    return;
  }
  s.fn = fn;
  s.ctx = ctx;
  s.n = n;
  s.chunks = std::min<int64_t>(n, threads_);
  s.error = nullptr;
  // done_chunks first, then publish next_chunk with release: a worker still looping from the last
  // job may claim a chunk of this one the moment next_chunk is 0, and must see the fields above.
  s.done_chunks.store(0, std::memory_order_relaxed);
  s.next_chunk.store(0, std::memory_order_release);
  {
    // Bump under the sleep mutex so a worker between its predicate check and wait() cannot miss it.
    std::lock_guard<std::mutex> lock(s.sleep_mutex);
    s.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  if (s.sleepers.load(std::memory_order_acquire) > 0) s.wake.notify_all();
  s.run_chunks();
  while (s.done_chunks.load(std::memory_order_acquire) < s.chunks) EDGEQ_CPU_RELAX();
  if (s.error) std::rethrow_exception(s.error);
}

}  // namespace edgeq
