// Pooling: max (with argmax), average (count_include_pad 0/1) and global average.
// N = batch, C = channels, H, W = input size, OH, OW = output size, kh, kw = window,
// sh, sw = strides, pt/pl/pb/pr = pads. Every output and dx is written (=).
// Threads split the N*C planes; backward writes each dx plane from its own dy plane only.
#include <cstring>
#include <limits>

#include "cpu/dispatch.h"
#include "cpu/kernels.h"

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

}  // namespace

void maxpool_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax) {
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int planes = s.N * s.C;
#pragma omp parallel for schedule(static) num_threads(kernel_threads())
  for (int p = 0; p < planes; ++p) {
    const float* xp = x + p * HW;
    float* yp = y + p * OHW;
    int32_t* ap = argmax != nullptr ? argmax + p * OHW : nullptr;
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow) {
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
#pragma omp parallel for schedule(static) num_threads(kernel_threads())
  for (int p = 0; p < planes; ++p) {
    const float* xp = x + p * HW;
    float* yp = y + p * OHW;
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow) {
        const Window win = window(s, oh, ow);
        float sum = 0.0f;
        for (int h = win.h0; h < win.h1; ++h)
          for (int w = win.w0; w < win.w1; ++w) sum += xp[h * s.W + w];
        const int d = divisor(s, oh, ow, win);
        yp[oh * s.OW + ow] = d > 0 ? sum / static_cast<float>(d) : 0.0f;
      }
  }
}

void avgpool_backward(const PoolShape& s, const float* dy, float* dx) {
  const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
  const int planes = s.N * s.C;
#pragma omp parallel for schedule(static) num_threads(kernel_threads())
  for (int p = 0; p < planes; ++p) {
    float* dxp = dx + p * HW;
    std::memset(dxp, 0, sizeof(float) * HW);
    const float* dyp = dy + p * OHW;
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow) {
        const Window win = window(s, oh, ow);
        const int d = divisor(s, oh, ow, win);
        if (d <= 0) continue;
        const float g = dyp[oh * s.OW + ow] / static_cast<float>(d);
        for (int h = win.h0; h < win.h1; ++h)
          for (int w = win.w0; w < win.w1; ++w) dxp[h * s.W + w] += g;
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
