// GEMM throughput per SIMD level (not a test). Build by hand:
//   g++ -O3 -fopenmp -std=c++17 -Inative bench/kernels/gemm_bench.cc native/cpu/gemm.cc
//       native/cpu/dispatch.cc native/core/simd.cc -o /tmp/gemm_bench && /tmp/gemm_bench
// Each size is first checked against a naive double GEMM on a few rows (|got-ref| <= 1e-3 + 1e-4|ref|),
// then timed (best of R runs). Prints GFLOP/s per level and shape.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernels.h"

using namespace nasnet;

// Wall time; with BENCH_CPU=1 (and OMP_NUM_THREADS=1) the thread's CPU time instead, which a busy
// shared machine does not inflate.
static double now_s() {
  static const bool cpu = std::getenv("BENCH_CPU") != nullptr;
  timespec ts;
  clock_gettime(cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main() {
  struct Shape { int M, N, K; bool ta, tb; };
  const Shape shapes[] = {{1024, 1024, 1024, false, false}, {2048, 2048, 2048, false, false},
                          {1024, 1024, 1024, true, false},  {1024, 1024, 1024, false, true},
                          {64, 1024, 576, false, false},    {128, 256, 1152, false, false},
                          {576, 1024, 64, true, false},     {64, 576, 1024, false, true},
                          {32, 1024, 32, false, false},     {32, 1024, 288, false, false},
                          {64, 256, 576, false, false},     {288, 1024, 32, true, false}};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::printf("threads %d\n", omp_get_max_threads());
  for (int lvl = static_cast<int>(simd_level()); lvl >= 0; --lvl) {
    cpu::set_simd_override(lvl);
    for (const Shape& s : shapes) {
      std::vector<float> A(static_cast<size_t>(s.M) * s.K), B(static_cast<size_t>(s.K) * s.N),
          C(static_cast<size_t>(s.M) * s.N);
      for (float& v : A) v = u(rng);
      for (float& v : B) v = u(rng);
      int lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
      cpu::sgemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), s.N);
      int bad = 0;
      for (int i = 0; i < s.M; i += std::max(1, s.M / 7)) {
        for (int j = 0; j < s.N; ++j) {
          double ref = 0;
          for (int k = 0; k < s.K; ++k)
            ref += static_cast<double>(s.ta ? A[static_cast<size_t>(k) * lda + i] : A[static_cast<size_t>(i) * lda + k]) *
                   (s.tb ? B[static_cast<size_t>(j) * ldb + k] : B[static_cast<size_t>(k) * ldb + j]);
          double got = C[static_cast<size_t>(i) * s.N + j];
          if (std::fabs(got - ref) > 1e-3 + 1e-4 * std::fabs(ref) && bad++ < 10)
            std::printf("  mismatch C[%d,%d] = %g, ref %g\n", i, j, got, ref);
        }
      }
      double flops = 2.0 * s.M * s.N * s.K;
      int reps = std::max(3, static_cast<int>(2e10 / flops));
      if (reps > 200) reps = 200;
      double best = 1e30;
      for (int r = 0; r < reps; ++r) {
        double t0 = now_s();
        cpu::sgemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), s.N);
        double t = now_s() - t0;
        best = std::min(best, t);
      }
      std::printf("%-8s M=%5d N=%5d K=%5d ta=%d tb=%d  %7.1f GFLOP/s  %s\n", simd_level_name(static_cast<SimdLevel>(lvl)),
                  s.M, s.N, s.K, s.ta, s.tb, flops / best * 1e-9, bad ? "MISMATCH" : "ok");
    }
  }
  return 0;
}
