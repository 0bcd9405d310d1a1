// Kernels of a plan's step that read their per-step values from device memory (core/step_values.h),
// so that a step captured once as a CUDA graph replays with new ones: Dropout and DropPath driven by
// a RandomSlot, cross-entropy weighted by a device dy, the scalar loss combination, the global
// gradient norm and clipping scale, and the optimizer updates reading StepValues.
// n = elements, N = batch (or samples), K = classes. Same formulas as the CPU twins in cpu/.
#include <cfloat>
#include <cmath>

#include "core/random.h"
#include "cuda/common.cuh"
#include "cuda/cross_entropy_row.cuh"
#include "cuda/optimizer_math.h"

namespace nasnet::cuda {

namespace {

constexpr int kLossThreads = 128;
constexpr int kSumTerms = 8;  // WeightedSum terms per launch

__global__ void dropout_slot_fwd(size_t n, float keep, float inv_keep, uint64_t seed, const RandomSlot* slot,
                                 const float* x, float* y, uint8_t* mask) {
  const bool active = slot->active != 0;
  const uint64_t rs = slot->stream;
  NASNET_GRID_STRIDE(i, n) {
    if (!active) {
      y[i] = x[i];
      continue;
    }
    bool k = uniform01(seed, rs, i) < keep;
    if (mask != nullptr) mask[i] = k ? 1 : 0;
    y[i] = k ? x[i] * inv_keep : 0.f;
  }
}

__global__ void dropout_slot_bwd(size_t n, float inv_keep, const RandomSlot* slot, const uint8_t* mask,
                                 const float* dy, float* dx) {
  const bool active = slot->active != 0;
  NASNET_GRID_STRIDE(i, n) { dx[i] = !active ? dy[i] : mask[i] ? dy[i] * inv_keep : 0.f; }
}

// Sample i / per_sample is kept iff uniform01(seed, stream, sample) < keep; the first element of
// each sample writes the mask.
__global__ void droppath_slot_fwd(size_t n, size_t per_sample, uint64_t seed, const RandomSlot* slot, const float* x,
                                  float* y, uint8_t* keep_mask) {
  const bool active = slot->active != 0;
  const float keep = slot->keep;
  const float inv_keep = keep > 0.f ? 1.f / keep : 0.f;
  const uint64_t rs = slot->stream;
  NASNET_GRID_STRIDE(i, n) {
    if (!active) {
      y[i] = x[i];
      continue;
    }
    const size_t sample = i / per_sample;
    const bool k = uniform01(seed, rs, sample) < keep;
    if (keep_mask != nullptr && i % per_sample == 0) keep_mask[sample] = k ? 1 : 0;
    y[i] = k ? x[i] * inv_keep : 0.f;
  }
}

__global__ void droppath_slot_bwd(size_t n, size_t per_sample, const RandomSlot* slot, const uint8_t* keep_mask,
                                  const float* dy, float* dx) {
  const bool active = slot->active != 0;
  const float keep = slot->keep;
  const float inv_keep = keep > 0.f ? 1.f / keep : 0.f;
  NASNET_GRID_STRIDE(i, n) { dx[i] = !active ? dy[i] : keep_mask[i / per_sample] ? dy[i] * inv_keep : 0.f; }
}

// One block per row: max, argmax (first on ties), sum of exp, the row's loss and hit, dlogits.
__global__ void ce_slot_rows(int N, int K, const float* logits, const int32_t* labels, float smoothing,
                             const float* weight, float* dlogits, double* row_loss, int* row_hit) {
  NASNET_SHARED(float[kLossThreads], smax);
  NASNET_SHARED(int[kLossThreads], sarg);
  NASNET_SHARED(double[kLossThreads], sd);
  const double scale = (double)(weight != nullptr ? *weight : 1.f) / N;
  cross_entropy_row(blockIdx.x, K, logits, labels, smoothing, scale, dlogits, row_loss, row_hit, smax, sarg, sd);
}

// Row losses and hits summed in row order by one thread: the CPU's order, so the mean is the same.
__global__ void ce_slot_total(int N, const double* row_loss, const int* row_hit, float* loss32, double* loss64,
                              int32_t* correct) {
  double acc = 0.0;
  int hits = 0;
  for (int r = 0; r < N; ++r) {
    acc += row_loss[r];
    hits += row_hit[r];
  }
  const double mean = N > 0 ? acc / N : 0.0;
  if (loss32 != nullptr) *loss32 = (float)mean;
  if (loss64 != nullptr) *loss64 = mean;
  if (correct != nullptr) *correct = hits;
}

struct DropTerms {
  const float* x[kSumTerms];
  const RandomSlot* slot[kSumTerms];  // nullptr: a plain term
  uint8_t* mask[kSumTerms];
};

// y (+)= sum over j of the j-th term, DropPath'd as droppath_slot_fwd would, in order j.
__global__ void add_droppath_kernel(size_t n, size_t per_sample, int count, bool first, uint64_t seed, DropTerms t,
                                    float* y) {
  NASNET_GRID_STRIDE(i, n) {
    const size_t sample = i / per_sample;
    float acc = 0.f;
    for (int j = 0; j < count; ++j) {
      const RandomSlot* s = t.slot[j];
      float v = t.x[j][i];
      if (s != nullptr && s->active != 0) {
        const bool k = uniform01(seed, s->stream, sample) < s->keep;
        if (t.mask[j] != nullptr && i % per_sample == 0) t.mask[j][sample] = k ? 1 : 0;
        v = k ? v * (s->keep > 0.f ? 1.f / s->keep : 0.f) : 0.f;
      }
      acc = j == 0 && first ? v : (j == 0 ? y[i] : acc) + v;
    }
    y[i] = acc;
  }
}

struct SumTerms {
  const float* x[kSumTerms];
  float w[kSumTerms];
};

// acc (+)= sum of w_j * x_j[0] in order j; `last`: y[0] = (float)acc.
__global__ void weighted_sum_kernel(SumTerms t, int count, bool first, bool last, double* acc, float* y) {
  double s = first ? 0.0 : *acc;
  for (int j = 0; j < count; ++j) s += (double)t.w[j] * t.x[j][0];
  *acc = s;
  if (last) y[0] = (float)s;
}

__global__ void scale_scalar_kernel(const float* dy, float w, bool accumulate, float* d) {
  const float v = w * dy[0];
  d[0] = accumulate ? d[0] + v : v;
}

__global__ void global_norm_kernel(const double* partials, int count, StepValues* v) {
  double sq = 0.0;
  for (int k = 0; k < count; ++k) sq += partials[k];
  v->sumsq = sq;
  const double norm = sqrt(sq);
  const float clip = v->clip_norm;
  const bool finite = norm == norm && norm <= DBL_MAX;  // not NaN, not infinite
  v->grad_scale = clip > 0.f && finite && norm > clip ? (float)(clip / norm) : 1.f;
}

__global__ void sgd_slot_kernel(size_t n, bool decay, const StepValues* v, float* w, const float* g, float* m) {
  const float lr = v->lr, momentum = v->momentum, gs = v->grad_scale;
  const float wd = decay ? v->weight_decay : 0.f;
  const bool nesterov = v->nesterov != 0;
  NASNET_GRID_STRIDE(i, n) sgd_element(&w[i], &m[i], g[i], gs, wd, lr, momentum, nesterov);
}

__global__ void rmsprop_slot_kernel(size_t n, bool decay, const StepValues* v, float* w, const float* g, float* ms,
                                    float* mom) {
  const float lr = v->lr, rho = v->rms_decay, momentum = v->momentum, eps = v->rms_eps, gs = v->grad_scale;
  const float wd = decay ? v->weight_decay : 0.f;
  NASNET_GRID_STRIDE(i, n) rmsprop_element(&w[i], &ms[i], &mom[i], g[i], gs, wd, lr, rho, momentum, eps);
}

__global__ void ema_slot_kernel(size_t n, const StepValues* v, const float* w, float* shadow) {
  const float d = v->ema_decay, keep = 1.f - d;
  NASNET_GRID_STRIDE(i, n) { shadow[i] = d * shadow[i] + keep * w[i]; }
}

}  // namespace

Status dropout_forward_slot(Stream stream, size_t n, float ratio, uint64_t seed, const RandomSlot* slot,
                            const float* x, float* y, uint8_t* mask) {
  const float keep = 1.f - ratio;
  NASNET_LAUNCH_1D(dropout_slot_fwd, n, keep, keep > 0.f ? 1.f / keep : 0.f, seed, slot, x, y, mask);
}

Status dropout_backward_slot(Stream stream, size_t n, float ratio, const RandomSlot* slot, const uint8_t* mask,
                             const float* dy, float* dx) {
  const float keep = 1.f - ratio;
  NASNET_LAUNCH_1D(dropout_slot_bwd, n, keep > 0.f ? 1.f / keep : 0.f, slot, mask, dy, dx);
}

Status droppath_forward_slot(Stream stream, int N, size_t per_sample, uint64_t seed, const RandomSlot* slot,
                             const float* x, float* y, uint8_t* keep_mask) {
  const size_t n = (size_t)N * per_sample;
  NASNET_LAUNCH_1D(droppath_slot_fwd, n, per_sample, seed, slot, x, y, keep_mask);
}

Status droppath_backward_slot(Stream stream, int N, size_t per_sample, const RandomSlot* slot,
                              const uint8_t* keep_mask, const float* dy, float* dx) {
  const size_t n = (size_t)N * per_sample;
  NASNET_LAUNCH_1D(droppath_slot_bwd, n, per_sample, slot, keep_mask, dy, dx);
}

Status add_droppath_forward(Stream stream, size_t n, int N, int count, const float* const* host_xs, uint64_t seed,
                            const RandomSlot* const* host_slots, uint8_t* const* host_masks, float* y) {
  if (n == 0) return Status::Ok();
  const size_t per_sample = n / (size_t)N;
  for (int first = 0; first < count; first += kSumTerms) {
    DropTerms t{};
    const int k = count - first < kSumTerms ? count - first : kSumTerms;
    for (int j = 0; j < k; ++j) {
      t.x[j] = host_xs[first + j];
      t.slot[j] = host_slots[first + j];
      t.mask[j] = host_masks[first + j];
    }
    CUDA_CHECK(NASNET_LAUNCH(add_droppath_kernel, grid_for(n), kThreads, 0, as_stream(stream), n, per_sample, k,
                             first == 0, seed, t, y));
  }
  return Status::Ok();
}

Status cross_entropy(Stream stream, int N, int K, const float* logits, const int32_t* labels, float smoothing,
                     const float* weight, float* dlogits, float* loss32, double* loss64, int32_t* correct) {
  cudaStream_t st = as_stream(stream);
  Scratch rows(st);
  const size_t rows_n = (size_t)(N > 0 ? N : 1);
  NASNET_RETURN_IF_ERROR(rows.alloc(rows_n * (sizeof(double) + sizeof(int))));
  double* row_loss = rows.as<double>();
  int* row_hit = reinterpret_cast<int*>(row_loss + rows_n);
  if (N > 0) {
    CUDA_CHECK(NASNET_LAUNCH(ce_slot_rows, N, kLossThreads, 0, st, N, K, logits, labels, smoothing, weight, dlogits,
                             row_loss, row_hit));
  }
  CUDA_CHECK(NASNET_LAUNCH(ce_slot_total, 1, 1, 0, st, N, row_loss, row_hit, loss32, loss64, correct));
  return Status::Ok();
}

Status weighted_sum(Stream stream, int count, const float* const* host_xs, const float* host_weights, float* y) {
  cudaStream_t st = as_stream(stream);
  Scratch acc(st);
  NASNET_RETURN_IF_ERROR(acc.alloc(sizeof(double)));
  for (int first = 0; first < count || first == 0; first += kSumTerms) {
    SumTerms t{};
    const int k = count - first < kSumTerms ? count - first : kSumTerms;
    for (int j = 0; j < k; ++j) {
      t.x[j] = host_xs[first + j];
      t.w[j] = host_weights[first + j];
    }
    CUDA_CHECK(
        NASNET_LAUNCH(weighted_sum_kernel, 1, 1, 0, st, t, k, first == 0, first + k >= count, acc.as<double>(), y));
    if (count == 0) break;
  }
  return Status::Ok();
}

Status scale_scalar(Stream stream, const float* dy, float w, bool accumulate, float* d) {
  CUDA_CHECK(NASNET_LAUNCH(scale_scalar_kernel, 1, 1, 0, as_stream(stream), dy, w, accumulate, d));
  return Status::Ok();
}

Status global_norm(Stream stream, const double* partials, int count, StepValues* values) {
  CUDA_CHECK(NASNET_LAUNCH(global_norm_kernel, 1, 1, 0, as_stream(stream), partials, count, values));
  return Status::Ok();
}

Status sgd_update_step(Stream stream, size_t n, bool decay, const StepValues* values, float* w, const float* g,
                       float* v) {
  NASNET_LAUNCH_1D(sgd_slot_kernel, n, decay, values, w, g, v);
}

Status rmsprop_update_step(Stream stream, size_t n, bool decay, const StepValues* values, float* w, const float* g,
                           float* ms, float* mom) {
  NASNET_LAUNCH_1D(rmsprop_slot_kernel, n, decay, values, w, g, ms, mom);
}

Status ema_update_step(Stream stream, size_t n, const StepValues* values, const float* w, float* shadow) {
  NASNET_LAUNCH_1D(ema_slot_kernel, n, values, w, shadow);
}

}  // namespace nasnet::cuda
