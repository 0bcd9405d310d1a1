// Elementwise ops on flat arrays of n floats. Outputs are written (=), except accumulate (y += x).
// ReLU propagates NaN (core/nan.h).
// Parallel above kParallelMin elements (below it a fork/join costs more than the loop).
#include <algorithm>
#include <cstring>

#include "core/nan.h"
#include "cpu/elementwise.h"

#include "cpu/dispatch.h"
#include "cpu/kernels.h"

namespace nasnet::cpu {
namespace {
constexpr size_t kParallelMin = 1 << 15;
inline int threads_for(size_t n) { return n >= kParallelMin ? kernel_threads() : 1; }

// ---- The per-thread loops of elementwise.h, one copy per SIMD level. ----

#define NASNET_EW_LOOPS(suffix, attr)                                                        \
  attr void relu_loop_##suffix(size_t n, const float* x, float* y) {                         \
    _Pragma("omp simd") for (size_t i = 0; i < n; ++i) y[i] = relu_value(x[i]);              \
  }                                                                                          \
  attr void relu_grad_loop_##suffix(size_t n, const float* y, const float* dy, float* dx) {  \
    _Pragma("omp simd") for (size_t i = 0; i < n; ++i) dx[i] = relu_grad(y[i], dy[i]);       \
  }                                                                                          \
  attr void add_loop_##suffix(size_t n, const float* a, const float* b, float* y) {          \
    _Pragma("omp simd") for (size_t i = 0; i < n; ++i) y[i] = a[i] + b[i];                   \
  }                                                                                          \
  attr void bias_loop_##suffix(int rows, size_t cols, size_t ld, const float* bias, float* y) { \
    for (int r = 0; r < rows; ++r) {                                                         \
      float* p = y + static_cast<size_t>(r) * ld;                                            \
      const float b = bias[r];                                                               \
      _Pragma("omp simd") for (size_t q = 0; q < cols; ++q) p[q] += b;                       \
    }                                                                                        \
  }
NASNET_EW_LOOPS(avx512, NASNET_LOOP_AVX512)
NASNET_EW_LOOPS(avx2, NASNET_LOOP_AVX2)
NASNET_EW_LOOPS(portable, )
#undef NASNET_EW_LOOPS

// Splits [0, n) over the threads in 16-float-aligned chunks (deterministic for a thread count).
template <typename F>
void parallel_ranges(size_t n, F&& fn) {
  parallel_team(threads_for(n), [&](int t, int team) {
    const size_t blocks = (n + 15) / 16, u = static_cast<size_t>(t), m = static_cast<size_t>(team);
    const size_t lo = std::min(n, blocks * u / m * 16), hi = std::min(n, blocks * (u + 1) / m * 16);
    if (hi > lo) fn(lo, hi - lo);
  });
}
}  // namespace

void relu_range(size_t n, const float* x, float* y) {
  switch (active_simd()) {
    case SimdLevel::kAvx512: return relu_loop_avx512(n, x, y);
    case SimdLevel::kAvx2: return relu_loop_avx2(n, x, y);
    default: return relu_loop_portable(n, x, y);
  }
}

void relu_grad_range(size_t n, const float* y, const float* dy, float* dx) {
  switch (active_simd()) {
    case SimdLevel::kAvx512: return relu_grad_loop_avx512(n, y, dy, dx);
    case SimdLevel::kAvx2: return relu_grad_loop_avx2(n, y, dy, dx);
    default: return relu_grad_loop_portable(n, y, dy, dx);
  }
}

void add_range(size_t n, const float* a, const float* b, float* y) {
  switch (active_simd()) {
    case SimdLevel::kAvx512: return add_loop_avx512(n, a, b, y);
    case SimdLevel::kAvx2: return add_loop_avx2(n, a, b, y);
    default: return add_loop_portable(n, a, b, y);
  }
}

void add_row_bias(int rows, size_t cols, size_t ld, const float* bias, float* y) {
  switch (active_simd()) {
    case SimdLevel::kAvx512: return bias_loop_avx512(rows, cols, ld, bias, y);
    case SimdLevel::kAvx2: return bias_loop_avx2(rows, cols, ld, bias, y);
    default: return bias_loop_portable(rows, cols, ld, bias, y);
  }
}

void add_partials(size_t lo, size_t hi, int count, const float* parts, size_t stride, float* y) {
  for (size_t i = lo; i < hi; ++i) {
    float sum = 0.0f;
    for (int u = 0; u < count; ++u) sum += parts[stride * static_cast<size_t>(u) + i];
    y[i] += sum;
  }
}

void relu_forward(size_t n, const float* x, float* y) {
  parallel_ranges(n, [&](size_t lo, size_t count) { relu_range(count, x + lo, y + lo); });
}

void relu_backward(size_t n, const float* y, const float* dy, float* dx) {
  parallel_chunks(threads_for(n), n, [&](size_t lo, size_t hi) { relu_grad_range(hi - lo, y + lo, dy + lo, dx + lo); });
}

void add_forward(size_t n, const float* a, const float* b, float* y) {
  parallel_ranges(n, [&](size_t lo, size_t count) { add_range(count, a + lo, b + lo, y + lo); });
}

void accumulate(size_t n, const float* x, float* y) {
  parallel_chunks(threads_for(n), n, [&](size_t lo, size_t hi) { add_range(hi - lo, y + lo, x + lo, y + lo); });
}

void scale(size_t n, float alpha, float* y) {
  parallel_chunks(threads_for(n), n, [&](size_t lo, size_t hi) {
#pragma omp simd
    for (size_t i = lo; i < hi; ++i) y[i] *= alpha;
  });
}

void fill(size_t n, float value, float* y) {
  if (value == 0.0f) {
    std::memset(y, 0, n * sizeof(float));
    return;
  }
  parallel_chunks(threads_for(n), n, [&](size_t lo, size_t hi) {
#pragma omp simd
    for (size_t i = lo; i < hi; ++i) y[i] = value;
  });
}

}  // namespace nasnet::cpu
