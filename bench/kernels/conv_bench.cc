// Convolution timings at NASNet shapes (not a test). Build by hand:
//   g++ -O3 -fopenmp -std=c++17 -Inative bench/kernels/conv_bench.cc native/cpu/*.cc native/core/simd.cc -o /tmp/conv_bench
// Prints forward and backward (dx + dw) milliseconds (best of R) and GFLOP/s per shape and SIMD level.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <cstdio>
#include <functional>
#include <random>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernels.h"

using namespace nasnet;

// Wall time; with BENCH_CPU=1 (and OMP_NUM_THREADS=1) the thread's CPU time instead, which a busy
// shared machine does not inflate.
static double now_ms() {
  static const bool cpu = std::getenv("BENCH_CPU") != nullptr;
  timespec ts;
  clock_gettime(cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static double best_ms(int reps, const std::function<void()>& fn) {
  fn();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    double t0 = now_ms();
    fn();
    best = std::min(best, now_ms() - t0);
  }
  return best;
}

int main(int argc, char** argv) {
  struct Case { const char* name; int C, HW, K, k, stride, groups; };
  const Case cases[] = {{"1x1 C32->32 32x32", 32, 32, 32, 1, 1, 1},     {"1x1 C64->64 16x16", 64, 16, 64, 1, 1, 1},
                        {"1x1 C128->128 16x16", 128, 16, 128, 1, 1, 1}, {"3x3 C32->32 32x32", 32, 32, 32, 3, 1, 1},
                        {"3x3 C64->64 16x16", 64, 16, 64, 3, 1, 1},     {"dw3x3 C32 32x32", 32, 32, 32, 3, 1, 32},
                        {"dw5x5 C32 32x32", 32, 32, 32, 5, 1, 32},      {"dw3x3 C64 16x16", 64, 16, 64, 3, 1, 64},
                        {"dw5x5 C128 16x16", 128, 16, 128, 5, 1, 128},  {"dw5x5 s2 C64 32x32", 64, 32, 64, 5, 2, 64}};
  const int N = 64;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  int top = static_cast<int>(simd_level()), bottom = argc > 1 ? top : 0;
  for (int lvl = top; lvl >= bottom; --lvl) {
    cpu::set_simd_override(lvl);
    for (const Case& c : cases) {
      cpu::ConvShape s{N, c.C, c.HW, c.HW, c.K, c.k, c.k, c.stride, c.stride, 0, 0, 0, 0, 1, 1, c.groups, 0, 0};
      int total = std::max((c.HW + c.stride - 1) / c.stride - 1, 0) * c.stride + c.k - c.HW;
      s.pt = s.pl = total / 2;
      s.pb = s.pr = total - total / 2;
      s.OH = (s.H + s.pt + s.pb - (s.kh - 1) - 1) / s.sh + 1;
      s.OW = (s.W + s.pl + s.pr - (s.kw - 1) - 1) / s.sw + 1;
      size_t nx = static_cast<size_t>(N) * c.C * c.HW * c.HW, ny = static_cast<size_t>(N) * c.K * s.OH * s.OW;
      size_t nw = static_cast<size_t>(c.K) * (c.C / c.groups) * c.k * c.k;
      std::vector<float> x(nx), w(nw), y(ny), dy(ny), dx(nx), dw(nw, 0.0f);
      for (float& v : x) v = u(rng);
      for (float& v : w) v = u(rng);
      for (float& v : dy) v = u(rng);
      double flops = 2.0 * ny * (c.C / c.groups) * c.k * c.k;
      int reps = std::max(3, std::min(30, static_cast<int>(3e9 / flops)));
      double f = best_ms(reps, [&] { cpu::conv2d_forward(s, x.data(), w.data(), nullptr, y.data()); });
      double b = best_ms(reps, [&] { cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr); });
      std::printf("%-8s N=64 %-20s fwd %8.3f ms (%6.1f GFLOP/s)  bwd %8.3f ms (%6.1f GFLOP/s)\n",
                  simd_level_name(static_cast<SimdLevel>(lvl)), c.name, f, flops / f * 1e-6, b, 2 * flops / b * 1e-6);
    }
  }
  return 0;
}
