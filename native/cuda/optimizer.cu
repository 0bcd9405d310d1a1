// Optimizer updates and the gradient norm. n = parameter count. Updates are elementwise; the sum of
// squares is a two-pass reduction whose grid depends on n only (fixed order → deterministic).
#include <cmath>

#include "cuda/common.cuh"
#include "cuda/optimizer_math.h"

namespace nasnet::cuda {

namespace {

constexpr int kNormBlocks = 512;

__global__ void sumsq_partial(size_t n, const float* g, double* partial) {
  NASNET_SHARED(double[kThreads], sd);
  double acc = 0.0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    double v = g[i];
    acc += v * v;
  }
  acc = block_sum(acc, sd);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

__global__ void sumsq_final(int blocks, const double* partial, double* out) {
  NASNET_SHARED(double[kThreads], sd);
  double acc = 0.0;
  for (int i = threadIdx.x; i < blocks; i += blockDim.x) acc += partial[i];
  acc = block_sum(acc, sd);
  if (threadIdx.x == 0) *out = acc;
}

__global__ void sgd_kernel(size_t n, float lr, float momentum, bool nesterov, float wd, float gs, float* w,
                           const float* g, float* v) {
  NASNET_GRID_STRIDE(i, n) sgd_element(&w[i], &v[i], g[i], gs, wd, lr, momentum, nesterov);
}

__global__ void rmsprop_kernel(size_t n, float lr, float decay, float momentum, float eps, float wd, float gs,
                               float* w, const float* g, float* ms, float* mom) {
  NASNET_GRID_STRIDE(i, n) rmsprop_element(&w[i], &ms[i], &mom[i], g[i], gs, wd, lr, decay, momentum, eps);
}

}  // namespace

Status sum_squares(Stream stream, size_t n, const float* g, double* out) {
  cudaStream_t st = as_stream(stream);
  size_t want = (n + kThreads - 1) / kThreads;
  int blocks = want < 1 ? 1 : (want > (size_t)kNormBlocks ? kNormBlocks : (int)want);
  Scratch partial(st);
  NASNET_RETURN_IF_ERROR(partial.alloc(blocks * sizeof(double)));
  CUDA_CHECK(NASNET_LAUNCH(sumsq_partial, blocks, kThreads, 0, st, n, g, partial.as<double>()));
  CUDA_CHECK(NASNET_LAUNCH(sumsq_final, 1, kThreads, 0, st, blocks, partial.as<double>(), out));
  return Status::Ok();
}

Status sgd_momentum_update(Stream stream, size_t n, float lr, float momentum, bool nesterov, float weight_decay,
                           float grad_scale, float* w, const float* g, float* v) {
  NASNET_LAUNCH_1D(sgd_kernel, n, lr, momentum, nesterov, weight_decay, grad_scale, w, g, v);
}

Status rmsprop_update(Stream stream, size_t n, float lr, float decay, float momentum, float eps, float weight_decay,
                      float grad_scale, float* w, const float* g, float* ms, float* mom) {
  NASNET_LAUNCH_1D(rmsprop_kernel, n, lr, decay, momentum, eps, weight_decay, grad_scale, w, g, ms, mom);
}

}  // namespace nasnet::cuda
