// Softmax cross-entropy with label smoothing. N = rows (batch), K = classes, s = smoothing:
// target = (1 - s) * onehot(label) + s / K. Per row: loss = logsumexp(z) - sum_k target_k * z_k.
// One block per row computes max, sum of exp, argmax (first index on ties) and dlogits; a second
// single-block kernel adds the row losses and hits in row order (deterministic) into device scalars.
#include "cuda/common.cuh"
#include "cuda/norm_ops.h"

namespace nasnet::cuda {

namespace {

constexpr int kLossThreads = 128;

__global__ void ce_rows(int N, int K, const float* logits, const int32_t* labels, float smoothing, float weight,
                        float* dlogits, double* row_loss, int* row_hit) {
  NASNET_SHARED(float[kLossThreads], smax);
  NASNET_SHARED(int[kLossThreads], sarg);
  NASNET_SHARED(double[kLossThreads], sd);
  const int r = blockIdx.x;
  const float* z = logits + (size_t)r * K;
  ce_partial_max(z, K, threadIdx.x, blockDim.x, &smax[threadIdx.x], &sarg[threadIdx.x]);
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) ce_merge_max(&smax[threadIdx.x], &sarg[threadIdx.x], smax[threadIdx.x + s], sarg[threadIdx.x + s], K);
    __syncthreads();
  }
  const float m = smax[0];
  const int amax = sarg[0];
  __syncthreads();
  double se, sz;
  ce_partial_sums(z, K, m, threadIdx.x, blockDim.x, &se, &sz);
  se = block_sum(se, sd);
  sz = block_sum(sz, sd);
  const int label = labels[r];
  const double lse = (double)m + log(se);
  if (threadIdx.x == 0) {
    row_loss[r] = ce_row_loss(lse, z[label], sz, smoothing, K);
    row_hit[r] = amax == label ? 1 : 0;
  }
  if (dlogits == nullptr) return;
  const double scale = (double)weight / N;
  for (int k = threadIdx.x; k < K; k += blockDim.x)
    dlogits[(size_t)r * K + k] = ce_dlogit(z[k], lse, k == label, smoothing, K, scale);
}

__global__ void ce_total(int N, const double* row_loss, const int* row_hit, double* loss, int* correct) {
  NASNET_SHARED(double[kThreads], sd);
  NASNET_SHARED(int[kThreads], si);
  double acc = 0.0;
  int hits = 0;
  for (int r = threadIdx.x; r < N; r += blockDim.x) {
    acc += row_loss[r];
    hits += row_hit[r];
  }
  acc = block_sum(acc, sd);
  hits = block_sum(hits, si);
  if (threadIdx.x == 0) {
    *loss = N > 0 ? acc / N : 0.0;
    if (correct != nullptr) *correct = hits;
  }
}

}  // namespace

Status softmax_cross_entropy(Stream stream, int N, int K, const float* logits, const int32_t* labels, float smoothing,
                             float weight, float* dlogits, double* loss, int* correct) {
  cudaStream_t st = as_stream(stream);
  Scratch rows(st);
  NASNET_RETURN_IF_ERROR(rows.alloc((size_t)(N > 0 ? N : 1) * (sizeof(double) + sizeof(int))));
  double* row_loss = rows.as<double>();
  int* row_hit = reinterpret_cast<int*>(row_loss + (N > 0 ? N : 1));
  if (N > 0) {
    CUDA_CHECK(NASNET_LAUNCH(ce_rows, N, kLossThreads, 0, st, N, K, logits, labels, smoothing, weight, dlogits,
                             row_loss, row_hit));
  }
  CUDA_CHECK(NASNET_LAUNCH(ce_total, 1, kThreads, 0, st, N, row_loss, row_hit, loss, correct));
  return Status::Ok();
}

}  // namespace nasnet::cuda
