// CUDA information and the CUDA backend for a build without CUDA: each says so, with the reason.
#include "core/info.h"
#include "plan/backend.h"

namespace nasnet {

namespace {
const char* kNoCuda = "this build has no CUDA kernels (no nvcc at build time, or NASNET_CUDA=0)";
}  // namespace

CudaInfo cuda_info() {
  CudaInfo info;
  info.compiled = false;
  info.reason = kNoCuda;
  return info;
}

namespace plan {

Status CudaBackend(int, std::shared_ptr<Backend>*) { return Status::Unavailable(std::string("cuda: ") + kNoCuda); }

}  // namespace plan
}  // namespace nasnet
