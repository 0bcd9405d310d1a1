// Batch normalization over (N, HW) per channel. N = batch, C = channels, HW = pixels per plane.
// One block per channel does the whole channel: statistics in double (two passes: mean, then the
// centered sum of squares), then the elementwise pass. Fixed strided order + fixed tree: deterministic.
// dx is written; dgamma, dbeta accumulate; running statistics follow ONNX momentum (see cpu/kernels.h).
#include "cuda/common.cuh"
#include "cuda/norm_ops.h"

namespace nasnet::cuda {

namespace {

template <bool kRelu>
__global__ void bn_train_kernel(BatchNormShape s, const float* x, const float* gamma, const float* beta, float eps,
                                float momentum, float* running_mean, float* running_var, float* y,
                                float* save_mean, float* save_invstd) {
  NASNET_SHARED(double[kThreads], scratch);
  const int c = blockIdx.x;
  const size_t count = (size_t)s.N * s.HW;
  const double sum = block_sum(bn_partial_sum(s, x, c, threadIdx.x, blockDim.x), scratch);
  const double sq = block_sum(bn_partial_sq(s, x, c, sum / (double)count, threadIdx.x, blockDim.x), scratch);
  float mean, invstd;
  // every thread derives the same values; thread 0 alone updates the running statistics
  bn_finish_stats(sum, sq, count, eps, momentum, &mean, &invstd, threadIdx.x == 0 && running_mean != nullptr ? running_mean + c : nullptr,
                  threadIdx.x == 0 && running_var != nullptr ? running_var + c : nullptr);
  if (threadIdx.x == 0) {
    if (save_mean != nullptr) save_mean[c] = mean;
    if (save_invstd != nullptr) save_invstd[c] = invstd;
  }
  const float g = gamma[c] * invstd, bb = beta[c];
  for (size_t e = threadIdx.x; e < count; e += blockDim.x) {
    size_t at = bn_at(s, c, e);
    y[at] = bn_train_y(x[at], mean, g, bb, kRelu);
  }
}

template <bool kRelu>
__global__ void bn_eval_kernel(BatchNormShape s, const float* x, const float* gamma, const float* beta,
                               const float* running_mean, const float* running_var, float eps, float* y) {
  NASNET_GRID_STRIDE(i, (size_t)s.N * s.C * s.HW) {
    int c = (i / s.HW) % s.C;
    y[i] = bn_eval_y(x[i], gamma[c], beta[c], running_mean[c], running_var[c], eps, kRelu);
  }
}

__global__ void bn_backward_kernel(BatchNormShape s, const float* x, const float* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                   float* dbeta) {
  NASNET_SHARED(double[kThreads], scratch);
  const int c = blockIdx.x;
  const size_t count = (size_t)s.N * s.HW;
  const float mean = save_mean[c], invstd = save_invstd[c];
  double sdy, sdyx;
  bn_partial_grad(s, x, dy, c, mean, invstd, threadIdx.x, blockDim.x, &sdy, &sdyx);
  sdy = block_sum(sdy, scratch);
  sdyx = block_sum(sdyx, scratch);
  if (threadIdx.x == 0) {
    if (dgamma != nullptr) dgamma[c] += static_cast<float>(sdyx);
    if (dbeta != nullptr) dbeta[c] += static_cast<float>(sdy);
  }
  if (dx == nullptr) return;
  const float k = gamma[c] * invstd;
  const float mdy = static_cast<float>(sdy / (double)count), mdyx = static_cast<float>(sdyx / (double)count);
  for (size_t e = threadIdx.x; e < count; e += blockDim.x) {
    size_t at = bn_at(s, c, e);
    dx[at] = bn_dx(x[at], dy[at], mean, invstd, k, mdy, mdyx);
  }
}

template <bool kRelu>
Status train(Stream stream, const BatchNormShape& s, const float* x, const float* gamma, const float* beta, float eps,
             float momentum, float* running_mean, float* running_var, float* y, float* save_mean,
             float* save_invstd) {
  if (s.C <= 0) return Status::Ok();
  CUDA_CHECK(NASNET_LAUNCH(bn_train_kernel<kRelu>, s.C, kThreads, 0, as_stream(stream), s, x, gamma, beta, eps,
                           momentum, running_mean, running_var, y, save_mean, save_invstd));
  return Status::Ok();
}

template <bool kRelu>
Status eval(Stream stream, const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
            const float* running_mean, const float* running_var, float eps, float* y) {
  size_t n = (size_t)s.N * s.C * s.HW;
  CUDA_CHECK(NASNET_LAUNCH(bn_eval_kernel<kRelu>, grid_for(n), kThreads, 0, as_stream(stream), s, x, gamma, beta,
                           running_mean, running_var, eps, y));
  return Status::Ok();
}

}  // namespace

Status batchnorm_forward_train(Stream stream, const BatchNormShape& s, const float* x, const float* gamma,
                               const float* beta, float eps, float momentum, float* running_mean,
                               float* running_var, float* y, float* save_mean, float* save_invstd) {
  return train<false>(stream, s, x, gamma, beta, eps, momentum, running_mean, running_var, y, save_mean,
                      save_invstd);
}

Status batchnorm_relu_forward_train(Stream stream, const BatchNormShape& s, const float* x, const float* gamma,
                                    const float* beta, float eps, float momentum, float* running_mean,
                                    float* running_var, float* y, float* save_mean, float* save_invstd) {
  return train<true>(stream, s, x, gamma, beta, eps, momentum, running_mean, running_var, y, save_mean,
                     save_invstd);
}

Status batchnorm_forward_eval(Stream stream, const BatchNormShape& s, const float* x, const float* gamma,
                              const float* beta, const float* running_mean, const float* running_var, float eps,
                              float* y) {
  return eval<false>(stream, s, x, gamma, beta, running_mean, running_var, eps, y);
}

Status batchnorm_relu_forward_eval(Stream stream, const BatchNormShape& s, const float* x, const float* gamma,
                                   const float* beta, const float* running_mean, const float* running_var, float eps,
                                   float* y) {
  return eval<true>(stream, s, x, gamma, beta, running_mean, running_var, eps, y);
}

Status batchnorm_backward(Stream stream, const BatchNormShape& s, const float* x, const float* dy, const float* gamma,
                          const float* save_mean, const float* save_invstd, float* dx, float* dgamma, float* dbeta) {
  if (s.C <= 0) return Status::Ok();
  CUDA_CHECK(NASNET_LAUNCH(bn_backward_kernel, s.C, kThreads, 0, as_stream(stream), s, x, dy, gamma, save_mean,
                           save_invstd, dx, dgamma, dbeta));
  return Status::Ok();
}

}  // namespace nasnet::cuda
