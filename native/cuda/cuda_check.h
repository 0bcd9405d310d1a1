// CUDA_CHECK(expr): runs a CUDA runtime call and, when it fails, returns a Status from the enclosing
// function naming the call, the error and __FILE__:__LINE__. Nothing here aborts or exits.
//   CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream));
// Kernel launches go through it too: CUDA_CHECK(NASNET_LAUNCH(kernel, grid, block, smem, stream, args...))
// (cuda/common.cuh) reports a bad configuration or a missing kernel image with the kernel's name.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "core/status.h"

namespace nasnet::cuda {

inline Status cuda_status(cudaError_t err, const char* call, const char* file, int line) {
  if (err == cudaSuccess) return Status::Ok();
  cudaGetLastError();  // reset a non-sticky error, so the next launch check does not report it again
  std::string msg = std::string(call) + " failed with " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) +
                    ") at " + file + ":" + std::to_string(line);
  if (err == cudaErrorMemoryAllocation) return Status::Exhausted(msg);
  if (err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice) return Status::Unavailable(msg);
  return Status::Internal(msg);
}

}  // namespace nasnet::cuda

#define CUDA_CHECK(expr)                                                                              \
  do {                                                                                                \
    cudaError_t _nasnet_err = (expr);                                                                 \
    if (_nasnet_err != cudaSuccess) return ::nasnet::cuda::cuda_status(_nasnet_err, #expr, __FILE__, __LINE__); \
  } while (0)

