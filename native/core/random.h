// Counter-based random numbers shared by the CPU and CUDA kernels: the value for (seed, stream,
// counter) is a pure function, so a seed gives the same DropPath/Dropout masks on every backend and
// thread count. The mixer is SplitMix64's finalizer applied to a combined key.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define NASNET_HD __host__ __device__ __forceinline__
#else
#define NASNET_HD inline
#endif

namespace nasnet {

NASNET_HD uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A uniform float in [0, 1) for (seed, stream, counter), 24 bits of precision.
NASNET_HD float uniform01(uint64_t seed, uint64_t stream, uint64_t counter) {
  uint64_t key = mix64(seed + 0x9e3779b97f4a7c15ULL * (stream + 1));
  uint64_t r = mix64(key ^ (counter * 0xd1b54a32d192ed03ULL + 0x8cb92ba72f3d8dd7ULL));
  return static_cast<float>(r >> 40) * (1.0f / 16777216.0f);
}

}  // namespace nasnet
