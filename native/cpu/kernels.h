// CPU kernels: one file per op family (native/cpu/<family>.cc), each a forward/backward pair.
//
// Layout: float32, NCHW, contiguous. N = batch, C = channels in, K = channels out, H, W = input
// height and width, OH, OW = output height and width, kh, kw = kernel size.
//
// Conventions (for every kernel here):
// - Activations and activation gradients are WRITTEN (=): `y`, `dx` are overwritten.
// - Parameter gradients ACCUMULATE (+=): `dw`, `db`, `dgamma`, `dbeta` are added to, so a parameter
//   used by several nodes (or a step split into micro-batches) sums its gradients. The plan zeroes them.
// - A nullptr for an optional output (`dx`, `db`, ...) means "not needed": skip that work.
// - Kernels validate nothing: the plan has checked shapes before it calls them. They use all
//   OpenMP threads and are deterministic for a given thread count.
// - NaN propagates (core/nan.h): ReLU, max pooling and every clamp keep a NaN a NaN, on every SIMD
//   path, so a step on NaN input or weights reports a NaN loss, never a finite one made of zeros.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/shapes.h"
#include "core/step_values.h"

namespace nasnet::cpu {

// The shapes are shared with the CUDA kernels and the plan (core/shapes.h).
using nasnet::BatchNormShape;
using nasnet::ConvShape;
using nasnet::FusedConvBnShape;
using nasnet::is_depthwise;
using nasnet::is_pointwise;
using nasnet::PoolShape;
using nasnet::RandomSlot;

// ---- GEMM (gemm.cc) ------------------------------------------------------------------------------
// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, row-major, op = transpose when trans_* is true.
// lda/ldb/ldc are row strides of A, B, C as stored. Blocked, SIMD-dispatched (AVX-512/AVX2/portable).
void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* C, int ldc);
// The same product with alpha * op(A) packed once (sgemm_pack_a, into sgemm_packed_a_floats(M, K)
// floats) for many B: a convolution's weights, packed once per call instead of once per image. The
// packed layout is the active SIMD level's: pack and multiply under the same level. Same results as
// sgemm (the same micro-kernels, in the same order), except sgemm's direct A·Bᵀ path.
// `extras` folds two neighbouring passes into the product: relu_b reads op(B) as relu_value(op(B))
// (applied as B is packed), row_bias (M floats) is added to each row of C as it is stored
// (C = beta * C + op(A) · op(B) + row_bias[i], the same floats as adding it in a pass afterwards).
struct PackedGemmExtras {
  bool relu_b = false;
  const float* row_bias = nullptr;
  // nullptr, or an M × N matrix laid out as C (ldc apart) added to C after row_bias as the tiles are
  // stored (C = ... + row_bias[i] + addend[i, j], the same floats as an Add pass afterwards).
  const float* addend = nullptr;
};
// A row stride (in floats) for a B of rows of n floats that sgemm and sgemm_packed read in place,
// without packing, at the least cost: the least odd number of 64-byte lines that holds n floats (the
// rows of a micro-panel then fall in different L1 sets). A producer that controls B's layout (the
// fused unit's depthwise output) lays its rows out this far apart. (B untransposed is read in place
// whenever its rows are not a multiple of 2 KiB apart; see gemm.cc.)
int sgemm_in_place_ld(int n);
size_t sgemm_packed_a_floats(int M, int K);
void sgemm_pack_a(bool trans_a, int M, int K, float alpha, const float* A, int lda, float* packed);
void sgemm_packed(const float* packed_a, bool trans_b, int M, int N, int K, const float* B, int ldb, float beta,
                  float* C, int ldc, const PackedGemmExtras& extras = {});

// ---- Convolution (conv.cc) -----------------------------------------------------------------------
// w: [K, C/groups, kh, kw]; b: [K] or nullptr; y: [N, K, OH, OW].
void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y);
// dx: [N, C, H, W] written (or nullptr); dw accumulated; db accumulated (or nullptr).
void conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db);

// ---- Batch normalization (batchnorm.cc) ----------------------------------------------------------
// Training: batch statistics (biased variance for normalization), saves mean and 1/sqrt(var+eps) per
// channel for backward, and updates running statistics with ONNX momentum:
//   running_mean = running_mean * momentum + mean * (1 - momentum)
//   running_var  = running_var  * momentum + unbiased_var * (1 - momentum)
void batchnorm_forward_train(const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
                             float eps, float momentum, float* running_mean, float* running_var, float* y,
                             float* save_mean, float* save_invstd);
// Inference: running statistics.
void batchnorm_forward_eval(const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
                            const float* running_mean, const float* running_var, float eps, float* y);
// Backward of the training forward. dx written; dgamma, dbeta accumulated.
void batchnorm_backward(const BatchNormShape& s, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma, float* dbeta);

// ---- Fused separable unit (fused_conv_bn.cc) ----------------------------------------------------
// One kernel for the chain [ReLU →] [depthwise →] pointwise → BatchNormalization that every NASNet
// separable convolution (and every ReLU-conv-BN 1×1) is made of:
//   r = relu_in ? relu(x) : x                     x: [N, C, H, W]
//   t = has_depthwise ? depthwise(r, w_dw) : r    t: [N, C, OH, OW]
//   z = w_pw · t                                  z: [N, K, OH, OW]
//   y = BatchNormalization(z)                     y: [N, K, OH, OW]
// Each thread takes whole images, so r, t and z of one image stay in cache between the stages; the
// ReLU output and the gradients of r, t and z are never materialized. Batch statistics are per-image
// mean and squared deviation (in double) merged in image order (Chan et al.): deterministic and as
// precise as the two-pass batchnorm kernels. Weight gradients go to per-thread partials summed in
// thread order: deterministic for a given thread count.
// Training: writes t (has_depthwise only; kept for backward), z (kept for backward), y, and the
// batch mean and 1/sqrt(var + eps) per output channel; updates the running statistics like
// batchnorm_forward_train.
void fused_conv_bn_forward_train(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw,
                                 const float* gamma, const float* beta, float eps, float momentum, float* running_mean,
                                 float* running_var, float* t, float* z, float* y, float* save_mean,
                                 float* save_invstd);
// Inference: running statistics; nothing but y is written. residual: nullptr, or a tensor shaped as
// y added to it as it is stored (an Add run as the unit's epilogue: the same floats as the Add).
// y_image_stride: floats from one image of y to the next (0: K * OH * OW, y dense; more: y is a
// channel slice of a wider tensor, a Concat's output written in place).
// BN folded into the pointwise weights (refolded on every call: fused_conv_bn_prepare_eval into
// thread-local scratch, then fused_conv_bn_forward_eval_prepared).
void fused_conv_bn_forward_eval(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw,
                                const float* gamma, const float* beta, const float* running_mean,
                                const float* running_var, float eps, float* y, const float* residual = nullptr,
                                size_t y_image_stride = 0);
// The same from weights prepared once for many calls (an inference plan prepares them when its
// parameters change): BN folded into the pointwise weights, w_pw[k] * a[k] with a = gamma /
// sqrt(var + eps), packed for sgemm_packed under the active SIMD level, and the shifts beta - mean
// * a. `prepared`: fused_conv_bn_prepared_floats(s) floats; fused_conv_bn_prepared_current says
// whether a block still fits this shape and SIMD level (a level set since packs differently).
size_t fused_conv_bn_prepared_floats(const FusedConvBnShape& s);
void fused_conv_bn_prepare_eval(const FusedConvBnShape& s, const float* w_pw, const float* gamma, const float* beta,
                                const float* running_mean, const float* running_var, float eps, float* prepared);
bool fused_conv_bn_prepared_current(const FusedConvBnShape& s, const float* prepared);
void fused_conv_bn_forward_eval_prepared(const FusedConvBnShape& s, const float* x, const float* w_dw,
                                         const float* prepared, float* y, const float* residual = nullptr,
                                         size_t y_image_stride = 0);
// Backward of the training forward: dx written (or nullptr); dw_dw, dw_pw, dgamma, dbeta accumulated.
void fused_conv_bn_backward(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw,
                            const float* gamma, const float* t, const float* z, const float* save_mean,
                            const float* save_invstd, const float* dy, float* dx, float* dw_dw, float* dw_pw,
                            float* dgamma, float* dbeta);

// ---- Elementwise (elementwise.cc) ----------------------------------------------------------------
// y = x <= 0 ? 0 : x (NaN stays NaN).
void relu_forward(size_t n, const float* x, float* y);
// dx = y <= 0 ? 0 : dy (y is the forward output; a NaN passes dy, as PyTorch's threshold_backward).
void relu_backward(size_t n, const float* y, const float* dy, float* dx);
// y = a + b
void add_forward(size_t n, const float* a, const float* b, float* y);
// y += x
void accumulate(size_t n, const float* x, float* y);
void scale(size_t n, float alpha, float* y);
void fill(size_t n, float value, float* y);

// ---- Pooling (pool.cc) ---------------------------------------------------------------------------
// Max pooling ignores padded positions (ONNX). argmax: [N, C, OH, OW] input offsets within the plane,
// saved for backward (may be nullptr in inference). A window holding a NaN gives NaN (argmax: its last NaN).
void maxpool_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax);
void maxpool_backward(const PoolShape& s, const int32_t* argmax, const float* dy, float* dx);
void avgpool_forward(const PoolShape& s, const float* x, float* y);
void avgpool_backward(const PoolShape& s, const float* dy, float* dx);
// Global average pooling: x [N, C, HW] → y [N, C].
void global_avgpool_forward(int N, int C, int HW, const float* x, float* y);
void global_avgpool_backward(int N, int C, int HW, const float* dy, float* dx);

// ---- Layout (layout.cc) --------------------------------------------------------------------------
// Concatenate along channels: input i is [N, Ci, HW]; y is [N, sum Ci, HW]. An input that is
// nullptr is in place already (its producer wrote its slice of y): its slice is left as it is.
void concat_forward(int N, int HW, int count, const float* const* xs, const int* channels, float* y);
// Split dy back into each input's gradient (written).
void concat_backward(int N, int HW, int count, const float* dy, const int* channels, float* const* dxs);
// Zero padding of the two spatial dims: x [N, C, H, W] → y [N, C, H+pt+pb, W+pl+pr].
// Negative pads crop (ONNX semantics).
void pad_forward(int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* x, float* y);
void pad_backward(int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* dy, float* dx);
// Spatial slice: y[n, c, i, j] = x[n, c, h0 + i*sh, w0 + j*sw] for i < OH, j < OW.
void slice_forward(int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW, const float* x,
                   float* y);
void slice_backward(int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW, const float* dy,
                    float* dx);

// ---- Dense layer (gemm.cc) -----------------------------------------------------------------------
// y[M, O] = x[M, I] · w[O, I]ᵀ + b[O]
void linear_forward(int M, int I, int O, const float* x, const float* w, const float* b, float* y);
// dx written (or nullptr); dw, db accumulated.
void linear_backward(int M, int I, int O, const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db);

// ---- Random regularizers (dropout.cc) ------------------------------------------------------------
// Counter-based randomness (native/core/random.h): the decision for element i is a pure function of
// (seed, stream, i), so CPU and CUDA draw the same masks.
// Both forwards may run in place (y == x).
// Dense dropout: keeps each element with probability 1 - ratio, scales survivors by 1 / (1 - ratio).
// Element i is kept iff uniform01(seed, stream, i) < 1.0f - ratio (computed in float).
// mask: [n] bytes (1 = kept) saved for backward (may be nullptr in inference).
void dropout_forward(size_t n, float ratio, uint64_t seed, uint64_t stream, const float* x, float* y, uint8_t* mask);
void dropout_backward(size_t n, float ratio, const uint8_t* mask, const float* dy, float* dx);
// DropPath: one Bernoulli(keep) per sample n (x is [N, per_sample]); survivors scaled by 1/keep.
// Sample n is kept iff uniform01(seed, stream, n) < keep. keep_mask: [N] bytes saved for backward.
void droppath_forward(int N, size_t per_sample, float keep, uint64_t seed, uint64_t stream, const float* x, float* y,
                      uint8_t* keep_mask);
void droppath_backward(int N, size_t per_sample, float keep, const uint8_t* keep_mask, const float* dy, float* dx);
// The DropPath → Add epilogue: y = sum over j of d_j(x_j), in order j, where d_j is DropPath with
// slots[j] (keep and stream; mask into masks[j] when active) or the identity (slots[j] == nullptr or
// inactive). x_j is [N, n / N]. Each term is computed as droppath_forward would and summed as
// add_forward then accumulate: the same floats as the separate nodes, one pass over memory.
void add_droppath_forward(size_t n, int N, int count, const float* const* xs, uint64_t seed,
                          const RandomSlot* const* slots, uint8_t* const* masks, float* y);

// ---- Loss (loss.cc) ------------------------------------------------------------------------------
// Softmax cross-entropy with label smoothing s over K classes: target = (1 - s) * onehot + s / K.
// Returns the mean loss over N; writes dlogits = weight * (softmax - target) / N (or skips when
// nullptr) and the number of rows whose argmax equals the label to *correct (or skips when nullptr).
double softmax_cross_entropy(int N, int K, const float* logits, const int32_t* labels, float smoothing, float weight,
                             float* dlogits, int* correct);

// ---- Optimizers (optimizer.cc) -------------------------------------------------------------------
// Sum of squares of n gradient values (in double, for the global norm).
double sum_squares(size_t n, const float* g);
// SGD with momentum: g' = g * grad_scale + wd * w;  v = momentum * v + g';
// w -= lr * (nesterov ? g' + momentum * v : v).
void sgd_momentum_update(size_t n, float lr, float momentum, bool nesterov, float weight_decay, float grad_scale,
                         float* w, const float* g, float* v);
// RMSProp (TensorFlow form, as the paper's ImageNet training): g' = g * grad_scale + wd * w;
// ms = decay * ms + (1 - decay) * g'^2;  mom = momentum * mom + lr * g' / sqrt(ms + eps);  w -= mom.
void rmsprop_update(size_t n, float lr, float decay, float momentum, float eps, float weight_decay, float grad_scale,
                    float* w, const float* g, float* ms, float* mom);
// Parameter exponential moving average: shadow = decay * shadow + (1 - decay) * w.
void ema_update(size_t n, float decay, const float* w, float* shadow);

}  // namespace nasnet::cpu
