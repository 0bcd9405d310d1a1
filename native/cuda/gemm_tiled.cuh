// One tiled shared-memory GEMM for every matrix product on the device: sgemm, linear, and the three
// convolution products (implicit GEMM: the im2col matrix is gathered tile by tile, never stored).
//
// C[z][m, n] = sum over k of A(z, m, k) * B(z, k, n), for each batch z (convolution groups).
// An `Op` supplies the element reads and the epilogue:
//   __device__ float a(int z, int m, int k) const;
//   __device__ float b(int z, int k, int n) const;
//   __device__ void store(int z, int split, int m, int n, float acc) const;
// The K range may be split (`splits` > 1, chunks of `k_chunk`): each split stores a partial that
// the caller reduces in a fixed order, so the sum stays deterministic.
// The block's steps (load, multiply-add, store) live in gemm_tile.h.
#pragma once
#include <cuda_runtime.h>

#include "cuda/common.cuh"
#include "cuda/gemm_tile.h"

namespace nasnet::cuda {

template <class Op>
__global__ void __launch_bounds__(kGemmThreads) gemm_tiled_kernel(Op op, int M, int N, int K, int splits,
                                                                  int k_chunk) {
  NASNET_SHARED(GemmTiles, tiles);
  const int z = blockIdx.z / splits, split = blockIdx.z % splits;
  int k0, k1;
  gemm_k_range(K, split, k_chunk, &k0, &k1);
  const int m0 = blockIdx.y * kTileM, n0 = blockIdx.x * kTileN;
  float acc[4][4];
  NASNET_UNROLL
  for (int i = 0; i < 4; ++i)
    NASNET_UNROLL
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;
  for (int kt = k0; kt < k1; kt += kTileK) {
    gemm_load(op, tiles, threadIdx.x, z, m0, n0, kt, k1, M, N);
    __syncthreads();
    gemm_fma(tiles, threadIdx.x, acc);
    __syncthreads();
  }
  gemm_store(op, threadIdx.x, z, split, m0, n0, M, N, acc);
}

// Launches the tiled GEMM over `batches` independent products, each split `splits` ways along K.
template <class Op>
Status launch_gemm(cudaStream_t stream, const Op& op, int M, int N, int K, int batches, int splits = 1,
                   int k_chunk = 0) {
  if (M <= 0 || N <= 0 || batches <= 0) return Status::Ok();
  if (splits < 1) splits = 1;
  if (k_chunk <= 0) k_chunk = K;
  dim3 grid((N + kTileN - 1) / kTileN, (M + kTileM - 1) / kTileM, batches * splits);
  if (grid.y > 65535u || grid.z > 65535u)
    return Status::OutOfRange("gemm grid too large: M=" + std::to_string(M) + ", batches x splits=" +
                              std::to_string(batches * splits));
  CUDA_CHECK(NASNET_LAUNCH(gemm_tiled_kernel<Op>, grid, kGemmThreads, 0, stream, op, M, N, K, splits, k_chunk));
  return Status::Ok();
}

}  // namespace nasnet::cuda
