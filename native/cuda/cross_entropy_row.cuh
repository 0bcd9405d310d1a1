// One row of softmax cross-entropy with label smoothing, computed by one block: max and first argmax,
// sum of exp, the row's loss and hit, and (when dlogits is set) scale * (softmax - target). Shared by
// the kernel that takes the loss weight as an argument (loss.cu) and the one that reads it from
// device memory in a captured step (step_ops.cu). smax, sarg, sd: the block's shared scratch, one
// entry per thread.
#pragma once

#include "cuda/common.cuh"
#include "cuda/norm_ops.h"

namespace nasnet::cuda {

__device__ inline void cross_entropy_row(int r, int K, const float* logits, const int32_t* labels, float smoothing,
                                         double scale, float* dlogits, double* row_loss, int* row_hit, float* smax,
                                         int* sarg, double* sd) {
  const float* z = logits + (size_t)r * K;
  ce_partial_max(z, K, threadIdx.x, blockDim.x, &smax[threadIdx.x], &sarg[threadIdx.x]);
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s)
      ce_merge_max(&smax[threadIdx.x], &sarg[threadIdx.x], smax[threadIdx.x + s], sarg[threadIdx.x + s], K);
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
  for (int k = threadIdx.x; k < K; k += blockDim.x)
    dlogits[(size_t)r * K + k] = ce_dlogit(z[k], lse, k == label, smoothing, K, scale);
}

}  // namespace nasnet::cuda
