// Per-element bodies of the index-heavy CUDA kernels (depthwise.cu, pool.cu, layout.cu): what one
// thread computes for flat index `idx`. Plain C++ as well as CUDA (NASNET_HD), so the host tests
// (tests/cuda_pixel_ops_test.cc) check the same seeks against the CPU kernels without a device.
// N = batch, C = channels, H, W = input size, OH, OW = output size, kh, kw = window, sh, sw =
// strides, pt, pl, pb, pr = pads, dh, dw = dilations, tap t = (i, j) of the window.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/nan.h"
#include "core/random.h"  // NASNET_HD
#include "core/shapes.h"

namespace nasnet::cuda {

// idx = (plane · rows + row) · cols + col, split into (col, row, plane): in 32-bit arithmetic when idx
// fits (a GPU divides 64-bit integers in software, several times slower), else in 64-bit.
NASNET_HD void unflatten(size_t idx, int cols, int rows, int* col, int* row, size_t* plane) {
  if (idx <= 0xffffffffu) {
    const unsigned u = static_cast<unsigned>(idx), q = u / static_cast<unsigned>(cols);
    *col = static_cast<int>(u - q * static_cast<unsigned>(cols));
    *row = static_cast<int>(q % static_cast<unsigned>(rows));
    *plane = q / static_cast<unsigned>(rows);
  } else {
    const size_t q = idx / static_cast<size_t>(cols);
    *col = static_cast<int>(idx - q * cols);
    *row = static_cast<int>(q % rows);
    *plane = q / rows;
  }
}

// ---- depthwise (w: [C, 1, kh, kw]) ----------------------------------------------------------------

// y[idx], idx over [N, C, OH, OW]; taps in (i, j) order; relu_input applies the ReLU on read (NaN stays NaN).
NASNET_HD float depthwise_out_at(const ConvShape& s, const float* x, const float* w, const float* b, size_t idx,
                                 bool relu_input) {
  int ow, oh;
  size_t nc;
  unflatten(idx, s.OW, s.OH, &ow, &oh, &nc);
  int c = nc % s.C;
  const float* xp = x + nc * s.H * s.W;
  const float* wp = w + (size_t)c * s.kh * s.kw;
  float acc = 0.f;
  for (int i = 0; i < s.kh; ++i) {
    int h = oh * s.sh - s.pt + i * s.dh;
    if (h < 0 || h >= s.H) continue;
    for (int j = 0; j < s.kw; ++j) {
      int ww = ow * s.sw - s.pl + j * s.dw;
      if (ww < 0 || ww >= s.W) continue;
      float v = xp[(size_t)h * s.W + ww];
      if (relu_input) v = relu_value(v);
      acc = fmaf(v, wp[i * s.kw + j], acc);
    }
  }
  return acc + (b != nullptr ? b[c] : 0.f);
}

// dx[idx], idx over [N, C, H, W]: gathers the outputs whose tap (i, j) read this pixel, i.e.
// oh*sh = h + pt - i*dh when that divides and lands inside, likewise ow.
NASNET_HD float depthwise_dx_at(const ConvShape& s, const float* w, const float* dy, size_t idx) {
  int ww, h;
  size_t nc;
  unflatten(idx, s.W, s.H, &ww, &h, &nc);
  int c = nc % s.C;
  const float* dyp = dy + nc * s.OH * s.OW;
  const float* wp = w + (size_t)c * s.kh * s.kw;
  float acc = 0.f;
  for (int i = 0; i < s.kh; ++i) {
    int th = h + s.pt - i * s.dh;
    if (th < 0 || th % s.sh != 0) continue;
    int oh = th / s.sh;
    if (oh >= s.OH) continue;
    for (int j = 0; j < s.kw; ++j) {
      int tw = ww + s.pl - j * s.dw;
      if (tw < 0 || tw % s.sw != 0) continue;
      int ow = tw / s.sw;
      if (ow >= s.OW) continue;
      acc = fmaf(dyp[(size_t)oh * s.OW + ow], wp[i * s.kw + j], acc);
    }
  }
  return acc;
}

// dw[c, tap] = sum over (n, oh, ow) of dy * x, as a split reduction (the batch norm's, norm_ops.h):
// block (c·khw + tap, j) sums slice j of the images, images [j·N/S, (j+1)·N/S), and the S slice
// partials are summed in order. The slice count depends on the shape alone: deterministic.
constexpr int kDwTargetBlocks = 2048;

NASNET_HD int depthwise_dw_slices(const ConvShape& s) {
  const long long rows = (long long)s.C * s.kh * s.kw;
  const long long want = rows > 0 ? (kDwTargetBlocks + rows - 1) / rows : 1;
  return s.N < want ? (s.N > 0 ? s.N : 1) : static_cast<int>(want);
}
NASNET_HD int depthwise_dw_slice_begin(const ConvShape& s, int slices, int j) {
  return static_cast<int>((static_cast<long long>(s.N) * j) / slices);
}

// One thread's share of slice [n0, n1) of dw[c, tap]: elements first, first + step, ... of the
// flattened [n0, n1) × OH × OW (32-bit: the launcher checks the slice fits); relu_input reads relu(x).
NASNET_HD double depthwise_dw_slice_partial(const ConvShape& s, const float* x, const float* dy, int c, int tap,
                                            int n0, int n1, unsigned first, unsigned step, bool relu_input = false) {
  const int i = tap / s.kw, j = tap % s.kw;
  const unsigned ow_n = static_cast<unsigned>(s.OW), ohw = static_cast<unsigned>(s.OH) * ow_n;
  const unsigned count = static_cast<unsigned>(n1 - n0) * ohw;
  double acc = 0.0;
  for (unsigned e = first; e < count; e += step) {
    const unsigned n = n0 + e / ohw, q = e % ohw;
    const int oh = q / ow_n, ow = q % ow_n;
    const int h = oh * s.sh - s.pt + i * s.dh, ww = ow * s.sw - s.pl + j * s.dw;
    if (h < 0 || h >= s.H || ww < 0 || ww >= s.W) continue;
    const size_t plane = (size_t)n * s.C + c;
    const float v = x[(plane * s.H + h) * s.W + ww];
    acc += (double)dy[plane * ohw + q] * (relu_input ? relu_value(v) : v);
  }
  return acc;
}

// ---- pooling ---------------------------------------------------------------------------------------

// Outputs o (in [0, out)) whose window [o*stride - pad, o*stride - pad + k) covers input position h.
NASNET_HD void pool_covering(int h, int pad, int k, int stride, int out, int* lo, int* hi) {
  int top = h + pad - k + 1;  // smallest o*stride allowed
  *lo = top <= 0 ? 0 : (top + stride - 1) / stride;
  int last = (h + pad) / stride;
  *hi = last < out - 1 ? last : out - 1;
}

// Average divisor: real input positions, or (count_include_pad) the window clipped to the padded extent.
NASNET_HD int pool_avg_divisor(const PoolShape& s, int oh, int ow) {
  int h0 = oh * s.sh - s.pt, w0 = ow * s.sw - s.pl;
  int h1 = h0 + s.kh, w1 = w0 + s.kw;
  if (s.count_include_pad) {
    int he = h1 < s.H + s.pb ? h1 : s.H + s.pb, we = w1 < s.W + s.pr ? w1 : s.W + s.pr;
    return (he - h0) * (we - w0);
  }
  int hv = (h1 < s.H ? h1 : s.H) - (h0 > 0 ? h0 : 0), wv = (w1 < s.W ? w1 : s.W) - (w0 > 0 ? w0 : 0);
  return hv * wv;
}

// y and argmax (offset h*W + w in the plane, -1 when the window holds no input) of output idx.
// Padded positions are ignored (ONNX); ties keep the first in (i, j) order; a NaN wins (core/nan.h).
NASNET_HD void maxpool_out_at(const PoolShape& s, const float* x, size_t idx, float* y, int32_t* arg_out) {
  int ow, oh;
  size_t plane;
  unflatten(idx, s.OW, s.OH, &ow, &oh, &plane);
  const float* xp = x + plane * s.H * s.W;
  float best = -FLT_MAX;
  int arg = -1;
  for (int i = 0; i < s.kh; ++i) {
    int h = oh * s.sh - s.pt + i;
    if (h < 0 || h >= s.H) continue;
    for (int j = 0; j < s.kw; ++j) {
      int w = ow * s.sw - s.pl + j;
      if (w < 0 || w >= s.W) continue;
      float v = xp[h * s.W + w];
      if (arg < 0 || max_takes(v, best)) {
        best = v;
        arg = h * s.W + w;
      }
    }
  }
  *y = arg < 0 ? 0.f : best;
  *arg_out = arg;
}

// dx[idx], idx over [N, C, H, W]: dy of every covering window whose argmax is this pixel, in (oh, ow) order.
NASNET_HD float maxpool_dx_at(const PoolShape& s, const int32_t* argmax, const float* dy, size_t idx) {
  int w, h;
  size_t plane;
  unflatten(idx, s.W, s.H, &w, &h, &plane);
  const float* dyp = dy + plane * s.OH * s.OW;
  const int32_t* ap = argmax + plane * s.OH * s.OW;
  int oh0, oh1, ow0, ow1;
  pool_covering(h, s.pt, s.kh, s.sh, s.OH, &oh0, &oh1);
  pool_covering(w, s.pl, s.kw, s.sw, s.OW, &ow0, &ow1);
  const int self = h * s.W + w;
  float acc = 0.f;
  for (int oh = oh0; oh <= oh1; ++oh)
    for (int ow = ow0; ow <= ow1; ++ow)
      if (ap[oh * s.OW + ow] == self) acc += dyp[oh * s.OW + ow];
  return acc;
}

NASNET_HD float avgpool_out_at(const PoolShape& s, const float* x, size_t idx) {
  int ow, oh;
  size_t plane;
  unflatten(idx, s.OW, s.OH, &ow, &oh, &plane);
  const float* xp = x + plane * s.H * s.W;
  float acc = 0.f;
  for (int i = 0; i < s.kh; ++i) {
    int h = oh * s.sh - s.pt + i;
    if (h < 0 || h >= s.H) continue;
    for (int j = 0; j < s.kw; ++j) {
      int w = ow * s.sw - s.pl + j;
      if (w < 0 || w >= s.W) continue;
      acc += xp[h * s.W + w];
    }
  }
  int div = pool_avg_divisor(s, oh, ow);
  return div > 0 ? acc / (float)div : 0.f;
}

NASNET_HD float avgpool_dx_at(const PoolShape& s, const float* dy, size_t idx) {
  int w, h;
  size_t plane;
  unflatten(idx, s.W, s.H, &w, &h, &plane);
  const float* dyp = dy + plane * s.OH * s.OW;
  int oh0, oh1, ow0, ow1;
  pool_covering(h, s.pt, s.kh, s.sh, s.OH, &oh0, &oh1);
  pool_covering(w, s.pl, s.kw, s.sw, s.OW, &ow0, &ow1);
  float acc = 0.f;
  for (int oh = oh0; oh <= oh1; ++oh)
    for (int ow = ow0; ow <= ow1; ++ow) {
      int div = pool_avg_divisor(s, oh, ow);
      if (div > 0) acc += dyp[oh * s.OW + ow] / (float)div;
    }
  return acc;
}

// ---- layout ----------------------------------------------------------------------------------------

// Offset in a [N, Cb, HW] tensor of element i of its channel block [N, Cs, HW] at channel offset off.
NASNET_HD size_t channel_block_at(size_t i, int HW, int Cs, int Cb, int off) {
  size_t hw = i % HW, c = (i / HW) % Cs, b = i / ((size_t)HW * Cs);
  return (b * Cb + off + c) * HW + hw;
}

// Padded output y[idx] (idx over [N, C, OH, OW], OH = H + pt + pb; negative pads crop).
NASNET_HD float pad_out_at(int H, int W, int pt, int pl, int OH, int OW, const float* x, size_t idx) {
  int ow = idx % OW, oh = (idx / OW) % OH;
  size_t plane = idx / ((size_t)OW * OH);
  int h = oh - pt, w = ow - pl;
  return (h >= 0 && h < H && w >= 0 && w < W) ? x[(plane * H + h) * W + w] : 0.f;
}

NASNET_HD float pad_dx_at(int H, int W, int pt, int pl, int OH, int OW, const float* dy, size_t idx) {
  int w = idx % W, h = (idx / W) % H;
  size_t plane = idx / ((size_t)W * H);
  int oh = h + pt, ow = w + pl;
  return (oh >= 0 && oh < OH && ow >= 0 && ow < OW) ? dy[(plane * OH + oh) * OW + ow] : 0.f;
}

NASNET_HD float slice_out_at(int H, int W, int h0, int w0, int sh, int sw, int OH, int OW, const float* x,
                             size_t idx) {
  int j = idx % OW, r = (idx / OW) % OH;
  long long plane = (long long)(idx / ((size_t)OW * OH));
  return x[(plane * H + h0 + (long long)r * sh) * W + w0 + (long long)j * sw];
}

// Steps may be negative: position h was read by row r = (h - h0) / sh when that divides exactly.
NASNET_HD float slice_dx_at(int H, int W, int h0, int w0, int sh, int sw, int OH, int OW, const float* dy,
                            size_t idx) {
  int w = idx % W, h = (idx / W) % H;
  size_t plane = idx / ((size_t)W * H);
  int dh = h - h0, dw = w - w0;
  if (dh % sh != 0 || dw % sw != 0) return 0.f;
  int r = dh / sh, j = dw / sw;
  return (r >= 0 && r < OH && j >= 0 && j < OW) ? dy[(plane * OH + r) * OW + j] : 0.f;
}

}  // namespace nasnet::cuda
