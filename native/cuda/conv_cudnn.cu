// ConvBackendCudnn: conv2d forward / backward data / backward filter through cuDNN's legacy API,
// one cached plan (descriptors, algorithms, workspace sizes) per convolution shape.
// N = batch, C = input channels, K = output channels, H, W / OH, OW = input / output sizes.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/conv_cudnn.h"
#include "cuda/cudnn_api.h"

namespace nasnet::cuda {

namespace {

const cudnn::Api* api() {
  const cudnn::Api* a = nullptr;
  cudnn::load_api(&a);
  return a;
}

Status cudnn_status(cudnn::StatusT st, const char* call, const char* file, int line) {
  const char* name = api() != nullptr ? api()->GetErrorString(st) : "?";
  return Status::Internal(std::string(call) + " failed with " + name + " (" + std::to_string(st) + ") at " + file +
                          ":" + std::to_string(line));
}

#define CUDNN_CHECK(expr)                                                                  \
  do {                                                                                     \
    ::nasnet::cudnn::StatusT _st = (expr);                                                 \
    if (_st != ::nasnet::cudnn::kStatusSuccess) return cudnn_status(_st, #expr, __FILE__, __LINE__); \
  } while (0)

// Picks the first heuristic result that succeeded (and is deterministic when asked).
Status pick(const cudnn::AlgoPerf* perf, int count, bool deterministic, const char* what, int* algo) {
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != cudnn::kStatusSuccess) continue;
    if (deterministic && perf[i].determinism != cudnn::kDeterministic) continue;
    *algo = perf[i].algo;
    return Status::Ok();
  }
  return Status::NotFound(std::string("cuDNN offers no ") + (deterministic ? "deterministic " : "") + what +
                          " algorithm for this shape");
}

}  // namespace

struct ConvBackendCudnn::Plan {
  cudnn::TensorDescriptor x = nullptr, y = nullptr;
  cudnn::FilterDescriptor w = nullptr;
  cudnn::ConvDescriptor conv = nullptr;
  int fwd_algo = -1, bwd_data_algo = -1, bwd_filter_algo = -1;
  size_t fwd_bytes = 0, bwd_data_bytes = 0, bwd_filter_bytes = 0;
  ~Plan() {
    const cudnn::Api* a = api();
    if (a == nullptr) return;
    if (x != nullptr) a->DestroyTensorDescriptor(x);
    if (y != nullptr) a->DestroyTensorDescriptor(y);
    if (w != nullptr) a->DestroyFilterDescriptor(w);
    if (conv != nullptr) a->DestroyConvolutionDescriptor(conv);
  }
};

Status ConvBackendCudnn::create(bool allow_tf32, std::unique_ptr<ConvBackendCudnn>* out) {
  out->reset();
  NASNET_RETURN_IF_ERROR(device_available());
  const cudnn::Api* a = nullptr;
  NASNET_RETURN_IF_ERROR(cudnn::load_api(&a));
  std::unique_ptr<ConvBackendCudnn> b(new ConvBackendCudnn());
  CUDNN_CHECK(a->Create(&b->handle_));
  b->math_type_ = allow_tf32 ? cudnn::kDefaultMath : cudnn::kFmaMath;
  *out = std::move(b);
  return Status::Ok();
}

ConvBackendCudnn::~ConvBackendCudnn() {
  plans_.clear();
  if (workspace_ != nullptr) cudaFree(workspace_);
  if (handle_ != nullptr && api() != nullptr) api()->Destroy(handle_);
}

bool ConvBackendCudnn::supports(const ConvShape& s) {
  if (s.pt != s.pb || s.pl != s.pr) return false;
  if (s.C % s.groups != 0 || s.K % s.groups != 0) return false;
  // the output size cuDNN derives must be the one the plan holds
  int oh = (s.H + 2 * s.pt - s.dh * (s.kh - 1) - 1) / s.sh + 1;
  int ow = (s.W + 2 * s.pl - s.dw * (s.kw - 1) - 1) / s.sw + 1;
  return oh == s.OH && ow == s.OW;
}

ConvBackendCudnn::Key ConvBackendCudnn::key_of(const ConvShape& s) {
  return Key{s.N,  s.C,  s.H,  s.W,  s.K,  s.kh, s.kw, s.sh,     s.sw, s.pt,
             s.pl, s.pb, s.pr, s.dh, s.dw, s.groups, s.OH, s.OW, 0,    0};
}

std::string ConvBackendCudnn::describe(const ConvShape& s) const {
  auto it = plans_.find(key_of(s));
  if (it == plans_.end()) return "";
  const Plan& p = *it->second;
  return "fwd algo " + std::to_string(p.fwd_algo) + " (" + std::to_string(p.fwd_bytes) + " B), bwd data algo " +
         std::to_string(p.bwd_data_algo) + " (" + std::to_string(p.bwd_data_bytes) + " B), bwd filter algo " +
         std::to_string(p.bwd_filter_algo) + " (" + std::to_string(p.bwd_filter_bytes) + " B)";
}

Status ConvBackendCudnn::plan_for(const ConvShape& s, Plan** plan) {
  Key key = key_of(s);
  auto it = plans_.find(key);
  if (it != plans_.end()) {
    *plan = it->second.get();
    return Status::Ok();
  }
  if (!supports(s))
    return Status::Invalid("cuDNN cannot express this convolution (asymmetric pads " + std::to_string(s.pt) + "/" +
                           std::to_string(s.pb) + ", " + std::to_string(s.pl) + "/" + std::to_string(s.pr) +
                           "): use cuda::conv2d_*");
  const cudnn::Api* a = api();
  auto p = std::make_unique<Plan>();
  CUDNN_CHECK(a->CreateTensorDescriptor(&p->x));
  CUDNN_CHECK(a->CreateTensorDescriptor(&p->y));
  CUDNN_CHECK(a->CreateFilterDescriptor(&p->w));
  CUDNN_CHECK(a->CreateConvolutionDescriptor(&p->conv));
  CUDNN_CHECK(a->SetTensor4dDescriptor(p->x, cudnn::kTensorNchw, cudnn::kDataFloat, s.N, s.C, s.H, s.W));
  CUDNN_CHECK(a->SetTensor4dDescriptor(p->y, cudnn::kTensorNchw, cudnn::kDataFloat, s.N, s.K, s.OH, s.OW));
  CUDNN_CHECK(a->SetFilter4dDescriptor(p->w, cudnn::kDataFloat, cudnn::kTensorNchw, s.K, s.C / s.groups, s.kh, s.kw));
  CUDNN_CHECK(a->SetConvolution2dDescriptor(p->conv, s.pt, s.pl, s.sh, s.sw, s.dh, s.dw, cudnn::kCrossCorrelation,
                                            cudnn::kDataFloat));
  CUDNN_CHECK(a->SetConvolutionGroupCount(p->conv, s.groups));
  CUDNN_CHECK(a->SetConvolutionMathType(p->conv, math_type_));
  int n = 0, c = 0, h = 0, w = 0;
  CUDNN_CHECK(a->GetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &n, &c, &h, &w));
  if (n != s.N || c != s.K || h != s.OH || w != s.OW)
    return Status::Internal("cuDNN derives output [" + std::to_string(n) + ", " + std::to_string(c) + ", " +
                            std::to_string(h) + ", " + std::to_string(w) + "], the plan holds [" +
                            std::to_string(s.N) + ", " + std::to_string(s.K) + ", " + std::to_string(s.OH) + ", " +
                            std::to_string(s.OW) + "]");
  cudnn::AlgoPerf perf[8];
  int count = 0;
  CUDNN_CHECK(a->GetConvolutionForwardAlgorithm_v7(handle_, p->x, p->w, p->conv, p->y, cudnn::kFwdAlgoCount, &count,
                                                   perf));
  NASNET_RETURN_IF_ERROR(pick(perf, count, false, "forward", &p->fwd_algo));
  CUDNN_CHECK(a->GetConvolutionForwardWorkspaceSize(handle_, p->x, p->w, p->conv, p->y, p->fwd_algo, &p->fwd_bytes));
  CUDNN_CHECK(a->GetConvolutionBackwardDataAlgorithm_v7(handle_, p->w, p->y, p->conv, p->x, cudnn::kBwdDataAlgoCount,
                                                        &count, perf));
  NASNET_RETURN_IF_ERROR(pick(perf, count, true, "backward-data", &p->bwd_data_algo));
  CUDNN_CHECK(a->GetConvolutionBackwardDataWorkspaceSize(handle_, p->w, p->y, p->conv, p->x, p->bwd_data_algo,
                                                         &p->bwd_data_bytes));
  CUDNN_CHECK(a->GetConvolutionBackwardFilterAlgorithm_v7(handle_, p->x, p->y, p->conv, p->w,
                                                          cudnn::kBwdFilterAlgoCount, &count, perf));
  NASNET_RETURN_IF_ERROR(pick(perf, count, true, "backward-filter", &p->bwd_filter_algo));
  CUDNN_CHECK(a->GetConvolutionBackwardFilterWorkspaceSize(handle_, p->x, p->y, p->conv, p->w, p->bwd_filter_algo,
                                                           &p->bwd_filter_bytes));
  *plan = p.get();
  plans_.emplace(key, std::move(p));
  return Status::Ok();
}

Status ConvBackendCudnn::reserve(size_t bytes) {
  if (bytes <= workspace_bytes_) return Status::Ok();
  if (workspace_ != nullptr) {
    CUDA_CHECK(cudaDeviceSynchronize());  // in-flight work may still use the old workspace
    CUDA_CHECK(cudaFree(workspace_));
    workspace_ = nullptr;
    workspace_bytes_ = 0;
  }
  CUDA_CHECK(cudaMalloc(&workspace_, bytes));
  workspace_bytes_ = bytes;
  return Status::Ok();
}

namespace {
__global__ void add_channel_bias(size_t n, int K, int HW, const float* b, float* y) {
  NASNET_GRID_STRIDE(i, n) { y[i] += b[(i / HW) % K]; }
}
}  // namespace

Status ConvBackendCudnn::forward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* b,
                                 float* y) {
  Plan* p = nullptr;
  NASNET_RETURN_IF_ERROR(plan_for(s, &p));
  NASNET_RETURN_IF_ERROR(reserve(p->fwd_bytes));
  const cudnn::Api* a = api();
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(a->SetStream(handle_, stream));
  CUDNN_CHECK(a->ConvolutionForward(handle_, &one, p->x, x, p->w, w, p->conv, p->fwd_algo, workspace_,
                                    workspace_bytes_, &zero, p->y, y));
  if (b != nullptr) {
    size_t n = (size_t)s.N * s.K * s.OH * s.OW;
    CUDA_CHECK(NASNET_LAUNCH(add_channel_bias, grid_for(n), kThreads, 0, as_stream(stream), n, s.K, s.OH * s.OW, b, y));
  }
  return Status::Ok();
}

Status ConvBackendCudnn::backward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* dy,
                                  float* dx, float* dw, float* db) {
  Plan* p = nullptr;
  NASNET_RETURN_IF_ERROR(plan_for(s, &p));
  NASNET_RETURN_IF_ERROR(reserve(std::max(dx != nullptr ? p->bwd_data_bytes : 0, dw != nullptr ? p->bwd_filter_bytes : 0)));
  const cudnn::Api* a = api();
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(a->SetStream(handle_, stream));
  if (dx != nullptr)  // written: beta = 0
    CUDNN_CHECK(a->ConvolutionBackwardData(handle_, &one, p->w, w, p->y, dy, p->conv, p->bwd_data_algo, workspace_,
                                           workspace_bytes_, &zero, p->x, dx));
  if (dw != nullptr)  // accumulated: beta = 1
    CUDNN_CHECK(a->ConvolutionBackwardFilter(handle_, &one, p->x, x, p->y, dy, p->conv, p->bwd_filter_algo,
                                             workspace_, workspace_bytes_, &one, p->w, dw));
  if (db != nullptr) NASNET_RETURN_IF_ERROR(channel_sum_accumulate(as_stream(stream), s.N, s.K, s.OH * s.OW, dy, db));
  return Status::Ok();
}

}  // namespace nasnet::cuda
