// Random regularizers: Dropout (per element) and DropPath (per sample).
// n = elements, N = batch, per_sample = elements of one sample. y and dx are written (=).
// Masks come from the counter-based generator (core/random.h), so they do not depend on threads:
//   Dropout:  element i is kept iff uniform01(seed, stream, i) < keep, keep = 1 - ratio (float).
//   DropPath: sample n is kept iff uniform01(seed, stream, n) < keep.
#include <cstring>

#include "core/random.h"
#include "cpu/dispatch.h"
#include "cpu/kernels.h"

namespace nasnet::cpu {

void dropout_forward(size_t n, float ratio, uint64_t seed, uint64_t stream, const float* x, float* y, uint8_t* mask) {
  const float keep_p = 1.0f - ratio;
  const float s = keep_p > 0.0f ? 1.0f / keep_p : 0.0f;
#pragma omp parallel for schedule(static) num_threads(n >= 4096 ? kernel_threads() : 1)
  for (size_t i = 0; i < n; ++i) {
    const bool keep = uniform01(seed, stream, i) < keep_p;
    y[i] = keep ? x[i] * s : 0.0f;
    if (mask != nullptr) mask[i] = keep ? 1 : 0;
  }
}

void dropout_backward(size_t n, float ratio, const uint8_t* mask, const float* dy, float* dx) {
  const float keep_p = 1.0f - ratio;
  const float s = keep_p > 0.0f ? 1.0f / keep_p : 0.0f;
#pragma omp parallel for simd schedule(static) num_threads(n >= 32768 ? kernel_threads() : 1)
  for (size_t i = 0; i < n; ++i) dx[i] = mask[i] != 0 ? dy[i] * s : 0.0f;
}

void droppath_forward(int N, size_t per_sample, float keep, uint64_t seed, uint64_t stream, const float* x, float* y,
                      uint8_t* keep_mask) {
  const float s = keep > 0.0f ? 1.0f / keep : 0.0f;
  for (int n = 0; n < N; ++n) {
    const bool kept = uniform01(seed, stream, static_cast<uint64_t>(n)) < keep;
    if (keep_mask != nullptr) keep_mask[n] = kept ? 1 : 0;
    const float* xs = x + static_cast<size_t>(n) * per_sample;
    float* ys = y + static_cast<size_t>(n) * per_sample;
    if (!kept) {
      std::memset(ys, 0, sizeof(float) * per_sample);
      continue;
    }
#pragma omp parallel for simd schedule(static) num_threads(per_sample >= 32768 ? kernel_threads() : 1)
    for (size_t i = 0; i < per_sample; ++i) ys[i] = xs[i] * s;
  }
}

void droppath_backward(int N, size_t per_sample, float keep, const uint8_t* keep_mask, const float* dy, float* dx) {
  const float s = keep > 0.0f ? 1.0f / keep : 0.0f;
  for (int n = 0; n < N; ++n) {
    const float* g = dy + static_cast<size_t>(n) * per_sample;
    float* d = dx + static_cast<size_t>(n) * per_sample;
    if (keep_mask[n] == 0) {
      std::memset(d, 0, sizeof(float) * per_sample);
      continue;
    }
#pragma omp parallel for simd schedule(static) num_threads(per_sample >= 32768 ? kernel_threads() : 1)
    for (size_t i = 0; i < per_sample; ++i) d[i] = g[i] * s;
  }
}

}  // namespace nasnet::cpu
