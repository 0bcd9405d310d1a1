// Convolution through cuDNN (loaded at run time, see cudnn_api.h), a drop-in for
// cuda::conv2d_forward / conv2d_backward on shapes cuDNN can express. The algorithm for each shape
// and direction is chosen once by cuDNN's heuristic (cudnnGet*Algorithm_v7; no trial runs, which
// would overwrite accumulating outputs) and cached with its workspace size. Backward algorithms are
// restricted to deterministic ones. Math is true fp32 (CUDNN_FMA_MATH) unless allow_tf32.
// Biases go through our own kernels (same fixed-order sums as the CUDA backend).
// Plain C++ header: no CUDA or cuDNN headers needed to include it.
#pragma once
#include <array>
#include <map>
#include <memory>
#include <string>

#include "core/status.h"
#include "cuda/kernels.h"

namespace nasnet::cuda {

class ConvBackendCudnn {
 public:
  // Unavailable (with the reason: no cuDNN, a missing function, no device) when it cannot run.
  static Status create(bool allow_tf32, std::unique_ptr<ConvBackendCudnn>* out);
  ~ConvBackendCudnn();
  ConvBackendCudnn(const ConvBackendCudnn&) = delete;
  ConvBackendCudnn& operator=(const ConvBackendCudnn&) = delete;

  // cuDNN takes one pad per side pair: asymmetric pads (TF "SAME" with stride 2) are not expressible.
  static bool supports(const ConvShape& s);
  // Same contracts as cuda::conv2d_forward / conv2d_backward (y, dx written; dw, db accumulated).
  Status forward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* b, float* y);
  Status backward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* dy, float* dx,
                  float* dw, float* db);
  // Shapes planned so far, and a one-line description of the plan for s ("" when not planned).
  size_t cached_shapes() const { return plans_.size(); }
  std::string describe(const ConvShape& s) const;

 private:
  struct Plan;
  using Key = std::array<int, 20>;
  ConvBackendCudnn() = default;
  static Key key_of(const ConvShape& s);
  Status plan_for(const ConvShape& s, Plan** plan);
  Status reserve(size_t bytes);

  void* handle_ = nullptr;
  int math_type_ = 0;
  std::map<Key, std::unique_ptr<Plan>> plans_;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
};

}  // namespace nasnet::cuda
