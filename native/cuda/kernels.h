// CUDA kernels: the twins of nasnet::cpu (native/cpu/kernels.h), one .cu file per op family
// (native/cuda/<family>.cu), same shape structs (core/shapes.h), same semantics, on DEVICE pointers.
//
// Layout: float32, NCHW, contiguous. N = batch, C = channels in, K = channels out, H, W = input
// height and width, OH, OW = output height and width, kh, kw = kernel size.
//
// Conventions (as on the CPU):
// - Activations and activation gradients are WRITTEN (=): `y`, `dx` are overwritten.
// - Parameter gradients ACCUMULATE (+=): `dw`, `db`, `dgamma`, `dbeta` are added to.
// - A nullptr for an optional output means "not needed": that work is skipped.
// - Every function enqueues work on `stream` (a cudaStream_t; nullptr = the legacy default stream)
//   and returns without waiting; a failed launch comes back as a Status naming file:line.
// - Pointers to tensors are device pointers. Host pointers are named `host_*`.
// - Kernels validate nothing (the plan checked shapes). Every reduction runs in a fixed order fixed
//   by the shape alone, so results are bit-reproducible run to run and device to device.
// - NaN propagates exactly as on the CPU (core/nan.h, one definition for both): ReLU (also fused
//   into depthwise and batch norm), max pooling and clamps keep a NaN a NaN.
// This header needs no CUDA headers, so plain C++ (the plan, the tests) can include it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/shapes.h"
#include "core/status.h"
#include "core/step_values.h"

namespace nasnet::cuda {

using Stream = void*;  // cudaStream_t

// ---- Device and memory (memory.cu) ---------------------------------------------------------------
// Ok when at least one device is usable; otherwise Unavailable with the reason ("no CUDA device: ...").
Status device_available();
Status device_malloc(void** ptr, size_t bytes);
Status device_free(void* ptr);
Status copy_to_device(void* dst, const void* host_src, size_t bytes, Stream stream);
Status copy_to_host(void* host_dst, const void* src, size_t bytes, Stream stream);
Status memset_zero(void* dst, size_t bytes, Stream stream);
Status synchronize(Stream stream);

// ---- GEMM (gemm.cu) ------------------------------------------------------------------------------
// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, row-major; beta == 0 never reads C.
Status sgemm(Stream stream, bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
             const float* B, int ldb, float beta, float* C, int ldc);
// y[M, O] = x[M, I] · w[O, I]ᵀ + b[O]
Status linear_forward(Stream stream, int M, int I, int O, const float* x, const float* w, const float* b, float* y);
// dx written (or nullptr); dw, db accumulated.
Status linear_backward(Stream stream, int M, int I, int O, const float* x, const float* w, const float* dy, float* dx,
                       float* dw, float* db);

// ---- Convolution (conv.cu: implicit GEMM; depthwise.cu: groups == C == K) -------------------------
// w: [K, C/groups, kh, kw]; b: [K] or nullptr; y: [N, K, OH, OW].
Status conv2d_forward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* b, float* y);
// dx written (or nullptr); dw accumulated (or nullptr); db accumulated (or nullptr).
Status conv2d_backward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* dy, float* dx,
                       float* dw, float* db);
// The dedicated depthwise kernels (conv2d_* route to them when groups == C == K).
Status depthwise_forward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* b, float* y);
Status depthwise_backward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* dy,
                          float* dx, float* dw, float* db);
// Fused ReLU → depthwise forward: y = depthwise(relu(x)) without writing relu(x) (groups == C == K).
Status relu_depthwise_forward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* b,
                              float* y);
// Its backward from x (not relu(x)): dx = relu'(x) · d(depthwise)/d(input) written (or nullptr), dw from
// relu(x) accumulated (or nullptr), db accumulated (or nullptr).
Status relu_depthwise_backward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* dy,
                               float* dx, float* dw, float* db);

// ---- Batch normalization (batchnorm.cu) ----------------------------------------------------------
Status batchnorm_forward_train(Stream stream, const BatchNormShape& s, const float* x, const float* gamma,
                               const float* beta, float eps, float momentum, float* running_mean,
                               float* running_var, float* y, float* save_mean, float* save_invstd);
Status batchnorm_forward_eval(Stream stream, const BatchNormShape& s, const float* x, const float* gamma,
                              const float* beta, const float* running_mean, const float* running_var, float eps,
                              float* y);
Status batchnorm_backward(Stream stream, const BatchNormShape& s, const float* x, const float* dy, const float* gamma,
                          const float* save_mean, const float* save_invstd, float* dx, float* dgamma, float* dbeta);
// Fused BN → ReLU forwards: y = relu(batchnorm(x)), one pass over x after the statistics.
Status batchnorm_relu_forward_train(Stream stream, const BatchNormShape& s, const float* x, const float* gamma,
                                    const float* beta, float eps, float momentum, float* running_mean,
                                    float* running_var, float* y, float* save_mean, float* save_invstd);
Status batchnorm_relu_forward_eval(Stream stream, const BatchNormShape& s, const float* x, const float* gamma,
                                   const float* beta, const float* running_mean, const float* running_var, float eps,
                                   float* y);

// ---- Elementwise (elementwise.cu) ----------------------------------------------------------------
Status relu_forward(Stream stream, size_t n, const float* x, float* y);
Status relu_backward(Stream stream, size_t n, const float* y, const float* dy, float* dx);
Status add_forward(Stream stream, size_t n, const float* a, const float* b, float* y);
Status accumulate(Stream stream, size_t n, const float* x, float* y);
Status scale(Stream stream, size_t n, float alpha, float* y);
Status fill(Stream stream, size_t n, float value, float* y);

// ---- Pooling (pool.cu) ---------------------------------------------------------------------------
Status maxpool_forward(Stream stream, const PoolShape& s, const float* x, float* y, int32_t* argmax);
Status maxpool_backward(Stream stream, const PoolShape& s, const int32_t* argmax, const float* dy, float* dx);
Status avgpool_forward(Stream stream, const PoolShape& s, const float* x, float* y);
Status avgpool_backward(Stream stream, const PoolShape& s, const float* dy, float* dx);
Status global_avgpool_forward(Stream stream, int N, int C, int HW, const float* x, float* y);
Status global_avgpool_backward(Stream stream, int N, int C, int HW, const float* dy, float* dx);

// ---- Layout (layout.cu) --------------------------------------------------------------------------
// `xs`, `dxs` and `channels` are HOST arrays (of device pointers, of channel counts).
Status concat_forward(Stream stream, int N, int HW, int count, const float* const* xs, const int* channels, float* y);
Status concat_backward(Stream stream, int N, int HW, int count, const float* dy, const int* channels,
                       float* const* dxs);
Status pad_forward(Stream stream, int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* x,
                   float* y);
Status pad_backward(Stream stream, int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* dy,
                    float* dx);
Status slice_forward(Stream stream, int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW,
                     const float* x, float* y);
Status slice_backward(Stream stream, int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW,
                      const float* dy, float* dx);

// ---- Random regularizers (dropout.cu) ------------------------------------------------------------
// Same counter-based draws as the CPU (core/random.h): the same seed gives bit-identical masks.
Status dropout_forward(Stream stream, size_t n, float ratio, uint64_t seed, uint64_t rng_stream, const float* x,
                       float* y, uint8_t* mask);
Status dropout_backward(Stream stream, size_t n, float ratio, const uint8_t* mask, const float* dy, float* dx);
Status droppath_forward(Stream stream, int N, size_t per_sample, float keep, uint64_t seed, uint64_t rng_stream,
                        const float* x, float* y, uint8_t* keep_mask);
Status droppath_backward(Stream stream, int N, size_t per_sample, float keep, const uint8_t* keep_mask,
                         const float* dy, float* dx);

// ---- Loss (loss.cu) ------------------------------------------------------------------------------
// Softmax cross-entropy with label smoothing, as cpu::softmax_cross_entropy, with the results left on
// the device so a step needs no synchronization: *loss (a device double) = mean loss over N,
// *correct (a device int, or nullptr) = rows whose argmax equals the label, dlogits written (or
// nullptr). The loss is reduced on the device in a fixed order (deterministic).
Status softmax_cross_entropy(Stream stream, int N, int K, const float* logits, const int32_t* labels, float smoothing,
                             float weight, float* dlogits, double* loss, int* correct);

// ---- Optimizers (optimizer.cu) -------------------------------------------------------------------
// *out (a device double) = sum of squares of g, by a two-pass fixed-order reduction (deterministic).
Status sum_squares(Stream stream, size_t n, const float* g, double* out);
Status sgd_momentum_update(Stream stream, size_t n, float lr, float momentum, bool nesterov, float weight_decay,
                           float grad_scale, float* w, const float* g, float* v);
Status rmsprop_update(Stream stream, size_t n, float lr, float decay, float momentum, float eps, float weight_decay,
                      float grad_scale, float* w, const float* g, float* ms, float* mom);

// ---- A plan's step (step_ops.cu) -------------------------------------------------------------------
// The kernels of a captured step that read per-step values from device memory (core/step_values.h).
// Random regularizers: an inactive slot makes the forward y = x and the backward dx = dy (the mask
// is neither written nor read); otherwise as dropout_* / droppath_* with the slot's stream (and
// DropPath's keep). Same masks as the CPU for the same seed and stream.
Status dropout_forward_slot(Stream stream, size_t n, float ratio, uint64_t seed, const RandomSlot* slot,
                            const float* x, float* y, uint8_t* mask);
Status dropout_backward_slot(Stream stream, size_t n, float ratio, const RandomSlot* slot, const uint8_t* mask,
                             const float* dy, float* dx);
Status droppath_forward_slot(Stream stream, int N, size_t per_sample, uint64_t seed, const RandomSlot* slot,
                             const float* x, float* y, uint8_t* keep_mask);
Status droppath_backward_slot(Stream stream, int N, size_t per_sample, const RandomSlot* slot,
                              const uint8_t* keep_mask, const float* dy, float* dx);
// The DropPath → Add epilogue as cpu::add_droppath_forward (host arrays of device pointers; a
// nullptr slot is a plain term); the same masks and floats.
Status add_droppath_forward(Stream stream, size_t n, int N, int count, const float* const* host_xs, uint64_t seed,
                            const RandomSlot* const* host_slots, uint8_t* const* host_masks, float* y);
// Softmax cross-entropy as cpu::softmax_cross_entropy: weight (a device float, or nullptr for 1)
// scales dlogits; optional device outputs: the mean loss as float and double (rows summed in row
// order, as the CPU), the correct count.
Status cross_entropy(Stream stream, int N, int K, const float* logits, const int32_t* labels, float smoothing,
                     const float* weight, float* dlogits, float* loss32, double* loss64, int32_t* correct);
// y[0] = sum_j host_weights[j] * host_xs[j][0] in double, in order (host_xs: host array of device
// pointers to scalars).
Status weighted_sum(Stream stream, int count, const float* const* host_xs, const float* host_weights, float* y);
// d[0] = w * dy[0], or d[0] += w * dy[0].
Status scale_scalar(Stream stream, const float* dy, float w, bool accumulate, float* d);
// values->sumsq = sum of partials in order; values->grad_scale = clip_norm / norm when clipping.
Status global_norm(Stream stream, const double* partials, int count, StepValues* values);
// sgd_momentum_update / rmsprop_update with every hyper-parameter and the gradient scale read from
// `values`; weight decay applies when `decay`.
Status sgd_update_step(Stream stream, size_t n, bool decay, const StepValues* values, float* w, const float* g,
                       float* v);
Status rmsprop_update_step(Stream stream, size_t n, bool decay, const StepValues* values, float* w, const float* g,
                           float* ms, float* mom);
// cpu::ema_update with the decay read from values->ema_decay.
Status ema_update_step(Stream stream, size_t n, const StepValues* values, const float* w, float* shadow);

}  // namespace nasnet::cuda
