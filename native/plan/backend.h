// The Backend seam: everything a compiled plan does to memory and every kernel it runs goes through
// this interface, so one backend-neutral plan (liveness, memory plan as offsets, merging, fusion,
// aliasing: plan.cc) runs on the CPU (cpu/backend.cc) or a CUDA device (cuda/backend.cu).
//
// Memory: "backend memory" is what Allocate returns: host memory for the CPU, device memory for
// CUDA. Kernel arguments named x, y, w, dx, ... are backend memory; arguments named host_* are
// host memory. Only the CPU backend's memory may be dereferenced by the plan (on_host()).
//
// Order: every call is ordered after the calls before it (one stream per backend: the step queue).
// Upload and the kernels may return before the work is done; Download returns when the data has
// arrived, so a Download after a step sees the step's results. Inputs may instead be copied on a
// second queue (UploadAhead: CUDA's copy stream) that runs alongside the steps; Fences order the
// two queues (CUDA events).
//
// Kernel semantics are those of cpu/kernels.h (activations written =, parameter gradients
// accumulated +=, nullptr optional outputs skipped), with two additions so that a whole step can be
// captured once and replayed (CUDA graphs): values that change from step to step (learning rate,
// DropPath keep probabilities, random streams, the clipping scale, dy of a loss) are read from
// backend memory (StepValues, RandomSlot, scalar pointers), never passed by value; and nothing in a
// step reads results on the host before the step ends.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/shapes.h"
#include "core/status.h"
#include "core/step_values.h"

namespace nasnet::plan {

using nasnet::RandomSlot;  // core/step_values.h
using nasnet::StepValues;

// Input slots of a plan (double buffering: the next batch is copied into one while a step reads
// the other); the variants of RunStep.
constexpr int kInputSlots = 2;

// Chains the plan compiler may fuse into one node, if the backend runs them.
enum class Fusion {
  // [ReLU →] [depthwise Conv →] pointwise Conv → BatchNormalization (core/shapes.h FusedConvBnShape).
  kConvBnChain,
  // DropPath → Add: an Add whose inputs come from DropPath nodes read by it alone applies their
  // masks and scales as it sums (AddDropPathForward); the DropPath outputs are never stored.
  kDropPathAdd,
  // Pad → Slice (steps 1) → strided 1×1 Conv (no pads, one group), in inference plans: the Conv reads
  // the Pad's input directly, with pads that may be negative (a negative leading pad starts the sample
  // inside the image); ConvForward then takes such shapes (1×1, stride > 1, any pads).
  kPadSliceConv,
  // An Add of two tensors, one of them a fused chain's output that only the Add reads, in inference
  // plans: the Add node runs the chain with the other tensor as its residual
  // (FusedConvBnForwardEval's `residual`), the chain's own output never stored.
  kChainAdd,
  // A Concat (channels) input that is a fused chain's output read by the Concat alone, in inference
  // plans: the chain writes straight into its channel slice of the Concat's output
  // (FusedConvBnForwardEval's y_image_stride) and ConcatForward leaves that slice (its input nullptr).
  kConcatInPlace,
  // A Relu whose every reader is a fused chain or a strided 1×1 Conv (is_strided_pointwise), in
  // inference plans: the chains take it as their relu_in and the Convs as ConvShape::relu_in (the
  // ReLU applied to the pixels they sample), and the Relu's output is never stored. NASNet's
  // reduction cells apply one ReLU to the previous cell's output for a pointwise chain and for the
  // factorized reduction's two strided paths (which read a quarter of it each).
  kReluStridedConv,
};

// When a fused chain runs: its scratch may differ (the CPU keeps everything per image in cache; a
// GPU composes the chain from whole-batch kernels and needs room for the intermediates).
enum class FusedPhase { kForwardTrain, kForwardEval, kBackward };

// A step captured once and replayed (CUDA graphs); an opaque handle owned by the plan.
class CapturedStep {
 public:
  virtual ~CapturedStep() = default;
  // "replayed (captured after 1 eager run)", "eager: <why it could not be captured>", ...
  virtual std::string note() const = 0;
};

// An ordering point between the step queue and the copy queue (a CUDA event); owned by the plan.
class Fence {
 public:
  virtual ~Fence() = default;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "cpu" or "cuda".
  virtual const char* name() const = 0;
  // The device in words: "cpu (avx512, 2 threads)", "cuda:0 NVIDIA H200 (sm_90, 139.8 GiB)".
  virtual std::string device() const = 0;
  // True when backend memory is host memory that the plan may read and write directly.
  virtual bool on_host() const = 0;

  // ---- memory ----
  // Allocations are aligned to 256 bytes; an allocation that fails says how many bytes were asked.
  virtual Status Allocate(size_t bytes, void** out) = 0;
  virtual void Free(void* ptr) = 0;
  // Host memory the backend copies from and to fastest (pinned for CUDA); Upload from it may be
  // captured: a replay reads the host memory as it is then.
  virtual Status AllocateHost(size_t bytes, void** out) = 0;
  virtual void FreeHost(void* ptr) = 0;
  virtual Status Upload(void* dst, const void* host_src, size_t bytes) = 0;
  virtual Status Download(void* host_dst, const void* src, size_t bytes) = 0;
  virtual Status Copy(void* dst, const void* src, size_t bytes) = 0;
  virtual Status Zero(void* dst, size_t bytes) = 0;
  virtual Status Fill(size_t n, float value, float* y) = 0;
  // Waits for everything enqueued.
  virtual Status Synchronize() = 0;

  // ---- inputs copied ahead of a step (the copy queue) ----
  // The four calls below may run on one thread while another thread runs a step on this backend
  // (they take no lock a running step holds), one at a time per plan.
  virtual Status CreateFence(std::unique_ptr<Fence>* out) = 0;
  // Copies host_src (AllocateHost memory) to dst (backend memory) on the copy queue, once `after`
  // has passed (a fence StepRecords recorded; nullptr or never recorded: at once), then records
  // `done` there. Returns before the copy ran: host_src must stay unchanged until HostWaits(done).
  virtual Status UploadAhead(void* dst, const void* host_src, size_t bytes, Fence* after, Fence* done) = 0;
  // The host waits until `fence` has passed (never recorded: at once).
  virtual Status HostWaits(Fence* fence) = 0;
  // The step queue's later work waits until `fence` has passed. Not while a step is captured: call
  // it before RunStep, so a replayed step waits too.
  virtual Status StepWaits(Fence* fence) = 0;
  // Records `fence` on the step queue after everything enqueued there so far.
  virtual Status StepRecords(Fence* fence) = 0;

  // ---- plan support ----
  virtual bool Supports(Fusion fusion) const = 0;
  // Backend-memory scratch a fused chain needs in a phase (0: none); the plan places it in its arena,
  // live during that node's forward or backward step only.
  virtual size_t FusedConvBnScratch(const FusedConvBnShape& s, FusedPhase phase) const = 0;
  // Runs `step` (a sequence of the calls below) — or, when this backend captures steps and *captured
  // already holds this step's `variant`, replays it. `capture` false always runs `step` eagerly. The
  // first run is eager (it sizes every scratch); each later run of a variant not yet captured
  // captures it, and replays it from then on. Variants are the same step on different buffers (a
  // plan's input slots, kInputSlots of them): each is captured on its own, all share one scratch. A
  // step that cannot be captured runs eagerly from then on, and (*captured)->note() says why. The
  // CPU runs `step` on its step thread (cpu/step_thread.h), the caller waiting.
  virtual Status RunStep(std::unique_ptr<CapturedStep>* captured, bool capture, int variant,
                         const std::function<Status()>& step) = 0;
  // Where the backend runs its steps on a thread of its own (the CPU's step thread): queues `step`
  // there (a whole step: RunStep inside it runs in place) and returns true at once; done(its status,
  // a throw turned into one) runs there after it. False where it has none (a device steps on the
  // calling thread; neither function runs): the caller runs the step on a thread of its own.
  // `done` must not throw; neither may wait for a thread that waits for the step thread.
  virtual bool PostStep(std::function<Status()> step, std::function<void(Status)> done) {
    (void)step;
    (void)done;
    return false;
  }
  // A clock for profiling, in milliseconds, read after all work enqueued so far has finished.
  virtual Status ProfileClockMs(double* out) = 0;
  // How many independent steps (of different plans, on disjoint memory) this backend runs well at
  // once, each on its own thread with serial kernels: the CPU's threads; 1 for a device, whose
  // kernels already fill it. Inference plans split their batch into that many lanes (plan_impl.h).
  virtual int ConcurrentSteps() const { return 1; }
  // Runs body(k) for every k in [0, count), at most ConcurrentSteps() at a time, each call on one
  // thread whose kernels run serially, and returns the failure of the lowest k that failed (bodies
  // after a failure may not run). The default runs them in order on this thread, so bodies that
  // share work must each be able to do all of it (take it from a common queue), never wait for
  // another body; what one body writes, another reads only after synchronizing with it.
  virtual Status RunConcurrently(int count, const std::function<Status(int)>& body) {
    for (int k = 0; k < count; ++k) NASNET_RETURN_IF_ERROR(body(k));
    return Status::Ok();
  }

  // ---- kernels (cpu/kernels.h for each contract) ----
  virtual Status ConvForward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) = 0;
  virtual Status ConvBackward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx,
                              float* dw, float* db) = 0;
  virtual Status BatchNormForwardTrain(const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
                                       float eps, float momentum, float* running_mean, float* running_var, float* y,
                                       float* save_mean, float* save_invstd) = 0;
  virtual Status BatchNormForwardEval(const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
                                      const float* running_mean, const float* running_var, float eps, float* y) = 0;
  virtual Status BatchNormBackward(const BatchNormShape& s, const float* x, const float* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                   float* dbeta) = 0;
  virtual Status FusedConvBnForwardTrain(const FusedConvBnShape& s, const float* x, const float* w_dw,
                                         const float* w_pw, const float* gamma, const float* beta, float eps,
                                         float momentum, float* running_mean, float* running_var, float* t, float* z,
                                         float* y, float* save_mean, float* save_invstd, void* scratch) = 0;
  virtual Status FusedConvBnForwardEval(const FusedConvBnShape& s, const float* x, const float* w_dw,
                                        const float* w_pw, const float* gamma, const float* beta,
                                        const float* running_mean, const float* running_var, float eps,
                                        const float* residual, float* y, size_t y_image_stride,
                                        const float* prepared, void* scratch) = 0;
  // residual: nullptr, or (backends that support Fusion::kChainAdd) a tensor shaped as y added to it:
  // an Add run as the chain's epilogue, the same floats as the Add. y_image_stride: 0 (y dense), or
  // (backends that support Fusion::kConcatInPlace) the floats from one image of y to the next: y is
  // the chain's channel slice of a Concat's output. prepared: nullptr, or what FusedConvBnPrepare
  // wrote from these parameters as they are now (the backend may then skip reading them).
  // `scratch`: FusedConvBnScratch(s, phase) bytes of backend memory (nullptr when that is 0).
  // Weights an inference chain derives from its parameters, prepared once and reused by
  // FusedConvBnForwardEval while the parameters stay unchanged (the CPU: BN folded into the
  // pointwise weights and packed for its GEMM): floats of host memory, 0 when the backend prepares
  // nothing (then FusedConvBnPrepare is never called and `prepared` is always nullptr).
  virtual size_t FusedConvBnPreparedFloats(const FusedConvBnShape& s) const = 0;
  virtual Status FusedConvBnPrepare(const FusedConvBnShape& s, const float* w_pw, const float* gamma,
                                    const float* beta, const float* running_mean, const float* running_var, float eps,
                                    float* prepared) = 0;
  virtual Status FusedConvBnBackward(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw,
                                     const float* gamma, const float* t, const float* z, const float* save_mean,
                                     const float* save_invstd, const float* dy, float* dx, float* dw_dw, float* dw_pw,
                                     float* dgamma, float* dbeta, void* scratch) = 0;
  virtual Status ReluForward(size_t n, const float* x, float* y) = 0;
  virtual Status ReluBackward(size_t n, const float* y, const float* dy, float* dx) = 0;
  virtual Status AddForward(size_t n, const float* a, const float* b, float* y) = 0;
  // y = sum over j of d_j(x_j) in order j, where d_j is DropPath with host_slots[j] (drawing one
  // decision per sample into host_masks[j] when active) or the identity where host_slots[j] is
  // nullptr; x_j is [N, n / N]. Every term as DropPathForward computes it, summed as AddForward and
  // Accumulate would: the same floats as the unfused nodes. host_*: host arrays of backend pointers.
  virtual Status AddDropPathForward(size_t n, int N, int count, const float* const* host_xs, uint64_t seed,
                                    const RandomSlot* const* host_slots, uint8_t* const* host_masks, float* y) = 0;
  virtual Status Accumulate(size_t n, const float* x, float* y) = 0;
  virtual Status MaxPoolForward(const PoolShape& s, const float* x, float* y, int32_t* argmax) = 0;
  virtual Status MaxPoolBackward(const PoolShape& s, const int32_t* argmax, const float* dy, float* dx) = 0;
  virtual Status AvgPoolForward(const PoolShape& s, const float* x, float* y) = 0;
  virtual Status AvgPoolBackward(const PoolShape& s, const float* dy, float* dx) = 0;
  virtual Status GlobalAvgPoolForward(int N, int C, int HW, const float* x, float* y) = 0;
  virtual Status GlobalAvgPoolBackward(int N, int C, int HW, const float* dy, float* dx) = 0;
  // host_xs / host_dxs / host_channels: host arrays (of backend pointers, of channel counts). A null
  // input of ConcatForward is in place already (Fusion::kConcatInPlace): its slice is left as it is.
  virtual Status ConcatForward(int N, int HW, int count, const float* const* host_xs, const int* host_channels,
                               float* y) = 0;
  virtual Status ConcatBackward(int N, int HW, int count, const float* dy, const int* host_channels,
                                float* const* host_dxs) = 0;
  virtual Status PadForward(int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* x, float* y) = 0;
  virtual Status PadBackward(int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* dy,
                             float* dx) = 0;
  virtual Status SliceForward(int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW,
                              const float* x, float* y) = 0;
  virtual Status SliceBackward(int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW,
                               const float* dy, float* dx) = 0;
  virtual Status LinearForward(int M, int I, int O, const float* x, const float* w, const float* b, float* y) = 0;
  virtual Status LinearBackward(int M, int I, int O, const float* x, const float* w, const float* dy, float* dx,
                                float* dw, float* db) = 0;
  // Random regularizers read their keep probability and stream from `slot` (backend memory). An
  // inactive slot makes the forward an identity (y = x, a copy unless y == x; the mask is not
  // written) and the backward dx = dy.
  virtual Status DropoutForward(size_t n, float ratio, uint64_t seed, const RandomSlot* slot, const float* x,
                                float* y, uint8_t* mask) = 0;
  virtual Status DropoutBackward(size_t n, float ratio, const RandomSlot* slot, const uint8_t* mask,
                                 const float* dy, float* dx) = 0;
  virtual Status DropPathForward(int N, size_t per_sample, uint64_t seed, const RandomSlot* slot, const float* x,
                                 float* y, uint8_t* keep_mask) = 0;
  virtual Status DropPathBackward(int N, size_t per_sample, const RandomSlot* slot, const uint8_t* keep_mask,
                                  const float* dy, float* dx) = 0;
  // Softmax cross-entropy as cpu::softmax_cross_entropy. weight: a backend float (the loss
  // gradient dy), or nullptr for 1. Outputs in backend memory, each optional: the mean loss as a
  // float (a loss node's value) and as a double, the correct count, dlogits.
  virtual Status SoftmaxCrossEntropy(int N, int K, const float* logits, const int32_t* labels, float smoothing,
                                     const float* weight, float* dlogits, float* loss, double* loss64,
                                     int32_t* correct) = 0;
  // y[0] = sum_j host_weights[j] * host_xs[j][0], summed in double in order j = 0, 1, ...
  virtual Status WeightedSum(int count, const float* const* host_xs, const float* host_weights, float* y) = 0;
  // d[0] = w * dy[0] (accumulate: d[0] += w * dy[0]).
  virtual Status ScaleScalar(const float* dy, float w, bool accumulate, float* d) = 0;
  // *out (a backend double) = sum of squares of g (in double).
  virtual Status SumSquares(size_t n, const float* g, double* out) = 0;
  // values->sumsq = sum of partials[0..count) in order; values->grad_scale = clip_norm / sqrt(sumsq)
  // when 0 < clip_norm < sqrt(sumsq) and the norm is finite, else 1.
  virtual Status GlobalNorm(const double* partials, int count, StepValues* values) = 0;
  // The updates of cpu/kernels.h with hyper-parameters and grad_scale from `values`; `decay` selects
  // whether values->weight_decay applies to this parameter.
  virtual Status SgdUpdate(size_t n, bool decay, const StepValues* values, float* w, const float* g, float* v) = 0;
  virtual Status RmspropUpdate(size_t n, bool decay, const StepValues* values, float* w, const float* g, float* ms,
                               float* mom) = 0;
  // The parameter average after the update (cpu::ema_update): shadow = d * shadow + (1 - d) * w with
  // d = values->ema_decay.
  virtual Status EmaUpdate(size_t n, const StepValues* values, const float* w, float* shadow) = 0;
};

// The CPU backend (always available).
std::shared_ptr<Backend> CpuBackend();
// The CUDA backend on `device`, or Unavailable saying why (not compiled, no device, bad index).
Status CudaBackend(int device, std::shared_ptr<Backend>* out);

}  // namespace nasnet::plan
