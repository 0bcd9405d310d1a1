// Depthwise convolution (groups == C == K), forward and backward: conv2d_forward/backward route
// depthwise shapes here, and the fused separable kernels (fused_conv_bn.cc) call the planes and
// per-image entry points from inside their own per-image threads.
//
// Forward, a run of planes per call (set-up paid once a run): each (n, c) plane is copied into the
// interior of a padded buffer zeroed once (stride 2: even/odd columns de-interleaved), then 16
// output columns × 4 rows of accumulators are kept in vectors. Backward per
// channel: dw from the same padded plane; dx at stride 1 as the correlation of padded dy with the
// flipped kernel (same vector kernel), other strides by a scatter.
// AVX-512, stride 1, square 3x3 / 5x5 (dilation 1 or 2) / 7x7 kernels: forward and stride-1 dx skip
// the padded copy and take the direct path (masked loads, input rows reused across output rows).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <immintrin.h>

#include "core/nan.h"
#include "cpu/depthwise.h"
#include "cpu/dispatch.h"
#include "cpu/elementwise.h"
#include "cpu/scratch.h"

namespace nasnet::cpu {
namespace {

// ---- The plane is copied into a zero-padded buffer (no bounds tests in the inner loops),
// then outputs are computed 16 columns at a time in a fixed-size accumulator that the compiler keeps
// in one zmm (AVX-512), two ymm (AVX2) or four xmm (portable). The bodies are inlined into one
// function per SIMD level, each compiled for that level. ----

constexpr int kLanes = 16;
// 16 floats as one GCC vector: one zmm under AVX-512, two ymm under AVX2, four xmm otherwise.
typedef float vf16 __attribute__((vector_size(64)));
// load16 is always inlined, so the vector-return ABI note (-Wpsabi) never applies.
#pragma GCC diagnostic ignored "-Wpsabi"

__attribute__((always_inline)) inline vf16 load16(const float* p, int step) {
  vf16 v;
  if (step == 1) {
    __builtin_memcpy(&v, p, sizeof v);
  } else {
    float t[kLanes];
    for (int l = 0; l < kLanes; ++l) t[l] = p[l * step];
    __builtin_memcpy(&v, t, sizeof v);
  }
  return v;
}

struct DwGeom {
  int Hp, Wp;     // padded input plane
  int ld, half;   // row stride of the padded buffers; stride 2: even columns first, odd after `half`
  int A, B;       // (kh-1)*dh, (kw-1)*dw: where dy sits inside its padded plane (stride-1 backward)
  int Hq, Wq;     // padded dy plane
  size_t slack;   // floats after a plane, for the last 16-wide chunk of the last row
  size_t p_floats, q_floats, floats;  // input plane, dy plane, the larger (buffer size)
};

inline DwGeom dw_geom(const ConvShape& s) {
  DwGeom g;
  g.Hp = s.H + s.pt + s.pb;
  g.Wp = s.W + s.pl + s.pr;
  g.half = s.sw == 2 ? (g.Wp + 1) / 2 : 0;
  g.ld = s.sw == 2 ? 2 * g.half : g.Wp;
  g.A = (s.kh - 1) * s.dh;
  g.B = (s.kw - 1) * s.dw;
  g.Hq = s.H + s.pt + s.pb + g.A;
  g.Wq = s.W + s.pl + s.pr + g.B;
  g.slack = static_cast<size_t>(kLanes) * s.sw + 64;
  g.p_floats = static_cast<size_t>(g.Hp) * g.ld + g.slack;
  g.q_floats = static_cast<size_t>(g.Hq) * g.Wq + g.slack;
  g.floats = g.p_floats > g.q_floats ? g.p_floats : g.q_floats;
  return g;
}

// n floats from src to dst: NASNet's row widths (8, 16, 32, 4) as copies of a constant size (a few
// vector moves, inlined), others through memcpy (a library call, or `rep movs`: its start-up cost
// was most of copying an 8-float row).
__attribute__((always_inline)) inline void copy_row(float* dst, const float* src, int n) {
  switch (n) {
    case 4: __builtin_memcpy(dst, src, 4 * sizeof(float)); break;
    case 8: __builtin_memcpy(dst, src, 8 * sizeof(float)); break;
    case 16: __builtin_memcpy(dst, src, 16 * sizeof(float)); break;
    case 32: __builtin_memcpy(dst, src, 32 * sizeof(float)); break;
    default: std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(n));
  }
}

// Copies the plane (or its ReLU, relu_value per element) into the interior of its padded buffer; the
// borders are left as they are (zero).
inline void copy_plane(const ConvShape& s, const DwGeom& g, const float* xp, float* xpad, bool relu = false) {
  if (s.sw == 2) {
    // De-interleaved rows: padded column c goes to (c & 1) * half + (c >> 1), so stride-2 reads of
    // 16 outputs become one contiguous load.
    // Source columns 2k go to slot be + k, columns 2k+1 to slot bo + k (32 columns per step).
    const int be = (s.pl & 1) ? g.half + (s.pl - 1) / 2 : s.pl / 2;
    const int bo = (s.pl & 1) ? (s.pl + 1) / 2 : g.half + s.pl / 2;
    typedef int vi16_t __attribute__((vector_size(64)));
    const vi16_t me = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    const vi16_t mo = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
    const vi16_t meo = {0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15};
    for (int h = 0; h < s.H; ++h) {
      float* row = xpad + static_cast<size_t>(h + s.pt) * g.ld;
      const float* src = xp + static_cast<size_t>(h) * s.W;
      int w = 0;
      for (; w + 2 * kLanes <= s.W; w += 2 * kLanes) {
        vf16 a, b;
        __builtin_memcpy(&a, src + w, sizeof a);
        __builtin_memcpy(&b, src + w + kLanes, sizeof b);
        if (relu) {
          a = a <= 0.0f ? vf16{} : a;
          b = b <= 0.0f ? vf16{} : b;
        }
        const vf16 e = __builtin_shuffle(a, b, me), o = __builtin_shuffle(a, b, mo);
        __builtin_memcpy(row + be + w / 2, &e, sizeof e);
        __builtin_memcpy(row + bo + w / 2, &o, sizeof o);
      }
      // 16 columns (planes 16 wide, and what 32-column steps leave): evens to the low half, odds to
      // the high half of one vector.
      for (; w + kLanes <= s.W; w += kLanes) {
        vf16 a;
        __builtin_memcpy(&a, src + w, sizeof a);
        if (relu) a = a <= 0.0f ? vf16{} : a;
        const vf16 eo = __builtin_shuffle(a, meo);
        __builtin_memcpy(row + be + w / 2, &eo, sizeof(float) * (kLanes / 2));
        __builtin_memcpy(row + bo + w / 2, reinterpret_cast<const float*>(&eo) + kLanes / 2, sizeof(float) * (kLanes / 2));
      }
      for (; w < s.W; ++w) {
        const int c = w + s.pl;
        row[(c & 1) * g.half + (c >> 1)] = relu ? relu_value(src[w]) : src[w];
      }
    }
    return;
  }
  for (int h = 0; h < s.H; ++h) {
    float* row = xpad + static_cast<size_t>(h + s.pt) * g.ld + s.pl;
    const float* src = xp + static_cast<size_t>(h) * s.W;
    if (relu) {
      relu_range(static_cast<size_t>(s.W), src, row);
    } else {
      copy_row(row, src, s.W);
    }
  }
}

inline void pad_plane(const ConvShape& s, const DwGeom& g, const float* xp, float* xpad, bool relu) {
  std::memset(xpad, 0, sizeof(float) * g.p_floats);
  copy_plane(s, g, xp, xpad, relu);
}

// y[oh, ow] = bias + sum_ij w[i, j] * xpad[oh*sh + i*dh, ow*sw + j*dw]
// out[oh, ow] = bias + sum_ij wk[i*kw + j] * in[(oh*sh + i*dh + r0) * ld + ow*step + j*dw + c0]
// for oh < OH, ow < OW: a correlation over a padded input (no bounds tests). Four output rows are
// computed together (four independent accumulator chains, shared weight loads).
struct DwPass {
  int OH, OW, kh, kw, sh, dh, dw, ld, r0, c0;
  int half;  // SW == 2: the input rows are de-interleaved (see pad_plane)
};

// Offset of the 16-wide chunk starting at output column ow0, tap column j, within a row.
template <int SW>
__attribute__((always_inline)) inline size_t chunk_col(int ow0, int step, int jdw, int half) {
  if (SW == 2) return static_cast<size_t>(ow0) + (jdw & 1) * half + (jdw >> 1);
  return static_cast<size_t>(ow0) * step + jdw;
}

// K > 0: a square K×K window at dilation 1, as a constant (the tap loops unroll, their offsets fold).
template <int SW, int R, int K>
__attribute__((always_inline)) inline void dw_correlate_rows(const DwPass& q, int step_rt, int oh,
                                                             const float* __restrict in, const float* __restrict wk,
                                                             float bias, float* __restrict out) {
  const int step = SW > 0 ? SW : step_rt;
  const int lstep = SW == 2 ? 1 : step;  // stride of a chunk's 16 values in the buffer
  const int kh = K > 0 ? K : q.kh, kw = K > 0 ? K : q.kw, dh = K > 0 ? 1 : q.dh, dw = K > 0 ? 1 : q.dw;
  for (int ow0 = 0; ow0 < q.OW; ow0 += kLanes) {
    vf16 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = vf16{} + bias;
    const float* base = in + q.c0;
    for (int i = 0; i < kh; ++i) {
      for (int j = 0; j < kw; ++j) {
        const float wv = wk[i * kw + j];
        const size_t col = chunk_col<SW>(ow0, step, j * dw, q.half);
        for (int r = 0; r < R; ++r)
          acc[r] += wv * load16(base + static_cast<size_t>((oh + r) * q.sh + i * dh + q.r0) * q.ld + col, lstep);
      }
    }
    // Constant-size copies where the chunk is 16 or 8 wide (copy_row): a copy of a run-time size
    // compiles to `rep movs`, whose start-up cost was a sixth of a stride-2 16×16 plane.
    const int n = std::min(kLanes, q.OW - ow0);
    for (int r = 0; r < R; ++r)
      copy_row(out + static_cast<size_t>(oh + r) * q.OW + ow0, reinterpret_cast<const float*>(&acc[r]), n);
  }
}

template <int SW, int K>
__attribute__((always_inline)) inline void dw_correlate_k(const DwPass& q, int step_rt, const float* __restrict in,
                                                          const float* __restrict wk, float bias,
                                                          float* __restrict out) {
  int oh = 0;
  for (; oh + 4 <= q.OH; oh += 4) dw_correlate_rows<SW, 4, K>(q, step_rt, oh, in, wk, bias, out);
  for (; oh < q.OH; ++oh) dw_correlate_rows<SW, 1, K>(q, step_rt, oh, in, wk, bias, out);
}

// Stride 2's square windows of NASNet's reductions (3×3, 5×5, 7×7) with their sizes as constants.
template <int SW>
__attribute__((always_inline)) inline void dw_correlate(const DwPass& q, int step_rt, const float* __restrict in,
                                                        const float* __restrict wk, float bias,
                                                        float* __restrict out) {
  const bool square = SW == 2 && q.kh == q.kw && q.dh == 1 && q.dw == 1;
  if (square && q.kh == 3)
    dw_correlate_k<SW, 3>(q, step_rt, in, wk, bias, out);
  else if (square && q.kh == 5)
    dw_correlate_k<SW, 5>(q, step_rt, in, wk, bias, out);
  else if (square && q.kh == 7)
    dw_correlate_k<SW, 7>(q, step_rt, in, wk, bias, out);
  else
    dw_correlate_k<SW, 0>(q, step_rt, in, wk, bias, out);
}

// `count` planes: plane q from xp + q * xs with weights wk + q * kh*kw and bias[q] (0 without
// bias) to yp + q * ys. The padded buffer is zeroed once: each plane rewrites only its interior.
__attribute__((always_inline)) inline void dw_forward_planes_body(const ConvShape& s, int count,
                                                                  const float* __restrict xp, size_t xs,
                                                                  const float* __restrict wk,
                                                                  const float* __restrict bias,
                                                                  float* __restrict yp, size_t ys,
                                                                  float* __restrict xpad, bool relu) {
  const DwGeom g = dw_geom(s);
  const DwPass q{s.OH, s.OW, s.kh, s.kw, s.sh, s.dh, s.dw, g.ld, 0, 0, g.half};
  const size_t taps = static_cast<size_t>(s.kh) * s.kw;
  std::memset(xpad, 0, sizeof(float) * g.p_floats);
  for (int p = 0; p < count; ++p) {
    copy_plane(s, g, xp + p * xs, xpad, relu);
    const float* w = wk + p * taps;
    const float b = bias != nullptr ? bias[p] : 0.0f;
    float* y = yp + p * ys;
    if (s.sw == 1)
      dw_correlate<1>(q, 1, xpad, w, b, y);
    else if (s.sw == 2)
      dw_correlate<2>(q, 2, xpad, w, b, y);
    else
      dw_correlate<0>(q, s.sw, xpad, w, b, y);
  }
}

// ---- Backward, one channel c over all images (or one image for depthwise_image_backward).
// dw: for each tap, sum over outputs of dy[oh, ow] * xpad[oh*sh + i*dh, ow*sw + j*dw]; taps are
// taken in blocks whose 16-lane accumulators stay in registers over the whole plane (one dy load
// per block of taps), then folded per image to 8 lanes, widened and added into double lanes; the
// lanes are summed in a fixed order at the end of the channel.
// dx: stride 1 is the correlation of padded dy with the flipped kernel (the forward kernel); stride 2
// (both ways) gathers each output parity phase from padded dy and interleaves the even/odd columns;
// other strides scatter into a padded plane. All padded buffers keep zero borders: the caller zeroes
// the scratch once, and per image only interiors are rewritten. ----

typedef float vf8 __attribute__((vector_size(32)));
typedef double vd8 __attribute__((vector_size(64)));
typedef int vi16 __attribute__((vector_size(64)));

constexpr int kMaxFlip = 256;  // taps up to which dx is gathered (tap tables on the stack)

struct DwBwdGeom {
  DwGeom g;
  bool gather1;          // sw == sh == 1: dx by correlation (dy padded at (A, B) in a Hq x Wq plane)
  bool gather2;          // sw == sh == 2: dx by parity phases (dy padded at (A2, B2) in a Hq2 x Wq2 plane)
  int A2, B2, Hq2, Wq2;
  bool dy_copy;          // OW % 16 != 0: dy rows copied to dybuf with zero lanes after OW
  int ldy;               // row stride of dy as read by the dw pass
  size_t dacc_floats, xpad_floats, dxpad_floats, dybuf_floats;
};

inline size_t round16(size_t n) { return (n + 15) / 16 * 16; }

inline DwBwdGeom dw_bwd_geom(const ConvShape& s) {
  DwBwdGeom b;
  b.g = dw_geom(s);
  const int taps = s.kh * s.kw;
  b.gather1 = s.sw == 1 && s.sh == 1 && taps <= kMaxFlip;
  b.gather2 = s.sw == 2 && s.sh == 2 && taps <= kMaxFlip;
  b.A2 = ((s.kh - 1) * s.dh + 1) / 2;
  b.B2 = ((s.kw - 1) * s.dw + 1) / 2;
  const int T = (s.H + 1) / 2, U = (s.W + 1) / 2;
  b.Hq2 = b.A2 + std::max(s.OH, T + (s.pt + 1) / 2 + 1);
  b.Wq2 = b.B2 + std::max(s.OW, U + (s.pl + 1) / 2 + 1);
  b.dy_copy = s.OW % kLanes != 0;
  b.ldy = b.dy_copy ? static_cast<int>(round16(s.OW)) : s.OW;
  b.dacc_floats = static_cast<size_t>(taps) * 16;  // one vd8 per tap
  b.xpad_floats = round16(b.g.p_floats);
  const size_t q2 = static_cast<size_t>(b.Hq2) * b.Wq2 + 2 * kLanes + 64;
  b.dxpad_floats = round16(b.gather1 ? b.g.q_floats : b.gather2 ? q2 : b.g.p_floats);
  b.dybuf_floats = b.dy_copy ? static_cast<size_t>(s.OH) * b.ldy : 0;
  return b;
}

// Planes 8 or 4 floats wide with at most kPackedUnits vectors of 16 / OW rows (8×8, 4×4: NASNet's
// last stacks), where the AVX-512 direct path takes the weight gradient (direct_dw_packed).
constexpr int kPackedUnits = 4;
constexpr int kPackedTaps = 49;

struct DwScratch {
  DwBwdGeom b;
  vd8* dacc;
  float* xpad;
  float* dxpad;
  float* dybuf;
  // Packed planes under AVX-512 (packed_dw_ok): units of the dy plane (0: the packed path is not
  // taken), and for unit u and tap t the lanes whose output row exists and whose input under the tap
  // lies inside the plane: masks[u * taps + t].
  int packed_units = 0;
  uint16_t masks[kPackedUnits * kPackedTaps];
};

// dw taps t0 .. t0+NT-1 for one image: RU rows at a time (RU independent chains per tap when NT is
// small), dacc[t] += widened 8-lane fold of the 16-lane sums.
template <int SW, int NT>
__attribute__((always_inline)) inline void dw_tap_block(const ConvShape& s, const DwGeom& g, int step,
                                                        const float* __restrict xpad, const float* __restrict dyr,
                                                        int ldy, int t0, vd8* __restrict dacc) {
  constexpr int RU = NT == 1 ? 4 : NT <= 4 ? 2 : 1;
  const int lstep = SW == 2 ? 1 : step;  // stride of a chunk's 16 values in xpad
  const int cstep = SW == 2 ? 1 : step;  // xpad columns per output column
  size_t off[NT];
  for (int k = 0; k < NT; ++k) {
    const int i = (t0 + k) / s.kw, j = (t0 + k) % s.kw;
    off[k] = static_cast<size_t>(i * s.dh) * g.ld + chunk_col<SW>(0, step, j * s.dw, g.half);
  }
  const size_t rs = static_cast<size_t>(s.sh) * g.ld;  // next output row
  vf16 acc[RU][NT];
  for (int r = 0; r < RU; ++r)
    for (int k = 0; k < NT; ++k) acc[r][k] = vf16{};
  for (int ow0 = 0; ow0 < s.OW; ow0 += kLanes) {
    const float* xc = xpad + static_cast<size_t>(ow0) * cstep;
    const float* dc = dyr + ow0;
    int oh = 0;
    for (; oh + RU <= s.OH; oh += RU) {
      vf16 dv[RU];
      for (int r = 0; r < RU; ++r) dv[r] = load16(dc + static_cast<size_t>(oh + r) * ldy, 1);
      const float* xr = xc + static_cast<size_t>(oh) * rs;
      for (int k = 0; k < NT; ++k)
        for (int r = 0; r < RU; ++r) acc[r][k] += dv[r] * load16(xr + r * rs + off[k], lstep);
    }
    for (; oh < s.OH; ++oh) {
      const vf16 dv = load16(dc + static_cast<size_t>(oh) * ldy, 1);
      const float* xr = xc + static_cast<size_t>(oh) * rs;
      for (int k = 0; k < NT; ++k) acc[0][k] += dv * load16(xr + off[k], lstep);
    }
  }
  for (int k = 0; k < NT; ++k) {
    vf16 v = acc[0][k];
    for (int r = 1; r < RU; ++r) v += acc[r][k];
    vf8 lo, hi;
    __builtin_memcpy(&lo, &v, sizeof lo);
    __builtin_memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
    dacc[t0 + k] += __builtin_convertvector(lo + hi, vd8);
  }
}

template <int SW, int MAXNT>
__attribute__((always_inline)) inline void dw_taps(const ConvShape& s, const DwGeom& g, int step,
                                                   const float* __restrict xpad, const float* __restrict dyr, int ldy,
                                                   vd8* __restrict dacc) {
  const int taps = s.kh * s.kw;
  const int nb = (taps + MAXNT - 1) / MAXNT;
  for (int b = 0, t0 = 0; b < nb; ++b) {
    const int nt = taps / nb + (b < taps % nb ? 1 : 0);
#define NASNET_DW_CASE(K) \
  case K:                 \
    if constexpr (K <= MAXNT) dw_tap_block<SW, K>(s, g, step, xpad, dyr, ldy, t0, dacc); \
    break;
    switch (nt) {
      NASNET_DW_CASE(1) NASNET_DW_CASE(2) NASNET_DW_CASE(3) NASNET_DW_CASE(4) NASNET_DW_CASE(5) NASNET_DW_CASE(6)
      NASNET_DW_CASE(7) NASNET_DW_CASE(8) NASNET_DW_CASE(9) NASNET_DW_CASE(10) NASNET_DW_CASE(11)
      NASNET_DW_CASE(12)
      default: break;
    }
#undef NASNET_DW_CASE
    t0 += nt;
  }
}

// Stride-2 dx taps of one parity phase: output (2t+g, 2u+e) reads dyq at its base + off.
struct DwPhase {
  int n;
  int off[kMaxFlip];
  float w[kMaxFlip];
};

// dx rows h = 2(t+r) + g, r < R, from padded dy (dyq): even columns E, odd columns O, interleaved.
template <int R>
__attribute__((always_inline)) inline void dx_s2_rows(const ConvShape& s, const DwBwdGeom& b, int t, int g,
                                                      const DwPhase& pe, const DwPhase& po,
                                                      const float* __restrict dyq, float* __restrict dxp) {
  const int U = (s.W + 1) / 2;
  const vi16 mlo = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
  const vi16 mhi = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  for (int u0 = 0; u0 < U; u0 += kLanes) {
    vf16 E[R], O[R];
    for (int r = 0; r < R; ++r) E[r] = O[r] = vf16{};
    const float* base = dyq + static_cast<size_t>(t + b.A2) * b.Wq2 + u0 + b.B2;
    for (int k = 0; k < pe.n; ++k) {
      const float wv = pe.w[k];
      const float* p = base + pe.off[k];
      for (int r = 0; r < R; ++r) E[r] += wv * load16(p + static_cast<size_t>(r) * b.Wq2, 1);
    }
    for (int k = 0; k < po.n; ++k) {
      const float wv = po.w[k];
      const float* p = base + po.off[k];
      for (int r = 0; r < R; ++r) O[r] += wv * load16(p + static_cast<size_t>(r) * b.Wq2, 1);
    }
    const int n = std::min(2 * kLanes, s.W - 2 * u0);
    for (int r = 0; r < R; ++r) {
      float* dst = dxp + static_cast<size_t>(2 * (t + r) + g) * s.W + 2 * u0;
      const vf16 lo = __builtin_shuffle(E[r], O[r], mlo), hi = __builtin_shuffle(E[r], O[r], mhi);
      if (n == 2 * kLanes) {
        __builtin_memcpy(dst, &lo, sizeof lo);
        __builtin_memcpy(dst + kLanes, &hi, sizeof hi);
      } else {
        float tmp[2 * kLanes];
        __builtin_memcpy(tmp, &lo, sizeof lo);
        __builtin_memcpy(tmp + kLanes, &hi, sizeof hi);
        std::memcpy(dst, tmp, sizeof(float) * n);
      }
    }
  }
}

__attribute__((always_inline)) inline void prefetch_plane(const float* p, size_t floats) {
  for (size_t i = 0; i < floats; i += 16) __builtin_prefetch(p + i);
  __builtin_prefetch(p + floats - 1);
}

// Stride-1 dx of one plane by the direct path (AVX-512, 3x3): dy, dx, flipped kernel.
using DirectDxFn = void (*)(const ConvShape&, const float*, const float*, float*);
// The weight gradient's taps of one packed plane (AVX-512, direct_dw_packed): x plane, dy plane.
using DirectDwFn = void (*)(const ConvShape&, const DwScratch&, const float*, const float*, vd8*);

template <int SW, int MAXNT>
__attribute__((always_inline)) inline void dw_backward_channel_impl(const ConvShape& s, int sw, int c,
                                                                    const float* __restrict x,
                                                                    const float* __restrict w,
                                                                    const float* __restrict dy, float* __restrict dx,
                                                                    float* __restrict dw, const DwScratch& sc,
                                                                    DirectDxFn direct_dx, DirectDwFn direct_dw) {
  const int step = SW > 0 ? SW : sw;
  const int lstep = SW == 2 ? 1 : step;  // stride 2: x and dx buffers are de-interleaved
  const DwBwdGeom& b = sc.b;
  const DwGeom& g = b.g;
  float* __restrict xpad = sc.xpad;
  float* __restrict dxpad = sc.dxpad;
  vd8* __restrict dacc = sc.dacc;
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int taps = s.kh * s.kw;
  const float* wk = w + static_cast<size_t>(c) * taps;
  if (dw != nullptr)
    for (int t = 0; t < taps; ++t) dacc[t] = vd8{};
  // Stride 1: dx[ih, iw] = sum_ij w[kh-1-i, kw-1-j] * dypad[ih + pt + i*dh, iw + pl + j*dw].
  const bool gather1 = SW == 1 && b.gather1;
  float wflip[kMaxFlip];
  if (gather1)
    for (int t = 0; t < taps; ++t) wflip[t] = wk[taps - 1 - t];
  const DwPass qdx{s.H, s.W, s.kh, s.kw, 1, s.dh, s.dw, g.Wq, s.pt, s.pl, 0};
  // Stride 2: dx[2t+g, 2u+e] = sum over taps with (g + pt - i*dh) and (e + pl - j*dw) even of
  // w[i, j] * dy[t + (g + pt - i*dh)/2, u + (e + pl - j*dw)/2].
  const bool gather2 = SW == 2 && b.gather2;
  DwPhase ph[2][2];
  if (gather2 && dx != nullptr)
    for (int pg = 0; pg < 2; ++pg)
      for (int pe = 0; pe < 2; ++pe) {
        DwPhase& P = ph[pg][pe];
        P.n = 0;
        for (int i = 0; i < s.kh; ++i) {
          const int di = pg + s.pt - i * s.dh;
          if (di & 1) continue;
          for (int j = 0; j < s.kw; ++j) {
            const int dj = pe + s.pl - j * s.dw;
            if (dj & 1) continue;
            P.off[P.n] = (di / 2) * b.Wq2 + dj / 2;
            P.w[P.n] = wk[i * s.kw + j];
            ++P.n;
          }
        }
      }
  for (int n = 0; n < s.N; ++n) {
    const float* xp = x + (static_cast<size_t>(n) * s.C + c) * HW;
    const float* dyp = dy + (static_cast<size_t>(n) * s.K + c) * OHW;
    if (n + 1 < s.N) {
      // The next image's planes are far away (C planes apart): fetch them while this one runs.
      if (dw != nullptr) prefetch_plane(xp + static_cast<size_t>(s.C) * HW, HW);
      prefetch_plane(dyp + static_cast<size_t>(s.K) * OHW, OHW);
    }
    if (dw != nullptr && direct_dw != nullptr) {
      direct_dw(s, sc, xp, dyp, dacc);
    } else if (dw != nullptr) {
      copy_plane(s, g, xp, xpad);
      const float* dyr = dyp;
      if (b.dy_copy) {
        for (int oh = 0; oh < s.OH; ++oh)
          copy_row(sc.dybuf + static_cast<size_t>(oh) * b.ldy, dyp + static_cast<size_t>(oh) * s.OW, s.OW);
        dyr = sc.dybuf;
      }
      dw_taps<SW, MAXNT>(s, g, step, xpad, dyr, b.ldy, dacc);
    }
    if (dx == nullptr) continue;
    float* dxp = dx + (static_cast<size_t>(n) * s.C + c) * HW;
    if (gather1 && direct_dx != nullptr) {
      direct_dx(s, dyp, wflip, dxp);
      continue;
    }
    if (gather1) {
      // dxpad holds the padded dy here
      for (int oh = 0; oh < s.OH; ++oh)
        copy_row(dxpad + static_cast<size_t>(g.A + oh) * g.Wq + g.B, dyp + static_cast<size_t>(oh) * s.OW, s.OW);
      dw_correlate<1>(qdx, 1, dxpad, wflip, 0.0f, dxp);
      continue;
    }
    if (gather2) {
      for (int oh = 0; oh < s.OH; ++oh)
        copy_row(dxpad + static_cast<size_t>(b.A2 + oh) * b.Wq2 + b.B2, dyp + static_cast<size_t>(oh) * s.OW, s.OW);
      for (int pg = 0; pg < 2; ++pg) {
        const int T = (s.H - pg + 1) / 2;
        int t = 0;
        for (; t + 4 <= T; t += 4) dx_s2_rows<4>(s, b, t, pg, ph[pg][0], ph[pg][1], dxpad, dxp);
        for (; t < T; ++t) dx_s2_rows<1>(s, b, t, pg, ph[pg][0], ph[pg][1], dxpad, dxp);
      }
      continue;
    }
    // Other strides: scatter dxpad[oh*sh + i*dh, ow*sw + j*dw] += w[i, j] * dy[oh, ow].
    std::memset(dxpad, 0, sizeof(float) * g.p_floats);
    for (int oh = 0; oh < s.OH; ++oh) {
      for (int ow0 = 0; ow0 < s.OW; ow0 += kLanes) {
        const int nv = std::min(kLanes, s.OW - ow0);
        float dtmp[kLanes] = {};
        __builtin_memcpy(dtmp, dyp + static_cast<size_t>(oh) * s.OW + ow0, sizeof(float) * nv);
        vf16 dyv;
        __builtin_memcpy(&dyv, dtmp, sizeof dyv);
        for (int i = 0; i < s.kh; ++i) {
          const size_t row = static_cast<size_t>(oh * s.sh + i * s.dh) * g.ld;
          for (int j = 0; j < s.kw; ++j) {
            float* dst = dxpad + row + chunk_col<SW>(ow0, step, j * s.dw, g.half);
            const float wv = wk[i * s.kw + j];
            if (lstep == 1) {
              vf16 v = load16(dst, 1) + wv * dyv;
              __builtin_memcpy(dst, &v, sizeof v);
            } else {
              for (int t = 0; t < kLanes; ++t) dst[t * lstep] += wv * dtmp[t];
            }
          }
        }
      }
    }
    for (int h = 0; h < s.H; ++h) {
      const float* row = dxpad + static_cast<size_t>(h + s.pt) * g.ld;
      float* dst = dxp + static_cast<size_t>(h) * s.W;
      if (SW == 2) {
        for (int w = 0; w < s.W; ++w) {
          const int c = w + s.pl;
          dst[w] = row[(c & 1) * g.half + (c >> 1)];
        }
      } else {
        copy_row(dst, row + s.pl, s.W);
      }
    }
  }
  if (dw != nullptr)
    for (int t = 0; t < taps; ++t) {
      double sum = 0.0;
      for (int l = 0; l < 8; ++l) sum += dacc[t][l];
      dw[static_cast<size_t>(c) * taps + t] += static_cast<float>(sum);
    }
}

template <int MAXNT>
__attribute__((always_inline)) inline void dw_backward_channel_body(const ConvShape& s, int c, const float* x,
                                                                    const float* w, const float* dy, float* dx,
                                                                    float* dw, const DwScratch& b,
                                                                    DirectDxFn direct_dx = nullptr,
                                                                    DirectDwFn direct_dw = nullptr) {
  if (s.sw == 1)
    dw_backward_channel_impl<1, MAXNT>(s, 1, c, x, w, dy, dx, dw, b, direct_dx, direct_dw);
  else if (s.sw == 2)
    dw_backward_channel_impl<2, MAXNT>(s, 2, c, x, w, dy, dx, dw, b, nullptr, nullptr);
  else
    dw_backward_channel_impl<0, MAXNT>(s, s.sw, c, x, w, dy, dx, dw, b, nullptr, nullptr);
}

#define NASNET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define NASNET_AVX2 __attribute__((target("avx2,fma")))

// ---- AVX-512, K x K kernel, stride 1, dilation D: a direct correlation without a padded copy. The
// padding is folded into masked loads (masked-off lanes read nothing and give zero), and each
// loaded input row is reused by every output row of the block that needs it (K kernel rows), so a
// 16-wide chunk takes ((K - 1) * D + R) * K loads for R * K * K FMAs. Planes of width 4 or 8 (input as
// wide as the output) pack 16 / OW rows into one vector; their column masks also cut the lanes
// that would wrap into the neighbouring row. The sums are taken in the same order as dw_correlate
// (bias, then taps row by row), so the results match it. ----

struct DirectPlane {
  const float* in;
  int IH, IW;   // input plane
  int pt, pl;   // output (oh, ow) reads input (oh - pt + i, ow - pl + j)
  float* out;
  int OH, OW;   // output plane (row stride OW)
};

// Lanes of unit rows whose input row b + p (p < P) lies inside the plane.
template <int P>
NASNET_AVX512 __attribute__((always_inline)) inline __mmask16 direct_row_mask(int b, int IH, int OW) {
  if (P == 1) return static_cast<unsigned>(b) < static_cast<unsigned>(IH) ? 0xFFFF : 0;
  unsigned m = 0;
  const unsigned row = (1u << OW) - 1;
  for (int p = 0; p < P; ++p)
    if (static_cast<unsigned>(b + p) < static_cast<unsigned>(IH)) m |= row << (p * OW);
  return static_cast<__mmask16>(m);
}

// R units of output starting at output row oh, columns ow0 .. ow0 + 15 (P == 1) or P whole rows
// per unit (P > 1, ow0 == 0). cm[j]: the lanes whose input column for tap column j is inside.
// TOP, BOT >= 0: the block's rows (kSpan of them from oh - pt) lie inside the plane but for its first
// TOP and last BOT, so which loads read nothing is known at compile time (a row wholly outside is a
// zero vector, a partly outside packed vector a constant row mask); TOP < 0: row masks at run time.
template <int K, int D, int P, int R, int TOP, int BOT>
NASNET_AVX512 __attribute__((always_inline)) inline void direct_block(const DirectPlane& d, const __m512* wv,
                                                                      __m512 bias, int oh, int ow0,
                                                                      const __mmask16* cm, __mmask16 cstore) {
  constexpr bool kKnownRows = TOP >= 0;
  constexpr int kSpan = P * R + (K - 1) * D;
  // Lanes of the vector at t (rows t .. t + P - 1 of the span) whose row lies inside the plane.
  constexpr auto known_row_mask = [](int t) -> unsigned {
    unsigned m = 0;
    for (int p = 0; p < P; ++p)
      if (t + p >= TOP && t + p < kSpan - BOT) m |= ((1u << (kLanes / P)) - 1) << (p * (kLanes / P));
    return m;
  };
  __m512 acc[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) acc[r] = bias;
  // Only the address of an unmasked lane is ever read; keep the arithmetic in integers. Packed
  // planes are 16 / P floats wide: a constant, so every load's offset from the block's first row is
  // one too.
  const ptrdiff_t col0 = static_cast<ptrdiff_t>(ow0) - d.pl;
  const uintptr_t first_row =
      reinterpret_cast<uintptr_t>(d.in) + ((static_cast<ptrdiff_t>(oh) - d.pt) * (kLanes / P) + col0) * sizeof(float);
#pragma GCC unroll 32
  for (int t = 0; t < P * (R - 1) + (K - 1) * D + 1; ++t) {
    const unsigned known = kKnownRows ? known_row_mask(t) : 0u;
    const __mmask16 rm = kKnownRows ? static_cast<__mmask16>(known) : direct_row_mask<P>(oh - d.pt + t, d.IH, d.OW);
    const ptrdiff_t b = static_cast<ptrdiff_t>(oh) - d.pt + t;
    const uintptr_t row = P > 1 ? first_row + static_cast<uintptr_t>(t * (kLanes / P)) * sizeof(float)
                                : reinterpret_cast<uintptr_t>(d.in) + (b * d.IW + col0) * sizeof(float);
#pragma GCC unroll 8
    for (int j = 0; j < K; ++j) {
      const __mmask16 m = kKnownRows && known == 0xFFFFu ? cm[j] : static_cast<__mmask16>(rm & cm[j]);
      // A row wholly outside the plane is zero without a load (a load with every lane masked off
      // still goes to its address, outside the plane: slow where that lies on another page).
      const __m512 v = rm == 0 ? _mm512_setzero_ps()
                               : _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row + j * D * sizeof(float)));
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const int id = t - P * r;  // i * D
        if (id >= 0 && id % D == 0 && id / D < K) acc[r] = _mm512_fmadd_ps(wv[id / D * K + j], v, acc[r]);
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const int o = oh + P * r;
    __mmask16 sm = cstore;
    if (P > 1) {
      const int rows = std::min(P, d.OH - o);
      sm = rows >= P ? cstore : static_cast<__mmask16>((1u << (rows * d.OW)) - 1);
    }
    _mm512_mask_storeu_ps(d.out + static_cast<size_t>(o) * d.OW + ow0, sm, acc[r]);
  }
}

// A block of R units at oh: with rows known at compile time where the rows it reads outside the
// plane are none, or the same-padding's (K - 1) * D / 2 at the top, the bottom or both (NASNet's
// planes: the first and last blocks, and planes of one block), else with row masks at run time.
template <int K, int D, int P, int R>
NASNET_AVX512 __attribute__((always_inline)) inline void direct_block_at(const DirectPlane& d, const __m512* wv,
                                                                         __m512 bias, int oh, int ow0,
                                                                         const __mmask16* cm, __mmask16 cstore) {
  constexpr int kSpan = P * R + (K - 1) * D, kPad = (K - 1) * D / 2;
  const int top = std::max(0, d.pt - oh), bot = std::max(0, oh - d.pt + kSpan - d.IH);
  if (top == 0 && bot == 0)
    direct_block<K, D, P, R, 0, 0>(d, wv, bias, oh, ow0, cm, cstore);
  else if (top == kPad && bot == 0)
    direct_block<K, D, P, R, kPad, 0>(d, wv, bias, oh, ow0, cm, cstore);
  else if (top == 0 && bot == kPad)
    direct_block<K, D, P, R, 0, kPad>(d, wv, bias, oh, ow0, cm, cstore);
  else if (top == kPad && bot == kPad)
    direct_block<K, D, P, R, kPad, kPad>(d, wv, bias, oh, ow0, cm, cstore);
  else
    direct_block<K, D, P, R, -1, -1>(d, wv, bias, oh, ow0, cm, cstore);
}

// Lane l of the 16-wide chunk at output column ow0 (P == 1), or of a vector of P packed rows (P >
// 1, ow0 == 0), reads input column ow0 + l - pl + j*D (l % OW when packed): cm[j] holds the lanes
// for which it is inside, cut to the chunk's lanes (or to one row).
template <int K, int D, int P>
__attribute__((always_inline)) inline void direct_column_masks(const DirectPlane& d, int ow0, int lanes,
                                                               __mmask16* cm) {
  const auto bits = [](int lo, int hi) -> unsigned {
    lo = std::max(lo, 0);
    return hi <= lo ? 0u : ((hi >= 32 ? ~0u : (1u << hi) - 1) & ~((1u << lo) - 1));
  };
  for (int j = 0; j < K; ++j) {
    const int lo = d.pl - j * D - ow0, hi = d.IW + d.pl - j * D - ow0;
    unsigned m;
    if (P == 1) {
      m = bits(lo, std::min(hi, lanes));
    } else {
      const unsigned seg = bits(lo, std::min(hi, d.OW));
      m = 0;
      for (int p = 0; p < P; ++p) m |= seg << (p * d.OW);
    }
    cm[j] = static_cast<__mmask16>(m);
  }
}

// The planes of dw_forward_planes_body on the direct path: d.in and d.out are the first plane's,
// the column masks are computed once for all planes (up to kHoistedChunks chunks of a row). With
// relu, each plane's ReLU goes to relu_buf first (as large as the plane), read back from L1 by the
// correlation: cheaper than a compare and blend after each of its masked loads.
template <int K, int D, int P, int RMAX>
NASNET_AVX512 __attribute__((noinline)) void direct_planes_k(DirectPlane d, int count, size_t xs, const float* wk,
                                                             const float* bias, size_t ys, float* relu_buf) {
  constexpr int kHoistedChunks = 4;
  const int chunks = P == 1 ? (d.OW + kLanes - 1) / kLanes : 1;
  __mmask16 hoisted[kHoistedChunks][K];
  if (chunks <= kHoistedChunks)
    for (int c = 0; c < chunks; ++c)
      direct_column_masks<K, D, P>(d, c * kLanes, P == 1 ? std::min(kLanes, d.OW - c * kLanes) : kLanes, hoisted[c]);
  const float* const in0 = d.in;
  float* const out0 = d.out;
  const size_t plane = static_cast<size_t>(d.IH) * d.IW;
  for (int q = 0; q < count; ++q) {
    d.in = in0 + q * xs;
    d.out = out0 + q * ys;
    if (relu_buf != nullptr) {
      relu_range(plane, d.in, relu_buf);
      d.in = relu_buf;
    }
    __m512 wv[K * K];
    const float* w = wk + static_cast<size_t>(q) * K * K;
    for (int t = 0; t < K * K; ++t) wv[t] = _mm512_set1_ps(w[t]);
    const __m512 bv = _mm512_set1_ps(bias != nullptr ? bias[q] : 0.0f);
    for (int c = 0; c < chunks; ++c) {
      const int ow0 = c * kLanes;
      const int lanes = P == 1 ? std::min(kLanes, d.OW - ow0) : kLanes;
      __mmask16 own[K];
      if (chunks > kHoistedChunks) direct_column_masks<K, D, P>(d, ow0, lanes, own);
      const __mmask16* cm = chunks <= kHoistedChunks ? hoisted[c] : own;
      const __mmask16 cstore = static_cast<__mmask16>(lanes >= kLanes ? 0xFFFF : (1u << lanes) - 1);
      int oh = 0;
      for (; oh + P * RMAX <= d.OH; oh += P * RMAX) direct_block_at<K, D, P, RMAX>(d, wv, bv, oh, ow0, cm, cstore);
      if (RMAX > 4)
        for (; oh + P * 4 <= d.OH; oh += P * 4) direct_block<K, D, P, 4, -1, -1>(d, wv, bv, oh, ow0, cm, cstore);
      for (; oh < d.OH; oh += P) {
        if constexpr (P > 1)  // packed planes: often one unit is the whole plane
          direct_block_at<K, D, P, 1>(d, wv, bv, oh, ow0, cm, cstore);
        else
          direct_block<K, D, P, 1, -1, -1>(d, wv, bv, oh, ow0, cm, cstore);
      }
    }
  }
}

// Whether the direct path takes this correlation (square kernel, stride 1, equal dilations).
inline bool direct_ok(const ConvShape& s) {
  return s.kh == s.kw && s.sh == 1 && s.sw == 1 && s.dh == s.dw &&
         ((s.kh == 3 && s.dh <= 2) || (s.kh == 5 && s.dh <= 2) || (s.kh == 7 && s.dh == 1));
}

// Whether the weight gradient takes the packed direct path: a correlation direct_ok takes over a
// plane as wide as its output, 8 or 4 floats, of at most kPackedUnits vectors.
inline bool packed_dw_ok(const ConvShape& s) {
  return direct_ok(s) && s.W == s.OW && (s.OW == 8 || s.OW == 4) && s.kh * s.kw <= kPackedTaps &&
         (s.OH + kLanes / s.OW - 1) / (kLanes / s.OW) <= kPackedUnits;
}

template <int K, int D, int RMAX>
NASNET_AVX512 __attribute__((always_inline)) inline void direct_planes_kd(const DirectPlane& d, int count, size_t xs,
                                                                          const float* wk, const float* bias,
                                                                          size_t ys, float* relu_buf) {
  if (d.IW == d.OW && d.OW == 8)
    direct_planes_k<K, D, 2, RMAX / 2>(d, count, xs, wk, bias, ys, relu_buf);
  else if (d.IW == d.OW && d.OW == 4)
    direct_planes_k<K, D, 4, RMAX / 4>(d, count, xs, wk, bias, ys, relu_buf);
  else
    direct_planes_k<K, D, 1, RMAX>(d, count, xs, wk, bias, ys, relu_buf);
}

// `count` planes (see dw_forward_planes_body) of a correlation direct_ok(s) takes.
NASNET_AVX512 void direct_planes_avx512(const ConvShape& s, const DirectPlane& d, int count, size_t xs, const float* wk,
                                        const float* bias, size_t ys, float* relu_buf) {
  if (s.kh == 3)
    s.dh == 1 ? direct_planes_kd<3, 1, 8>(d, count, xs, wk, bias, ys, relu_buf)
              : direct_planes_kd<3, 2, 8>(d, count, xs, wk, bias, ys, relu_buf);
  else if (s.kh == 5)
    s.dh == 1 ? direct_planes_kd<5, 1, 8>(d, count, xs, wk, bias, ys, relu_buf)
              : direct_planes_kd<5, 2, 4>(d, count, xs, wk, bias, ys, relu_buf);
  else
    direct_planes_kd<7, 1, 8>(d, count, xs, wk, bias, ys, relu_buf);
}

// dx[ih, iw] = sum_ij wflip[i, j] * dy[ih - (kh-1-pt) + i, iw - (kw-1-pl) + j] (zero outside dy).
NASNET_AVX512 void direct_dx_avx512(const ConvShape& s, const float* dyp, const float* wflip, float* dxp) {
  const int A = (s.kh - 1) * s.dh, B = (s.kw - 1) * s.dw;
  direct_planes_avx512(s, DirectPlane{dyp, s.OH, s.OW, A - s.pt, B - s.pl, dxp, s.H, s.W}, 1, 0, wflip, nullptr, 0,
                       nullptr);
}

// The weight gradient of one packed plane (packed_dw_ok): for each tap t, dacc[t] += the widened
// 8-lane fold of the sum over units u of dy_u · x_t(u), x_t(u) the unit's input under the tap (masked
// loads from the plane itself: no padded copy, no dy copy). Replaces dw_taps there, whose 16-lane
// rows were half empty and whose per-plane copies cost more than the products.
// U units (the loops unroll whole: the accumulators stay in registers).
template <int K, int D, int P, int U>
NASNET_AVX512 __attribute__((always_inline)) inline void direct_dw_packed_u(const ConvShape& s, const DwScratch& sc,
                                                                            const float* xp, const float* dyp,
                                                                            vd8* dacc) {
  constexpr int OW = kLanes / P, T = K * K;
  __m512 acc[T];
#pragma GCC unroll 64
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    const int rows = std::min(P, s.OH - P * u);
    const __m512 dyv = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << (rows * OW)) - 1), dyp + u * kLanes);
    // Only the address of an unmasked lane is ever read; keep the arithmetic in integers.
    const uintptr_t base = reinterpret_cast<uintptr_t>(xp) +
                           (static_cast<ptrdiff_t>(P * u - s.pt) * OW - s.pl) * static_cast<ptrdiff_t>(sizeof(float));
    const uint16_t* m = sc.masks + u * T;
#pragma GCC unroll 8
    for (int i = 0; i < K; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < K; ++j) {
        const __m512 v = _mm512_maskz_loadu_ps(
            m[i * K + j], reinterpret_cast<const float*>(base + (i * D * OW + j * D) * sizeof(float)));
        acc[i * K + j] = _mm512_fmadd_ps(dyv, v, acc[i * K + j]);
      }
  }
#pragma GCC unroll 64
  for (int t = 0; t < T; ++t) {
    vf16 v;
    __builtin_memcpy(&v, &acc[t], sizeof v);
    vf8 lo, hi;
    __builtin_memcpy(&lo, &v, sizeof lo);
    __builtin_memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
    dacc[t] += __builtin_convertvector(lo + hi, vd8);
  }
}

template <int K, int D, int P>
NASNET_AVX512 __attribute__((noinline)) void direct_dw_packed(const ConvShape& s, const DwScratch& sc,
                                                              const float* xp, const float* dyp, vd8* dacc) {
  static_assert(kPackedUnits == 4, "one case per unit count");
  switch (sc.packed_units) {
    case 1: return direct_dw_packed_u<K, D, P, 1>(s, sc, xp, dyp, dacc);
    case 2: return direct_dw_packed_u<K, D, P, 2>(s, sc, xp, dyp, dacc);
    case 3: return direct_dw_packed_u<K, D, P, 3>(s, sc, xp, dyp, dacc);
    default: return direct_dw_packed_u<K, D, P, 4>(s, sc, xp, dyp, dacc);
  }
}

template <int K, int D>
DirectDwFn direct_dw_packed_kd(const ConvShape& s) {
  return s.OW == 8 ? direct_dw_packed<K, D, 2> : direct_dw_packed<K, D, 4>;
}

// The kernel for a shape packed_dw_ok takes (backward_scratch has its masks then).
DirectDwFn direct_dw_packed_for(const ConvShape& s) {
  if (s.kh == 3) return s.dh == 1 ? direct_dw_packed_kd<3, 1>(s) : direct_dw_packed_kd<3, 2>(s);
  if (s.kh == 5) return s.dh == 1 ? direct_dw_packed_kd<5, 1>(s) : direct_dw_packed_kd<5, 2>(s);
  return direct_dw_packed_kd<7, 1>(s);
}

using DwForwardFn = void (*)(const ConvShape&, int, const float*, size_t, const float*, const float*, float*, size_t,
                             float*, bool);
using DwBackwardFn = void (*)(const ConvShape&, int, const float*, const float*, const float*, float*, float*,
                              const DwScratch&);

NASNET_AVX512 void dw_forward_planes_avx512(const ConvShape& s, int count, const float* xp, size_t xs, const float* wk,
                                            const float* bias, float* yp, size_t ys, float* scratch, bool relu) {
  if (direct_ok(s)) {
    direct_planes_avx512(s, DirectPlane{xp, s.H, s.W, s.pt, s.pl, yp, s.OH, s.OW}, count, xs, wk, bias, ys,
                         relu ? scratch : nullptr);
    return;
  }
  dw_forward_planes_body(s, count, xp, xs, wk, bias, yp, ys, scratch, relu);
}
NASNET_AVX2 void dw_forward_planes_avx2(const ConvShape& s, int count, const float* xp, size_t xs, const float* wk,
                                        const float* bias, float* yp, size_t ys, float* scratch, bool relu) {
  dw_forward_planes_body(s, count, xp, xs, wk, bias, yp, ys, scratch, relu);
}
void dw_forward_planes_portable(const ConvShape& s, int count, const float* xp, size_t xs, const float* wk,
                                const float* bias, float* yp, size_t ys, float* scratch, bool relu) {
  dw_forward_planes_body(s, count, xp, xs, wk, bias, yp, ys, scratch, relu);
}
NASNET_AVX512 void dw_backward_channel_avx512(const ConvShape& s, int c, const float* x, const float* w,
                                              const float* dy, float* dx, float* dw, const DwScratch& b) {
  dw_backward_channel_body<12>(s, c, x, w, dy, dx, dw, b, direct_ok(s) ? direct_dx_avx512 : nullptr,
                               b.packed_units > 0 ? direct_dw_packed_for(s) : nullptr);
}
NASNET_AVX2 void dw_backward_channel_avx2(const ConvShape& s, int c, const float* x, const float* w, const float* dy,
                                          float* dx, float* dw, const DwScratch& b) {
  dw_backward_channel_body<6>(s, c, x, w, dy, dx, dw, b);
}
void dw_backward_channel_portable(const ConvShape& s, int c, const float* x, const float* w, const float* dy,
                                  float* dx, float* dw, const DwScratch& b) {
  dw_backward_channel_body<3>(s, c, x, w, dy, dx, dw, b);
}

DwForwardFn forward_fn() {
  switch (active_simd()) {
    case SimdLevel::kAvx512: return dw_forward_planes_avx512;
    case SimdLevel::kAvx2: return dw_forward_planes_avx2;
    default: return dw_forward_planes_portable;
  }
}

DwBackwardFn backward_fn() {
  switch (active_simd()) {
    case SimdLevel::kAvx512: return dw_backward_channel_avx512;
    case SimdLevel::kAvx2: return dw_backward_channel_avx2;
    default: return dw_backward_channel_portable;
  }
}

// [dacc: taps vd8] [xpad] [dxpad] [dybuf], each a multiple of 16 floats (64-byte aligned).
size_t backward_scratch_floats(const ConvShape& s) {
  const DwBwdGeom b = dw_bwd_geom(s);
  return b.dacc_floats + b.xpad_floats + b.dxpad_floats + b.dybuf_floats;
}

// Lays out the scratch and zeroes it (the padded buffers' borders stay zero from here on).
DwScratch backward_scratch(const ConvShape& s, float* base) {
  DwScratch sc;
  sc.b = dw_bwd_geom(s);
  std::memset(base, 0, sizeof(float) * (sc.b.dacc_floats + sc.b.xpad_floats + sc.b.dxpad_floats + sc.b.dybuf_floats));
  sc.dacc = reinterpret_cast<vd8*>(base);
  sc.xpad = base + sc.b.dacc_floats;
  sc.dxpad = sc.xpad + sc.b.xpad_floats;
  sc.dybuf = sc.dxpad + sc.b.dxpad_floats;
  // The packed planes' masks, where the AVX-512 weight gradient reads them: a lane's row part (its
  // output row exists, its input row under kernel row i lies inside) and column part (its input
  // column under kernel column j lies inside).
  if (active_simd() == SimdLevel::kAvx512 && packed_dw_ok(s)) {
    const int OW = s.OW, P = kLanes / OW, taps = s.kh * s.kw;
    const unsigned row = (1u << OW) - 1;
    unsigned cols[7];  // kw <= 7 (direct_ok)
    for (int j = 0; j < s.kw; ++j) {
      unsigned seg = 0;
      for (int ow = 0; ow < OW; ++ow) {
        const int iw = ow - s.pl + j * s.dw;
        if (iw >= 0 && iw < s.W) seg |= 1u << ow;
      }
      cols[j] = 0;
      for (int p = 0; p < P; ++p) cols[j] |= seg << (p * OW);
    }
    sc.packed_units = (s.OH + P - 1) / P;
    for (int u = 0; u < sc.packed_units; ++u)
      for (int i = 0; i < s.kh; ++i) {
        unsigned rows = 0;
        for (int p = 0; p < P; ++p) {
          const int oh = P * u + p, ih = oh - s.pt + i * s.dh;
          if (oh < s.OH && ih >= 0 && ih < s.H) rows |= row << (p * OW);
        }
        for (int j = 0; j < s.kw; ++j) sc.masks[u * taps + i * s.kw + j] = static_cast<uint16_t>(rows & cols[j]);
      }
  }
  return sc;
}

}  // namespace

size_t depthwise_plane_scratch_floats(const ConvShape& s) { return dw_geom(s).floats; }

void depthwise_forward_plane(const ConvShape& s, const float* xp, const float* wk, float bias, float* yp,
                             float* scratch, bool relu_in) {
  forward_fn()(s, 1, xp, 0, wk, &bias, yp, 0, scratch, relu_in);
}

void depthwise_forward_planes(const ConvShape& s, int count, const float* xp, size_t x_stride, const float* wk,
                              const float* bias, float* yp, size_t y_stride, float* scratch, bool relu_in) {
  if (count > 0) forward_fn()(s, count, xp, x_stride, wk, bias, yp, y_stride, scratch, relu_in);
}

size_t depthwise_image_backward_scratch_floats(const ConvShape& s) { return backward_scratch_floats(s); }

void depthwise_image_backward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx,
                              float* dw, float* scratch) {
  ConvShape one = s;
  one.N = 1;
  const DwBackwardFn fn = backward_fn();
  const DwScratch sc = backward_scratch(one, scratch);
  for (int c = 0; c < one.C; ++c) fn(one, c, x, w, dy, dx, dw, sc);
}

void depthwise_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  const DwForwardFn fn = forward_fn();
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int planes = s.N * s.C;
  const size_t taps = static_cast<size_t>(s.kh) * s.kw;
  const size_t pad_floats = dw_geom(s).floats;
  parallel_team(kernel_threads(), [&](int t, int team) {
    thread_local Scratch pad_buf;
    float* xpad = pad_buf.get(pad_floats);
    // The thread's planes (consecutive in x and y), in runs that end where the channels wrap.
    const int lo = static_cast<int>(static_cast<int64_t>(planes) * t / team);
    const int hi = static_cast<int>(static_cast<int64_t>(planes) * (t + 1) / team);
    for (int p = lo; p < hi;) {
      const int c = p % s.C, run = std::min(hi - p, s.C - c);
      fn(s, run, x + p * HW, HW, w + c * taps, b != nullptr ? b + c : nullptr, y + p * OHW, OHW, xpad, false);
      p += run;
    }
  });
}

void depthwise_backward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx, float* dw) {
  if (dx == nullptr && dw == nullptr) return;
  const DwBackwardFn fn = backward_fn();
#pragma omp parallel num_threads(kernel_threads())
  {
    thread_local Scratch buf;
    const DwScratch sc = backward_scratch(s, buf.get(backward_scratch_floats(s)));
#pragma omp for schedule(static)
    for (int c = 0; c < s.C; ++c) fn(s, c, x, w, dy, dx, dw, sc);
  }
}

}  // namespace nasnet::cpu
