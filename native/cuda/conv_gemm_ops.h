// The three implicit-GEMM products of a convolution as element functions for the tiled GEMM
// (gemm_tiled.cuh): operand reads a(z, m, k), b(z, k, n) and the epilogue store(z, split, m, n, acc).
// Plain C++ as well as CUDA (NASNET_HD), so the host tests can drive the same index arithmetic
// through a reference loop (tests/cuda_conv_ops_test.cc) on machines without a device.
// N = batch, C = input channels, K = output channels, Cg = C/groups, Kg = K/groups,
// R = Cg·kh·kw (one filter's taps), H, W / OH, OW = input / output sizes.
#pragma once
#include <algorithm>
#include <cstddef>

#include "core/random.h"  // NASNET_HD
#include "core/shapes.h"
#include "cuda/tiles.h"

namespace nasnet::cuda {

struct ConvDims {
  int N, C, H, W, K, kh, kw, sh, sw, pt, pl, dh, dw, OH, OW, Cg, Kg, khw, R;
};

inline ConvDims dims_of(const ConvShape& s) {
  ConvDims d{s.N, s.C, s.H, s.W, s.K, s.kh, s.kw, s.sh, s.sw, s.pt, s.pl, s.dh, s.dw, s.OH, s.OW,
             s.C / s.groups, s.K / s.groups, s.kh * s.kw, 0};
  d.R = d.Cg * d.khw;
  return d;
}

// x[b, g*Cg + c, oh*sh - pt + i*dh, ow*sw - pl + j*dw] for im2col row r = (c, i, j), column p = (b, oh, ow),
// or 0 in the padding.
NASNET_HD float im2col_at(const ConvDims& d, const float* x, int g, int r, int p) {
  int c = r / d.khw, t = r % d.khw, i = t / d.kw, j = t % d.kw;
  int ohw = d.OH * d.OW;
  int b = p / ohw, q = p % ohw, oh = q / d.OW, ow = q % d.OW;
  int h = oh * d.sh - d.pt + i * d.dh, w = ow * d.sw - d.pl + j * d.dw;
  if (h < 0 || h >= d.H || w < 0 || w >= d.W) return 0.f;
  return x[(((size_t)b * d.C + g * d.Cg + c) * d.H + h) * d.W + w];
}

struct ConvForwardOp {
  ConvDims d;
  const float *x, *w, *bias;
  float* y;
  NASNET_HD float a(int g, int m, int k) const { return w[((size_t)g * d.Kg + m) * d.R + k]; }
  NASNET_HD float b(int g, int k, int n) const { return im2col_at(d, x, g, k, n); }
  NASNET_HD void store(int g, int, int m, int n, float acc) const {
    int ohw = d.OH * d.OW, bi = n / ohw, q = n % ohw, k = g * d.Kg + m;
    y[((size_t)bi * d.K + k) * ohw + q] = acc + (bias != nullptr ? bias[k] : 0.f);
  }
};

// Rows m = input channel c within the group; reduction k = (output channel kk, i, j); columns
// n = input pixel (b, h, w). The dy element that tap (i, j) of output (oh, ow) took from (h, w) is
// the one with oh*sh = h + pt - i*dh (when that divides and lands inside), likewise ow.
struct ConvBackwardDataOp {
  ConvDims d;
  const float *w, *dy;
  float* dx;
  NASNET_HD float a(int g, int m, int k) const {
    int kk = k / d.khw, t = k % d.khw;
    return w[(((size_t)g * d.Kg + kk) * d.Cg + m) * d.khw + t];
  }
  NASNET_HD float b(int g, int k, int n) const {
    int kk = k / d.khw, t = k % d.khw, i = t / d.kw, j = t % d.kw;
    int hw = d.H * d.W, bi = n / hw, q = n % hw, h = q / d.W, w_ = q % d.W;
    int th = h + d.pt - i * d.dh, tw = w_ + d.pl - j * d.dw;
    if (th < 0 || tw < 0 || th % d.sh != 0 || tw % d.sw != 0) return 0.f;
    int oh = th / d.sh, ow = tw / d.sw;
    if (oh >= d.OH || ow >= d.OW) return 0.f;
    return dy[(((size_t)bi * d.K + g * d.Kg + kk) * d.OH + oh) * d.OW + ow];
  }
  NASNET_HD void store(int g, int, int m, int n, float acc) const {
    int hw = d.H * d.W, bi = n / hw, q = n % hw;
    dx[((size_t)bi * d.C + g * d.Cg + m) * hw + q] = acc;
  }
};

// Rows m = output channel within the group; reduction k = output pixel (b, oh, ow); columns n = tap r.
// With splits > 1 each split writes its partial to `part` [splits, groups, Kg, R]; otherwise dw += acc.
struct ConvBackwardFilterOp {
  ConvDims d;
  int groups;
  const float *x, *dy;
  float *dw, *part;
  NASNET_HD float a(int g, int m, int k) const {
    int ohw = d.OH * d.OW, bi = k / ohw, q = k % ohw;
    return dy[((size_t)bi * d.K + g * d.Kg + m) * ohw + q];
  }
  NASNET_HD float b(int g, int k, int n) const { return im2col_at(d, x, g, n, k); }
  NASNET_HD void store(int g, int split, int m, int n, float acc) const {
    size_t at = ((size_t)g * d.Kg + m) * d.R + n;
    if (part == nullptr) {
      dw[at] += acc;
    } else {
      part[(size_t)split * groups * d.Kg * d.R + at] = acc;
    }
  }
};

// How backward filter splits its reduction over the N·OH·OW output pixels: enough splits to fill the
// device (~512 tiles), chunks of whole 16-deep K steps. Depends on the shape only (deterministic).
inline void filter_splits(const ConvShape& s, int* splits, int* chunk) {
  const int tile_m = kTileM, tile_n = kTileN, tile_k = kTileK;
  const ConvDims d = dims_of(s);
  const int reduce = s.N * s.OH * s.OW;
  const int tiles = ((d.Kg + tile_m - 1) / tile_m) * ((d.R + tile_n - 1) / tile_n) * s.groups;
  int sp = std::min(std::max(1, reduce / 1024), std::max(1, 512 / tiles));
  sp = std::min(sp, std::max(1, 65535 / s.groups));
  int ch = (reduce + sp - 1) / sp;
  ch = (ch + tile_k - 1) / tile_k * tile_k;
  *chunk = ch;
  *splits = (reduce + ch - 1) / ch;
}

}  // namespace nasnet::cuda
