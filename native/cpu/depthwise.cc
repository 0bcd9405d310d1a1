// Depthwise convolution (groups == C == K), forward and backward: conv2d_forward/backward route
// depthwise shapes here, and the fused separable kernels (fused_conv_bn.cc) call the per-plane and
// per-image entry points from inside their own per-image threads.
//
// Forward: each (n, c) plane is copied into a zero-padded buffer (stride 2: even/odd columns
// de-interleaved), then 16 output columns × 4 rows of accumulators are kept in vectors. Backward per
// channel: dw from the same padded plane; dx at stride 1 as the correlation of padded dy with the
// flipped kernel (same vector kernel), other strides by a scatter.
#include <algorithm>
#include <cstring>

#include "cpu/depthwise.h"
#include "cpu/dispatch.h"
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

inline void pad_plane(const ConvShape& s, const DwGeom& g, const float* xp, float* xpad) {
  std::memset(xpad, 0, sizeof(float) * g.p_floats);
  if (s.sw == 2) {
    // De-interleaved rows: padded column c goes to (c & 1) * half + (c >> 1), so stride-2 reads of
    // 16 outputs become one contiguous load.
    for (int h = 0; h < s.H; ++h) {
      float* row = xpad + static_cast<size_t>(h + s.pt) * g.ld;
      const float* src = xp + static_cast<size_t>(h) * s.W;
      for (int w = 0; w < s.W; ++w) {
        const int c = w + s.pl;
        row[(c & 1) * g.half + (c >> 1)] = src[w];
      }
    }
    return;
  }
  for (int h = 0; h < s.H; ++h)
    std::memcpy(xpad + static_cast<size_t>(h + s.pt) * g.ld + s.pl, xp + static_cast<size_t>(h) * s.W,
                sizeof(float) * s.W);
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

template <int SW, int R>
__attribute__((always_inline)) inline void dw_correlate_rows(const DwPass& q, int step_rt, int oh,
                                                             const float* __restrict in, const float* __restrict wk,
                                                             float bias, float* __restrict out) {
  const int step = SW > 0 ? SW : step_rt;
  const int lstep = SW == 2 ? 1 : step;  // stride of a chunk's 16 values in the buffer
  for (int ow0 = 0; ow0 < q.OW; ow0 += kLanes) {
    vf16 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = vf16{} + bias;
    const float* base = in + q.c0;
    for (int i = 0; i < q.kh; ++i) {
      for (int j = 0; j < q.kw; ++j) {
        const float wv = wk[i * q.kw + j];
        const size_t col = chunk_col<SW>(ow0, step, j * q.dw, q.half);
        for (int r = 0; r < R; ++r)
          acc[r] += wv * load16(base + static_cast<size_t>((oh + r) * q.sh + i * q.dh + q.r0) * q.ld + col, lstep);
      }
    }
    const int n = std::min(kLanes, q.OW - ow0);
    for (int r = 0; r < R; ++r) __builtin_memcpy(out + static_cast<size_t>(oh + r) * q.OW + ow0, &acc[r], sizeof(float) * n);
  }
}

template <int SW>
__attribute__((always_inline)) inline void dw_correlate(const DwPass& q, int step_rt, const float* __restrict in,
                                                        const float* __restrict wk, float bias,
                                                        float* __restrict out) {
  int oh = 0;
  for (; oh + 4 <= q.OH; oh += 4) dw_correlate_rows<SW, 4>(q, step_rt, oh, in, wk, bias, out);
  for (; oh < q.OH; ++oh) dw_correlate_rows<SW, 1>(q, step_rt, oh, in, wk, bias, out);
}

__attribute__((always_inline)) inline void dw_forward_plane_body(const ConvShape& s, const float* __restrict xp,
                                                                 const float* __restrict wk, float bias,
                                                                 float* __restrict yp, float* __restrict xpad) {
  const DwGeom g = dw_geom(s);
  pad_plane(s, g, xp, xpad);
  const DwPass q{s.OH, s.OW, s.kh, s.kw, s.sh, s.dh, s.dw, g.ld, 0, 0, g.half};
  if (s.sw == 1)
    dw_correlate<1>(q, 1, xpad, wk, bias, yp);
  else if (s.sw == 2)
    dw_correlate<2>(q, 2, xpad, wk, bias, yp);
  else
    dw_correlate<0>(q, s.sw, xpad, wk, bias, yp);
}

// One channel c over all images: dx planes written (when dx), dw[c] and db[c] accumulated.
// dxpad collects the scatter dxpad[oh*sh + i*dh, ow*sw + j*dw] += w[i, j] * dy[oh, ow] (its interior
// is then dx); dw[i, j] += sum dy[oh, ow] * xpad[...], 16 lanes per tap in float per image, then
// added into double.
template <int SW>
__attribute__((always_inline)) inline void dw_backward_channel_impl(const ConvShape& s, int sw, int c,
                                                                    const float* __restrict x,
                                                                    const float* __restrict w,
                                                                    const float* __restrict dy, float* __restrict dx,
                                                                    float* __restrict dw, float* __restrict xpad,
                                                                    float* __restrict dxpad, vf16* __restrict part,
                                                                    double* __restrict acc) {
  const int step = SW > 0 ? SW : sw;
  const int lstep = SW == 2 ? 1 : step;  // stride 2: x and dx buffers are de-interleaved
  const DwGeom g = dw_geom(s);
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int taps = s.kh * s.kw;
  const float* wk = w + static_cast<size_t>(c) * taps;
  for (int t = 0; t < taps; ++t) acc[t] = 0.0;
  // Stride 1: dx is the correlation of dy (zero-padded, at offset (A, B)) with the flipped kernel:
  // dx[ih, iw] = sum_ij w[kh-1-i, kw-1-j] * dypad[ih + pt + i*dh, iw + pl + j*dw]. Other strides
  // scatter into dxpad.
  constexpr int kMaxFlip = 256;
  const bool gather = SW == 1 && s.sh == 1 && taps <= kMaxFlip;
  float wflip[kMaxFlip];
  if (gather)
    for (int t = 0; t < taps; ++t) wflip[t] = wk[taps - 1 - t];
  const DwPass qdx{s.H, s.W, s.kh, s.kw, 1, s.dh, s.dw, g.Wq, s.pt, s.pl, 0};
  for (int n = 0; n < s.N; ++n) {
    const float* xp = x + (static_cast<size_t>(n) * s.C + c) * HW;
    const float* dyp = dy + (static_cast<size_t>(n) * s.K + c) * OHW;
    if (dw != nullptr) {
      pad_plane(s, g, xp, xpad);
      std::memset(static_cast<void*>(part), 0, sizeof(vf16) * taps);
    }
    if (dx != nullptr) std::memset(dxpad, 0, sizeof(float) * (gather ? g.q_floats : g.p_floats));
    if (dx != nullptr && gather) {
      // dxpad holds the padded dy here
      for (int oh = 0; oh < s.OH; ++oh)
        std::memcpy(dxpad + static_cast<size_t>(g.A + oh) * g.Wq + g.B, dyp + static_cast<size_t>(oh) * s.OW,
                    sizeof(float) * s.OW);
      dw_correlate<1>(qdx, 1, dxpad, wflip, 0.0f, dx + (static_cast<size_t>(n) * s.C + c) * HW);
    }
    const bool scatter_dx = dx != nullptr && !gather;
    // dw: four output rows per pass, so each tap's partial is read and written once per four FMAs.
    for (int oh = 0; oh < s.OH && dw != nullptr;) {
      const int R = s.OH - oh >= 4 ? 4 : 1;
      for (int ow0 = 0; ow0 < s.OW; ow0 += kLanes) {
        const int nv = std::min(kLanes, s.OW - ow0);
        vf16 dyv[4];
        for (int r = 0; r < R; ++r) {
          float dtmp[kLanes] = {};
          __builtin_memcpy(dtmp, dyp + static_cast<size_t>(oh + r) * s.OW + ow0, sizeof(float) * nv);
          __builtin_memcpy(&dyv[r], dtmp, sizeof(vf16));
        }
        for (int i = 0; i < s.kh; ++i)
          for (int j = 0; j < s.kw; ++j) {
            const size_t col = chunk_col<SW>(ow0, step, j * s.dw, g.half);
            const float* x0 = xpad + static_cast<size_t>(oh * s.sh + i * s.dh) * g.ld + col;
            const size_t rs = static_cast<size_t>(s.sh) * g.ld;  // next output row
            vf16 t = dyv[0] * load16(x0, lstep);
            if (R == 4) {
              t += dyv[1] * load16(x0 + rs, lstep);
              t += dyv[2] * load16(x0 + 2 * rs, lstep);
              t += dyv[3] * load16(x0 + 3 * rs, lstep);
            }
            part[i * s.kw + j] += t;
          }
      }
      oh += R;
    }
    // dx for strides other than 1: scatter into dxpad.
    for (int oh = 0; oh < s.OH && scatter_dx; ++oh) {
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
    if (dw != nullptr)
      for (int t = 0; t < taps; ++t) {
        float sum = 0.0f;
        for (int l = 0; l < kLanes; ++l) sum += part[t][l];
        acc[t] += sum;
      }
    if (scatter_dx) {
      float* dxp = dx + (static_cast<size_t>(n) * s.C + c) * HW;
      for (int h = 0; h < s.H; ++h) {
        const float* row = dxpad + static_cast<size_t>(h + s.pt) * g.ld;
        float* dst = dxp + static_cast<size_t>(h) * s.W;
        if (SW == 2) {
          for (int w = 0; w < s.W; ++w) {
            const int c = w + s.pl;
            dst[w] = row[(c & 1) * g.half + (c >> 1)];
          }
        } else {
          std::memcpy(dst, row + s.pl, sizeof(float) * s.W);
        }
      }
    }
  }
  if (dw != nullptr)
    for (int t = 0; t < taps; ++t) dw[static_cast<size_t>(c) * taps + t] += static_cast<float>(acc[t]);
}

struct DwScratch {
  float* xpad;
  float* dxpad;
  vf16* part;
  double* acc;
};

__attribute__((always_inline)) inline void dw_backward_channel_body(const ConvShape& s, int c, const float* x,
                                                                    const float* w, const float* dy, float* dx,
                                                                    float* dw, const DwScratch& b) {
  if (s.sw == 1)
    dw_backward_channel_impl<1>(s, 1, c, x, w, dy, dx, dw, b.xpad, b.dxpad, b.part, b.acc);
  else if (s.sw == 2)
    dw_backward_channel_impl<2>(s, 2, c, x, w, dy, dx, dw, b.xpad, b.dxpad, b.part, b.acc);
  else
    dw_backward_channel_impl<0>(s, s.sw, c, x, w, dy, dx, dw, b.xpad, b.dxpad, b.part, b.acc);
}

#define NASNET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define NASNET_AVX2 __attribute__((target("avx2,fma")))

using DwForwardFn = void (*)(const ConvShape&, const float*, const float*, float, float*, float*);
using DwBackwardFn = void (*)(const ConvShape&, int, const float*, const float*, const float*, float*, float*,
                              const DwScratch&);

NASNET_AVX512 void dw_forward_plane_avx512(const ConvShape& s, const float* xp, const float* wk, float b, float* yp,
                                           float* xpad) {
  dw_forward_plane_body(s, xp, wk, b, yp, xpad);
}
NASNET_AVX2 void dw_forward_plane_avx2(const ConvShape& s, const float* xp, const float* wk, float b, float* yp,
                                       float* xpad) {
  dw_forward_plane_body(s, xp, wk, b, yp, xpad);
}
void dw_forward_plane_portable(const ConvShape& s, const float* xp, const float* wk, float b, float* yp, float* xpad) {
  dw_forward_plane_body(s, xp, wk, b, yp, xpad);
}
NASNET_AVX512 void dw_backward_channel_avx512(const ConvShape& s, int c, const float* x, const float* w,
                                              const float* dy, float* dx, float* dw, const DwScratch& b) {
  dw_backward_channel_body(s, c, x, w, dy, dx, dw, b);
}
NASNET_AVX2 void dw_backward_channel_avx2(const ConvShape& s, int c, const float* x, const float* w, const float* dy,
                                          float* dx, float* dw, const DwScratch& b) {
  dw_backward_channel_body(s, c, x, w, dy, dx, dw, b);
}
void dw_backward_channel_portable(const ConvShape& s, int c, const float* x, const float* w, const float* dy,
                                  float* dx, float* dw, const DwScratch& b) {
  dw_backward_channel_body(s, c, x, w, dy, dx, dw, b);
}

DwForwardFn forward_fn() {
  switch (active_simd()) {
    case SimdLevel::kAvx512: return dw_forward_plane_avx512;
    case SimdLevel::kAvx2: return dw_forward_plane_avx2;
    default: return dw_forward_plane_portable;
  }
}

DwBackwardFn backward_fn() {
  switch (active_simd()) {
    case SimdLevel::kAvx512: return dw_backward_channel_avx512;
    case SimdLevel::kAvx2: return dw_backward_channel_avx2;
    default: return dw_backward_channel_portable;
  }
}

// [part: taps vf16 (64-byte aligned)] [acc: taps doubles] [xpad] [dxpad]
size_t backward_scratch_floats(const ConvShape& s) {
  const size_t taps = static_cast<size_t>(s.kh) * s.kw;
  return taps * kLanes + 2 * taps + 2 * dw_geom(s).floats;
}

DwScratch backward_scratch(const ConvShape& s, float* base) {
  const size_t taps = static_cast<size_t>(s.kh) * s.kw;
  DwScratch sc;
  sc.part = reinterpret_cast<vf16*>(base);
  sc.acc = reinterpret_cast<double*>(base + taps * kLanes);
  sc.xpad = base + taps * kLanes + 2 * taps;
  sc.dxpad = sc.xpad + dw_geom(s).floats;
  return sc;
}

}  // namespace

size_t depthwise_plane_scratch_floats(const ConvShape& s) { return dw_geom(s).floats; }

void depthwise_forward_plane(const ConvShape& s, const float* xp, const float* wk, float bias, float* yp,
                             float* scratch) {
  forward_fn()(s, xp, wk, bias, yp, scratch);
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
  const int taps = s.kh * s.kw;
  const size_t pad_floats = dw_geom(s).floats;
#pragma omp parallel num_threads(kernel_threads())
  {
    thread_local Scratch pad_buf;
    float* xpad = pad_buf.get(pad_floats);
#pragma omp for schedule(static)
    for (int p = 0; p < planes; ++p) {
      const int c = p % s.C;
      fn(s, x + p * HW, w + static_cast<size_t>(c) * taps, b != nullptr ? b[c] : 0.0f, y + p * OHW, xpad);
    }
  }
}

void depthwise_backward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx, float* dw,
                        float* db) {
  const size_t OHW = static_cast<size_t>(s.OH) * s.OW;
  if (db != nullptr) {
#pragma omp parallel for schedule(static) num_threads(kernel_threads())
    for (int c = 0; c < s.C; ++c) {
      double sum = 0.0;
      for (int n = 0; n < s.N; ++n) {
        const float* r = dy + (static_cast<size_t>(n) * s.K + c) * OHW;
        float part = 0.0f;
#pragma omp simd reduction(+ : part)
        for (size_t q = 0; q < OHW; ++q) part += r[q];
        sum += part;
      }
      db[c] += static_cast<float>(sum);
    }
  }
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
