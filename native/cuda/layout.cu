// Layout: channel concat/split, spatial pad/crop, strided spatial slice.
// N = batch, C = channels, H, W = input size, HW = pixels per plane, pt, pl, pb, pr = pads
// (negative crops), h0, w0 = slice start, sh, sw = slice steps, OH, OW = slice output size.
// Every backward writes its whole dx (zeros where the forward did not read).
#include "cuda/common.cuh"
#include "cuda/pixel_ops.h"

namespace nasnet::cuda {

namespace {

// Copies a [N, Cs, HW] block between a tensor with Cs channels and one with Cb channels at channel
// offset `off`. to_big: small → big (concat forward), else big → small (concat backward).
__global__ void channel_block_copy(size_t n, int HW, int Cs, int Cb, int off, bool to_big, const float* src,
                                   float* dst) {
  NASNET_GRID_STRIDE(i, n) {
    size_t big = channel_block_at(i, HW, Cs, Cb, off);
    if (to_big) {
      dst[big] = src[i];
    } else {
      dst[i] = src[big];
    }
  }
}

__global__ void pad_fwd(size_t n, int H, int W, int pt, int pl, int OH, int OW, const float* x, float* y) {
  NASNET_GRID_STRIDE(i, n) { y[i] = pad_out_at(H, W, pt, pl, OH, OW, x, i); }
}

__global__ void pad_bwd(size_t n, int H, int W, int pt, int pl, int OH, int OW, const float* dy, float* dx) {
  NASNET_GRID_STRIDE(i, n) { dx[i] = pad_dx_at(H, W, pt, pl, OH, OW, dy, i); }
}

__global__ void slice_fwd(size_t n, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW, const float* x,
                          float* y) {
  NASNET_GRID_STRIDE(i, n) { y[i] = slice_out_at(H, W, h0, w0, sh, sw, OH, OW, x, i); }
}

__global__ void slice_bwd(size_t n, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW, const float* dy,
                          float* dx) {
  NASNET_GRID_STRIDE(i, n) { dx[i] = slice_dx_at(H, W, h0, w0, sh, sw, OH, OW, dy, i); }
}

}  // namespace

Status concat_forward(Stream stream, int N, int HW, int count, const float* const* xs, const int* channels, float* y) {
  int total = 0;
  for (int k = 0; k < count; ++k) total += channels[k];
  int off = 0;
  for (int k = 0; k < count; ++k) {
    size_t n = (size_t)N * channels[k] * HW;
    if (n > 0) {
      CUDA_CHECK(NASNET_LAUNCH(channel_block_copy, grid_for(n), kThreads, 0, as_stream(stream), n, HW, channels[k],
                               total, off, true, xs[k], y));
    }
    off += channels[k];
  }
  return Status::Ok();
}

Status concat_backward(Stream stream, int N, int HW, int count, const float* dy, const int* channels,
                       float* const* dxs) {
  int total = 0;
  for (int k = 0; k < count; ++k) total += channels[k];
  int off = 0;
  for (int k = 0; k < count; ++k) {
    size_t n = (size_t)N * channels[k] * HW;
    if (n > 0 && dxs[k] != nullptr) {
      CUDA_CHECK(NASNET_LAUNCH(channel_block_copy, grid_for(n), kThreads, 0, as_stream(stream), n, HW, channels[k],
                               total, off, false, dy, dxs[k]));
    }
    off += channels[k];
  }
  return Status::Ok();
}

Status pad_forward(Stream stream, int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* x,
                   float* y) {
  int OH = H + pt + pb, OW = W + pl + pr;
  size_t n = (size_t)N * C * OH * OW;
  NASNET_LAUNCH_1D(pad_fwd, n, H, W, pt, pl, OH, OW, x, y);
}

Status pad_backward(Stream stream, int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* dy,
                    float* dx) {
  int OH = H + pt + pb, OW = W + pl + pr;
  size_t n = (size_t)N * C * H * W;
  NASNET_LAUNCH_1D(pad_bwd, n, H, W, pt, pl, OH, OW, dy, dx);
}

Status slice_forward(Stream stream, int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW,
                     const float* x, float* y) {
  size_t n = (size_t)N * C * OH * OW;
  NASNET_LAUNCH_1D(slice_fwd, n, H, W, h0, w0, sh, sw, OH, OW, x, y);
}

Status slice_backward(Stream stream, int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW,
                      const float* dy, float* dx) {
  size_t n = (size_t)N * C * H * W;
  NASNET_LAUNCH_1D(slice_bwd, n, H, W, h0, w0, sh, sw, OH, OW, dy, dx);
}

}  // namespace nasnet::cuda
