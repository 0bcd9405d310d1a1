// The steps of one block of the tiled GEMM (gemm_tiled.cuh), as functions of the thread index, so
// the host tests (tests/cuda_gemm_tile_test.cc) can run a block thread by thread without a device.
// Tile: 64 x 64 outputs (kTileM x kTileN) per block of 256 threads, 16-deep K steps (kTileK); each
// thread owns a 4 x 4 sub-tile strided by 16 rows and columns (conflict-free shared reads).
// An Op supplies a(z, m, k), b(z, k, n) and store(z, split, m, n, acc) (see gemm_tiled.cuh).
#pragma once
#include <cmath>

#include "core/random.h"  // NASNET_HD
#include "cuda/tiles.h"

#if defined(__CUDACC__)
#define NASNET_UNROLL _Pragma("unroll")
#else
#define NASNET_UNROLL
#endif

namespace nasnet::cuda {

constexpr int kGemmThreads = 256;

struct GemmTiles {
  float As[kTileK][kTileM + 4];  // A tile, stored k-major: As[k][m]
  float Bs[kTileK][kTileN + 4];  // B tile: Bs[k][n]
};

// The K range [k0, k1) of split `split` (chunks of k_chunk).
NASNET_HD void gemm_k_range(int K, int split, int k_chunk, int* k0, int* k1) {
  *k0 = split * k_chunk;
  *k1 = K < *k0 + k_chunk ? K : *k0 + k_chunk;
}

// Thread tid's share of loading the tiles at K offset kt (zeros outside [0, M) x [kt, k1) x [0, N)).
template <class Op>
NASNET_HD void gemm_load(const Op& op, GemmTiles& t, int tid, int z, int m0, int n0, int kt, int k1, int M, int N) {
  NASNET_UNROLL
  for (int r = 0; r < (kTileM * kTileK) / kGemmThreads; ++r) {
    int e = tid + r * kGemmThreads;
    int mm = e / kTileK, kk = e % kTileK;
    int m = m0 + mm, k = kt + kk;
    t.As[kk][mm] = (m < M && k < k1) ? op.a(z, m, k) : 0.f;
  }
  NASNET_UNROLL
  for (int r = 0; r < (kTileN * kTileK) / kGemmThreads; ++r) {
    int e = tid + r * kGemmThreads;
    int kk = e / kTileN, nn = e % kTileN;
    int n = n0 + nn, k = kt + kk;
    t.Bs[kk][nn] = (n < N && k < k1) ? op.b(z, k, n) : 0.f;
  }
}

// acc += the loaded tiles' products for thread tid's 4 x 4 outputs.
NASNET_HD void gemm_fma(const GemmTiles& t, int tid, float acc[4][4]) {
  const int tx = tid % 16, ty = tid / 16;
  NASNET_UNROLL
  for (int kk = 0; kk < kTileK; ++kk) {
    float ar[4], br[4];
    NASNET_UNROLL
    for (int i = 0; i < 4; ++i) ar[i] = t.As[kk][ty + 16 * i];
    NASNET_UNROLL
    for (int j = 0; j < 4; ++j) br[j] = t.Bs[kk][tx + 16 * j];
    NASNET_UNROLL
    for (int i = 0; i < 4; ++i)
      NASNET_UNROLL
      for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(ar[i], br[j], acc[i][j]);
  }
}

template <class Op>
NASNET_HD void gemm_store(const Op& op, int tid, int z, int split, int m0, int n0, int M, int N,
                          const float acc[4][4]) {
  const int tx = tid % 16, ty = tid / 16;
  NASNET_UNROLL
  for (int i = 0; i < 4; ++i) {
    int m = m0 + ty + 16 * i;
    if (m >= M) continue;
    NASNET_UNROLL
    for (int j = 0; j < 4; ++j) {
      int n = n0 + tx + 16 * j;
      if (n < N) op.store(z, split, m, n, acc[i][j]);
    }
  }
}

// Plain row-major matrices (sgemm): op(A) = A or Aᵀ as stored with row stride lda, likewise B;
// C = alpha * acc + beta * C, and beta == 0 never reads C (BLAS).
struct SgemmOp {
  bool ta, tb;
  const float* A;
  int lda;
  const float* B;
  int ldb;
  float alpha, beta;
  float* C;
  int ldc;
  NASNET_HD float a(int, int m, int k) const { return ta ? A[(size_t)k * lda + m] : A[(size_t)m * lda + k]; }
  NASNET_HD float b(int, int k, int n) const { return tb ? B[(size_t)n * ldb + k] : B[(size_t)k * ldb + n]; }
  NASNET_HD void store(int, int, int m, int n, float acc) const {
    float* c = C + (size_t)m * ldc + n;
    *c = beta == 0.f ? alpha * acc : alpha * acc + beta * *c;
  }
};

}  // namespace nasnet::cuda
