// Run-time SIMD detection. Kernels built with __attribute__((target(...))) are dispatched on this.
#include <cstdlib>
#include <cstring>

#include "core/info.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nasnet {

static SimdLevel detect_simd() {
  SimdLevel best = SimdLevel::kPortable;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = SimdLevel::kAvx2;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    best = SimdLevel::kAvx512;
#endif
  const char* cap = std::getenv("NASNET_SIMD");
  if (cap != nullptr) {
    SimdLevel want = best;
    if (std::strcmp(cap, "portable") == 0) want = SimdLevel::kPortable;
    else if (std::strcmp(cap, "avx2") == 0) want = SimdLevel::kAvx2;
    else if (std::strcmp(cap, "avx512") == 0) want = SimdLevel::kAvx512;
    if (static_cast<int>(want) < static_cast<int>(best)) best = want;
  }
  return best;
}

SimdLevel simd_level() {
  static const SimdLevel level = detect_simd();
  return level;
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512: return "avx512";
    case SimdLevel::kAvx2: return "avx2";
    default: return "portable";
  }
}

int cpu_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace nasnet
