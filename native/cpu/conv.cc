// Convolution, forward and backward.
// N = batch, C = channels in, K = channels out, H, W = input size, OH, OW = output size,
// kh, kw = kernel size, sh, sw = strides, pt/pl/pb/pr = pads, dh, dw = dilations,
// Cg = C / groups, Kg = K / groups, CKK = Cg * kh * kw (one column of im2col), OHW = OH * OW.
//
// Activations and dx are written (=); dw and db accumulate (+=).
//
// Paths:
// - pointwise (1×1, stride 1, no pad): per image and group, y = W[Kg, Cg] · x[Cg, HW], one GEMM.
// - strided pointwise (1×1, stride > 1, groups 1; the backward without pads): conv_strided.cc
//   (blocks of rows across images, dx written once).
// - general (any kernel, stride, dilation, pads, groups): im2col of one image into col[CKK, OHW],
//   then y = W[Kg, CKK] · col. Backward: dW += dY · colᵀ, dcol = Wᵀ · dY then col2im into dx.
// - depthwise (groups == C == K): direct kernels in depthwise.cc.
// Threads: with at least as many images as threads, each thread takes whole images (serial GEMMs,
// its own col buffer and its own dw partial, summed in thread order at the end: deterministic for a
// given thread count); otherwise images run one after another with multithreaded GEMMs.
#include <algorithm>
#include <cstring>

#include "cpu/conv_strided.h"
#include "cpu/depthwise.h"
#include "cpu/dispatch.h"
#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "cpu/scratch.h"

namespace nasnet::cpu {
namespace {

// Output columns ow in [lo, hi) whose input column ow*stride + off falls inside [0, W).
inline void valid_range(int off, int stride, int W, int OW, int& lo, int& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = W - 1 - off < 0 ? 0 : std::min(OW, (W - 1 - off) / stride + 1);
  if (lo > OW) lo = OW;
  if (hi < lo) hi = lo;
}

// col[(c*kh + i)*kw + j][oh*OW + ow] = x[c, oh*sh - pt + i*dh, ow*sw - pl + j*dw] (0 outside).
void im2col(const ConvShape& s, const float* x, int Cg, float* col) {
  const int OHW = s.OH * s.OW;
  for (int c = 0; c < Cg; ++c)
    for (int i = 0; i < s.kh; ++i)
      for (int j = 0; j < s.kw; ++j) {
        float* row = col + static_cast<size_t>((c * s.kh + i) * s.kw + j) * OHW;
        const int off = j * s.dw - s.pl;
        int lo, hi;
        valid_range(off, s.sw, s.W, s.OW, lo, hi);
        for (int oh = 0; oh < s.OH; ++oh) {
          float* d = row + static_cast<size_t>(oh) * s.OW;
          const int ih = oh * s.sh - s.pt + i * s.dh;
          if (ih < 0 || ih >= s.H) {
            std::memset(d, 0, sizeof(float) * s.OW);
            continue;
          }
          const float* src = x + (static_cast<size_t>(c) * s.H + ih) * s.W;
          for (int ow = 0; ow < lo; ++ow) d[ow] = 0.0f;
          if (s.sw == 1)
            std::memcpy(d + lo, src + lo + off, sizeof(float) * (hi - lo));
          else
            for (int ow = lo; ow < hi; ++ow) d[ow] = src[ow * s.sw + off];
          for (int ow = hi; ow < s.OW; ++ow) d[ow] = 0.0f;
        }
      }
}

// The adjoint of im2col: dx[c, ih, iw] += col[...] (dx must be zeroed first).
void col2im(const ConvShape& s, const float* col, int Cg, float* dx) {
  const int OHW = s.OH * s.OW;
  for (int c = 0; c < Cg; ++c)
    for (int i = 0; i < s.kh; ++i)
      for (int j = 0; j < s.kw; ++j) {
        const float* row = col + static_cast<size_t>((c * s.kh + i) * s.kw + j) * OHW;
        const int off = j * s.dw - s.pl;
        int lo, hi;
        valid_range(off, s.sw, s.W, s.OW, lo, hi);
        for (int oh = 0; oh < s.OH; ++oh) {
          const int ih = oh * s.sh - s.pt + i * s.dh;
          if (ih < 0 || ih >= s.H) continue;
          const float* d = row + static_cast<size_t>(oh) * s.OW;
          float* dst = dx + (static_cast<size_t>(c) * s.H + ih) * s.W;
          if (s.sw == 1)
            for (int ow = lo; ow < hi; ++ow) dst[ow + off] += d[ow];
          else
            for (int ow = lo; ow < hi; ++ow) dst[ow * s.sw + off] += d[ow];
        }
      }
}


}  // namespace

void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  if (is_depthwise(s)) {
    depthwise_forward(s, x, w, b, y);
    return;
  }
  if (is_strided_pointwise(s)) {
    strided_pointwise_forward(s, x, w, b, y);
    return;
  }
  const int Cg = s.C / s.groups, Kg = s.K / s.groups;
  const int CKK = Cg * s.kh * s.kw, OHW = s.OH * s.OW;
  const size_t HW = static_cast<size_t>(s.H) * s.W;
  const bool pointwise = is_pointwise(s);
  // Each group's weights packed once for every image's GEMM.
  const size_t packed_size = sgemm_packed_a_floats(Kg, CKK);
  thread_local Scratch w_packed_buf;
  float* const w_packed = w_packed_buf.get(packed_size * s.groups);
  for (int g = 0; g < s.groups; ++g)
    sgemm_pack_a(false, Kg, CKK, 1.0f, w + static_cast<size_t>(g) * Kg * CKK, CKK, w_packed + packed_size * g);
  auto image = [&](int n, float* col) {
    for (int g = 0; g < s.groups; ++g) {
      const float* xg = x + (static_cast<size_t>(n) * s.C + static_cast<size_t>(g) * Cg) * HW;
      float* yg = y + (static_cast<size_t>(n) * s.K + static_cast<size_t>(g) * Kg) * OHW;
      const float* bmat = xg;
      if (!pointwise) {
        im2col(s, xg, Cg, col);
        bmat = col;
      }
      sgemm_packed(w_packed + packed_size * g, false, Kg, OHW, CKK, bmat, OHW, 0.0f, yg, OHW,
                   PackedGemmExtras{false, b != nullptr ? b + static_cast<size_t>(g) * Kg : nullptr});
    }
  };
  const size_t col_size = pointwise ? 1 : static_cast<size_t>(CKK) * OHW;
  const int threads = kernel_threads();
  if (threads > 1 && s.N >= threads) {
#pragma omp parallel num_threads(threads)
    {
      thread_local Scratch col_buf;
      float* col = col_buf.get(col_size);
#pragma omp for schedule(static)
      for (int n = 0; n < s.N; ++n) image(n, col);
    }
  } else {
    thread_local Scratch col_buf;
    float* col = col_buf.get(col_size);
    for (int n = 0; n < s.N; ++n) image(n, col);
  }
}

void conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db) {
  const int Cg = s.C / s.groups, Kg = s.K / s.groups;
  const int CKK = Cg * s.kh * s.kw, OHW = s.OH * s.OW;
  const size_t HW = static_cast<size_t>(s.H) * s.W;
  const bool pointwise = is_pointwise(s);
  const int threads = kernel_threads();

  if (db != nullptr) {  // every path: db[k] += sum of dy over images and positions
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int k = 0; k < s.K; ++k) {
      double sum = 0.0;
      for (int n = 0; n < s.N; ++n) {
        const float* r = dy + (static_cast<size_t>(n) * s.K + k) * OHW;
        float part = 0.0f;
#pragma omp simd reduction(+ : part)
        for (int q = 0; q < OHW; ++q) part += r[q];
        sum += part;
      }
      db[k] += static_cast<float>(sum);
    }
  }
  if (is_depthwise(s)) {
    depthwise_backward(s, x, w, dy, dx, dw);
    return;
  }
  if (is_unpadded_strided_pointwise(s)) {
    strided_pointwise_backward(s, x, w, dy, dx, dw);
    return;
  }
  if (dx == nullptr && dw == nullptr) return;
  // Each group's Wᵀ packed once for every image's dX (or dcol) = Wᵀ · dY.
  const size_t packed_size = dx != nullptr ? sgemm_packed_a_floats(CKK, Kg) : 0;
  thread_local Scratch wt_packed_buf;
  float* const wt_packed = wt_packed_buf.get(packed_size * s.groups);
  if (dx != nullptr)
    for (int g = 0; g < s.groups; ++g)
      sgemm_pack_a(true, CKK, Kg, 1.0f, w + static_cast<size_t>(g) * Kg * CKK, CKK, wt_packed + packed_size * g);

  // One image: dw_acc += dY_n · col_nᵀ per group; dx_n = col2im(Wᵀ · dY_n).
  auto image = [&](int n, float* col, float* dw_acc) {
    for (int g = 0; g < s.groups; ++g) {
      const float* xg = x + (static_cast<size_t>(n) * s.C + static_cast<size_t>(g) * Cg) * HW;
      const float* dyg = dy + (static_cast<size_t>(n) * s.K + static_cast<size_t>(g) * Kg) * OHW;
      if (dw_acc != nullptr) {
        const float* bmat = xg;
        if (!pointwise) {
          im2col(s, xg, Cg, col);
          bmat = col;
        }
        sgemm(false, true, Kg, CKK, OHW, 1.0f, dyg, OHW, bmat, OHW, 1.0f, dw_acc + static_cast<size_t>(g) * Kg * CKK,
              CKK);
      }
      if (dx != nullptr) {
        float* dxg = dx + (static_cast<size_t>(n) * s.C + static_cast<size_t>(g) * Cg) * HW;
        if (pointwise) {
          sgemm_packed(wt_packed + packed_size * g, false, Cg, OHW, Kg, dyg, OHW, 0.0f, dxg, OHW);
        } else {
          sgemm_packed(wt_packed + packed_size * g, false, CKK, OHW, Kg, dyg, OHW, 0.0f, col, OHW);
          std::memset(dxg, 0, sizeof(float) * Cg * HW);
          col2im(s, col, Cg, dxg);
        }
      }
    }
  };

  const size_t col_size = pointwise ? 1 : static_cast<size_t>(CKK) * OHW;
  const size_t w_size = static_cast<size_t>(s.K) * CKK;
  if (threads > 1 && s.N >= threads) {
    thread_local Scratch part_buf;
    float* parts = dw != nullptr ? part_buf.get(w_size * threads) : nullptr;
#pragma omp parallel num_threads(threads)
    {
      thread_local Scratch col_buf;
      float* col = col_buf.get(col_size);
      const int t = thread_index();
      float* mine = parts != nullptr ? parts + w_size * t : nullptr;
      if (mine != nullptr) std::memset(mine, 0, sizeof(float) * w_size);
#pragma omp for schedule(static)
      for (int n = 0; n < s.N; ++n) image(n, col, mine);
      if (parts != nullptr) {  // partials in thread order (the loop above ends with a barrier)
        size_t lo, hi;
        static_share(w_size, t, team_size(), lo, hi);
        add_partials(lo, hi, team_size(), parts, w_size, dw);
      }
    }
  } else {
    thread_local Scratch col_buf;
    float* col = col_buf.get(col_size);
    for (int n = 0; n < s.N; ++n) image(n, col, dw);
  }
}

}  // namespace nasnet::cpu
