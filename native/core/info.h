// What this build of the native core can do: SIMD level, threads, CUDA devices, cuDNN.
#pragma once
#include <string>
#include <vector>

namespace nasnet {

enum class SimdLevel { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

// The best SIMD level this CPU supports (detected once at run time). NASNET_SIMD=portable|avx2|avx512
// in the environment caps it, so every path can be tested on one machine.
SimdLevel simd_level();
const char* simd_level_name(SimdLevel level);

// Threads the CPU kernels use (OpenMP's max threads; 1 without OpenMP).
int cpu_threads();

struct CudaDevice {
  int index = 0;
  std::string name;
  unsigned long long total_memory = 0;
  int major = 0;
  int minor = 0;
  int multiprocessors = 0;
};

struct CudaInfo {
  bool compiled = false;          // CUDA kernels are in this build
  bool emulated = false;          // ... built for the emulated device (native/emu), not by nvcc
  std::string architectures;      // e.g. "80;90"
  std::string toolkit_version;    // nvcc version the build used
  int runtime_version = 0;        // cudart version (static)
  int driver_version = 0;         // 0 when no driver
  std::vector<CudaDevice> devices;
  std::string reason;             // why there are no devices, when there are none
};

struct CudnnInfo {
  bool available = false;
  std::string path;               // the library that was loaded
  long version = 0;               // cudnnGetVersion()
  std::string reason;             // why it is not available
  std::vector<std::string> tried; // every path tried
};

CudaInfo cuda_info();
CudnnInfo cudnn_info();

}  // namespace nasnet
