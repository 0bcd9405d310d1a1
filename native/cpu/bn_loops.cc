// Batch normalization's per-plane loops, one copy per SIMD level (bn_loops.h). Before these, the
// loops were compiled for the SSE2 baseline only (4 floats a step): 8% of a NASNet-A training step
// went to the fused chains' backward BN loops alone.
#include "cpu/bn_loops.h"

#include "cpu/dispatch.h"

namespace nasnet::cpu {
namespace {

#define NASNET_BN_LOOPS(suffix, attr)                                                                        \
  attr float sum_##suffix(size_t n, const float* x) {                                                        \
    float s = 0.0f;                                                                                          \
    _Pragma("omp simd reduction(+ : s)") for (size_t q = 0; q < n; ++q) s += x[q];                           \
    return s;                                                                                                \
  }                                                                                                          \
  attr float sq_dev_##suffix(size_t n, const float* x, float mean) {                                         \
    float s = 0.0f;                                                                                          \
    _Pragma("omp simd reduction(+ : s)") for (size_t q = 0; q < n; ++q) {                                    \
      const float d = x[q] - mean;                                                                           \
      s += d * d;                                                                                            \
    }                                                                                                        \
    return s;                                                                                                \
  }                                                                                                          \
  attr void dy_sums_##suffix(size_t n, const float* dy, const float* x, float mean, float* sa, float* sb) {  \
    float a = 0.0f, b = 0.0f;                                                                                \
    _Pragma("omp simd reduction(+ : a, b)") for (size_t q = 0; q < n; ++q) {                                 \
      a += dy[q];                                                                                            \
      b += dy[q] * (x[q] - mean);                                                                            \
    }                                                                                                        \
    *sa = a;                                                                                                 \
    *sb = b;                                                                                                 \
  }                                                                                                          \
  attr void normalize_##suffix(size_t n, const float* x, float mean, float mul, float add, float* y) {       \
    _Pragma("omp simd") for (size_t q = 0; q < n; ++q) y[q] = (x[q] - mean) * mul + add;                     \
  }                                                                                                          \
  attr void input_grad_##suffix(size_t n, const float* dy, const float* x, float k, float mdy, float mean,   \
                                float invstd, float mdyx, float* dx) {                                       \
    _Pragma("omp simd") for (size_t q = 0; q < n; ++q) dx[q] = k * (dy[q] - mdy - (x[q] - mean) * invstd * mdyx); \
  }
NASNET_BN_LOOPS(avx512, NASNET_LOOP_AVX512)
NASNET_BN_LOOPS(avx2, NASNET_LOOP_AVX2)
NASNET_BN_LOOPS(portable, )
#undef NASNET_BN_LOOPS

}  // namespace

#define NASNET_BN_DISPATCH(name, ...)                         \
  switch (active_simd()) {                                    \
    case SimdLevel::kAvx512: return name##_avx512(__VA_ARGS__); \
    case SimdLevel::kAvx2: return name##_avx2(__VA_ARGS__);     \
    default: return name##_portable(__VA_ARGS__);               \
  }

float bn_plane_sum(size_t n, const float* x) { NASNET_BN_DISPATCH(sum, n, x) }
float bn_plane_sq_dev(size_t n, const float* x, float mean) { NASNET_BN_DISPATCH(sq_dev, n, x, mean) }
void bn_plane_dy_sums(size_t n, const float* dy, const float* x, float mean, float* sum_dy, float* sum_dy_dev) {
  NASNET_BN_DISPATCH(dy_sums, n, dy, x, mean, sum_dy, sum_dy_dev)
}
void bn_plane_normalize(size_t n, const float* x, float mean, float mul, float add, float* y) {
  NASNET_BN_DISPATCH(normalize, n, x, mean, mul, add, y)
}
void bn_plane_input_grad(size_t n, const float* dy, const float* x, float k, float mean_dy, float mean, float invstd,
                         float mean_dy_xhat, float* dx) {
  NASNET_BN_DISPATCH(input_grad, n, dy, x, k, mean_dy, mean, invstd, mean_dy_xhat, dx)
}
#undef NASNET_BN_DISPATCH

}  // namespace nasnet::cpu
