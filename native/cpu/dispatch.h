// Which SIMD path the CPU kernels take. The level is detected once (core/info.h: simd_level(), capped
// by NASNET_SIMD); tests re-select it per call with set_simd_override to check every path on one machine.
#pragma once
#include "core/info.h"

namespace nasnet::cpu {

// The level the kernels use now: the override when one is set (never above what the CPU supports),
// else simd_level().
SimdLevel active_simd();
// Force a level (capped at simd_level()); pass a negative value to clear. Not thread-safe with
// running kernels: set it between calls.
void set_simd_override(int level);

// Threads a kernel may use from here: 1 inside an enclosing OpenMP region or a SerialScope, else
// cpu_threads().
int kernel_threads();
// While one lives, kernel_threads() is 1 on the constructing thread: a kernel that runs a piece of
// work too small to split (batch-1 inference) keeps the kernels it calls (GEMM) serial as well.
class SerialScope {
 public:
  SerialScope();
  ~SerialScope();
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  bool outer_;
};
// omp_get_thread_num() / omp_get_num_threads(), or 0 / 1 without OpenMP.
int thread_index();
int team_size();

}  // namespace nasnet::cpu
