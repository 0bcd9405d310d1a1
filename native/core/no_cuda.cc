// CUDA information for a build without CUDA: it says so, with the reason.
#include "core/info.h"

namespace nasnet {

CudaInfo cuda_info() {
  CudaInfo info;
  info.compiled = false;
  info.reason = "this build has no CUDA kernels (no nvcc at build time, or NASNET_CUDA=0)";
  return info;
}

}  // namespace nasnet
