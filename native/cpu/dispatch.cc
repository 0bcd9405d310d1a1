// SIMD level selection for the CPU kernels (see dispatch.h).
#include "cpu/dispatch.h"

#include <atomic>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nasnet::cpu {

static std::atomic<int> g_override{-1};
static thread_local bool t_serial = false;

SimdLevel active_simd() {
  int best = static_cast<int>(simd_level());
  int o = g_override.load(std::memory_order_relaxed);
  if (o >= 0 && o < best) return static_cast<SimdLevel>(o);
  return static_cast<SimdLevel>(best);
}

void set_simd_override(int level) { g_override.store(level < 0 ? -1 : level, std::memory_order_relaxed); }

SerialScope::SerialScope() : outer_(t_serial) { t_serial = true; }
SerialScope::~SerialScope() { t_serial = outer_; }

int kernel_threads() {
#ifdef _OPENMP
  if (t_serial || omp_in_parallel()) return 1;
  return omp_get_max_threads();
#else
  return 1;
#endif
}

int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

int team_size() {
#ifdef _OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}

}  // namespace nasnet::cpu
