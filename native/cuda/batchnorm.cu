// Batch normalization over (N, HW) per channel. N = batch, C = channels, HW = pixels per plane.
// Training statistics and the backward sums are split reductions (norm_ops.h): block (c, j) reduces
// slice j of channel c's images into a partial, in double; a per-channel kernel sums the S partials
// in order; an elementwise kernel applies the result. Statistics take two passes (the mean, then the
// centered sum of squares). Fixed orders and trees throughout: deterministic.
// dx is written; dgamma, dbeta accumulate; running statistics follow ONNX momentum (see cpu/kernels.h).
#include <string>

#include "cuda/common.cuh"
#include "cuda/norm_ops.h"

namespace nasnet::cuda {

namespace {

// Block (c, j): partial[c * S + j] (and partial_b for op 2) over slice j of channel c. For op 1 the
// channel mean comes from the op-0 partials `sums`, summed in slice order by every block alike.
__global__ void bn_slice_kernel(BatchNormShape s, int slices, int op, const float* x, const float* dy,
                                const double* sums, const float* mean_in, const float* invstd_in, double* partial,
                                double* partial_b) {
  NASNET_SHARED(double[kThreads], scratch);
  const int c = blockIdx.x, j = blockIdx.y;
  const int n0 = bn_slice_begin(s, slices, j), n1 = bn_slice_begin(s, slices, j + 1);
  double mean = 0.0;
  if (op == 1) {
    double total = 0.0;
    for (int k = 0; k < slices; ++k) total += sums[(size_t)c * slices + k];
    mean = total / ((double)s.N * s.HW);
  }
  const float fmean = op == 2 ? mean_in[c] : 0.f, invstd = op == 2 ? invstd_in[c] : 0.f;
  double a, b;
  bn_slice_partial(s, x, dy, c, n0, n1, op, mean, fmean, invstd, threadIdx.x, blockDim.x, &a, &b);
  a = block_sum(a, scratch);
  if (op == 2) b = block_sum(b, scratch);
  if (threadIdx.x == 0) {
    partial[(size_t)c * slices + j] = a;
    if (op == 2) partial_b[(size_t)c * slices + j] = b;
  }
}

// Per channel: the statistics from the partial sums, and the running statistics' update.
__global__ void bn_stats_kernel(BatchNormShape s, int slices, const double* sums, const double* sqs, float eps,
                                float momentum, float* running_mean, float* running_var, float* mean, float* invstd) {
  NASNET_GRID_STRIDE(c, (size_t)s.C) {
    double sum = 0.0, sq = 0.0;
    for (int k = 0; k < slices; ++k) {
      sum += sums[c * slices + k];
      sq += sqs[c * slices + k];
    }
    bn_finish_stats(sum, sq, (size_t)s.N * s.HW, eps, momentum, &mean[c], &invstd[c],
                    running_mean != nullptr ? running_mean + c : nullptr,
                    running_var != nullptr ? running_var + c : nullptr);
  }
}

// Per channel: dgamma, dbeta and the two means dx needs (mdy[c], mdyx[c]).
__global__ void bn_grad_stats_kernel(BatchNormShape s, int slices, const double* sdys, const double* sdyxs,
                                     float* dgamma, float* dbeta, float* mdy, float* mdyx) {
  NASNET_GRID_STRIDE(c, (size_t)s.C) {
    double sdy = 0.0, sdyx = 0.0;
    for (int k = 0; k < slices; ++k) {
      sdy += sdys[c * slices + k];
      sdyx += sdyxs[c * slices + k];
    }
    if (dgamma != nullptr) dgamma[c] += static_cast<float>(sdyx);
    if (dbeta != nullptr) dbeta[c] += static_cast<float>(sdy);
    const double count = (double)s.N * s.HW;
    mdy[c] = static_cast<float>(sdy / count);
    mdyx[c] = static_cast<float>(sdyx / count);
  }
}

// Elementwise over [N, C, HW]: blocks.y stride over images, blocks.x and threads over one image's
// C × HW values (32-bit index math: the host checks C × HW fits).
template <bool kRelu>
__global__ void bn_apply_kernel(BatchNormShape s, const float* x, const float* gamma, const float* beta,
                                const float* mean, const float* invstd, float* y) {
  const unsigned plane = static_cast<unsigned>(s.C) * s.HW, hw = static_cast<unsigned>(s.HW);
  for (int n = blockIdx.y; n < s.N; n += gridDim.y)
    for (unsigned j = blockIdx.x * blockDim.x + threadIdx.x; j < plane; j += gridDim.x * blockDim.x) {
      const unsigned c = j / hw;
      const size_t at = (size_t)n * plane + j;
      y[at] = bn_train_y(x[at], mean[c], gamma[c] * invstd[c], beta[c], kRelu);
    }
}

__global__ void bn_dx_kernel(BatchNormShape s, const float* x, const float* dy, const float* gamma,
                             const float* mean, const float* invstd, const float* mdy, const float* mdyx, float* dx) {
  const unsigned plane = static_cast<unsigned>(s.C) * s.HW, hw = static_cast<unsigned>(s.HW);
  for (int n = blockIdx.y; n < s.N; n += gridDim.y)
    for (unsigned j = blockIdx.x * blockDim.x + threadIdx.x; j < plane; j += gridDim.x * blockDim.x) {
      const unsigned c = j / hw;
      const size_t at = (size_t)n * plane + j;
      dx[at] = bn_dx(x[at], dy[at], mean[c], invstd[c], gamma[c] * invstd[c], mdy[c], mdyx[c]);
    }
}

// The shapes the split kernels index with 32-bit offsets: one image's C × HW values and one
// slice's images × HW elements.
Status check_split(const BatchNormShape& s, int slices) {
  const unsigned long long plane = (unsigned long long)s.C * s.HW;
  const unsigned long long slice = (unsigned long long)((s.N + slices - 1) / slices) * s.HW;
  if (plane >= (1ull << 31) || slice >= (1ull << 31))
    return Status::Invalid("cuda batch norm: [" + std::to_string(s.N) + ", " + std::to_string(s.C) + ", " +
                           std::to_string(s.HW) + "] has planes too large for 32-bit indexing");
  return Status::Ok();
}

// A split reduction's slices per channel and its scratch: two double partial arrays of C * slices
// (a, b), then two per-channel float arrays (c0, c1).
struct SplitScratch {
  int slices = 0;
  double* a = nullptr;
  double* b = nullptr;
  float* c0 = nullptr;
  float* c1 = nullptr;
};

Status carve_split(const BatchNormShape& s, Scratch* scratch, SplitScratch* out) {
  out->slices = bn_slices(s);
  NASNET_RETURN_IF_ERROR(check_split(s, out->slices));
  const size_t parts = (size_t)s.C * out->slices;
  NASNET_RETURN_IF_ERROR(scratch->alloc(2 * parts * sizeof(double) + 2 * (size_t)s.C * sizeof(float)));
  out->a = scratch->as<double>();
  out->b = out->a + parts;
  out->c0 = reinterpret_cast<float*>(out->b + parts);
  out->c1 = out->c0 + s.C;
  return Status::Ok();
}

dim3 apply_grid(const BatchNormShape& s) {
  const unsigned plane = static_cast<unsigned>(s.C) * s.HW;
  const unsigned x = (plane + kThreads - 1) / kThreads;
  return dim3(x < 1024 ? x : 1024, s.N < 65535 ? s.N : 65535);
}

template <bool kRelu>
__global__ void bn_eval_kernel(BatchNormShape s, const float* x, const float* gamma, const float* beta,
                               const float* running_mean, const float* running_var, float eps, float* y) {
  NASNET_GRID_STRIDE(i, (size_t)s.N * s.C * s.HW) {
    int c = (i / s.HW) % s.C;
    y[i] = bn_eval_y(x[i], gamma[c], beta[c], running_mean[c], running_var[c], eps, kRelu);
  }
}

template <bool kRelu>
Status train(Stream stream, const BatchNormShape& s, const float* x, const float* gamma, const float* beta, float eps,
             float momentum, float* running_mean, float* running_var, float* y, float* save_mean,
             float* save_invstd) {
  if (s.C <= 0 || s.N <= 0 || s.HW <= 0) return Status::Ok();
  cudaStream_t st = as_stream(stream);
  Scratch scratch(st);
  SplitScratch split;
  NASNET_RETURN_IF_ERROR(carve_split(s, &scratch, &split));
  const int S = split.slices;
  double* sums = split.a;
  double* sqs = split.b;
  float* mean = save_mean != nullptr ? save_mean : split.c0;
  float* invstd = save_invstd != nullptr ? save_invstd : split.c1;
  const dim3 grid(s.C, S);
  CUDA_CHECK(NASNET_LAUNCH(bn_slice_kernel, grid, kThreads, 0, st, s, S, 0, x, nullptr, nullptr, nullptr, nullptr,
                           sums, nullptr));
  CUDA_CHECK(NASNET_LAUNCH(bn_slice_kernel, grid, kThreads, 0, st, s, S, 1, x, nullptr, sums, nullptr, nullptr, sqs,
                           nullptr));
  CUDA_CHECK(NASNET_LAUNCH(bn_stats_kernel, grid_for(s.C), kThreads, 0, st, s, S, sums, sqs, eps, momentum,
                           running_mean, running_var, mean, invstd));
  CUDA_CHECK(NASNET_LAUNCH(bn_apply_kernel<kRelu>, apply_grid(s), kThreads, 0, st, s, x, gamma, beta, mean, invstd,
                           y));
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
  if (s.C <= 0 || s.N <= 0 || s.HW <= 0) return Status::Ok();
  cudaStream_t st = as_stream(stream);
  Scratch scratch(st);
  SplitScratch split;
  NASNET_RETURN_IF_ERROR(carve_split(s, &scratch, &split));
  const int S = split.slices;
  double* sdys = split.a;
  double* sdyxs = split.b;
  float* mdy = split.c0;
  float* mdyx = split.c1;
  CUDA_CHECK(NASNET_LAUNCH(bn_slice_kernel, dim3(s.C, S), kThreads, 0, st, s, S, 2, x, dy, nullptr, save_mean,
                           save_invstd, sdys, sdyxs));
  CUDA_CHECK(NASNET_LAUNCH(bn_grad_stats_kernel, grid_for(s.C), kThreads, 0, st, s, S, sdys, sdyxs, dgamma, dbeta,
                           mdy, mdyx));
  if (dx != nullptr)
    CUDA_CHECK(NASNET_LAUNCH(bn_dx_kernel, apply_grid(s), kThreads, 0, st, s, x, dy, gamma, save_mean, save_invstd,
                             mdy, mdyx, dx));
  return Status::Ok();
}

}  // namespace nasnet::cuda
