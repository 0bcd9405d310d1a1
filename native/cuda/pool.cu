// Pooling. N = batch, C = channels, H, W / OH, OW = input / output sizes, kh, kw = window,
// sh, sw = strides, pt, pl, pb, pr = pads. Each thread owns one output (forward) or one input
// pixel (backward); backward GATHERS from the windows that cover its pixel, in (oh, ow) order, so no
// atomics and a fixed summation order.
#include "cuda/common.cuh"
#include "cuda/pixel_ops.h"

namespace nasnet::cuda {

namespace {

__global__ void maxpool_fwd(PoolShape s, const float* x, float* y, int32_t* argmax) {
  NASNET_GRID_STRIDE(idx, (size_t)s.N * s.C * s.OH * s.OW) {
    int32_t arg;
    maxpool_out_at(s, x, idx, &y[idx], &arg);
    if (argmax != nullptr) argmax[idx] = arg;
  }
}

__global__ void maxpool_bwd(PoolShape s, const int32_t* argmax, const float* dy, float* dx) {
  NASNET_GRID_STRIDE(idx, (size_t)s.N * s.C * s.H * s.W) { dx[idx] = maxpool_dx_at(s, argmax, dy, idx); }
}

__global__ void avgpool_fwd(PoolShape s, const float* x, float* y) {
  NASNET_GRID_STRIDE(idx, (size_t)s.N * s.C * s.OH * s.OW) { y[idx] = avgpool_out_at(s, x, idx); }
}

__global__ void avgpool_bwd(PoolShape s, const float* dy, float* dx) {
  NASNET_GRID_STRIDE(idx, (size_t)s.N * s.C * s.H * s.W) { dx[idx] = avgpool_dx_at(s, dy, idx); }
}

// One warp per (n, c) row of HW values; lanes stride the row, then a fixed shuffle tree.
__global__ void gap_fwd(int rows, int HW, const float* x, float* y) {
  int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= rows) return;
  const float* xp = x + (size_t)row * HW;
  float acc = 0.f;
  for (int i = lane; i < HW; i += 32) acc += xp[i];
  for (int off = 16; off > 0; off >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, off);
  if (lane == 0) y[row] = acc / (float)HW;
}

__global__ void gap_bwd(size_t n, int HW, const float* dy, float* dx) {
  NASNET_GRID_STRIDE(i, n) { dx[i] = dy[i / HW] / (float)HW; }
}

}  // namespace

Status maxpool_forward(Stream stream, const PoolShape& s, const float* x, float* y, int32_t* argmax) {
  size_t n = (size_t)s.N * s.C * s.OH * s.OW;
  if (n == 0) return Status::Ok();
  CUDA_CHECK(NASNET_LAUNCH(maxpool_fwd, grid_for(n), kThreads, 0, as_stream(stream), s, x, y, argmax));
  return Status::Ok();
}

Status maxpool_backward(Stream stream, const PoolShape& s, const int32_t* argmax, const float* dy, float* dx) {
  size_t n = (size_t)s.N * s.C * s.H * s.W;
  if (n == 0) return Status::Ok();
  CUDA_CHECK(NASNET_LAUNCH(maxpool_bwd, grid_for(n), kThreads, 0, as_stream(stream), s, argmax, dy, dx));
  return Status::Ok();
}

Status avgpool_forward(Stream stream, const PoolShape& s, const float* x, float* y) {
  size_t n = (size_t)s.N * s.C * s.OH * s.OW;
  if (n == 0) return Status::Ok();
  CUDA_CHECK(NASNET_LAUNCH(avgpool_fwd, grid_for(n), kThreads, 0, as_stream(stream), s, x, y));
  return Status::Ok();
}

Status avgpool_backward(Stream stream, const PoolShape& s, const float* dy, float* dx) {
  size_t n = (size_t)s.N * s.C * s.H * s.W;
  if (n == 0) return Status::Ok();
  CUDA_CHECK(NASNET_LAUNCH(avgpool_bwd, grid_for(n), kThreads, 0, as_stream(stream), s, dy, dx));
  return Status::Ok();
}

Status global_avgpool_forward(Stream stream, int N, int C, int HW, const float* x, float* y) {
  int rows = N * C;
  if (rows == 0) return Status::Ok();
  CUDA_CHECK(NASNET_LAUNCH(gap_fwd, (rows + 7) / 8, kThreads, 0, as_stream(stream), rows, HW, x, y));
  return Status::Ok();
}

Status global_avgpool_backward(Stream stream, int N, int C, int HW, const float* dy, float* dx) {
  size_t n = (size_t)N * C * HW;
  NASNET_LAUNCH_1D(gap_bwd, n, HW, dy, dx);
}

}  // namespace nasnet::cuda
