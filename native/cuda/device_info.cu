// CUDA devices as the runtime sees them. The runtime is linked statically, so this loads on a
// machine without a driver; cudaGetDeviceCount then fails, and that becomes "no device" + reason.
#include <cuda_runtime.h>

#include <string>

#include "core/info.h"

namespace nasnet {

CudaInfo cuda_info() {
  CudaInfo info;
  info.compiled = true;
#if defined(NASNET_CUDA_EMULATED)
  info.emulated = true;
#endif
  info.architectures = NASNET_CUDA_ARCHS;
  info.toolkit_version = NASNET_CUDA_VERSION;
  cudaRuntimeGetVersion(&info.runtime_version);
  if (cudaDriverGetVersion(&info.driver_version) != cudaSuccess) info.driver_version = 0;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    info.reason = std::string("no CUDA device: cudaGetDeviceCount failed with ") + cudaGetErrorName(err) + " (" +
                  cudaGetErrorString(err) + ")";
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return info;
  }
  if (count == 0) {
    info.reason = "no CUDA device: the driver reports 0 devices";
    return info;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    CudaDevice d;
    d.index = i;
    d.name = prop.name;
    d.total_memory = prop.totalGlobalMem;
    d.major = prop.major;
    d.minor = prop.minor;
    d.multiprocessors = prop.multiProcessorCount;
    info.devices.push_back(d);
  }
  return info;
}

}  // namespace nasnet
