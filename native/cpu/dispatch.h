// Which SIMD path the CPU kernels take. The level is detected once (core/info.h: simd_level(), capped
// by NASNET_SIMD); tests re-select it per call with set_simd_override to check every path on one machine.
#pragma once
#include <algorithm>
#include <cstddef>

#include "core/info.h"

// Target attributes of the plain loops compiled once per level (elementwise.cc, bn_loops.cc): GCC
// vectorizes the same source 16 floats a step for AVX-512 and 8 for AVX2.
#define NASNET_LOOP_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,prefer-vector-width=512")))
#define NASNET_LOOP_AVX2 __attribute__((target("avx2")))

namespace nasnet::cpu {

// The level the kernels use now: the override when one is set (never above what the CPU supports),
// else simd_level().
SimdLevel active_simd();
// Force a level (capped at simd_level()); pass a negative value to clear. Not thread-safe with
// running kernels: set it between calls.
void set_simd_override(int level);

// Threads a kernel may use from here: 1 inside an enclosing OpenMP region or a SerialScope, else
// cpu_threads().
int kernel_threads();
// While one lives, kernel_threads() is 1 on the constructing thread: a kernel that runs a piece of
// work too small to split (batch-1 inference) keeps the kernels it calls (GEMM) serial as well.
class SerialScope {
 public:
  SerialScope();
  ~SerialScope();
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  bool outer_;
};
// Work (FLOP) under which a call that has fewer images than threads runs on the calling thread: waking
// the other threads and meeting them at the barrier (a futex wake and wait when they have gone to
// sleep, as they do in a process with more OpenMP threads than cores) costs as much as the share of
// the work they would take (~20-40 µs on one core).
constexpr double kSplitFlops = 4e6;
// omp_get_thread_num() / omp_get_num_threads(), or 0 / 1 without OpenMP.
int thread_index();
int team_size();

// Runs body(t, team) for every thread t of a team of `threads`: an OpenMP parallel region when
// threads > 1, a plain call on this thread when 1. A region of one thread is not free: libgomp builds
// a team for it, and every barrier in it (each `omp for` ends in one) is a futex system call; GEMMs
// run per image inside a parallel kernel paid that thousands of times per training step.
template <class Body>
void parallel_team(int threads, Body&& body) {
  if (threads <= 1) {
    body(0, 1);
    return;
  }
#pragma omp parallel num_threads(threads)
  body(thread_index(), team_size());
}

// Thread t's share [lo, hi) of n items in a team of `team` (OpenMP's schedule(static) split).
template <class Index>
void static_share(Index n, int t, int team, Index& lo, Index& hi) {
  const Index q = n / team, r = n % team, u = static_cast<Index>(t);
  lo = u * q + std::min(u, r);
  hi = lo + q + (u < r ? 1 : 0);
}

// body(i) for every i in [0, n), OpenMP's schedule(static) split over kernel_threads() threads, and
// no parallel region where that is one thread, or one item: libgomp still builds a team for a region
// of one thread (measured here: 1.2 µs a region, 2.3 µs inside a lane's team), which a batch-1
// Concat or batch norm paid on every call.
template <class Body>
void parallel_for(int n, Body&& body) {
  parallel_team(std::min(n, kernel_threads()), [&](int t, int team) {
    int lo, hi;
    static_share(n, t, team, lo, hi);
    for (int i = lo; i < hi; ++i) body(i);
  });
}

// body(lo, hi) on thread t's static_share of [0, n), through parallel_team (a plain call for one
// thread); threads without items are not called.
template <class Body>
void parallel_chunks(int threads, size_t n, Body&& body) {
  parallel_team(threads, [&](int t, int team) {
    size_t lo, hi;
    static_share(n, t, team, lo, hi);
    if (lo < hi) body(lo, hi);
  });
}

// A barrier of the team running a parallel_team body; nothing for a team of one.
inline void team_barrier(int team) {
  if (team > 1) {
#pragma omp barrier
  }
}

}  // namespace nasnet::cpu
