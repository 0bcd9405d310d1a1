// Pooling: max (with argmax), average (count_include_pad 0/1) and global average.
// N = batch, C = channels, H, W = input size, OH, OW = output size, kh, kw = window,
// sh, sw = strides, pt/pl/pb/pr = pads. Every output and dx is written (=).
// Threads split the N*C planes; backward writes each dx plane from its own dy plane only.
//
// Interior outputs (window inside the image horizontally) are computed a row at a time with the
// output column innermost, so the compiler vectorizes across columns; each output still visits its
// window in the same order (rows, then columns) as the scalar border path, so max pooling picks the
// same element and average pooling forward sums in the same order.
#include <cstring>
#include <limits>

#include "cpu/dispatch.h"
#include "cpu/kernels.h"
#include "cpu/scratch.h"

namespace nasnet::cpu {
namespace {

// Input rows [h0, h1) and columns [w0, w1) of the window of output (oh, ow), clipped to the image.
struct Window {
  int h0, h1, w0, w1;
};
inline Window window(const PoolShape& s, int oh, int ow) {
  Window r;
  const int hs = oh * s.sh - s.pt, ws = ow * s.sw - s.pl;
  r.h0 = hs < 0 ? 0 : hs;
  r.h1 = hs + s.kh > s.H ? s.H : hs + s.kh;
  r.w0 = ws < 0 ? 0 : ws;
  r.w1 = ws + s.kw > s.W ? s.W : ws + s.kw;
  return r;
}

// The divisor of output (oh, ow): the whole window with count_include_pad (clipped to the padded
// input, as ONNX), else the number of real input positions.
inline int divisor(const PoolShape& s, int oh, int ow, const Window& win) {
  if (!s.count_include_pad) return (win.h1 - win.h0) * (win.w1 - win.w0);
  const int hs = oh * s.sh - s.pt, ws = ow * s.sw - s.pl;
  int he = hs + s.kh, we = ws + s.kw;
  if (he > s.H + s.pb) he = s.H + s.pb;
  if (we > s.W + s.pr) we = s.W + s.pr;
  return (he - hs) * (we - ws);
}

// Output columns [lo, hi) whose window lies inside [0, W) horizontally.
inline void interior_columns(const PoolShape& s, int& lo, int& hi) {
  lo = (s.pl + s.sw - 1) / s.sw;
  hi = s.W - s.kw + s.pl < 0 ? 0 : (s.W - s.kw + s.pl) / s.sw + 1;
  if (hi > s.OW) hi = s.OW;
  if (lo > hi) lo = hi;
}

// One output of max pooling over its clipped window (the border path).
inline void max_one(const PoolShape& s, const float* xp, int oh, int ow, float* yp, int32_t* ap) {
  const Window win = window(s, oh, ow);
  float best = -std::numeric_limits<float>::infinity();
  int32_t at = -1;
  for (int h = win.h0; h < win.h1; ++h)
    for (int w = win.w0; w < win.w1; ++w) {
      const float v = xp[h * s.W + w];
      // Selects, not a branch: on real activations the comparison is unpredictable.
      const bool take = v > best || at < 0;
      best = take ? v : best;
      at = take ? h * s.W + w : at;
    }
  // A window entirely in the padding (only with pads >= window) has no input: 0, no gradient.
  yp[oh * s.OW + ow] = at < 0 ? 0.0f : best;
  if (ap != nullptr) ap[oh * s.OW + ow] = at;
}

inline float avg_one(const PoolShape& s, const float* xp, int oh, int ow) {
  const Window win = window(s, oh, ow);
  float sum = 0.0f;
  for (int h = win.h0; h < win.h1; ++h)
    for (int w = win.w0; w < win.w1; ++w) sum += xp[h * s.W + w];
  const int d = divisor(s, oh, ow, win);
  return d > 0 ? sum / static_cast<float>(d) : 0.0f;
}

}  // namespace

void maxpool_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax) {
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int planes = s.N * s.C;
  int lo, hi;
  interior_columns(s, lo, hi);
#pragma omp parallel num_threads(kernel_threads())
  {
    thread_local Scratch best_buf, at_buf;
    float* best = best_buf.get(static_cast<size_t>(s.OW));
    int32_t* at = reinterpret_cast<int32_t*>(at_buf.get(static_cast<size_t>(s.OW)));
#pragma omp for schedule(static)
    for (int p = 0; p < planes; ++p) {
      const float* xp = x + p * HW;
      float* yp = y + p * OHW;
      int32_t* ap = argmax != nullptr ? argmax + p * OHW : nullptr;
      for (int oh = 0; oh < s.OH; ++oh) {
        for (int ow = 0; ow < lo; ++ow) max_one(s, xp, oh, ow, yp, ap);
        for (int ow = hi; ow < s.OW; ++ow) max_one(s, xp, oh, ow, yp, ap);
        const Window rows = window(s, oh, lo);
        if (hi <= lo || rows.h1 <= rows.h0) {
          for (int ow = lo; ow < hi; ++ow) max_one(s, xp, oh, ow, yp, ap);
          continue;
        }
        const int sw = s.sw, c0 = -s.pl;
        for (int h = rows.h0; h < rows.h1; ++h)
          for (int j = 0; j < s.kw; ++j) {
            const int32_t base = h * s.W + c0 + j;  // input offset of column 0's tap
            if (h == rows.h0 && j == 0) {
#pragma omp simd
              for (int ow = lo; ow < hi; ++ow) {
                best[ow] = xp[base + ow * sw];
                at[ow] = base + ow * sw;
              }
              continue;
            }
#pragma omp simd
            for (int ow = lo; ow < hi; ++ow) {
              // Branch-free selects (a mask for the index) so the compiler vectorizes the loop.
              const float v = xp[base + ow * sw], b = best[ow];
              const int32_t mask = -static_cast<int32_t>(v > b);
              best[ow] = b < v ? v : b;
              at[ow] ^= (at[ow] ^ (base + ow * sw)) & mask;
            }
          }
        std::memcpy(yp + oh * s.OW + lo, best + lo, sizeof(float) * (hi - lo));
        if (ap != nullptr) std::memcpy(ap + oh * s.OW + lo, at + lo, sizeof(int32_t) * (hi - lo));
      }
    }
  }
}

void maxpool_backward(const PoolShape& s, const int32_t* argmax, const float* dy, float* dx) {
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int planes = s.N * s.C;
#pragma omp parallel for schedule(static) num_threads(kernel_threads())
  for (int p = 0; p < planes; ++p) {
    float* dxp = dx + p * HW;
    std::memset(dxp, 0, sizeof(float) * HW);
    const int32_t* ap = argmax + p * OHW;
    const float* dyp = dy + p * OHW;
    for (size_t q = 0; q < OHW; ++q)
      if (ap[q] >= 0) dxp[ap[q]] += dyp[q];
  }
}

void avgpool_forward(const PoolShape& s, const float* x, float* y) {
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int planes = s.N * s.C;
  int lo, hi;
  interior_columns(s, lo, hi);
#pragma omp parallel num_threads(kernel_threads())
  {
    thread_local Scratch sum_buf;
    float* sum = sum_buf.get(static_cast<size_t>(s.OW));
#pragma omp for schedule(static)
    for (int p = 0; p < planes; ++p) {
      const float* xp = x + p * HW;
      float* yp = y + p * OHW;
      for (int oh = 0; oh < s.OH; ++oh) {
        float* yr = yp + oh * s.OW;
        for (int ow = 0; ow < lo; ++ow) yr[ow] = avg_one(s, xp, oh, ow);
        for (int ow = hi; ow < s.OW; ++ow) yr[ow] = avg_one(s, xp, oh, ow);
        if (hi <= lo) continue;
        const Window rows = window(s, oh, lo);
        const int d = divisor(s, oh, lo, rows);  // the same for every interior column
        const int sw = s.sw, c0 = -s.pl;
        if (d <= 0) {  // the window rows are all padding
          for (int ow = lo; ow < hi; ++ow) yr[ow] = 0.0f;
          continue;
        }
        for (int ow = lo; ow < hi; ++ow) sum[ow] = 0.0f;
        for (int h = rows.h0; h < rows.h1; ++h)
          for (int j = 0; j < s.kw; ++j) {
            const int base = h * s.W + c0 + j;
#pragma omp simd
            for (int ow = lo; ow < hi; ++ow) sum[ow] += xp[base + ow * sw];
          }
        const float div = static_cast<float>(d);
#pragma omp simd
        for (int ow = lo; ow < hi; ++ow) yr[ow] = sum[ow] / div;
      }
    }
  }
}

void avgpool_backward(const PoolShape& s, const float* dy, float* dx) {
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int planes = s.N * s.C;
  int lo, hi;
  interior_columns(s, lo, hi);
#pragma omp parallel num_threads(kernel_threads())
  {
    thread_local Scratch g_buf;
    float* g = g_buf.get(static_cast<size_t>(s.OW));
#pragma omp for schedule(static)
    for (int p = 0; p < planes; ++p) {
      float* dxp = dx + p * HW;
      std::memset(dxp, 0, sizeof(float) * HW);
      const float* dyp = dy + p * OHW;
      for (int oh = 0; oh < s.OH; ++oh) {
        auto scatter_one = [&](int ow) {
          const Window win = window(s, oh, ow);
          const int d = divisor(s, oh, ow, win);
          if (d <= 0) return;
          const float gv = dyp[oh * s.OW + ow] / static_cast<float>(d);
          for (int h = win.h0; h < win.h1; ++h)
            for (int w = win.w0; w < win.w1; ++w) dxp[h * s.W + w] += gv;
        };
        for (int ow = 0; ow < lo; ++ow) scatter_one(ow);
        for (int ow = hi; ow < s.OW; ++ow) scatter_one(ow);
        if (hi <= lo) continue;
        const Window rows = window(s, oh, lo);
        const int d = divisor(s, oh, lo, rows);
        if (d <= 0) continue;
        const float div = static_cast<float>(d);
        const float* dyr = dyp + oh * s.OW;
#pragma omp simd
        for (int ow = lo; ow < hi; ++ow) g[ow] = dyr[ow] / div;
        const int sw = s.sw, c0 = -s.pl;
        for (int h = rows.h0; h < rows.h1; ++h)
          for (int j = 0; j < s.kw; ++j) {
            const int base = h * s.W + c0 + j;
            // Distinct ow write distinct elements (sw >= 1): no dependence between iterations.
#pragma omp simd
            for (int ow = lo; ow < hi; ++ow) dxp[base + ow * sw] += g[ow];
          }
      }
    }
  }
}

void global_avgpool_forward(int N, int C, int HW, const float* x, float* y) {
  const int planes = N * C;
  const float inv = 1.0f / static_cast<float>(HW);
#pragma omp parallel for schedule(static) num_threads(kernel_threads())
  for (int p = 0; p < planes; ++p) {
    const float* xp = x + static_cast<size_t>(p) * HW;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int q = 0; q < HW; ++q) sum += xp[q];
    y[p] = sum * inv;
  }
}

void global_avgpool_backward(int N, int C, int HW, const float* dy, float* dx) {
  const int planes = N * C;
  const float inv = 1.0f / static_cast<float>(HW);
#pragma omp parallel for schedule(static) num_threads(kernel_threads())
  for (int p = 0; p < planes; ++p) {
    float* dxp = dx + static_cast<size_t>(p) * HW;
    const float g = dy[p] * inv;
    for (int q = 0; q < HW; ++q) dxp[q] = g;
  }
}

}  // namespace nasnet::cpu
