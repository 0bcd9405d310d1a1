// Elementwise kernels: n = element count. Grid-stride loops, one element per step. ReLU propagates
// NaN (core/nan.h, shared with the CPU kernels).
#include "core/nan.h"
#include "cuda/common.cuh"

namespace nasnet::cuda {

namespace {

__global__ void relu_fwd(size_t n, const float* x, float* y) {
  NASNET_GRID_STRIDE(i, n) { y[i] = relu_value(x[i]); }
}
__global__ void relu_bwd(size_t n, const float* y, const float* dy, float* dx) {
  NASNET_GRID_STRIDE(i, n) { dx[i] = relu_grad(y[i], dy[i]); }
}
__global__ void add_fwd(size_t n, const float* a, const float* b, float* y) {
  NASNET_GRID_STRIDE(i, n) { y[i] = a[i] + b[i]; }
}
__global__ void accumulate_kernel(size_t n, const float* x, float* y) {
  NASNET_GRID_STRIDE(i, n) { y[i] += x[i]; }
}
__global__ void scale_kernel(size_t n, float alpha, float* y) {
  NASNET_GRID_STRIDE(i, n) { y[i] *= alpha; }
}
__global__ void fill_kernel(size_t n, float value, float* y) {
  NASNET_GRID_STRIDE(i, n) { y[i] = value; }
}

}  // namespace

Status relu_forward(Stream stream, size_t n, const float* x, float* y) { NASNET_LAUNCH_1D(relu_fwd, n, x, y); }
Status relu_backward(Stream stream, size_t n, const float* y, const float* dy, float* dx) {
  NASNET_LAUNCH_1D(relu_bwd, n, y, dy, dx);
}
Status add_forward(Stream stream, size_t n, const float* a, const float* b, float* y) {
  NASNET_LAUNCH_1D(add_fwd, n, a, b, y);
}
Status accumulate(Stream stream, size_t n, const float* x, float* y) { NASNET_LAUNCH_1D(accumulate_kernel, n, x, y); }
Status scale(Stream stream, size_t n, float alpha, float* y) { NASNET_LAUNCH_1D(scale_kernel, n, alpha, y); }
Status fill(Stream stream, size_t n, float value, float* y) { NASNET_LAUNCH_1D(fill_kernel, n, value, y); }

}  // namespace nasnet::cuda
