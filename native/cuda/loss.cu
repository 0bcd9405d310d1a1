// Softmax cross-entropy with label smoothing. N = rows (batch), K = classes, s = smoothing:
// target = (1 - s) * onehot(label) + s / K. Per row: loss = logsumexp(z) - sum_k target_k * z_k.
// One block per row computes max, sum of exp, argmax (first index on ties) and dlogits; a second
// single-block kernel adds the row losses and hits in row order (deterministic) into device scalars.
#include "cuda/common.cuh"
#include "cuda/cross_entropy_row.cuh"

namespace nasnet::cuda {

namespace {

constexpr int kLossThreads = 128;

__global__ void ce_rows(int N, int K, const float* logits, const int32_t* labels, float smoothing, float weight,
                        float* dlogits, double* row_loss, int* row_hit) {
  NASNET_SHARED(float[kLossThreads], smax);
  NASNET_SHARED(int[kLossThreads], sarg);
  NASNET_SHARED(double[kLossThreads], sd);
  cross_entropy_row(blockIdx.x, K, logits, labels, smoothing, (double)weight / N, dlogits, row_loss, row_hit, smax,
                    sarg, sd);
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
