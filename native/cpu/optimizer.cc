// Optimizer updates on flat parameter arrays (n values): w, v, ms, mom updated in place.
// sum_squares sums fixed per-thread partitions in double, then adds the partials in thread order:
// deterministic for a given thread count.
#include <cmath>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernels.h"

namespace nasnet::cpu {
namespace {
inline int threads_for(size_t n) { return n >= 16384 ? kernel_threads() : 1; }
}  // namespace

double sum_squares(size_t n, const float* g) {
  const int threads = threads_for(n);
  std::vector<double> part(threads, 0.0);
  parallel_team(threads, [&](int t, int team) {
    const size_t lo = n * t / team, hi = n * (t + 1) / team;
    double acc = 0.0;
    // Blocks of 1024 summed in float SIMD, then added into double.
    for (size_t b = lo; b < hi; b += 1024) {
      const size_t e = b + 1024 < hi ? b + 1024 : hi;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (size_t i = b; i < e; ++i) s += g[i] * g[i];
      acc += s;
    }
    part[t] = acc;
  });
  double total = 0.0;
  for (double p : part) total += p;
  return total;
}

void sgd_momentum_update(size_t n, float lr, float momentum, bool nesterov, float weight_decay, float grad_scale,
                         float* w, const float* g, float* v) {
  parallel_chunks(threads_for(n), n, [&](size_t lo, size_t hi) {
#pragma omp simd
    for (size_t i = lo; i < hi; ++i) {
      const float gp = g[i] * grad_scale + weight_decay * w[i];
      const float vi = momentum * v[i] + gp;
      v[i] = vi;
      w[i] -= lr * (nesterov ? gp + momentum * vi : vi);
    }
  });
}

void rmsprop_update(size_t n, float lr, float decay, float momentum, float eps, float weight_decay, float grad_scale,
                    float* w, const float* g, float* ms, float* mom) {
  parallel_chunks(threads_for(n), n, [&](size_t lo, size_t hi) {
#pragma omp simd
    for (size_t i = lo; i < hi; ++i) {
      const float gp = g[i] * grad_scale + weight_decay * w[i];
      const float m = decay * ms[i] + (1.0f - decay) * gp * gp;
      ms[i] = m;
      const float mo = momentum * mom[i] + lr * gp / std::sqrt(m + eps);
      mom[i] = mo;
      w[i] -= mo;
    }
  });
}

void ema_update(size_t n, float decay, const float* w, float* shadow) {
  const float keep = 1.0f - decay;
  parallel_chunks(threads_for(n), n, [&](size_t lo, size_t hi) {
#pragma omp simd
    for (size_t i = lo; i < hi; ++i) shadow[i] = decay * shadow[i] + keep * w[i];
  });
}

}  // namespace nasnet::cpu
