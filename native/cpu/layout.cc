// Layout ops: channel concat, spatial pad/crop, strided spatial slice.
// N = batch, C = channels, H, W = input size, HW = H * W. Every output and dx is written (=).
#include <algorithm>
#include <cstring>

#include "cpu/dispatch.h"
#include "cpu/kernels.h"

namespace nasnet::cpu {

void concat_forward(int N, int HW, int count, const float* const* xs, const int* channels, float* y) {
  int total = 0;
  for (int i = 0; i < count; ++i) total += channels[i];
  parallel_for(N, [&](int n) {
    float* yn = y + static_cast<size_t>(n) * total * HW;
    for (int i = 0; i < count; ++i) {
      const size_t len = static_cast<size_t>(channels[i]) * HW;
      if (xs[i] != nullptr) std::memcpy(yn, xs[i] + n * len, sizeof(float) * len);
      yn += len;
    }
  });
}

void concat_backward(int N, int HW, int count, const float* dy, const int* channels, float* const* dxs) {
  int total = 0;
  for (int i = 0; i < count; ++i) total += channels[i];
  parallel_for(N, [&](int n) {
    const float* dyn = dy + static_cast<size_t>(n) * total * HW;
    for (int i = 0; i < count; ++i) {
      const size_t len = static_cast<size_t>(channels[i]) * HW;
      if (dxs[i] != nullptr) std::memcpy(dxs[i] + n * len, dyn, sizeof(float) * len);
      dyn += len;
    }
  });
}

void pad_forward(int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* x, float* y) {
  const int OH = H + pt + pb, OW = W + pl + pr;
  const int planes = N * C;
  // Output row oh reads input row oh - pt; output column ow reads input column ow - pl.
  const int w_lo = std::max(0, pl), w_hi = std::min(OW, W + pl);
  parallel_for(planes, [&](int p) {
    const float* xp = x + static_cast<size_t>(p) * H * W;
    float* yp = y + static_cast<size_t>(p) * OH * OW;
    for (int oh = 0; oh < OH; ++oh) {
      float* yr = yp + static_cast<size_t>(oh) * OW;
      const int ih = oh - pt;
      if (ih < 0 || ih >= H || w_hi <= w_lo) {
        std::memset(yr, 0, sizeof(float) * OW);
        continue;
      }
      for (int ow = 0; ow < w_lo; ++ow) yr[ow] = 0.0f;
      std::memcpy(yr + w_lo, xp + static_cast<size_t>(ih) * W + (w_lo - pl), sizeof(float) * (w_hi - w_lo));
      for (int ow = w_hi; ow < OW; ++ow) yr[ow] = 0.0f;
    }
  });
}

void pad_backward(int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* dy, float* dx) {
  const int OH = H + pt + pb, OW = W + pl + pr;
  const int planes = N * C;
  // Input column iw receives output column iw + pl when it exists (cropped positions get 0).
  const int w_lo = std::max(0, -pl), w_hi = std::min(W, OW - pl);
  parallel_for(planes, [&](int p) {
    const float* dyp = dy + static_cast<size_t>(p) * OH * OW;
    float* dxp = dx + static_cast<size_t>(p) * H * W;
    for (int ih = 0; ih < H; ++ih) {
      float* dr = dxp + static_cast<size_t>(ih) * W;
      const int oh = ih + pt;
      if (oh < 0 || oh >= OH || w_hi <= w_lo) {
        std::memset(dr, 0, sizeof(float) * W);
        continue;
      }
      for (int iw = 0; iw < w_lo; ++iw) dr[iw] = 0.0f;
      std::memcpy(dr + w_lo, dyp + static_cast<size_t>(oh) * OW + (w_lo + pl), sizeof(float) * (w_hi - w_lo));
      for (int iw = w_hi; iw < W; ++iw) dr[iw] = 0.0f;
    }
  });
}

void slice_forward(int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW, const float* x,
                   float* y) {
  const int planes = N * C;
  parallel_for(planes, [&](int p) {
    const float* xp = x + static_cast<size_t>(p) * H * W;
    float* yp = y + static_cast<size_t>(p) * OH * OW;
    for (int i = 0; i < OH; ++i) {
      const float* xr = xp + static_cast<size_t>(h0 + i * sh) * W + w0;
      float* yr = yp + static_cast<size_t>(i) * OW;
      if (sw == 1)
        std::memcpy(yr, xr, sizeof(float) * OW);
      else
        for (int j = 0; j < OW; ++j) yr[j] = xr[j * sw];
    }
  });
}

void slice_backward(int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW, const float* dy,
                    float* dx) {
  const int planes = N * C;
  parallel_for(planes, [&](int p) {
    float* dxp = dx + static_cast<size_t>(p) * H * W;
    const float* dyp = dy + static_cast<size_t>(p) * OH * OW;
    std::memset(dxp, 0, sizeof(float) * H * W);
    for (int i = 0; i < OH; ++i) {
      float* dr = dxp + static_cast<size_t>(h0 + i * sh) * W + w0;
      const float* yr = dyp + static_cast<size_t>(i) * OW;
      for (int j = 0; j < OW; ++j) dr[j * sw] += yr[j];
    }
  });
}

}  // namespace nasnet::cpu
