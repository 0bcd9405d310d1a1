// Elementwise loops on the calling thread, compiled once per SIMD level (AVX-512, AVX2, the SSE2
// baseline) and dispatched by the active level: the bodies of the whole-array kernels in kernels.h
// (relu_forward, add_forward), and the passes of fused kernels that run inside their own parallel
// regions (fused_conv_bn.cc). Each element gets the same operations at every level, so results are
// identical across levels. Same conventions as kernels.h.
#pragma once
#include <cstddef>

namespace nasnet::cpu {

// y[i] = relu(x[i]) for i < n (NaN stays NaN).
void relu_range(size_t n, const float* x, float* y);
// dx[i] = relu_grad(y[i], dy[i]) for i < n (dx may be dy).
void relu_grad_range(size_t n, const float* y, const float* dy, float* dx);
// y[i] = a[i] + b[i] for i < n.
void add_range(size_t n, const float* a, const float* b, float* y);
// y[r * ld + q] += bias[r] for r < rows, q < cols: a per-channel shift of planes (or of columns
// [j0, j0 + cols) of them, with y pointing at column j0).
void add_row_bias(int rows, size_t cols, size_t ld, const float* bias, float* y);
// y[i] += parts[i] + parts[stride + i] + ... (count terms, summed in that order, then added) for i in
// [lo, hi): per-thread partial gradients reduced in thread order, deterministic for a thread count.
void add_partials(size_t lo, size_t hi, int count, const float* parts, size_t stride, float* y);

}  // namespace nasnet::cpu
