// Per-thread pieces of the batch-norm and loss kernels (batchnorm.cu, loss.cu): a thread's strided
// partial sums and the per-element formulas. Plain C++ as well as CUDA (NASNET_HD), so the host
// tests (tests/cuda_norm_ops_test.cc) replay the kernels' exact reduction order against the CPU.
// N = batch, C = channels, HW = pixels per plane; K = classes. A "partial" covers the elements
// first, first + step, ... of one channel (or row), as thread `first` of a `step`-thread block.
#pragma once
#include <cmath>
#include <cstddef>

#include "core/nan.h"
#include "core/random.h"  // NASNET_HD
#include "core/shapes.h"

namespace nasnet::cuda {

// Offset of element e (over [N, HW]) of channel c.
NASNET_HD size_t bn_at(const BatchNormShape& s, int c, size_t e) {
  size_t n = e / s.HW, i = e % s.HW;
  return (n * s.C + c) * s.HW + i;
}

NASNET_HD double bn_partial_sum(const BatchNormShape& s, const float* x, int c, size_t first, size_t step) {
  const size_t count = (size_t)s.N * s.HW;
  double acc = 0.0;
  for (size_t e = first; e < count; e += step) acc += x[bn_at(s, c, e)];
  return acc;
}

// Sum of squared deviations from `mean` (the second pass: no cancellation for offset inputs).
NASNET_HD double bn_partial_sq(const BatchNormShape& s, const float* x, int c, double mean, size_t first,
                               size_t step) {
  const size_t count = (size_t)s.N * s.HW;
  double acc = 0.0;
  for (size_t e = first; e < count; e += step) {
    double d = x[bn_at(s, c, e)] - mean;
    acc += d * d;
  }
  return acc;
}

// Sums of dy and dy * xhat for the backward pass.
NASNET_HD void bn_partial_grad(const BatchNormShape& s, const float* x, const float* dy, int c, float mean,
                               float invstd, size_t first, size_t step, double* sdy, double* sdyx) {
  const size_t count = (size_t)s.N * s.HW;
  double a = 0.0, b = 0.0;
  for (size_t e = first; e < count; e += step) {
    size_t at = bn_at(s, c, e);
    double g = dy[at];
    a += g;
    b += g * (double)((x[at] - mean) * invstd);
  }
  *sdy = a;
  *sdyx = b;
}

// Channel statistics from the two sums: save_mean/save_invstd (nullable) and the ONNX-momentum
// update of the running statistics (nullable) with the unbiased variance.
NASNET_HD void bn_finish_stats(double sum, double sq, size_t count, float eps, float momentum, float* mean_out,
                               float* invstd_out, float* running_mean, float* running_var) {
  const double mean = sum / (double)count, var = sq / (double)count;
  *mean_out = static_cast<float>(mean);
  *invstd_out = static_cast<float>(1.0 / sqrt(var + (double)eps));
  if (running_mean != nullptr) *running_mean = *running_mean * momentum + *mean_out * (1.f - momentum);
  if (running_var != nullptr) {
    double unbiased = count > 1 ? sq / (double)(count - 1) : var;
    *running_var = *running_var * momentum + static_cast<float>(unbiased) * (1.f - momentum);
  }
}

// y = (x - mean) * gamma * invstd + beta, optionally followed by ReLU.
NASNET_HD float bn_train_y(float x, float mean, float g, float beta, bool relu) {
  float v = fmaf(x - mean, g, beta);  // center first: offset inputs keep their precision
  return relu ? relu_value(v) : v;
}

NASNET_HD float bn_eval_y(float x, float gamma, float beta, float rmean, float rvar, float eps, bool relu) {
  float v = (x - rmean) * (gamma / sqrtf(rvar + eps)) + beta;
  return relu ? relu_value(v) : v;
}

// dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)).
NASNET_HD float bn_dx(float x, float dy, float mean, float invstd, float k, float mdy, float mdyx) {
  float xhat = (x - mean) * invstd;
  return k * (dy - mdy - xhat * mdyx);
}

// ---- softmax cross-entropy (one row z of K logits) --------------------------------------------------

// A thread's max and first argmax over k = first, first + step, ...; arg == K when it saw none.
NASNET_HD void ce_partial_max(const float* z, int K, int first, int step, float* best, int* arg) {
  float b = 0.f;
  int a = K;
  for (int k = first; k < K; k += step)
    if (a == K || z[k] > b) {
      b = z[k];
      a = k;
    }
  *best = b;
  *arg = a;
}

// Merges (b2, a2) into (b1, a1): larger value wins, ties go to the smaller index (the first maximum).
NASNET_HD void ce_merge_max(float* b1, int* a1, float b2, int a2, int K) {
  if (a2 < K && (*a1 == K || b2 > *b1 || (b2 == *b1 && a2 < *a1))) {
    *b1 = b2;
    *a1 = a2;
  }
}

NASNET_HD void ce_partial_sums(const float* z, int K, float m, int first, int step, double* se, double* sz) {
  double a = 0.0, b = 0.0;
  for (int k = first; k < K; k += step) {
    a += exp((double)z[k] - m);
    b += z[k];
  }
  *se = a;
  *sz = b;
}

// loss = logsumexp - sum_k target_k z_k with target = (1 - s) onehot + s / K.
NASNET_HD double ce_row_loss(double lse, float z_label, double zsum, float smoothing, int K) {
  return lse - ((double)smoothing / K * zsum + (1.0 - smoothing) * (double)z_label);
}

// weight / N * (softmax_k - target_k)
NASNET_HD float ce_dlogit(float zk, double lse, bool is_label, float smoothing, int K, double scale) {
  double off = (double)smoothing / K;
  double t = is_label ? 1.0 - smoothing + off : off;
  return static_cast<float>(scale * (exp((double)zk - lse) - t));
}

}  // namespace nasnet::cuda
