// GEMM and the dense layer on the device, both through the tiled kernel in gemm_tiled.cuh.
// M, N, K = matrix sizes (C is M x N, the shared dimension K); I, O = dense inputs, outputs.
#include <string>

#include "cuda/gemm_tiled.cuh"

namespace nasnet::cuda {

namespace {

// y[m, o] += b[o] (y was just written by the product).
__global__ void add_bias_rows(int M, int O, const float* b, float* y) {
  NASNET_GRID_STRIDE(i, (size_t)M * O) { y[i] += b[i % O]; }
}

}  // namespace

Status sgemm(Stream stream, bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
             const float* B, int ldb, float beta, float* C, int ldc) {
  SgemmOp op{trans_a, trans_b, A, lda, B, ldb, alpha, beta, C, ldc};
  return launch_gemm(as_stream(stream), op, M, N, K, 1);
}

Status linear_forward(Stream stream, int M, int I, int O, const float* x, const float* w, const float* b, float* y) {
  // y[M, O] = x[M, I] · w[O, I]ᵀ
  NASNET_RETURN_IF_ERROR(sgemm(stream, false, true, M, O, I, 1.f, x, I, w, I, 0.f, y, O));
  if (b != nullptr) {
    CUDA_CHECK(NASNET_LAUNCH(add_bias_rows, grid_for((size_t)M * O), kThreads, 0, as_stream(stream), M, O, b, y));
  }
  return Status::Ok();
}

Status linear_backward(Stream stream, int M, int I, int O, const float* x, const float* w, const float* dy, float* dx,
                       float* dw, float* db) {
  // dx[M, I] = dy[M, O] · w[O, I]
  if (dx != nullptr) NASNET_RETURN_IF_ERROR(sgemm(stream, false, false, M, I, O, 1.f, dy, O, w, I, 0.f, dx, I));
  // dw[O, I] += dy[M, O]ᵀ · x[M, I]
  if (dw != nullptr) NASNET_RETURN_IF_ERROR(sgemm(stream, true, false, O, I, M, 1.f, dy, O, x, I, 1.f, dw, I));
  // db[O] += column sums of dy
  if (db != nullptr) NASNET_RETURN_IF_ERROR(channel_sum_accumulate(as_stream(stream), M, O, 1, dy, db));
  return Status::Ok();
}

}  // namespace nasnet::cuda
