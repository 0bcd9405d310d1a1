// Random regularizers: Dropout (per element) and DropPath (per sample).
// n = elements, N = batch, per_sample = elements of one sample. y and dx are written (=).
// Masks come from the counter-based generator (core/random.h), so they do not depend on threads:
//   Dropout:  element i is kept iff uniform01(seed, stream, i) < keep, keep = 1 - ratio (float).
//   DropPath: sample n is kept iff uniform01(seed, stream, n) < keep.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/random.h"
#include "cpu/dispatch.h"
#include "cpu/kernels.h"

namespace nasnet::cpu {

void dropout_forward(size_t n, float ratio, uint64_t seed, uint64_t stream, const float* x, float* y, uint8_t* mask) {
  const float keep_p = 1.0f - ratio;
  const float s = keep_p > 0.0f ? 1.0f / keep_p : 0.0f;
  parallel_chunks(n >= 4096 ? kernel_threads() : 1, n, [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) {
      const bool keep = uniform01(seed, stream, i) < keep_p;
      y[i] = keep ? x[i] * s : 0.0f;
      if (mask != nullptr) mask[i] = keep ? 1 : 0;
    }
  });
}

void dropout_backward(size_t n, float ratio, const uint8_t* mask, const float* dy, float* dx) {
  const float keep_p = 1.0f - ratio;
  const float s = keep_p > 0.0f ? 1.0f / keep_p : 0.0f;
  parallel_chunks(n >= 32768 ? kernel_threads() : 1, n, [&](size_t lo, size_t hi) {
#pragma omp simd
    for (size_t i = lo; i < hi; ++i) dx[i] = mask[i] != 0 ? dy[i] * s : 0.0f;
  });
}

namespace {
// y = x * s for the samples kept[n] (x * 1 / keep), 0 for the others, over the whole batch in one
// split of its N * per_sample elements (not one fork and join per sample: 2,560 of them in a NASNet
// 2@768 batch-32 backward, where they cost 3.6× the work at 2 threads).
void scale_samples(int N, size_t per_sample, float s, const uint8_t* kept, const float* x, float* y) {
  const size_t n = static_cast<size_t>(N) * per_sample;
  parallel_chunks(n >= 32768 ? kernel_threads() : 1, n, [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi;) {
      const size_t sample = i / per_sample, end = std::min(hi, (sample + 1) * per_sample);
      if (kept[sample] == 0) {
        std::memset(y + i, 0, sizeof(float) * (end - i));
      } else {
        const float* xs = x + i;
        float* ys = y + i;
#pragma omp simd
        for (size_t k = 0; k < end - i; ++k) ys[k] = xs[k] * s;
      }
      i = end;
    }
  });
}
}  // namespace

void droppath_forward(int N, size_t per_sample, float keep, uint64_t seed, uint64_t stream, const float* x, float* y,
                      uint8_t* keep_mask) {
  const float s = keep > 0.0f ? 1.0f / keep : 0.0f;
  std::vector<uint8_t> own;
  uint8_t* kept = keep_mask;
  if (kept == nullptr) {
    own.resize(static_cast<size_t>(N));
    kept = own.data();
  }
  for (int n = 0; n < N; ++n) kept[n] = uniform01(seed, stream, static_cast<uint64_t>(n)) < keep ? 1 : 0;
  scale_samples(N, per_sample, s, kept, x, y);
}

void droppath_backward(int N, size_t per_sample, float keep, const uint8_t* keep_mask, const float* dy, float* dx) {
  scale_samples(N, per_sample, keep > 0.0f ? 1.0f / keep : 0.0f, keep_mask, dy, dx);
}

void add_droppath_forward(size_t n, int N, int count, const float* const* xs, uint64_t seed,
                          const RandomSlot* const* slots, uint8_t* const* masks, float* y) {
  const size_t per_sample = n / static_cast<size_t>(N);
  // Per sample and input: 0 = dropped (the term is 0), 1 = kept (x * 1 / keep), 2 = identity (x).
  std::vector<uint8_t> mode(static_cast<size_t>(N) * count);
  std::vector<float> scale(count, 1.0f);
  for (int j = 0; j < count; ++j) {
    const RandomSlot* s = slots[j];
    const bool active = s != nullptr && s->active != 0;
    if (active) scale[j] = s->keep > 0.0f ? 1.0f / s->keep : 0.0f;
    for (int i = 0; i < N; ++i) {
      uint8_t m = 2;
      if (active) {
        const bool kept = uniform01(seed, s->stream, static_cast<uint64_t>(i)) < s->keep;
        if (masks[j] != nullptr) masks[j][i] = kept ? 1 : 0;
        m = kept ? 1 : 0;
      }
      mode[static_cast<size_t>(i) * count + j] = m;
    }
  }
  parallel_chunks(n >= 32768 ? kernel_threads() : 1, static_cast<size_t>(N), [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) {
      float* ys = y + i * per_sample;
      for (int j = 0; j < count; ++j) {
        const float* xj = xs[j] + i * per_sample;
        const uint8_t m = mode[i * count + j];
        const float sc = scale[j];
        if (j == 0) {
          if (m == 0) std::memset(ys, 0, sizeof(float) * per_sample);
          else if (m == 1)
#pragma omp simd
            for (size_t k = 0; k < per_sample; ++k) ys[k] = xj[k] * sc;
          else
            std::memcpy(ys, xj, sizeof(float) * per_sample);
        } else if (m == 1) {
#pragma omp simd
          for (size_t k = 0; k < per_sample; ++k) ys[k] += xj[k] * sc;
        } else if (m == 2) {
#pragma omp simd
          for (size_t k = 0; k < per_sample; ++k) ys[k] += xj[k];
        } else {
          // A dropped term adds 0.0f, as Accumulate of the zeroed DropPath output would (it turns a
          // -0.0f sum into +0.0f, so it is not skipped).
#pragma omp simd
          for (size_t k = 0; k < per_sample; ++k) ys[k] += 0.0f;
        }
      }
    }
  });
}

}  // namespace nasnet::cpu
