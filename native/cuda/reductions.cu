// Per-channel sums shared by the bias gradients: out[c] += sum over (n, i) of x[n, c, i].
// N = batch (or rows), C = channels (or columns), HW = elements per channel and sample.
#include "cuda/common.cuh"

namespace nasnet::cuda {

namespace {

// One block per channel; each thread walks a fixed strided subset, then a fixed tree: deterministic.
__global__ void channel_sum_kernel(int N, int C, int HW, const float* x, float* out) {
  NASNET_SHARED(double[kThreads], scratch);
  const int c = blockIdx.x;
  const size_t count = (size_t)N * HW;
  double acc = 0.0;
  for (size_t e = threadIdx.x; e < count; e += blockDim.x) {
    size_t n = e / HW, i = e % HW;
    acc += x[(n * C + c) * HW + i];
  }
  double total = block_sum(acc, scratch);
  if (threadIdx.x == 0) out[c] += static_cast<float>(total);
}

}  // namespace

Status channel_sum_accumulate(cudaStream_t stream, int N, int C, int HW, const float* x, float* out) {
  if (C <= 0) return Status::Ok();
  CUDA_CHECK(NASNET_LAUNCH(channel_sum_kernel, C, kThreads, 0, stream, N, C, HW, x, out));
  return Status::Ok();
}

}  // namespace nasnet::cuda
