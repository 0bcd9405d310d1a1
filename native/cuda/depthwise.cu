// Depthwise convolution (groups == C == K): one filter plane per channel, w: [C, 1, kh, kw].
// N = batch, C = channels, H, W / OH, OW = input / output sizes, kh, kw = kernel, tap t = (i, j).
// forward:         one thread per output pixel, taps in (i, j) order.
// backward data:   one thread per input pixel, gathering the outputs whose window covers it.
// backward filter: one block per (channel, tap), reducing over (n, oh, ow) in a fixed order.
#include "cuda/common.cuh"
#include "cuda/pixel_ops.h"

namespace nasnet::cuda {

namespace {

template <bool kReluInput>
__global__ void depthwise_forward_kernel(ConvShape s, const float* x, const float* w, const float* b, float* y) {
  NASNET_GRID_STRIDE(idx, (size_t)s.N * s.C * s.OH * s.OW) { y[idx] = depthwise_out_at(s, x, w, b, idx, kReluInput); }
}

__global__ void depthwise_backward_data_kernel(ConvShape s, const float* w, const float* dy, float* dx) {
  NASNET_GRID_STRIDE(idx, (size_t)s.N * s.C * s.H * s.W) { dx[idx] = depthwise_dx_at(s, w, dy, idx); }
}

// One block per (channel, tap): thread partials over a fixed stride, then a fixed tree.
__global__ void depthwise_backward_filter_kernel(ConvShape s, const float* x, const float* dy, float* dw) {
  NASNET_SHARED(double[kThreads], scratch);
  const int khw = s.kh * s.kw;
  double acc = depthwise_dw_partial(s, x, dy, blockIdx.x / khw, blockIdx.x % khw, threadIdx.x, blockDim.x);
  double total = block_sum(acc, scratch);
  if (threadIdx.x == 0) dw[blockIdx.x] += static_cast<float>(total);
}

}  // namespace

Status depthwise_forward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  size_t total = (size_t)s.N * s.C * s.OH * s.OW;
  CUDA_CHECK(NASNET_LAUNCH(depthwise_forward_kernel<false>, grid_for(total), kThreads, 0, as_stream(stream), s, x, w,
                           b, y));
  return Status::Ok();
}

Status relu_depthwise_forward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* b,
                              float* y) {
  size_t total = (size_t)s.N * s.C * s.OH * s.OW;
  CUDA_CHECK(NASNET_LAUNCH(depthwise_forward_kernel<true>, grid_for(total), kThreads, 0, as_stream(stream), s, x, w,
                           b, y));
  return Status::Ok();
}

Status depthwise_backward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* dy,
                          float* dx, float* dw, float* db) {
  cudaStream_t st = as_stream(stream);
  if (dx != nullptr) {
    size_t total = (size_t)s.N * s.C * s.H * s.W;
    CUDA_CHECK(NASNET_LAUNCH(depthwise_backward_data_kernel, grid_for(total), kThreads, 0, st, s, w, dy, dx));
  }
  if (dw != nullptr) {
    CUDA_CHECK(NASNET_LAUNCH(depthwise_backward_filter_kernel, s.C * s.kh * s.kw, kThreads, 0, st, s, x, dy, dw));
  }
  if (db != nullptr) NASNET_RETURN_IF_ERROR(channel_sum_accumulate(st, s.N, s.K, s.OH * s.OW, dy, db));
  return Status::Ok();
}

}  // namespace nasnet::cuda
