// Pooling: max (with argmax), average (count_include_pad 0/1) and global average.
// N = batch, C = channels, H, W = input size, OH, OW = output size, kh, kw = window,
// sh, sw = strides, pt/pl/pb/pr = pads. Every output and dx is written (=).
// Threads split the N*C planes (from kParallelMin input elements on); backward writes each dx plane
// from its own dy plane only.
//
// Max pooling computes interior outputs (window inside the image horizontally) a row at a time with
// the output column innermost, so the compiler vectorizes across columns; each output still visits
// its window in the same order (rows, then columns) as the scalar border path, so it picks the same
// element. A NaN in a window makes that output NaN (core/nan.h: the last NaN is the argmax).
// Inference (no argmax) at 3×3 stride 2 or 1 on AVX-512 folds each window row's three columns for
// 16 outputs at once, then the rows: the same element (6× faster on NASNet's reduction cells).
// Average pooling runs as separable passes compiled per SIMD level (see its section below); its
// 3×3 stride-1 forward on AVX-512 as chunks of 16 columns held in registers and L1 (the same floats).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/nan.h"
#include "cpu/dispatch.h"
#include "cpu/kernels.h"
#include "cpu/scratch.h"

namespace nasnet::cpu {
namespace {

// Passes over fewer input elements than this (batch-1 planes of 8×8 to 16×16) run on the calling
// thread: a fork and join costs more than the half of the loop it would save.
constexpr size_t kParallelMin = 1 << 15;
inline int pool_threads(const PoolShape& s) {
  return static_cast<size_t>(s.N) * s.C * s.H * s.W >= kParallelMin ? kernel_threads() : 1;
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

// ---- Inference max pooling, 3×3 windows at stride 2 (NASNet's reductions), AVX-512: per output row,
// each window row's three-column maxima for 16 outputs at once (the row's even and odd columns
// separated by two permutes), then those folded over the window rows. max_takes' fold over a window
// by rows then columns picks the same element as folding each row first and then the rows' results
// in order (the first maximum, or the last NaN), so outputs are the scalar path's. Columns and rows
// outside the image are -inf, which max_takes never takes. ----
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Whether the fast path applies: every window holds at least one input element.
inline bool max3s2_ok(const PoolShape& s) {
  return s.kh == 3 && s.kw == 3 && s.sh == 2 && s.sw == 2 && s.pt < 3 && s.pl < 3 && s.pb < 3 && s.pr < 3;
}

// Lanes i (< 16) with 0 <= start + i < n.
inline __mmask16 lanes_inside(int start, int n) {
  const int lo = std::max(0, -start), hi = std::min(16, n - start);
  if (hi <= lo) return 0;
  return static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
}

__attribute__((target("avx512f"))) inline __m512 max_fold(__m512 best, __m512 v) {
  const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_mov_ps(best, take, v);
}

// GCC 12 warns that _mm512_alignr_epi32's own undefined pass-through operand (`__Y`) may be used
// uninitialized once inlined: a false positive (no mask), as in gemm.cc.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) void max3s2_plane_avx512(const PoolShape& s, const float* xp, float* yp) {
  const __m512 ninf = _mm512_set1_ps(kNegInf);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int ow0 = 0; ow0 < s.OW; ow0 += 16) {
    const int base = 2 * ow0 - s.pl;  // input column of lane 0's first tap
    const __mmask16 ma = lanes_inside(base, s.W), mb = lanes_inside(base + 16, s.W), mc = lanes_inside(base + 32, s.W) & 1;
    const __mmask16 out = static_cast<__mmask16>((1u << std::min(16, s.OW - ow0)) - 1);
    for (int oh = 0; oh < s.OH; ++oh) {
      const int h0 = std::max(0, 2 * oh - s.pt), h1 = std::min(s.H, 2 * oh - s.pt + 3);
      __m512 best = ninf;
      for (int h = h0; h < h1; ++h) {
        const float* row = xp + static_cast<size_t>(h) * s.W + base;
        const __m512 a = _mm512_mask_loadu_ps(ninf, ma, row), b = _mm512_mask_loadu_ps(ninf, mb, row + 16);
        const __m512 c = _mm512_mask_loadu_ps(ninf, mc, row + 32);
        const __m512 e = _mm512_permutex2var_ps(a, even, b), o = _mm512_permutex2var_ps(a, odd, b);
        // columns base + 2i + 2: the even ones shifted down a lane, column base + 32 last
        const __m512 e2 = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(c), _mm512_castps_si512(e), 1));
        const __m512 m = max_fold(max_fold(e, o), e2);
        best = h == h0 ? m : max_fold(best, m);
      }
      _mm512_mask_storeu_ps(yp + static_cast<size_t>(oh) * s.OW + ow0, out, best);
    }
  }
}
#pragma GCC diagnostic pop

// Stride 1 (the max_pool_3x3 of searched cells): each input row's three-column maxima for 16
// outputs by masked loads (-inf outside the image), then the window rows folded in order.
inline bool max3s1_ok(const PoolShape& s) {
  return s.kh == 3 && s.kw == 3 && s.sh == 1 && s.sw == 1 && s.pt < 3 && s.pl < 3 && s.pb < 3 && s.pr < 3;
}

__attribute__((target("avx512f"))) void max3s1_plane_avx512(const PoolShape& s, const float* xp, float* yp) {
  const __m512 ninf = _mm512_set1_ps(kNegInf);
  for (int ow0 = 0; ow0 < s.OW; ow0 += 16) {
    const int c = ow0 - s.pl;
    const __mmask16 m0 = lanes_inside(c, s.W), m1 = lanes_inside(c + 1, s.W), m2 = lanes_inside(c + 2, s.W);
    const __mmask16 out = static_cast<__mmask16>((1u << std::min(16, s.OW - ow0)) - 1);
    for (int oh = 0; oh < s.OH; ++oh) {
      const int h0 = std::max(0, oh - s.pt), h1 = std::min(s.H, oh - s.pt + 3);
      __m512 best = ninf;
      for (int h = h0; h < h1; ++h) {
        const float* row = xp + static_cast<size_t>(h) * s.W + c;
        __m512 m = _mm512_mask_loadu_ps(ninf, m0, row);
        m = max_fold(m, _mm512_mask_loadu_ps(ninf, m1, row + 1));
        m = max_fold(m, _mm512_mask_loadu_ps(ninf, m2, row + 2));
        best = h == h0 ? m : max_fold(best, m);
      }
      _mm512_mask_storeu_ps(yp + static_cast<size_t>(oh) * s.OW + ow0, out, best);
    }
  }
}

}  // namespace

void maxpool_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax) {
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int planes = s.N * s.C;
  int lo, hi;
  interior_columns(s, lo, hi);
  const bool avx512 = argmax == nullptr && active_simd() == SimdLevel::kAvx512;
  const bool fast2 = avx512 && max3s2_ok(s), fast1 = avx512 && max3s1_ok(s);
  parallel_team(pool_threads(s), [&](int t, int team) {
    thread_local Scratch best_buf, at_buf;
    float* best = best_buf.get(static_cast<size_t>(s.OW));
    int32_t* at = argmax != nullptr ? reinterpret_cast<int32_t*>(at_buf.get(static_cast<size_t>(s.OW))) : nullptr;
    int p0, p1;
    static_share(planes, t, team, p0, p1);
    for (int p = p0; p < p1; ++p) {
      if (argmax != nullptr)
        max_plane<true>(s, lo, hi, x + p * HW, y + p * OHW, argmax + p * OHW, best, at);
      else if (fast2)
        max3s2_plane_avx512(s, x + p * HW, y + p * OHW);
      else if (fast1)
        max3s1_plane_avx512(s, x + p * HW, y + p * OHW);
      else
        max_plane<false>(s, lo, hi, x + p * HW, y + p * OHW, nullptr, best, at);
    }
  });
}

void maxpool_backward(const PoolShape& s, const int32_t* argmax, const float* dy, float* dx) {
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int planes = s.N * s.C;
  parallel_chunks(pool_threads(s), static_cast<size_t>(planes), [&](size_t p0, size_t p1) {
    for (size_t p = p0; p < p1; ++p) {
      float* dxp = dx + p * HW;
      std::memset(dxp, 0, sizeof(float) * HW);
      const int32_t* ap = argmax + p * OHW;
      const float* dyp = dy + p * OHW;
      for (size_t q = 0; q < OHW; ++q)
        if (ap[q] >= 0) dxp[ap[q]] += dyp[q];
    }
  });
}

// ---- Average pooling: separable passes, one output row (forward) or one input row (backward) at
// a time. Forward, output row oh: v[w] = sum of x over the window's rows (contiguous row adds, the
// full plane width), then y[oh][ow] = (sum of v over the window's columns) * inv[ow]: kh + kw adds
// and one multiply per output. Backward is the transpose, gathered so that each dx element is
// written once: input row h: t[ow] = sum over the output rows whose window holds h of dy * inv, then
// dx[h][w] = sum of t over the output columns whose window holds w. inv = 1 / divisor, a table of
// (row factor) × (column factor) built once per call. ----
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

// Outputs [a, b] (b < a: none) of n whose window (k taps from o * stride - pad) holds input i: the
// transpose of the window.
inline void covering(int i, int pad, int k, int stride, int n, int& a, int& b) {
  const int lo = i + pad - k + 1;
  a = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  b = (i + pad) / stride;
  if (b > n - 1) b = n - 1;
}

// What every plane of one call shares: inv[rf * OW + ow] = 1 / (rf * col_factor(ow)) (0 where that
// is 0: a window with no input); the window rows of each output row (rows[oh]) and the output rows
// covering each input row (cover[2 * h], cover[2 * h + 1]), so no plane repeats the divisions.
// The row buffers carry zeros on both sides (v: the pads, so every output column sums kw entries;
// t: the outputs before 0 and from OW that the gather reads), so the column passes have no border
// case: forward, all OW outputs; backward, the input columns u * sw - pl + q (q < sw) of the blocks
// u in [u_lo, u_hi) that lie inside the row (the rest, at most a block at each end, one at a time).
struct AvgPlan {
  const float* div;
  const AvgFactors* rows;
  const int* cover;
  int u_lo, u_hi;
  int v_left, v_len, t_left, t_len;  // row buffers: zeros before index 0, and in all
};
AvgPlan avg_plan(const PoolShape& s, Scratch& buf) {
  const size_t ninv = static_cast<size_t>(s.kh + 1) * s.OW, nrows = static_cast<size_t>(s.OH) * 3;
  float* inv = buf.get(ninv + nrows + 2 * static_cast<size_t>(s.H) + 32);
  AvgFactors* rows = reinterpret_cast<AvgFactors*>(inv + ninv + 16);  // 3 ints each, float-sized
  int* cover = reinterpret_cast<int*>(inv + ninv + nrows + 16);
  static_assert(sizeof(AvgFactors) == 3 * sizeof(float), "AvgFactors packs into three floats");
  for (int ow = 0; ow < s.OW; ++ow) {
    int c0, c1, cf;
    avg_cols(s, ow, c0, c1, cf);
    for (int rf = 0; rf <= s.kh; ++rf) {
      const int d = rf * cf;
      inv[static_cast<size_t>(rf) * s.OW + ow] = d > 0 ? static_cast<float>(d) : 1.0f;
    }
  }
  for (int oh = 0; oh < s.OH; ++oh) rows[oh] = avg_rows(s, oh);
  for (int h = 0; h < s.H; ++h) covering(h, s.pt, s.kh, s.sh, s.OH, cover[2 * h], cover[2 * h + 1]);
  AvgPlan p;
  p.div = inv;
  p.rows = rows;
  p.cover = cover;
  const int v_right = (s.OW - 1) * s.sw - s.pl + s.kw - s.W;  // past the last input column read
  p.v_left = s.pl;
  p.v_len = s.pl + s.W + (v_right > 0 ? v_right : 0);
  p.u_lo = (s.pl + s.sw - 1) / s.sw;                                      // first block starting inside
  p.u_hi = s.W - s.sw + s.pl < 0 ? 0 : (s.W - s.sw + s.pl) / s.sw + 1;  // past the last ending inside
  if (p.u_lo > p.u_hi) p.u_lo = p.u_hi;
  p.t_left = (s.kw - 1) / s.sw;  // phase 0 reads t[u - (kw - 1) / sw]
  p.t_len = p.t_left + s.OW + (p.u_hi > s.OW ? p.u_hi - s.OW : 0);
  return p;
}

// A row buffer of n floats, zeroed (once per call: the passes write only its middle).
inline float* zeroed_row(Scratch& buf, int n) {
  float* r = buf.get(static_cast<size_t>(n));
  std::memset(r, 0, sizeof(float) * n);
  return r;
}

// out[i] = sum of rows r < n of in[r * ld + i] (rows in order), i < len; n >= 1. Three rows (the
// interior of a 3-row window) in one pass.
__attribute__((always_inline)) inline void sum_rows(const float* in, size_t ld, int n, int len, float* out) {
  if (n == 3) {
    const float *a = in, *b = in + ld, *c = in + 2 * ld;
#pragma omp simd
    for (int i = 0; i < len; ++i) out[i] = a[i] + b[i] + c[i];
    return;
  }
#pragma omp simd
  for (int i = 0; i < len; ++i) out[i] = in[i];
  for (int r = 1; r < n; ++r) {
    const float* rr = in + r * ld;
#pragma omp simd
    for (int i = 0; i < len; ++i) out[i] += rr[i];
  }
}

// t[ow] = sum over output rows oh in [a, b] (in order) of dy[oh][ow] * inv(oh, ow); up to three rows
// (a 3-row window's interior at stride 1) in one pass.
__attribute__((always_inline)) inline void scaled_rows(const PoolShape& s, const AvgPlan& p, const float* dyp, int a,
                                                       int b, float* t) {
  const int OW = s.OW;
  const float* d[3];
  const float* iv[3];
  const int n = b - a + 1 < 3 ? b - a + 1 : 3;
  for (int r = 0; r < n; ++r) {
    d[r] = dyp + static_cast<size_t>(a + r) * OW;
    iv[r] = p.div + static_cast<size_t>(p.rows[a + r].rf) * OW;
  }
  if (n == 3) {
#pragma omp simd
    for (int ow = 0; ow < OW; ++ow) t[ow] = d[0][ow] / iv[0][ow] + d[1][ow] / iv[1][ow] + d[2][ow] / iv[2][ow];
  } else if (n == 2) {
#pragma omp simd
    for (int ow = 0; ow < OW; ++ow) t[ow] = d[0][ow] / iv[0][ow] + d[1][ow] / iv[1][ow];
  } else {
#pragma omp simd
    for (int ow = 0; ow < OW; ++ow) t[ow] = d[0][ow] / iv[0][ow];
  }
  for (int oh = a + 3; oh <= b; ++oh) {  // windows taller than 3 rows
    const float* dr = dyp + static_cast<size_t>(oh) * OW;
    const float* ir = p.div + static_cast<size_t>(p.rows[oh].rf) * OW;
#pragma omp simd
    for (int ow = 0; ow < OW; ++ow) t[ow] += dr[ow] / ir[ow];
  }
}

// One plane forward; SW, KW: the column stride and window width as constants (0: read from s). row:
// the plan's v_len floats (v_left zeros, the input row, zeros), then H * OW for the row sums. The sums
// are taken in the order of a scan of the window by columns, then rows, and divided (not multiplied
// by a reciprocal): the CUDA twin's and the earlier kernel's rounding, so plans agree as before.
template <int SW, int KW>
__attribute__((always_inline)) inline void avg_forward_plane(const PoolShape& s, const AvgPlan& p, const float* xp,
                                                             float* yp, float* row) {
  const int sw = SW > 0 ? SW : s.sw, kw = KW > 0 ? KW : s.kw, OW = s.OW;
  float* v = row;
  float* hs = row + p.v_len;
  for (int h = 0; h < s.H; ++h) {
    std::memcpy(v + p.v_left, xp + static_cast<size_t>(h) * s.W, sizeof(float) * s.W);
    float* hr = hs + static_cast<size_t>(h) * OW;
#pragma omp simd
    for (int ow = 0; ow < OW; ++ow) {
      const float* vw = v + ow * sw;  // input column ow * sw - pl + j is vw[j]
      float sum = vw[0];
      for (int j = 1; j < kw; ++j) sum += vw[j];
      hr[ow] = sum;
    }
  }
  for (int oh = 0; oh < s.OH; ++oh) {
    const AvgFactors f = p.rows[oh];
    float* yr = yp + static_cast<size_t>(oh) * OW;
    if (f.r1 <= f.r0) {  // window rows all padding: no input
      std::memset(yr, 0, sizeof(float) * OW);
      continue;
    }
    sum_rows(hs + static_cast<size_t>(f.r0) * OW, OW, f.r1 - f.r0, OW, yr);
    const float* dv = p.div + static_cast<size_t>(f.rf) * OW;
#pragma omp simd
    for (int ow = 0; ow < OW; ++ow) yr[ow] /= dv[ow];
  }
}

// One plane backward (the transpose of avg_forward_plane), same template parameters; t: a row buffer
// of the plan's t_len floats, t_left of them zeros before the row.
template <int SW, int KW>
__attribute__((always_inline)) inline void avg_backward_plane(const PoolShape& s, const AvgPlan& p, const float* dyp,
                                                              float* dxp, float* t) {
  const int sw = SW > 0 ? SW : s.sw, kw = KW > 0 ? KW : s.kw, OW = s.OW, base = -s.pl;
  float* tr = t + p.t_left;
  const int w_lo = p.u_lo * sw + base, w_hi = p.u_hi * sw + base;
  for (int h = 0; h < s.H; ++h) {
    const int a = p.cover[2 * h], b = p.cover[2 * h + 1];
    float* dr = dxp + static_cast<size_t>(h) * s.W;
    if (b < a) {  // no window holds this row (stride > window)
      std::memset(dr, 0, sizeof(float) * s.W);
      continue;
    }
    scaled_rows(s, p, dyp, a, b, tr);
    auto border = [&](int w) {
      int o0, o1;
      covering(w, s.pl, kw, sw, OW, o0, o1);
      float sum = 0.0f;
      for (int ow = o0; ow <= o1; ++ow) sum += tr[ow];
      dr[w] = sum;
    };
    for (int w = 0; w < w_lo && w < s.W; ++w) border(w);
    for (int w = w_hi > 0 ? w_hi : 0; w < s.W; ++w) border(w);
    // Column u * sw - pl + q gets t[u], t[u - 1], ... for the taps q, q + sw, ... < kw (written out
    // for the constant strides, so that they vectorize: stride 2 as one two-column store group).
    float* d0 = dr + base;
    if (SW == 1) {
#pragma omp simd
      for (int u = p.u_lo; u < p.u_hi; ++u) {
        float sum = tr[u];
        for (int m = 1; m < kw; ++m) sum += tr[u - m];
        d0[u] = sum;
      }
    } else if (SW == 2 && KW == 3) {
#pragma omp simd
      for (int u = p.u_lo; u < p.u_hi; ++u) {
        const float c = tr[u];
        d0[2 * u] = c + tr[u - 1];
        d0[2 * u + 1] = c;
      }
    } else {
      for (int u = p.u_lo; u < p.u_hi; ++u)
        for (int q = 0; q < sw; ++q) {
          float sum = 0.0f;
          for (int m = 0; q + m * sw < kw; ++m) sum += tr[u - m];
          d0[u * sw + q] = sum;
        }
    }
  }
}

// The plane loops compiled once per SIMD level; 3-wide windows at stride 1 and 2 (NASNet's avg pools)
// with constant strides and widths, every other shape through the general body. in/out: x/y forward,
// dy/dx backward; row: the plan's row buffer for that direction.
using AvgPlaneFn = void (*)(const PoolShape&, const AvgPlan&, const float* in, float* out, float* row);
template <bool BACKWARD, int SW, int KW>
__attribute__((always_inline)) inline void avg_plane(const PoolShape& s, const AvgPlan& p, const float* in, float* out,
                                                     float* row) {
  if (BACKWARD)
    avg_backward_plane<SW, KW>(s, p, in, out, row);
  else
    avg_forward_plane<SW, KW>(s, p, in, out, row);
}
template <bool BACKWARD>
__attribute__((always_inline)) inline void avg_plane_any(const PoolShape& s, const AvgPlan& p, const float* in,
                                                         float* out, float* row) {
  if (s.kw == 3 && s.sw == 1)
    avg_plane<BACKWARD, 1, 3>(s, p, in, out, row);
  else if (s.kw == 3 && s.sw == 2)
    avg_plane<BACKWARD, 2, 3>(s, p, in, out, row);
  else
    avg_plane<BACKWARD, 0, 0>(s, p, in, out, row);
}
#define NASNET_AVG_PLANES(suffix, attr)                                                                        \
  attr void avg_forward_##suffix(const PoolShape& s, const AvgPlan& p, const float* in, float* out, float* row) { \
    avg_plane_any<false>(s, p, in, out, row);                                                                  \
  }                                                                                                            \
  attr void avg_backward_##suffix(const PoolShape& s, const AvgPlan& p, const float* in, float* out, float* row) { \
    avg_plane_any<true>(s, p, in, out, row);                                                                   \
  }
NASNET_AVG_PLANES(avx512, __attribute__((target("avx512f,avx512bw,avx512vl,prefer-vector-width=256"))))
NASNET_AVG_PLANES(avx2, __attribute__((target("avx2"))))
NASNET_AVG_PLANES(portable, )
#undef NASNET_AVG_PLANES

// Runs one direction over the N*C planes: in planes of in_plane floats, out planes of out_plane.
// ---- Average pooling forward, 3×3 at stride 1 (NASNet's normal cells), AVX-512: per 16-column
// chunk, each input row's three-column sums (masked loads: columns outside the image read +0.0f, as
// the padded row buffer above holds), kept in an L1 buffer, then each output row's real rows summed
// in order and divided by the plan's divisors: the same additions, in the same order, and the same
// division as avg_forward_plane. ----
inline bool avg3s1_ok(const PoolShape& s) {
  return s.kh == 3 && s.kw == 3 && s.sh == 1 && s.sw == 1 && s.pt < 3 && s.pl < 3 && s.pb < 3 && s.pr < 3 &&
         s.OH == s.H + s.pt + s.pb - 2 && s.OW == s.W + s.pl + s.pr - 2;
}

__attribute__((target("avx512f"))) void avg3s1_plane_avx512(const PoolShape& s, const AvgPlan& p, const float* xp,
                                                            float* yp, float* hs) {
  for (int ow0 = 0; ow0 < s.OW; ow0 += 16) {
    const int c = ow0 - s.pl;  // input column of lane 0's first tap
    const __mmask16 out = static_cast<__mmask16>((1u << std::min(16, s.OW - ow0)) - 1);
    const __mmask16 m0 = lanes_inside(c, s.W) & out, m1 = lanes_inside(c + 1, s.W) & out,
                    m2 = lanes_inside(c + 2, s.W) & out;
    for (int h = 0; h < s.H; ++h) {
      const float* row = xp + static_cast<size_t>(h) * s.W + c;
      __m512 sum = _mm512_maskz_loadu_ps(m0, row);
      sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(m1, row + 1));
      sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(m2, row + 2));
      _mm512_store_ps(hs + static_cast<size_t>(h) * 16, sum);
    }
    for (int oh = 0; oh < s.OH; ++oh) {
      const AvgFactors f = p.rows[oh];
      __m512 t = _mm512_load_ps(hs + static_cast<size_t>(f.r0) * 16);
      for (int r = f.r0 + 1; r < f.r1; ++r) t = _mm512_add_ps(t, _mm512_load_ps(hs + static_cast<size_t>(r) * 16));
      const __m512 d = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), out, p.div + static_cast<size_t>(f.rf) * s.OW + ow0);
      _mm512_mask_storeu_ps(yp + static_cast<size_t>(oh) * s.OW + ow0, out, _mm512_div_ps(t, d));
    }
  }
}

void avg_planes(const PoolShape& s, bool backward, const float* in, size_t in_plane, float* out, size_t out_plane) {
  AvgPlaneFn fn;
  switch (active_simd()) {
    case SimdLevel::kAvx512: fn = backward ? avg_backward_avx512 : avg_forward_avx512; break;
    case SimdLevel::kAvx2: fn = backward ? avg_backward_avx2 : avg_forward_avx2; break;
    default: fn = backward ? avg_backward_portable : avg_forward_portable;
  }
  thread_local Scratch plan_buf;
  const AvgPlan plan = avg_plan(s, plan_buf);
  const int planes = s.N * s.C;
  const bool fast = !backward && avg3s1_ok(s) && active_simd() == SimdLevel::kAvx512;
  parallel_team(pool_threads(s), [&](int t, int team) {
    thread_local Scratch buf;
    float* row = fast ? buf.get(static_cast<size_t>(s.H) * 16)
                      : zeroed_row(buf, backward ? plan.t_len : plan.v_len + s.H * s.OW);
    int p0, p1;
    static_share(planes, t, team, p0, p1);
    for (int p = p0; p < p1; ++p) {
      if (fast)
        avg3s1_plane_avx512(s, plan, in + p * in_plane, out + p * out_plane, row);
      else
        fn(s, plan, in + p * in_plane, out + p * out_plane, row);
    }
  });
}

}  // namespace

void avgpool_forward(const PoolShape& s, const float* x, float* y) {
  avg_planes(s, false, x, static_cast<size_t>(s.H) * s.W, y, static_cast<size_t>(s.OH) * s.OW);
}

void avgpool_backward(const PoolShape& s, const float* dy, float* dx) {
  avg_planes(s, true, dy, static_cast<size_t>(s.OH) * s.OW, dx, static_cast<size_t>(s.H) * s.W);
}

void global_avgpool_forward(int N, int C, int HW, const float* x, float* y) {
  const int planes = N * C;
  const float inv = 1.0f / static_cast<float>(HW);
  parallel_for(planes, [&](int p) {
    const float* xp = x + static_cast<size_t>(p) * HW;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int q = 0; q < HW; ++q) sum += xp[q];
    y[p] = sum * inv;
  });
}

void global_avgpool_backward(int N, int C, int HW, const float* dy, float* dx) {
  const int planes = N * C;
  const float inv = 1.0f / static_cast<float>(HW);
  parallel_for(planes, [&](int p) {
    float* dxp = dx + static_cast<size_t>(p) * HW;
    const float g = dy[p] * inv;
    for (int q = 0; q < HW; ++q) dxp[q] = g;
  });
}

}  // namespace nasnet::cpu
