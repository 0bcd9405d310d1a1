// The per-plane loops of batch normalization's training passes, on the calling thread, compiled once
// per SIMD level (AVX-512, AVX2, the SSE2 baseline) and dispatched by the active level: shared by the
// plain kernels (batchnorm.cc) and the fused convolution + BN chains (fused_conv_bn.cc), which call
// them from inside their own parallel regions. The sums are float lanes of a fixed order for a level
// (deterministic), added by the callers into double. Same conventions as kernels.h.
#pragma once
#include <cstddef>

namespace nasnet::cpu {

// sum of x[q], q < n.
float bn_plane_sum(size_t n, const float* x);
// sum of (x[q] - mean)², q < n.
float bn_plane_sq_dev(size_t n, const float* x, float mean);
// *sum_dy = sum of dy[q], *sum_dy_dev = sum of dy[q] * (x[q] - mean), q < n.
void bn_plane_dy_sums(size_t n, const float* dy, const float* x, float mean, float* sum_dy, float* sum_dy_dev);
// y[q] = (x[q] - mean) * mul + add.
void bn_plane_normalize(size_t n, const float* x, float mean, float mul, float add, float* y);
// dx[q] = k * (dy[q] - mean_dy - (x[q] - mean) * invstd * mean_dy_xhat): BN's input gradient.
void bn_plane_input_grad(size_t n, const float* dy, const float* x, float k, float mean_dy, float mean, float invstd,
                         float mean_dy_xhat, float* dx);

}  // namespace nasnet::cpu
