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

// ---- split reductions: a channel's images cut into slices, one block per (channel, slice) ----------
// One block per channel leaves most of a large GPU idle when channels are few and planes large (32
// channels of 64 images of 32×32 make 32 blocks), so the batch-norm reductions give each block one
// slice of whole images of one channel: slice j of S covers images [j·N/S, (j+1)·N/S). The slice
// count depends on the shape alone, and slices and their threads are summed in a fixed order, so
// results are deterministic (a captured step replays bit for bit).
constexpr int kBnTargetBlocks = 1024;  // enough blocks to fill a GPU several times over

NASNET_HD int bn_slices(const BatchNormShape& s) {
  const int want = s.C > 0 ? (kBnTargetBlocks + s.C - 1) / s.C : 1;
  return s.N < want ? (s.N > 0 ? s.N : 1) : want;
}
NASNET_HD int bn_slice_begin(const BatchNormShape& s, int slices, int j) {
  return static_cast<int>((static_cast<long long>(s.N) * j) / slices);
}

// A thread's partial over elements first, first + step, ... of the flattened [n0, n1) × HW block
// of channel c (`op` 0: sum of x; 1: sum of (x - mean)^2; 2: sums of dy and dy * xhat).
NASNET_HD void bn_slice_partial(const BatchNormShape& s, const float* x, const float* dy, int c, int n0, int n1,
                                int op, double mean, float fmean, float invstd, unsigned first, unsigned step,
                                double* a_out, double* b_out) {
  const unsigned hw = static_cast<unsigned>(s.HW), count = static_cast<unsigned>(n1 - n0) * hw;
  const size_t plane = (size_t)s.C * s.HW;
  const float* xc = x + (size_t)n0 * plane + (size_t)c * s.HW;
  const float* dc = dy != nullptr ? dy + (size_t)n0 * plane + (size_t)c * s.HW : nullptr;
  double a = 0.0, b = 0.0;
  for (unsigned e = first; e < count; e += step) {
    const size_t at = (size_t)(e / hw) * plane + e % hw;
    if (op == 0) {
      a += xc[at];
    } else if (op == 1) {
      double d = xc[at] - mean;
      a += d * d;
    } else {
      double g = dc[at];
      a += g;
      b += g * (double)((xc[at] - fmean) * invstd);
    }
  }
  *a_out = a;
  *b_out = b;
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
