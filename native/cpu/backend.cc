// The CPU backend: plan/backend.h implemented by the kernels of cpu/kernels.h on host memory.
// Every call runs to completion before it returns, so steps are never captured: RunStep runs them.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "core/info.h"
#include "cpu/dispatch.h"
#include "cpu/host_blocks.h"
#include "cpu/kernels.h"
#include "cpu/step_thread.h"
#include "plan/backend.h"

namespace nasnet::plan {

namespace {

class CpuBackendImpl final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  std::string device() const override {
    return std::string("cpu (") + simd_level_name(simd_level()) + ", " + std::to_string(cpu_threads()) + " threads)";
  }
  bool on_host() const override { return true; }

  Status Allocate(size_t bytes, void** out) override {
    *out = cpu::host_alloc(bytes);
    if (*out == nullptr)
      return Status::Exhausted("out of host memory allocating " + std::to_string(bytes) + " bytes");
    return Status::Ok();
  }
  void Free(void* ptr) override { cpu::host_free(ptr); }
  Status AllocateHost(size_t bytes, void** out) override { return Allocate(bytes, out); }
  void FreeHost(void* ptr) override { cpu::host_free(ptr); }
  Status Upload(void* dst, const void* host_src, size_t bytes) override { return Copy(dst, host_src, bytes); }
  Status Download(void* host_dst, const void* src, size_t bytes) override { return Copy(host_dst, src, bytes); }
  Status Copy(void* dst, const void* src, size_t bytes) override {
    if (dst != src && bytes > 0) std::memcpy(dst, src, bytes);
    return Status::Ok();
  }
  Status Zero(void* dst, size_t bytes) override {
    if (bytes > 0) std::memset(dst, 0, bytes);
    return Status::Ok();
  }
  Status Fill(size_t n, float value, float* y) override {
    cpu::fill(n, value, y);
    return Status::Ok();
  }
  Status Synchronize() override { return Status::Ok(); }

  // One queue, and every call done when it returns: the copy queue is the caller's thread.
  Status CreateFence(std::unique_ptr<Fence>* out) override {
    out->reset(new Fence());
    return Status::Ok();
  }
  Status UploadAhead(void* dst, const void* host_src, size_t bytes, Fence*, Fence*) override {
    return Copy(dst, host_src, bytes);
  }
  Status HostWaits(Fence*) override { return Status::Ok(); }
  Status StepWaits(Fence*) override { return Status::Ok(); }
  Status StepRecords(Fence*) override { return Status::Ok(); }

  bool Supports(Fusion fusion) const override {
    return fusion == Fusion::kConvBnChain || fusion == Fusion::kDropPathAdd || fusion == Fusion::kPadSliceConv ||
           fusion == Fusion::kChainAdd || fusion == Fusion::kConcatInPlace || fusion == Fusion::kReluStridedConv;
  }
  // The CPU kernels keep each image's intermediates in per-thread buffers of their own.
  size_t FusedConvBnScratch(const FusedConvBnShape&, FusedPhase) const override { return 0; }
  // Every step on the process's step thread (cpu/step_thread.h): one OpenMP team for all of them.
  Status RunStep(std::unique_ptr<CapturedStep>*, bool, int, const std::function<Status()>& step) override {
    return cpu::RunOnStepThread(step);
  }
  bool PostStep(std::function<Status()> step, std::function<void(Status)> done) override {
    return cpu::PostToStepThread(std::move(step), std::move(done)).ok();
  }
  // Each thread of a team runs whole steps with serial kernels (kernel_threads() is 1 inside the team).
  int ConcurrentSteps() const override { return cpu_threads(); }
  // The team is opened on the step thread; each of its threads belongs to this step (its bodies'
  // own steps run right there, InStepScope) and runs its kernels serially (SerialScope).
  Status RunConcurrently(int count, const std::function<Status(int)>& body) override {
    return cpu::RunOnStepThread([&]() -> Status {
      std::vector<Status> results(static_cast<size_t>(std::max(count, 0)));
      cpu::parallel_team(std::min(count, cpu_threads()), [&](int t, int team) {
        cpu::SerialScope serial;  // also for a team of one, which runs on this thread
        cpu::InStepScope in_step;
        for (int k = t; k < count; k += team) results[static_cast<size_t>(k)] = body(k);
      });
      for (const Status& st : results) NASNET_RETURN_IF_ERROR(st);
      return Status::Ok();
    });
  }
  Status ProfileClockMs(double* out) override {
    using Clock = std::chrono::steady_clock;
    *out = std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
    return Status::Ok();
  }

  Status ConvForward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) override {
    if (s.relu_in && !is_strided_pointwise(s))
      return Status::Invalid("cpu: a ReLU on a convolution's input runs only in strided 1x1 convolutions");
    cpu::conv2d_forward(s, x, w, b, y);
    return Status::Ok();
  }
  Status ConvBackward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx, float* dw,
                      float* db) override {
    if (s.relu_in)
      return Status::Invalid("cpu: a convolution with a ReLU on its input has no backward (inference plans)");
    cpu::conv2d_backward(s, x, w, dy, dx, dw, db);
    return Status::Ok();
  }
  Status BatchNormForwardTrain(const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
                               float eps, float momentum, float* running_mean, float* running_var, float* y,
                               float* save_mean, float* save_invstd) override {
    cpu::batchnorm_forward_train(s, x, gamma, beta, eps, momentum, running_mean, running_var, y, save_mean,
                                 save_invstd);
    return Status::Ok();
  }
  Status BatchNormForwardEval(const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
                              const float* running_mean, const float* running_var, float eps, float* y) override {
    cpu::batchnorm_forward_eval(s, x, gamma, beta, running_mean, running_var, eps, y);
    return Status::Ok();
  }
  Status BatchNormBackward(const BatchNormShape& s, const float* x, const float* dy, const float* gamma,
                           const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                           float* dbeta) override {
    cpu::batchnorm_backward(s, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
    return Status::Ok();
  }
  Status FusedConvBnForwardTrain(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw,
                                 const float* gamma, const float* beta, float eps, float momentum, float* running_mean,
                                 float* running_var, float* t, float* z, float* y, float* save_mean,
                                 float* save_invstd, void*) override {
    cpu::fused_conv_bn_forward_train(s, x, w_dw, w_pw, gamma, beta, eps, momentum, running_mean, running_var, t, z, y,
                                     save_mean, save_invstd);
    return Status::Ok();
  }
  Status FusedConvBnForwardEval(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw,
                                const float* gamma, const float* beta, const float* running_mean,
                                const float* running_var, float eps, const float* residual, float* y,
                                size_t y_image_stride, const float* prepared, void*) override {
    // A block packed under another SIMD level (set since it was prepared) is folded again here.
    if (prepared != nullptr && cpu::fused_conv_bn_prepared_current(s, prepared))
      cpu::fused_conv_bn_forward_eval_prepared(s, x, w_dw, prepared, y, residual, y_image_stride);
    else
      cpu::fused_conv_bn_forward_eval(s, x, w_dw, w_pw, gamma, beta, running_mean, running_var, eps, y, residual,
                                      y_image_stride);
    return Status::Ok();
  }
  size_t FusedConvBnPreparedFloats(const FusedConvBnShape& s) const override {
    return cpu::fused_conv_bn_prepared_floats(s);
  }
  Status FusedConvBnPrepare(const FusedConvBnShape& s, const float* w_pw, const float* gamma, const float* beta,
                            const float* running_mean, const float* running_var, float eps, float* prepared) override {
    cpu::fused_conv_bn_prepare_eval(s, w_pw, gamma, beta, running_mean, running_var, eps, prepared);
    return Status::Ok();
  }
  Status FusedConvBnBackward(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw,
                             const float* gamma, const float* t, const float* z, const float* save_mean,
                             const float* save_invstd, const float* dy, float* dx, float* dw_dw, float* dw_pw,
                             float* dgamma, float* dbeta, void*) override {
    cpu::fused_conv_bn_backward(s, x, w_dw, w_pw, gamma, t, z, save_mean, save_invstd, dy, dx, dw_dw, dw_pw, dgamma,
                                dbeta);
    return Status::Ok();
  }
  Status ReluForward(size_t n, const float* x, float* y) override {
    cpu::relu_forward(n, x, y);
    return Status::Ok();
  }
  Status ReluBackward(size_t n, const float* y, const float* dy, float* dx) override {
    cpu::relu_backward(n, y, dy, dx);
    return Status::Ok();
  }
  Status AddForward(size_t n, const float* a, const float* b, float* y) override {
    cpu::add_forward(n, a, b, y);
    return Status::Ok();
  }
  Status AddDropPathForward(size_t n, int N, int count, const float* const* xs, uint64_t seed,
                            const RandomSlot* const* slots, uint8_t* const* masks, float* y) override {
    cpu::add_droppath_forward(n, N, count, xs, seed, slots, masks, y);
    return Status::Ok();
  }
  Status Accumulate(size_t n, const float* x, float* y) override {
    cpu::accumulate(n, x, y);
    return Status::Ok();
  }
  Status MaxPoolForward(const PoolShape& s, const float* x, float* y, int32_t* argmax) override {
    cpu::maxpool_forward(s, x, y, argmax);
    return Status::Ok();
  }
  Status MaxPoolBackward(const PoolShape& s, const int32_t* argmax, const float* dy, float* dx) override {
    cpu::maxpool_backward(s, argmax, dy, dx);
    return Status::Ok();
  }
  Status AvgPoolForward(const PoolShape& s, const float* x, float* y) override {
    cpu::avgpool_forward(s, x, y);
    return Status::Ok();
  }
  Status AvgPoolBackward(const PoolShape& s, const float* dy, float* dx) override {
    cpu::avgpool_backward(s, dy, dx);
    return Status::Ok();
  }
  Status GlobalAvgPoolForward(int N, int C, int HW, const float* x, float* y) override {
    cpu::global_avgpool_forward(N, C, HW, x, y);
    return Status::Ok();
  }
  Status GlobalAvgPoolBackward(int N, int C, int HW, const float* dy, float* dx) override {
    cpu::global_avgpool_backward(N, C, HW, dy, dx);
    return Status::Ok();
  }
  Status ConcatForward(int N, int HW, int count, const float* const* xs, const int* channels, float* y) override {
    cpu::concat_forward(N, HW, count, xs, channels, y);
    return Status::Ok();
  }
  Status ConcatBackward(int N, int HW, int count, const float* dy, const int* channels, float* const* dxs) override {
    cpu::concat_backward(N, HW, count, dy, channels, dxs);
    return Status::Ok();
  }
  Status PadForward(int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* x, float* y) override {
    cpu::pad_forward(N, C, H, W, pt, pl, pb, pr, x, y);
    return Status::Ok();
  }
  Status PadBackward(int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* dy,
                     float* dx) override {
    cpu::pad_backward(N, C, H, W, pt, pl, pb, pr, dy, dx);
    return Status::Ok();
  }
  Status SliceForward(int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW, const float* x,
                      float* y) override {
    cpu::slice_forward(N, C, H, W, h0, w0, sh, sw, OH, OW, x, y);
    return Status::Ok();
  }
  Status SliceBackward(int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW, const float* dy,
                       float* dx) override {
    cpu::slice_backward(N, C, H, W, h0, w0, sh, sw, OH, OW, dy, dx);
    return Status::Ok();
  }
  Status LinearForward(int M, int I, int O, const float* x, const float* w, const float* b, float* y) override {
    cpu::linear_forward(M, I, O, x, w, b, y);
    return Status::Ok();
  }
  Status LinearBackward(int M, int I, int O, const float* x, const float* w, const float* dy, float* dx, float* dw,
                        float* db) override {
    cpu::linear_backward(M, I, O, x, w, dy, dx, dw, db);
    return Status::Ok();
  }
  Status DropoutForward(size_t n, float ratio, uint64_t seed, const RandomSlot* slot, const float* x, float* y,
                        uint8_t* mask) override {
    if (!slot->active) return Copy(y, x, n * sizeof(float));
    cpu::dropout_forward(n, ratio, seed, slot->stream, x, y, mask);
    return Status::Ok();
  }
  Status DropoutBackward(size_t n, float ratio, const RandomSlot* slot, const uint8_t* mask, const float* dy,
                         float* dx) override {
    if (!slot->active) return Copy(dx, dy, n * sizeof(float));
    cpu::dropout_backward(n, ratio, mask, dy, dx);
    return Status::Ok();
  }
  Status DropPathForward(int N, size_t per_sample, uint64_t seed, const RandomSlot* slot, const float* x, float* y,
                         uint8_t* keep_mask) override {
    if (!slot->active) return Copy(y, x, static_cast<size_t>(N) * per_sample * sizeof(float));
    cpu::droppath_forward(N, per_sample, slot->keep, seed, slot->stream, x, y, keep_mask);
    return Status::Ok();
  }
  Status DropPathBackward(int N, size_t per_sample, const RandomSlot* slot, const uint8_t* keep_mask, const float* dy,
                          float* dx) override {
    if (!slot->active) return Copy(dx, dy, static_cast<size_t>(N) * per_sample * sizeof(float));
    cpu::droppath_backward(N, per_sample, slot->keep, keep_mask, dy, dx);
    return Status::Ok();
  }
  Status SoftmaxCrossEntropy(int N, int K, const float* logits, const int32_t* labels, float smoothing,
                             const float* weight, float* dlogits, float* loss, double* loss64,
                             int32_t* correct) override {
    int hits = 0;
    const double l = cpu::softmax_cross_entropy(N, K, logits, labels, smoothing, weight ? *weight : 1.0f, dlogits,
                                                correct ? &hits : nullptr);
    if (loss) *loss = static_cast<float>(l);
    if (loss64) *loss64 = l;
    if (correct) *correct = hits;
    return Status::Ok();
  }
  Status WeightedSum(int count, const float* const* xs, const float* weights, float* y) override {
    double sum = 0;
    for (int j = 0; j < count; ++j) sum += static_cast<double>(weights[j]) * xs[j][0];
    y[0] = static_cast<float>(sum);
    return Status::Ok();
  }
  Status ScaleScalar(const float* dy, float w, bool accumulate, float* d) override {
    const float v = w * dy[0];
    d[0] = accumulate ? d[0] + v : v;
    return Status::Ok();
  }
  Status SumSquares(size_t n, const float* g, double* out) override {
    *out = cpu::sum_squares(n, g);
    return Status::Ok();
  }
  Status GlobalNorm(const double* partials, int count, StepValues* v) override {
    double sq = 0;
    for (int k = 0; k < count; ++k) sq += partials[k];
    v->sumsq = sq;
    const double norm = std::sqrt(sq);
    v->grad_scale = v->clip_norm > 0 && std::isfinite(norm) && norm > v->clip_norm
                        ? static_cast<float>(v->clip_norm / norm)
                        : 1.0f;
    return Status::Ok();
  }
  Status SgdUpdate(size_t n, bool decay, const StepValues* v, float* w, const float* g, float* m) override {
    cpu::sgd_momentum_update(n, v->lr, v->momentum, v->nesterov != 0, decay ? v->weight_decay : 0.0f, v->grad_scale, w,
                             g, m);
    return Status::Ok();
  }
  Status RmspropUpdate(size_t n, bool decay, const StepValues* v, float* w, const float* g, float* ms,
                       float* mom) override {
    cpu::rmsprop_update(n, v->lr, v->rms_decay, v->momentum, v->rms_eps, decay ? v->weight_decay : 0.0f,
                        v->grad_scale, w, g, ms, mom);
    return Status::Ok();
  }
  Status EmaUpdate(size_t n, const StepValues* v, const float* w, float* shadow) override {
    cpu::ema_update(n, v->ema_decay, w, shadow);
    return Status::Ok();
  }
};

}  // namespace

std::shared_ptr<Backend> CpuBackend() {
  static std::shared_ptr<Backend> backend = std::make_shared<CpuBackendImpl>();
  return backend;
}

}  // namespace nasnet::plan
