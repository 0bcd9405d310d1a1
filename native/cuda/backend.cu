// The CUDA backend: plan/backend.h implemented by the kernels of cuda/kernels.h (and cuDNN's
// convolutions when its library loads) on one device and one stream.
//
// Steps: a plan's step is a fixed sequence of calls whose per-step values live in device memory, so
// RunStep runs it eagerly once (which also sizes cuDNN's workspace and every scratch), captures it
// as a CUDA graph on the second run, and replays the graph from then on. A step that cannot be
// captured runs eagerly, and its note says why.
//
// Fused chains ([ReLU →] [depthwise →] pointwise → BN) run as whole-batch kernels in sequence:
// ReLU → depthwise as one kernel (relu_depthwise_forward), the pointwise convolution, batch
// normalization; the ReLU output is never stored (the depthwise backward reads relu(x) and masks its
// dx itself; a chain without a depthwise recomputes relu(x) in scratch for the pointwise
// convolution's backward), nor are the gradients of the intermediates beyond scratch.
#include <cuda_runtime.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/info.h"
#include "cuda/common.cuh"
#include "cuda/conv_cudnn.h"
#include "cuda/cuda_check.h"
#include "cuda/kernels.h"
#include "cuda/scratch_arena.h"
#include "plan/backend.h"

namespace nasnet::cuda {
thread_local ScratchArena* ScratchArena::current_ = nullptr;
}  // namespace nasnet::cuda

namespace nasnet::plan {

namespace {

using cuda::Stream;

std::string Bytes(size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%zu bytes (%.2f GiB)", bytes, static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

size_t Round256(size_t bytes) { return (bytes + 255) / 256 * 256; }

class CudaCapturedStep final : public CapturedStep {
 public:
  ~CudaCapturedStep() override {
    for (cudaGraphExec_t e : exec)
      if (e != nullptr) cudaGraphExecDestroy(e);
    if (arena.base() != nullptr) cudaFree(arena.base());
  }
  std::string note() const override { return note_; }

  int runs = 0;                        // eager runs so far
  bool eager = false;                  // capture failed: always eager
  cudaGraphExec_t exec[kInputSlots] = {};  // the instantiated graph of each variant, once captured
  cuda::ScratchArena arena;            // the step's kernel scratch (sized by its first run), shared by the variants
  std::string note_ = "eager (the first run sizes every scratch)";
};

// A CUDA event without timing.
class CudaFence final : public Fence {
 public:
  ~CudaFence() override {
    if (event != nullptr) cudaEventDestroy(event);
  }
  cudaEvent_t event = nullptr;
  bool recorded = false;
};
cudaEvent_t EventOf(Fence* f) {
  auto* c = static_cast<CudaFence*>(f);
  return c != nullptr && c->recorded ? c->event : nullptr;
}

class CudaBackendImpl final : public Backend {
 public:
  static Status Create(int device, std::shared_ptr<Backend>* out) {
    NASNET_RETURN_IF_ERROR(cuda::device_available());
    int count = 0;
    CUDA_CHECK(cudaGetDeviceCount(&count));
    if (device < 0 || device >= count)
      return Status::Invalid("cuda: device " + std::to_string(device) + " does not exist (this machine has " +
                             std::to_string(count) + " CUDA device" + (count == 1 ? "" : "s") + ")");
    std::unique_ptr<CudaBackendImpl> b(new CudaBackendImpl());
    b->device_ = device;
    CUDA_CHECK(cudaSetDevice(device));
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    char desc[256];
    std::snprintf(desc, sizeof desc, "cuda:%d %s (sm_%d%d, %.1f GiB)", device, prop.name, prop.major, prop.minor,
                  static_cast<double>(prop.totalGlobalMem) / (1ull << 30));
    b->description_ = desc;
    cudaStream_t s = nullptr;
    CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    b->stream_ = s;
    CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    b->copy_stream_ = s;
    std::unique_ptr<cuda::ConvBackendCudnn> cudnn;
    Status st = cuda::ConvBackendCudnn::create(false, &cudnn);
    if (st.ok()) {
      b->cudnn_ = std::move(cudnn);
    } else {
      b->cudnn_reason_ = st.message();
    }
    *out = std::shared_ptr<Backend>(b.release());
    return Status::Ok();
  }

  ~CudaBackendImpl() override {
    cudnn_.reset();
    if (stream_ != nullptr) cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
    if (copy_stream_ != nullptr) cudaStreamDestroy(copy_stream_);
  }

  const char* name() const override { return "cuda"; }
  std::string device() const override {
    return description_ + (cudnn_ ? ", cuDNN" : " (" + cudnn_reason_ + ")");
  }
  bool on_host() const override { return false; }

  // ---- memory ----
  // Every entry point takes the backend's lock: plans of different stores may run steps on different
  // threads at once, and a step being captured must see only its own work on the stream.
  Status Allocate(size_t bytes, void** out) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    NASNET_RETURN_IF_ERROR(Current());
    *out = nullptr;
    cudaError_t err = cudaMalloc(out, Round256(bytes == 0 ? 1 : bytes));
    if (err != cudaSuccess) {
      Status st = cuda::cuda_status(err, "cudaMalloc", __FILE__, __LINE__);
      return Status(st.code(), "cuda: allocating " + Bytes(bytes) + " on " + description_ + ": " + st.message());
    }
    return Status::Ok();
  }
  void Free(void* ptr) override {
    if (ptr == nullptr) return;
    std::lock_guard<std::recursive_mutex> lock(mu_);
    Current();
    cudaFree(ptr);
  }
  Status AllocateHost(size_t bytes, void** out) override {
    *out = nullptr;
    cudaError_t err = cudaMallocHost(out, bytes == 0 ? 1 : bytes);
    if (err != cudaSuccess) {
      Status st = cuda::cuda_status(err, "cudaMallocHost", __FILE__, __LINE__);
      return Status(st.code(), "cuda: allocating " + Bytes(bytes) + " of pinned host memory: " + st.message());
    }
    return Status::Ok();
  }
  void FreeHost(void* ptr) override {
    if (ptr != nullptr) cudaFreeHost(ptr);
  }
  Status Upload(void* dst, const void* host_src, size_t bytes) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (bytes == 0) return Status::Ok();
    CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream()));
    return Status::Ok();
  }
  Status Download(void* host_dst, const void* src, size_t bytes) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (bytes == 0) return Status::Ok();
    CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
    CUDA_CHECK(cudaStreamSynchronize(stream()));
    return Status::Ok();
  }
  Status Copy(void* dst, const void* src, size_t bytes) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (bytes == 0 || dst == src) return Status::Ok();
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
    return Status::Ok();
  }
  Status Zero(void* dst, size_t bytes) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (bytes == 0) return Status::Ok();
    CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, stream()));
    return Status::Ok();
  }
  Status Fill(size_t n, float value, float* y) override { return cuda::fill(stream_, n, value, y); }
  Status Synchronize() override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    CUDA_CHECK(cudaStreamSynchronize(stream()));
    return Status::Ok();
  }

  // ---- the copy queue: its own stream and lock, so a copy is issued while a step holds mu_ ----
  Status CreateFence(std::unique_ptr<Fence>* out) override {
    std::lock_guard<std::mutex> lock(copy_mu_);
    NASNET_RETURN_IF_ERROR(Current());
    std::unique_ptr<CudaFence> f(new CudaFence());
    CUDA_CHECK(cudaEventCreateWithFlags(&f->event, cudaEventDisableTiming));
    *out = std::move(f);
    return Status::Ok();
  }
  Status UploadAhead(void* dst, const void* host_src, size_t bytes, Fence* after, Fence* done) override {
    std::lock_guard<std::mutex> lock(copy_mu_);
    NASNET_RETURN_IF_ERROR(Current());
    if (cudaEvent_t e = EventOf(after)) CUDA_CHECK(cudaStreamWaitEvent(copy_stream_, e, 0));
    if (bytes > 0) CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, copy_stream_));
    auto* d = static_cast<CudaFence*>(done);
    CUDA_CHECK(cudaEventRecord(d->event, copy_stream_));
    d->recorded = true;
    return Status::Ok();
  }
  Status HostWaits(Fence* fence) override {
    cudaEvent_t e = EventOf(fence);
    if (e == nullptr) return Status::Ok();
    NASNET_RETURN_IF_ERROR(Current());
    CUDA_CHECK(cudaEventSynchronize(e));
    return Status::Ok();
  }
  Status StepWaits(Fence* fence) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    cudaEvent_t e = EventOf(fence);
    if (e != nullptr) CUDA_CHECK(cudaStreamWaitEvent(stream(), e, 0));
    return Status::Ok();
  }
  Status StepRecords(Fence* fence) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    auto* f = static_cast<CudaFence*>(fence);
    CUDA_CHECK(cudaEventRecord(f->event, stream()));
    f->recorded = true;
    return Status::Ok();
  }

  // ---- plan support ----
  bool Supports(Fusion fusion) const override {
    return fusion == Fusion::kConvBnChain || fusion == Fusion::kDropPathAdd;
  }
  size_t FusedConvBnScratch(const FusedConvBnShape& s, FusedPhase phase) const override {
    const size_t in = static_cast<size_t>(s.N) * s.C * s.H * s.W * sizeof(float);
    const size_t t = static_cast<size_t>(s.N) * s.C * s.OH * s.OW * sizeof(float);
    const size_t z = static_cast<size_t>(s.N) * s.K * s.OH * s.OW * sizeof(float);
    switch (phase) {
      case FusedPhase::kForwardTrain: return s.relu_in && !s.has_depthwise ? Round256(in) : 0;
      case FusedPhase::kForwardEval:
        return Round256(z) + (s.has_depthwise ? Round256(t) : s.relu_in ? Round256(in) : 0);
      case FusedPhase::kBackward:  // relu(x) is recomputed only as a pointwise convolution's input
        return Round256(z) + (s.has_depthwise ? Round256(t) : 0) + (s.relu_in && !s.has_depthwise ? Round256(in) : 0);
    }
    return 0;
  }

  Status RunStep(std::unique_ptr<CapturedStep>* captured, bool capture, int variant,
                 const std::function<Status()>& step) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    NASNET_RETURN_IF_ERROR(Current());
    if (!capture) return step();
    if (variant < 0 || variant >= kInputSlots)
      return Status::Internal("cuda: step variant " + std::to_string(variant) + " is not in [0, " +
                              std::to_string(kInputSlots) + ")");
    if (!*captured) captured->reset(new CudaCapturedStep());
    auto* c = static_cast<CudaCapturedStep*>(captured->get());
    if (c->exec[variant] != nullptr) {
      CUDA_CHECK(cudaGraphLaunch(c->exec[variant], stream()));
      return Status::Ok();
    }
    if (c->eager) {
      cuda::ScratchArena::Use use(&c->arena);
      return step();
    }
    if (c->runs == 0) {
      // First run: eager, measuring the scratch the step's kernels hold at once; then the arena.
      ++c->runs;
      cuda::ScratchArena measure;
      Status st;
      {
        cuda::ScratchArena::Use use(&measure);
        st = step();
      }
      if (!st.ok() || measure.peak() == 0) return st;
      void* base = nullptr;
      cudaError_t err = cudaMalloc(&base, measure.peak());
      if (err != cudaSuccess) {
        Status e = cuda::cuda_status(err, "cudaMalloc", __FILE__, __LINE__);
        return Status(e.code(), "cuda: allocating " + Bytes(measure.peak()) + " of step scratch: " + e.message());
      }
      c->arena = cuda::ScratchArena(base, measure.peak());
      return st;
    }
    // A later run of a variant not captured yet: capture it. A failure while capturing leaves the
    // step eager (every variant), and runs it eagerly now, which reports the failure if the step
    // itself is at fault.
    cuda::ScratchArena::Use use(&c->arena);
    CUDA_CHECK(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
    Status st = step();
    cudaGraph_t graph = nullptr;
    cudaError_t end = cudaStreamEndCapture(stream(), &graph);
    cudaError_t inst = cudaErrorUnknown;
    if (st.ok() && end == cudaSuccess) inst = cudaGraphInstantiate(&c->exec[variant], graph, 0);
    if (graph != nullptr) cudaGraphDestroy(graph);
    if (!st.ok() || end != cudaSuccess || inst != cudaSuccess) {
      cudaGetLastError();
      c->exec[variant] = nullptr;  // not instantiated
      for (cudaGraphExec_t& e : c->exec) {
        if (e != nullptr) cudaGraphExecDestroy(e);
        e = nullptr;
      }
      c->eager = true;
      c->note_ = std::string("eager: capture failed (") +
                 (!st.ok() ? st.message()
                  : end != cudaSuccess ? std::string("cudaStreamEndCapture: ") + cudaGetErrorString(end)
                                       : std::string("cudaGraphInstantiate: ") + cudaGetErrorString(inst)) +
                 ")";
      return step();
    }
    int captured_variants = 0;
    for (cudaGraphExec_t e : c->exec) captured_variants += e != nullptr;
    c->note_ = "replayed as a CUDA graph per input slot (" + std::to_string(captured_variants) + " of " +
               std::to_string(kInputSlots) + " captured, after 1 eager run)";
    CUDA_CHECK(cudaGraphLaunch(c->exec[variant], stream()));
    return Status::Ok();
  }

  Status ProfileClockMs(double* out) override {
    CUDA_CHECK(cudaStreamSynchronize(stream()));
    using Clock = std::chrono::steady_clock;
    *out = std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
    return Status::Ok();
  }

  // ---- kernels ----
  // ConvShape::relu_in never reaches a device plan (Supports: no kReluStridedConv).
  Status ConvForward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) override {
    if (s.relu_in) return Status::Invalid("cuda: a ReLU on a convolution's input is not fused on the device");
    if (UseCudnn(s)) return cudnn_->forward(stream_, s, x, w, b, y);
    return cuda::conv2d_forward(stream_, s, x, w, b, y);
  }
  Status ConvBackward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx, float* dw,
                      float* db) override {
    if (s.relu_in) return Status::Invalid("cuda: a ReLU on a convolution's input is not fused on the device");
    if (UseCudnn(s)) return cudnn_->backward(stream_, s, x, w, dy, dx, dw, db);
    return cuda::conv2d_backward(stream_, s, x, w, dy, dx, dw, db);
  }
  Status BatchNormForwardTrain(const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
                               float eps, float momentum, float* running_mean, float* running_var, float* y,
                               float* save_mean, float* save_invstd) override {
    return cuda::batchnorm_forward_train(stream_, s, x, gamma, beta, eps, momentum, running_mean, running_var, y,
                                         save_mean, save_invstd);
  }
  Status BatchNormForwardEval(const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
                              const float* running_mean, const float* running_var, float eps, float* y) override {
    return cuda::batchnorm_forward_eval(stream_, s, x, gamma, beta, running_mean, running_var, eps, y);
  }
  Status BatchNormBackward(const BatchNormShape& s, const float* x, const float* dy, const float* gamma,
                           const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                           float* dbeta) override {
    return cuda::batchnorm_backward(stream_, s, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
  }

  // The chain's pieces: the pointwise convolution's shape, and its input (t, relu(x) or x).
  static ConvShape PointwiseOf(const FusedConvBnShape& s) {
    return ConvShape{s.N, s.C, s.OH, s.OW, s.K, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, s.OH, s.OW};
  }
  // Forward through z (the chain before its BatchNormalization). `t`: where the depthwise output
  // goes; `r`: room for relu(x) when the chain has a ReLU and no depthwise.
  Status ChainForward(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw, float* t,
                      float* r, float* z) {
    const float* u = x;
    if (s.has_depthwise) {
      NASNET_RETURN_IF_ERROR(s.relu_in ? cuda::relu_depthwise_forward(stream_, s.dw, x, w_dw, nullptr, t)
                                       : cuda::depthwise_forward(stream_, s.dw, x, w_dw, nullptr, t));
      u = t;
    } else if (s.relu_in) {
      NASNET_RETURN_IF_ERROR(cuda::relu_forward(stream_, static_cast<size_t>(s.N) * s.C * s.H * s.W, x, r));
      u = r;
    }
    return ConvForward(PointwiseOf(s), u, w_pw, nullptr, z);
  }
  Status FusedConvBnForwardTrain(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw,
                                 const float* gamma, const float* beta, float eps, float momentum, float* running_mean,
                                 float* running_var, float* t, float* z, float* y, float* save_mean,
                                 float* save_invstd, void* scratch) override {
    NASNET_RETURN_IF_ERROR(ChainForward(s, x, w_dw, w_pw, t, static_cast<float*>(scratch), z));
    return cuda::batchnorm_forward_train(stream_, BatchNormShape{s.N, s.K, s.OH * s.OW}, z, gamma, beta, eps, momentum,
                                         running_mean, running_var, y, save_mean, save_invstd);
  }
  Status FusedConvBnForwardEval(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw,
                                const float* gamma, const float* beta, const float* running_mean,
                                const float* running_var, float eps, const float* residual, float* y,
                                size_t y_image_stride, const float*, void* scratch) override {
    if (residual != nullptr)
      return Status::Invalid("cuda: a fused chain with an Add epilogue (Fusion::kChainAdd) is not supported on this backend");
    if (y_image_stride != 0)
      return Status::Invalid("cuda: a fused chain writing into a Concat (Fusion::kConcatInPlace) is not supported on this backend");
    char* p = static_cast<char*>(scratch);
    float* z = reinterpret_cast<float*>(p);
    float* tr = reinterpret_cast<float*>(p + Round256(static_cast<size_t>(s.N) * s.K * s.OH * s.OW * sizeof(float)));
    NASNET_RETURN_IF_ERROR(ChainForward(s, x, w_dw, w_pw, tr, tr, z));
    return cuda::batchnorm_forward_eval(stream_, BatchNormShape{s.N, s.K, s.OH * s.OW}, z, gamma, beta, running_mean,
                                        running_var, eps, y);
  }
  // The chain runs from the parameters as they are (BN applied after the pointwise convolution).
  size_t FusedConvBnPreparedFloats(const FusedConvBnShape&) const override { return 0; }
  Status FusedConvBnPrepare(const FusedConvBnShape&, const float*, const float*, const float*, const float*,
                            const float*, float, float*) override {
    return Status::Internal("cuda: FusedConvBnPrepare called, but this backend prepares no weights");
  }
  Status FusedConvBnBackward(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw,
                             const float* gamma, const float* t, const float* z, const float* save_mean,
                             const float* save_invstd, const float* dy, float* dx, float* dw_dw, float* dw_pw,
                             float* dgamma, float* dbeta, void* scratch) override {
    const size_t in_n = static_cast<size_t>(s.N) * s.C * s.H * s.W;
    const size_t t_n = static_cast<size_t>(s.N) * s.C * s.OH * s.OW;
    const size_t z_n = static_cast<size_t>(s.N) * s.K * s.OH * s.OW;
    char* p = static_cast<char*>(scratch);
    float* dz = reinterpret_cast<float*>(p);
    p += Round256(z_n * sizeof(float));
    float* dt = nullptr;
    if (s.has_depthwise) {
      dt = reinterpret_cast<float*>(p);
      p += Round256(t_n * sizeof(float));
    }
    NASNET_RETURN_IF_ERROR(cuda::batchnorm_backward(stream_, BatchNormShape{s.N, s.K, s.OH * s.OW}, z, dy, gamma,
                                                    save_mean, save_invstd, dz, dgamma, dbeta));
    if (s.has_depthwise) {
      // The depthwise kernels read relu(x) and mask dx by it themselves: relu(x) is never written.
      NASNET_RETURN_IF_ERROR(ConvBackward(PointwiseOf(s), t, w_pw, dz, dt, dw_pw, nullptr));
      return s.relu_in ? cuda::relu_depthwise_backward(stream_, s.dw, x, w_dw, dt, dx, dw_dw, nullptr)
                       : cuda::depthwise_backward(stream_, s.dw, x, w_dw, dt, dx, dw_dw, nullptr);
    }
    // The pointwise convolution's input as it saw it: relu(x), recomputed in scratch.
    const float* v = x;
    float* r = s.relu_in ? reinterpret_cast<float*>(p) : nullptr;
    if (s.relu_in) {
      NASNET_RETURN_IF_ERROR(cuda::relu_forward(stream_, in_n, x, r));
      v = r;
    }
    NASNET_RETURN_IF_ERROR(ConvBackward(PointwiseOf(s), v, w_pw, dz, dx, dw_pw, nullptr));
    // Through the ReLU: dx = d(relu(x)) where relu(x) > 0.
    if (s.relu_in && dx != nullptr) NASNET_RETURN_IF_ERROR(cuda::relu_backward(stream_, in_n, r, dx, dx));
    return Status::Ok();
  }
  Status ReluForward(size_t n, const float* x, float* y) override { return cuda::relu_forward(stream_, n, x, y); }
  Status ReluBackward(size_t n, const float* y, const float* dy, float* dx) override {
    return cuda::relu_backward(stream_, n, y, dy, dx);
  }
  Status AddForward(size_t n, const float* a, const float* b, float* y) override {
    return cuda::add_forward(stream_, n, a, b, y);
  }
  Status AddDropPathForward(size_t n, int N, int count, const float* const* xs, uint64_t seed,
                            const RandomSlot* const* slots, uint8_t* const* masks, float* y) override {
    return cuda::add_droppath_forward(stream_, n, N, count, xs, seed, slots, masks, y);
  }
  Status Accumulate(size_t n, const float* x, float* y) override { return cuda::accumulate(stream_, n, x, y); }
  Status MaxPoolForward(const PoolShape& s, const float* x, float* y, int32_t* argmax) override {
    return cuda::maxpool_forward(stream_, s, x, y, argmax);
  }
  Status MaxPoolBackward(const PoolShape& s, const int32_t* argmax, const float* dy, float* dx) override {
    return cuda::maxpool_backward(stream_, s, argmax, dy, dx);
  }
  Status AvgPoolForward(const PoolShape& s, const float* x, float* y) override {
    return cuda::avgpool_forward(stream_, s, x, y);
  }
  Status AvgPoolBackward(const PoolShape& s, const float* dy, float* dx) override {
    return cuda::avgpool_backward(stream_, s, dy, dx);
  }
  Status GlobalAvgPoolForward(int N, int C, int HW, const float* x, float* y) override {
    return cuda::global_avgpool_forward(stream_, N, C, HW, x, y);
  }
  Status GlobalAvgPoolBackward(int N, int C, int HW, const float* dy, float* dx) override {
    return cuda::global_avgpool_backward(stream_, N, C, HW, dy, dx);
  }
  Status ConcatForward(int N, int HW, int count, const float* const* xs, const int* channels, float* y) override {
    for (int i = 0; i < count; ++i)
      if (xs[i] == nullptr)
        return Status::Invalid("cuda: a Concat input written in place (Fusion::kConcatInPlace) is not supported on this backend");
    return cuda::concat_forward(stream_, N, HW, count, xs, channels, y);
  }
  Status ConcatBackward(int N, int HW, int count, const float* dy, const int* channels, float* const* dxs) override {
    return cuda::concat_backward(stream_, N, HW, count, dy, channels, dxs);
  }
  Status PadForward(int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* x, float* y) override {
    return cuda::pad_forward(stream_, N, C, H, W, pt, pl, pb, pr, x, y);
  }
  Status PadBackward(int N, int C, int H, int W, int pt, int pl, int pb, int pr, const float* dy,
                     float* dx) override {
    return cuda::pad_backward(stream_, N, C, H, W, pt, pl, pb, pr, dy, dx);
  }
  Status SliceForward(int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW, const float* x,
                      float* y) override {
    return cuda::slice_forward(stream_, N, C, H, W, h0, w0, sh, sw, OH, OW, x, y);
  }
  Status SliceBackward(int N, int C, int H, int W, int h0, int w0, int sh, int sw, int OH, int OW, const float* dy,
                       float* dx) override {
    return cuda::slice_backward(stream_, N, C, H, W, h0, w0, sh, sw, OH, OW, dy, dx);
  }
  Status LinearForward(int M, int I, int O, const float* x, const float* w, const float* b, float* y) override {
    return cuda::linear_forward(stream_, M, I, O, x, w, b, y);
  }
  Status LinearBackward(int M, int I, int O, const float* x, const float* w, const float* dy, float* dx, float* dw,
                        float* db) override {
    return cuda::linear_backward(stream_, M, I, O, x, w, dy, dx, dw, db);
  }
  Status DropoutForward(size_t n, float ratio, uint64_t seed, const RandomSlot* slot, const float* x, float* y,
                        uint8_t* mask) override {
    return cuda::dropout_forward_slot(stream_, n, ratio, seed, slot, x, y, mask);
  }
  Status DropoutBackward(size_t n, float ratio, const RandomSlot* slot, const uint8_t* mask, const float* dy,
                         float* dx) override {
    return cuda::dropout_backward_slot(stream_, n, ratio, slot, mask, dy, dx);
  }
  Status DropPathForward(int N, size_t per_sample, uint64_t seed, const RandomSlot* slot, const float* x, float* y,
                         uint8_t* keep_mask) override {
    return cuda::droppath_forward_slot(stream_, N, per_sample, seed, slot, x, y, keep_mask);
  }
  Status DropPathBackward(int N, size_t per_sample, const RandomSlot* slot, const uint8_t* keep_mask, const float* dy,
                          float* dx) override {
    return cuda::droppath_backward_slot(stream_, N, per_sample, slot, keep_mask, dy, dx);
  }
  Status SoftmaxCrossEntropy(int N, int K, const float* logits, const int32_t* labels, float smoothing,
                             const float* weight, float* dlogits, float* loss, double* loss64,
                             int32_t* correct) override {
    return cuda::cross_entropy(stream_, N, K, logits, labels, smoothing, weight, dlogits, loss, loss64, correct);
  }
  Status WeightedSum(int count, const float* const* xs, const float* weights, float* y) override {
    return cuda::weighted_sum(stream_, count, xs, weights, y);
  }
  Status ScaleScalar(const float* dy, float w, bool accumulate, float* d) override {
    return cuda::scale_scalar(stream_, dy, w, accumulate, d);
  }
  Status SumSquares(size_t n, const float* g, double* out) override { return cuda::sum_squares(stream_, n, g, out); }
  Status GlobalNorm(const double* partials, int count, StepValues* values) override {
    return cuda::global_norm(stream_, partials, count, values);
  }
  Status SgdUpdate(size_t n, bool decay, const StepValues* values, float* w, const float* g, float* v) override {
    return cuda::sgd_update_step(stream_, n, decay, values, w, g, v);
  }
  Status RmspropUpdate(size_t n, bool decay, const StepValues* values, float* w, const float* g, float* ms,
                       float* mom) override {
    return cuda::rmsprop_update_step(stream_, n, decay, values, w, g, ms, mom);
  }
  Status EmaUpdate(size_t n, const StepValues* values, const float* w, float* shadow) override {
    return cuda::ema_update_step(stream_, n, values, w, shadow);
  }

 private:
  CudaBackendImpl() = default;
  cudaStream_t stream() const { return static_cast<cudaStream_t>(stream_); }
  // The CUDA runtime's current device is per host thread; steps run on worker threads.
  Status Current() {
    CUDA_CHECK(cudaSetDevice(device_));
    return Status::Ok();
  }
  bool UseCudnn(const ConvShape& s) const {
    return cudnn_ && !is_depthwise(s) && cuda::ConvBackendCudnn::supports(s);
  }

  std::recursive_mutex mu_;
  std::mutex copy_mu_;                 // the copy queue's (never held with mu_)
  cudaStream_t copy_stream_ = nullptr;
  int device_ = 0;
  std::string description_;
  Stream stream_ = nullptr;
  std::unique_ptr<cuda::ConvBackendCudnn> cudnn_;
  std::string cudnn_reason_;
};

}  // namespace

Status CudaBackend(int device, std::shared_ptr<Backend>* out) {
  // One backend (stream, cuDNN handle) per device, shared by every plan on it.
  static std::mutex mu;
  static std::map<int, std::weak_ptr<Backend>> backends;
  std::lock_guard<std::mutex> lock(mu);
  if (std::shared_ptr<Backend> b = backends[device].lock()) {
    *out = std::move(b);
    return Status::Ok();
  }
  NASNET_RETURN_IF_ERROR(CudaBackendImpl::Create(device, out));
  backends[device] = *out;
  return Status::Ok();
}

}  // namespace nasnet::plan
