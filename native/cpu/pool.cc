// Pooling: max (with argmax), average (count_include_pad 0/1) and global average.
// N = batch, C = channels, H, W = input size, OH, OW = output size, kh, kw = window,
// sh, sw = strides, pt/pl/pb/pr = pads. Every output and dx is written (=).
// Threads split the N*C planes (forward: from kForwardParallelMin input elements on); backward writes
// each dx plane from its own dy plane only.
//
// Max pooling computes interior outputs (window inside the image horizontally) a row at a time with
// the output column innermost, so the compiler vectorizes across columns; each output still visits
// its window in the same order (rows, then columns) as the scalar border path, so it picks the same
// element. A NaN in a window makes that output NaN (core/nan.h: the last NaN is the argmax).
// Average pooling runs as two separable passes (see avgpool_forward).
#include <cstring>
#include <limits>

#include "core/nan.h"
#include "cpu/dispatch.h"
#include "cpu/kernels.h"
#include "cpu/scratch.h"

namespace nasnet::cpu {
namespace {

// Forward passes over fewer input elements than this (batch-1 planes of 8×8 to 16×16) run on the
// calling thread: a fork and join costs more than the half of the loop it would save.
constexpr size_t kForwardParallelMin = 1 << 15;
inline int forward_threads(const PoolShape& s) {
  return static_cast<size_t>(s.N) * s.C * s.H * s.W >= kForwardParallelMin ? kernel_threads() : 1;
}

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
      const bool take = at < 0 || max_takes(v, best);
      best = take ? v : best;
      at = take ? h * s.W + w : at;
    }
  // A window entirely in the padding (only with pads >= window) has no input: 0, no gradient.
  yp[oh * s.OW + ow] = at < 0 ? 0.0f : best;
  if (ap != nullptr) ap[oh * s.OW + ow] = at;
}

// ---- One plane of max pooling, the stride a constant where it is 1 or 2 (contiguous or two-lane
// loads instead of gathers); the argmax (ap, at) only where it is kept (training): inference
// compares and selects values alone. Every output is the same element either way. (Compiled for the
// SSE2 baseline: AVX2 and AVX-512 copies measured slower here, the interior rows of NASNet's 8–32
// wide planes leaving most of a wide vector to scalar remainders.) ----
template <int SW, bool ARG>
__attribute__((always_inline)) inline void max_plane_impl(const PoolShape& s, int lo, int hi, const float* xp,
                                                          float* yp, int32_t* ap, float* best, int32_t* at) {
  const int sw = SW > 0 ? SW : s.sw, c0 = -s.pl;
  for (int oh = 0; oh < s.OH; ++oh) {
    for (int ow = 0; ow < lo; ++ow) max_one(s, xp, oh, ow, yp, ap);
    for (int ow = hi; ow < s.OW; ++ow) max_one(s, xp, oh, ow, yp, ap);
    const Window rows = window(s, oh, lo);
    if (hi <= lo || rows.h1 <= rows.h0) {
      for (int ow = lo; ow < hi; ++ow) max_one(s, xp, oh, ow, yp, ap);
      continue;
    }
    for (int h = rows.h0; h < rows.h1; ++h)
      for (int j = 0; j < s.kw; ++j) {
        const int32_t base = h * s.W + c0 + j;  // input offset of column 0's tap
        if (h == rows.h0 && j == 0) {
#pragma omp simd
          for (int ow = lo; ow < hi; ++ow) {
            best[ow] = xp[base + ow * sw];
            if (ARG) at[ow] = base + ow * sw;
          }
          continue;
        }
        if (ARG) {
#pragma omp simd
          for (int ow = lo; ow < hi; ++ow) {
            // Branch-free selects (a mask for the index) so the compiler vectorizes the loop.
            const float v = xp[base + ow * sw], b = best[ow];
            const bool take = max_takes(v, b);
            const int32_t mask = -static_cast<int32_t>(take);
            best[ow] = take ? v : b;
            at[ow] ^= (at[ow] ^ (base + ow * sw)) & mask;
          }
        } else {
#pragma omp simd
          for (int ow = lo; ow < hi; ++ow) {
            const float v = xp[base + ow * sw], b = best[ow];
            best[ow] = max_takes(v, b) ? v : b;
          }
        }
      }
    std::memcpy(yp + oh * s.OW + lo, best + lo, sizeof(float) * (hi - lo));
    if (ARG) std::memcpy(ap + oh * s.OW + lo, at + lo, sizeof(int32_t) * (hi - lo));
  }
}

template <bool ARG>
void max_plane(const PoolShape& s, int lo, int hi, const float* xp, float* yp, int32_t* ap, float* best, int32_t* at) {
  if (s.sw == 1)
    max_plane_impl<1, ARG>(s, lo, hi, xp, yp, ap, best, at);
  else if (s.sw == 2)
    max_plane_impl<2, ARG>(s, lo, hi, xp, yp, ap, best, at);
  else
    max_plane_impl<0, ARG>(s, lo, hi, xp, yp, ap, best, at);
}

}  // namespace

void maxpool_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax) {
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int planes = s.N * s.C;
  int lo, hi;
  interior_columns(s, lo, hi);
#pragma omp parallel num_threads(forward_threads(s))
  {
    thread_local Scratch best_buf, at_buf;
    float* best = best_buf.get(static_cast<size_t>(s.OW));
    int32_t* at = argmax != nullptr ? reinterpret_cast<int32_t*>(at_buf.get(static_cast<size_t>(s.OW))) : nullptr;
#pragma omp for schedule(static)
    for (int p = 0; p < planes; ++p) {
      if (argmax != nullptr)
        max_plane<true>(s, lo, hi, x + p * HW, y + p * OHW, argmax + p * OHW, best, at);
      else
        max_plane<false>(s, lo, hi, x + p * HW, y + p * OHW, nullptr, best, at);
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

// Average pooling is separable: the window sum is a sum over the window's rows of per-row sums over
// its columns, and the divisor is (row count or extent) × (column count or extent). Forward: hs[h][ow]
// = sum of x[h] over the columns of output column ow, then y[oh][ow] = sum over the rows of output
// row oh of hs / divisor: kh + kw adds per output instead of kh × kw. Backward mirrors it: the
// vertical scatter of g = dy / divisor into gv[h][ow], then the horizontal scatter of gv into dx.
namespace {

// Row and column factors of the divisor, divisor(oh, ow) = row_factor(oh) * col_factor(ow): with
// count_include_pad the window clipped to the padded input (as ONNX), else the real input positions.
struct AvgFactors {
  int r0, r1, rf;  // window rows [r0, r1) clipped to the image, and the row factor
};
inline AvgFactors avg_rows(const PoolShape& s, int oh) {
  AvgFactors f;
  const int hs = oh * s.sh - s.pt;
  f.r0 = hs < 0 ? 0 : hs;
  f.r1 = hs + s.kh > s.H ? s.H : hs + s.kh;
  if (s.count_include_pad) {
    const int he = hs + s.kh > s.H + s.pb ? s.H + s.pb : hs + s.kh;
    f.rf = he - hs;
  } else {
    f.rf = f.r1 - f.r0;
  }
  return f;
}
inline void avg_cols(const PoolShape& s, int ow, int& c0, int& c1, int& cf) {
  const int ws = ow * s.sw - s.pl;
  c0 = ws < 0 ? 0 : ws;
  c1 = ws + s.kw > s.W ? s.W : ws + s.kw;
  if (s.count_include_pad) {
    const int we = ws + s.kw > s.W + s.pr ? s.W + s.pr : ws + s.kw;
    cf = we - ws;
  } else {
    cf = c1 - c0;
  }
}

// Per-thread rows: hs or gv [H][OW], the column factors [OW], g [OW].
struct AvgScratch {
  float* rows;
  int* colf;
  float* g;
};
AvgScratch avg_scratch(const PoolShape& s, Scratch& buf) {
  const size_t OW = static_cast<size_t>(s.OW);
  float* base = buf.get(static_cast<size_t>(s.H) * OW + 2 * OW + 32);
  AvgScratch a;
  a.rows = base;
  a.colf = reinterpret_cast<int*>(base + static_cast<size_t>(s.H) * OW + 16);
  a.g = base + static_cast<size_t>(s.H) * OW + OW + 32;
  for (int ow = 0; ow < s.OW; ++ow) {
    int c0, c1;
    avg_cols(s, ow, c0, c1, a.colf[ow]);
  }
  return a;
}

}  // namespace

void avgpool_forward(const PoolShape& s, const float* x, float* y) {
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int planes = s.N * s.C;
  int lo, hi;
  interior_columns(s, lo, hi);
  const int OW = s.OW, sw = s.sw;
#pragma omp parallel num_threads(forward_threads(s))
  {
    thread_local Scratch buf;
    const AvgScratch sc = avg_scratch(s, buf);
#pragma omp for schedule(static)
    for (int p = 0; p < planes; ++p) {
      const float* xp = x + p * HW;
      float* yp = y + p * OHW;
      // Horizontal sums of every input row (rows no window reads are harmless).
      for (int h = 0; h < s.H; ++h) {
        const float* xr = xp + static_cast<size_t>(h) * s.W;
        float* hr = sc.rows + static_cast<size_t>(h) * OW;
        auto border = [&](int ow) {
          int c0, c1, cf;
          avg_cols(s, ow, c0, c1, cf);
          float sum = 0.0f;
          for (int w = c0; w < c1; ++w) sum += xr[w];
          hr[ow] = sum;
        };
        for (int ow = 0; ow < lo; ++ow) border(ow);
        for (int ow = hi; ow < OW; ++ow) border(ow);
        if (hi <= lo) continue;
        const int base = -s.pl;
#pragma omp simd
        for (int ow = lo; ow < hi; ++ow) hr[ow] = xr[base + ow * sw];
        for (int j = 1; j < s.kw; ++j) {
#pragma omp simd
          for (int ow = lo; ow < hi; ++ow) hr[ow] += xr[base + j + ow * sw];
        }
      }
      // Vertical sums over each output row's window rows, divided.
      for (int oh = 0; oh < s.OH; ++oh) {
        const AvgFactors f = avg_rows(s, oh);
        float* yr = yp + static_cast<size_t>(oh) * OW;
        if (f.r1 <= f.r0) {  // window rows all padding: no input
          for (int ow = 0; ow < OW; ++ow) yr[ow] = 0.0f;
          continue;
        }
        const float* h0 = sc.rows + static_cast<size_t>(f.r0) * OW;
#pragma omp simd
        for (int ow = 0; ow < OW; ++ow) yr[ow] = h0[ow];
        for (int h = f.r0 + 1; h < f.r1; ++h) {
          const float* hr = sc.rows + static_cast<size_t>(h) * OW;
#pragma omp simd
          for (int ow = 0; ow < OW; ++ow) yr[ow] += hr[ow];
        }
#pragma omp simd
        for (int ow = 0; ow < OW; ++ow) {
          const int d = f.rf * sc.colf[ow];
          yr[ow] = d > 0 ? yr[ow] / static_cast<float>(d) : 0.0f;
        }
      }
    }
  }
}

void avgpool_backward(const PoolShape& s, const float* dy, float* dx) {
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int planes = s.N * s.C;
  int lo, hi;
  interior_columns(s, lo, hi);
  const int OW = s.OW, sw = s.sw;
#pragma omp parallel num_threads(kernel_threads())
  {
    thread_local Scratch buf;
    const AvgScratch sc = avg_scratch(s, buf);
#pragma omp for schedule(static)
    for (int p = 0; p < planes; ++p) {
      float* dxp = dx + p * HW;
      const float* dyp = dy + p * OHW;
      // Vertical scatter: gv[h][ow] = sum over the output rows whose window holds row h of g.
      std::memset(sc.rows, 0, sizeof(float) * static_cast<size_t>(s.H) * OW);
      for (int oh = 0; oh < s.OH; ++oh) {
        const AvgFactors f = avg_rows(s, oh);
        if (f.r1 <= f.r0) continue;
        const float* dyr = dyp + static_cast<size_t>(oh) * OW;
#pragma omp simd
        for (int ow = 0; ow < OW; ++ow) {
          const int d = f.rf * sc.colf[ow];
          sc.g[ow] = d > 0 ? dyr[ow] / static_cast<float>(d) : 0.0f;
        }
        for (int h = f.r0; h < f.r1; ++h) {
          float* gr = sc.rows + static_cast<size_t>(h) * OW;
#pragma omp simd
          for (int ow = 0; ow < OW; ++ow) gr[ow] += sc.g[ow];
        }
      }
      // Horizontal scatter of each row of gv into dx.
      std::memset(dxp, 0, sizeof(float) * HW);
      for (int h = 0; h < s.H; ++h) {
        const float* gr = sc.rows + static_cast<size_t>(h) * OW;
        float* dr = dxp + static_cast<size_t>(h) * s.W;
        auto border = [&](int ow) {
          int c0, c1, cf;
          avg_cols(s, ow, c0, c1, cf);
          for (int w = c0; w < c1; ++w) dr[w] += gr[ow];
        };
        for (int ow = 0; ow < lo; ++ow) border(ow);
        for (int ow = hi; ow < OW; ++ow) border(ow);
        const int base = -s.pl;
        for (int j = 0; j < s.kw && hi > lo; ++j) {
          // Distinct ow write distinct elements (sw >= 1): no dependence between iterations.
#pragma omp simd
          for (int ow = lo; ow < hi; ++ow) dr[base + j + ow * sw] += gr[ow];
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
