// Device-side CUDA on the emulated device: the qualifiers, the built-in index variables, barriers,
// warp operations, atomics and the math intrinsics the kernels use.
//
// Each thread of a block is a fiber (native/emu/scheduler.cc); the block's fibers share one OS
// thread and barriers are fiber switches. Shared memory lives in the block's own arena (see
// NASNET_EMU_SHARED). Blocks of one launch may run on several OS threads at once: atomics are real
// atomics.
#pragma once
#include <math.h>  // the C++ <math.h>: isfinite, isnan, ... in the global namespace, as device code has them

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "nasnet_emu/types.h"

// ---- qualifiers: plain C++ on the host
#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __forceinline__ inline
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define __grid_constant__
// Raw `__shared__` cannot be poisoned at block start here: kernels declare shared memory through
// NASNET_SHARED(type, name) (cuda/common.cuh), which expands to NASNET_EMU_SHARED below.
#define __shared__ _Pragma("GCC error \"declare shared memory with NASNET_SHARED(type, name) (cuda/common.cuh): the emulated device poisons it at every block start\"")

namespace nasnet_emu {

// The built-in variables of the thread now running (set by the scheduler before each switch).
struct Builtins {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};
extern thread_local Builtins tl_builtins;

// Barriers and warp operations (scheduler.cc). Each suspends the calling fiber until its group
// arrives; a thread that exits while others wait, or a barrier that can never complete, fails the
// launch (cudaErrorLaunchFailure naming the kernel, block and threads), never hangs.
void syncthreads();
int syncthreads_reduce(int predicate, int op);  // op: 0 count, 1 and, 2 or
// Exchanges one 8-byte value among the lanes of `mask` (all must call it); returns the values of
// every lane of the warp (lanes outside the mask read as their own value is undefined: NaN-filled).
const uint64_t* warp_exchange(unsigned mask, uint64_t value, const char* op);
// Fails the launch with a message (e.g. a shuffle reads a lane outside its mask).
[[noreturn]] void kernel_fault(const char* what);
// The block's copy of the shared variable declared at `tag` (one per declaration): placed in the
// block's arena, poisoned and fenced by canaries the first time a thread of the block reaches it.
void* shared_variable(const void* tag, size_t bytes, size_t align, const char* name);
// The block's dynamic shared memory (the launch's smem bytes), poisoned at block start.
void* dynamic_shared();

template <class T>
inline uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "warp operations take values of <= 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T>
inline T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}
inline unsigned lane_id() {
  const Builtins& b = tl_builtins;
  unsigned linear = b.thread_idx.x + b.block_dim.x * (b.thread_idx.y + b.block_dim.y * b.thread_idx.z);
  return linear % 32u;
}
// Lane `src` of this lane's width-wide segment, or this lane when src leaves the segment.
inline unsigned shfl_source(unsigned lane, int src, int width, bool clamp_outside) {
  unsigned seg = lane & ~(unsigned)(width - 1);
  if (src < (int)seg || src >= (int)(seg + width)) return clamp_outside ? lane : seg + ((unsigned)src & (width - 1));
  return (unsigned)src;
}
void check_shfl(unsigned mask, unsigned src, const char* op);

template <class T, class Cas>
inline T atomic_rmw(T* addr, Cas f) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "atomics take 4- or 8-byte values");
  using U = typename std::conditional<sizeof(T) == 4, uint32_t, uint64_t>::type;
  U* a = reinterpret_cast<U*>(addr);
  U old = __atomic_load_n(a, __ATOMIC_RELAXED);
  for (;;) {
    T cur = from_bits<T>(old);
    U want = (U)to_bits<T>(f(cur));
    if (__atomic_compare_exchange_n(a, &old, want, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return cur;
  }
}

}  // namespace nasnet_emu

// The built-in variables, read-only as on the device.
#define threadIdx (static_cast<const uint3&>(::nasnet_emu::tl_builtins.thread_idx))
#define blockIdx (static_cast<const uint3&>(::nasnet_emu::tl_builtins.block_idx))
#define blockDim (static_cast<const dim3&>(::nasnet_emu::tl_builtins.block_dim))
#define gridDim (static_cast<const dim3&>(::nasnet_emu::tl_builtins.grid_dim))
constexpr int warpSize = 32;

// Static shared memory: a reference to the block's copy, in the block's arena (poisoned at every
// block start, canaries after each variable, checked when the block ends).
#define NASNET_EMU_SHARED(type, name)                                                          \
  static const char nasnet_emu_shared_tag_##name = 0;                                          \
  type& name = *static_cast<type*>(                                                            \
      ::nasnet_emu::shared_variable(&nasnet_emu_shared_tag_##name, sizeof(type), alignof(type), #name))

// ---- barriers and fences
inline void __syncthreads() { ::nasnet_emu::syncthreads(); }
inline int __syncthreads_count(int p) { return ::nasnet_emu::syncthreads_reduce(p, 0); }
inline int __syncthreads_and(int p) { return ::nasnet_emu::syncthreads_reduce(p, 1); }
inline int __syncthreads_or(int p) { return ::nasnet_emu::syncthreads_reduce(p, 2); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---- warp operations (mask: the lanes taking part; each must call with the same mask)
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::nasnet_emu::warp_exchange(mask, 0, "__syncwarp"); }
inline unsigned __activemask() { return 0xffffffffu; }
inline unsigned __ballot_sync(unsigned mask, int pred) {
  const uint64_t* v = ::nasnet_emu::warp_exchange(mask, pred != 0, "__ballot_sync");
  unsigned r = 0;
  for (int l = 0; l < 32; ++l)
    if (((mask >> l) & 1u) && v[l]) r |= 1u << l;
  return r;
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) == mask; }
template <class T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32) {
  const uint64_t* v = ::nasnet_emu::warp_exchange(mask, ::nasnet_emu::to_bits(var), "__shfl_sync");
  unsigned lane = ::nasnet_emu::lane_id();
  unsigned seg = lane & ~(unsigned)(width - 1);
  unsigned src = seg + ((unsigned)src_lane & (unsigned)(width - 1));
  ::nasnet_emu::check_shfl(mask, src, "__shfl_sync");
  return ::nasnet_emu::from_bits<T>(v[src]);
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32) {
  const uint64_t* v = ::nasnet_emu::warp_exchange(mask, ::nasnet_emu::to_bits(var), "__shfl_up_sync");
  unsigned lane = ::nasnet_emu::lane_id();
  unsigned src = ::nasnet_emu::shfl_source(lane, (int)lane - (int)delta, width, true);
  ::nasnet_emu::check_shfl(mask, src, "__shfl_up_sync");
  return ::nasnet_emu::from_bits<T>(v[src]);
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32) {
  const uint64_t* v = ::nasnet_emu::warp_exchange(mask, ::nasnet_emu::to_bits(var), "__shfl_down_sync");
  unsigned lane = ::nasnet_emu::lane_id();
  unsigned src = ::nasnet_emu::shfl_source(lane, (int)(lane + delta), width, true);
  ::nasnet_emu::check_shfl(mask, src, "__shfl_down_sync");
  return ::nasnet_emu::from_bits<T>(v[src]);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32) {
  const uint64_t* v = ::nasnet_emu::warp_exchange(mask, ::nasnet_emu::to_bits(var), "__shfl_xor_sync");
  unsigned lane = ::nasnet_emu::lane_id();
  unsigned src = ::nasnet_emu::shfl_source(lane, (int)(lane ^ (unsigned)lane_mask), width, true);
  ::nasnet_emu::check_shfl(mask, src, "__shfl_xor_sync");
  return ::nasnet_emu::from_bits<T>(v[src]);
}
inline unsigned __reduce_add_sync(unsigned mask, unsigned value) {
  const uint64_t* v = ::nasnet_emu::warp_exchange(mask, value, "__reduce_add_sync");
  unsigned r = 0;
  for (int l = 0; l < 32; ++l)
    if ((mask >> l) & 1u) r += (unsigned)v[l];
  return r;
}

// ---- atomics (device-wide: blocks may run on several OS threads)
inline int atomicAdd(int* a, int v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
  return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);
}
inline float atomicAdd(float* a, float v) {
  return ::nasnet_emu::atomic_rmw(a, [v](float c) { return c + v; });
}
inline double atomicAdd(double* a, double v) {
  return ::nasnet_emu::atomic_rmw(a, [v](double c) { return c + v; });
}
inline int atomicSub(int* a, int v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicSub(unsigned* a, unsigned v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }
inline int atomicExch(int* a, int v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicExch(unsigned* a, unsigned v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicExch(unsigned long long* a, unsigned long long v) {
  return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST);
}
inline float atomicExch(float* a, float v) {
  return ::nasnet_emu::atomic_rmw(a, [v](float) { return v; });
}
template <class T>
inline T nasnet_emu_atomic_cas(T* a, T compare, T val) {
  __atomic_compare_exchange_n(a, &compare, val, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;  // the old value either way
}
inline int atomicCAS(int* a, int c, int v) { return nasnet_emu_atomic_cas(a, c, v); }
inline unsigned atomicCAS(unsigned* a, unsigned c, unsigned v) { return nasnet_emu_atomic_cas(a, c, v); }
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long c, unsigned long long v) {
  return nasnet_emu_atomic_cas(a, c, v);
}
#define NASNET_EMU_ATOMIC_MINMAX(T)                                                                 \
  inline T atomicMin(T* a, T v) {                                                                   \
    return ::nasnet_emu::atomic_rmw(a, [v](T c) { return v < c ? v : c; });                         \
  }                                                                                                 \
  inline T atomicMax(T* a, T v) {                                                                   \
    return ::nasnet_emu::atomic_rmw(a, [v](T c) { return v > c ? v : c; });                         \
  }
NASNET_EMU_ATOMIC_MINMAX(int)
NASNET_EMU_ATOMIC_MINMAX(unsigned)
NASNET_EMU_ATOMIC_MINMAX(long long)
NASNET_EMU_ATOMIC_MINMAX(unsigned long long)
#undef NASNET_EMU_ATOMIC_MINMAX
inline int atomicAnd(int* a, int v) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAnd(unsigned* a, unsigned v) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }
inline int atomicOr(int* a, int v) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicOr(unsigned* a, unsigned v) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }
inline int atomicXor(int* a, int v) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicXor(unsigned* a, unsigned v) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicInc(unsigned* a, unsigned limit) {
  return ::nasnet_emu::atomic_rmw(a, [limit](unsigned c) { return c >= limit ? 0u : c + 1u; });
}
inline unsigned atomicDec(unsigned* a, unsigned limit) {
  return ::nasnet_emu::atomic_rmw(a, [limit](unsigned c) { return (c == 0u || c > limit) ? limit : c - 1u; });
}

// ---- math intrinsics (the fast device versions are computed exactly here; the parity tests'
// tolerances cover the device's approximations). glibc's <cmath> declares __expf, __logf, __log2f,
// __sinf, __cosf, __tanf and __powf (its internal names) without exporting them: native/emu/math.cc
// defines them.
template <class T>
inline T __ldg(const T* p) {
  return *p;
}
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / std::sqrt(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline int __float2int_rn(float x) { return (int)std::nearbyint(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float_as_int(float x) { return ::nasnet_emu::from_bits<int>(::nasnet_emu::to_bits(x)); }
inline unsigned __float_as_uint(float x) { return ::nasnet_emu::from_bits<unsigned>(::nasnet_emu::to_bits(x)); }
inline float __int_as_float(int x) { return ::nasnet_emu::from_bits<float>(::nasnet_emu::to_bits(x)); }
inline float __uint_as_float(unsigned x) { return ::nasnet_emu::from_bits<float>(::nasnet_emu::to_bits(x)); }
inline long long __double_as_longlong(double x) { return ::nasnet_emu::from_bits<long long>(::nasnet_emu::to_bits(x)); }
inline double __longlong_as_double(long long x) { return ::nasnet_emu::from_bits<double>(::nasnet_emu::to_bits(x)); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
// CUDA's global min/max overloads (device code calls them unqualified).
#define NASNET_EMU_MINMAX(T)                           \
  inline T min(T a, T b) { return a < b ? a : b; }     \
  inline T max(T a, T b) { return a > b ? a : b; }
NASNET_EMU_MINMAX(int)
NASNET_EMU_MINMAX(unsigned)
NASNET_EMU_MINMAX(long)
NASNET_EMU_MINMAX(unsigned long)
NASNET_EMU_MINMAX(long long)
NASNET_EMU_MINMAX(unsigned long long)
#undef NASNET_EMU_MINMAX
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
