// Elementwise ops on flat arrays of n floats. Outputs are written (=), except accumulate (y += x).
// ReLU propagates NaN (core/nan.h).
// Parallel above kParallelMin elements (below it a fork/join costs more than the loop).
#include <cstring>

#include "core/nan.h"
#include "cpu/dispatch.h"
#include "cpu/kernels.h"

namespace nasnet::cpu {
namespace {
constexpr size_t kParallelMin = 1 << 15;
inline int threads_for(size_t n) { return n >= kParallelMin ? kernel_threads() : 1; }
}  // namespace

void relu_forward(size_t n, const float* x, float* y) {
#pragma omp parallel for simd schedule(static) num_threads(threads_for(n))
  for (size_t i = 0; i < n; ++i) y[i] = relu_value(x[i]);
}

void relu_backward(size_t n, const float* y, const float* dy, float* dx) {
#pragma omp parallel for simd schedule(static) num_threads(threads_for(n))
  for (size_t i = 0; i < n; ++i) {
    const float g = dy[i];  // loaded unconditionally: a select, not a (mispredicted) branch
    dx[i] = relu_grad(y[i], g);
  }
}

void add_forward(size_t n, const float* a, const float* b, float* y) {
#pragma omp parallel for simd schedule(static) num_threads(threads_for(n))
  for (size_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void accumulate(size_t n, const float* x, float* y) {
#pragma omp parallel for simd schedule(static) num_threads(threads_for(n))
  for (size_t i = 0; i < n; ++i) y[i] += x[i];
}

void scale(size_t n, float alpha, float* y) {
#pragma omp parallel for simd schedule(static) num_threads(threads_for(n))
  for (size_t i = 0; i < n; ++i) y[i] *= alpha;
}

void fill(size_t n, float value, float* y) {
  if (value == 0.0f) {
    std::memset(y, 0, n * sizeof(float));
    return;
  }
#pragma omp parallel for simd schedule(static) num_threads(threads_for(n))
  for (size_t i = 0; i < n; ++i) y[i] = value;
}

}  // namespace nasnet::cpu
