// Dropout and DropPath with the counter-based generator of core/random.h: element i (dropout) or
// sample n (DropPath) is kept when uniform01(seed, stream, i) < keep, exactly as on the CPU, so one
// seed gives bit-identical masks on both backends. n = elements, N = samples.
#include "core/random.h"
#include "cuda/common.cuh"

namespace nasnet::cuda {

namespace {

__global__ void dropout_fwd(size_t n, float keep, float inv_keep, uint64_t seed, uint64_t rs, const float* x,
                            float* y, uint8_t* mask) {
  NASNET_GRID_STRIDE(i, n) {
    bool k = uniform01(seed, rs, i) < keep;
    if (mask != nullptr) mask[i] = k ? 1 : 0;
    y[i] = k ? x[i] * inv_keep : 0.f;
  }
}

__global__ void dropout_bwd(size_t n, float inv_keep, const uint8_t* mask, const float* dy, float* dx) {
  NASNET_GRID_STRIDE(i, n) { dx[i] = mask[i] ? dy[i] * inv_keep : 0.f; }
}

__global__ void droppath_mask(size_t N, float keep, uint64_t seed, uint64_t rs, uint8_t* keep_mask) {
  NASNET_GRID_STRIDE(i, N) { keep_mask[i] = uniform01(seed, rs, i) < keep ? 1 : 0; }
}

__global__ void droppath_apply(size_t n, size_t per_sample, float inv_keep, const uint8_t* keep_mask,
                               const float* x, float* y) {
  NASNET_GRID_STRIDE(i, n) { y[i] = keep_mask[i / per_sample] ? x[i] * inv_keep : 0.f; }
}

}  // namespace

Status dropout_forward(Stream stream, size_t n, float ratio, uint64_t seed, uint64_t rng_stream, const float* x,
                       float* y, uint8_t* mask) {
  float keep = 1.f - ratio;
  NASNET_LAUNCH_1D(dropout_fwd, n, keep, keep > 0.f ? 1.f / keep : 0.f, seed, rng_stream, x, y, mask);
}

Status dropout_backward(Stream stream, size_t n, float ratio, const uint8_t* mask, const float* dy, float* dx) {
  float keep = 1.f - ratio;
  NASNET_LAUNCH_1D(dropout_bwd, n, keep > 0.f ? 1.f / keep : 0.f, mask, dy, dx);
}

Status droppath_forward(Stream stream, int N, size_t per_sample, float keep, uint64_t seed, uint64_t rng_stream,
                        const float* x, float* y, uint8_t* keep_mask) {
  if (N <= 0) return Status::Ok();
  cudaStream_t st = as_stream(stream);
  Scratch own(st);  // the mask is needed to apply it even when the caller does not keep it
  if (keep_mask == nullptr) {
    NASNET_RETURN_IF_ERROR(own.alloc((size_t)N));
    keep_mask = own.as<uint8_t>();
  }
  CUDA_CHECK(NASNET_LAUNCH(droppath_mask, grid_for((size_t)N), kThreads, 0, st, (size_t)N, keep, seed, rng_stream,
                           keep_mask));
  size_t n = (size_t)N * per_sample;
  NASNET_LAUNCH_1D(droppath_apply, n, per_sample, keep > 0.f ? 1.f / keep : 0.f, keep_mask, x, y);
}

Status droppath_backward(Stream stream, int N, size_t per_sample, float keep, const uint8_t* keep_mask,
                         const float* dy, float* dx) {
  size_t n = (size_t)N * per_sample;
  NASNET_LAUNCH_1D(droppath_apply, n, per_sample, keep > 0.f ? 1.f / keep : 0.f, keep_mask, dy, dx);
}

}  // namespace nasnet::cuda
