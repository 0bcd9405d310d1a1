// Shared device helpers for the .cu files: the launch helper, shared-memory declarations, stream
// cast, grid sizes, fixed-order block reductions.
//
// Portability: every .cu file in native/cuda compiles with nvcc AND with the host compiler against
// the emulated device (native/emu, -DNASNET_CUDA_EMULATED=ON), so kernel code sticks to:
//   - NASNET_LAUNCH(kernel, grid, block, smem, stream, args...) instead of kernel<<<...>>>(args...);
//   - NASNET_SHARED(type, name) instead of `__shared__ type name` (the emulated device poisons shared
//     memory at every block start, so a missing __syncthreads reads NaNs instead of stale values);
//   - NASNET_UNROLL instead of `#pragma unroll`;
//   - no inline PTX (asm) outside `#if defined(__CUDA_ARCH__)` fast paths that have a plain fallback.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "cuda/cuda_check.h"
#include "cuda/kernels.h"
#include "cuda/scratch_arena.h"

namespace nasnet::cuda {

inline cudaStream_t as_stream(Stream s) { return static_cast<cudaStream_t>(s); }

// Launches kernel<<<grid, block, smem, stream>>>(args...) and returns the launch's error (bad
// configuration, missing kernel image), so a launcher reads
//   CUDA_CHECK(NASNET_LAUNCH(relu_fwd, grid_for(n), kThreads, 0, as_stream(stream), n, x, y));
// and a failure names the kernel and its arguments. Template kernels work as `kernel<Op>`.
#define NASNET_LAUNCH(kernel, grid, block, smem, stream, ...) \
  ::nasnet::cuda::launch_kernel(#kernel, kernel, grid, block, smem, stream, ##__VA_ARGS__)

template <typename... P, typename... A>
cudaError_t launch_kernel(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, size_t smem,
                          cudaStream_t stream, A&&... args) {
#if defined(__CUDACC__)
  (void)name;
  kernel<<<grid, block, smem, stream>>>(std::forward<A>(args)...);
  return cudaGetLastError();
#else  // the emulated device (native/emu): the host compiler runs each block's threads as fibers
  return ::nasnet_emu::launch(name, kernel, grid, block, smem, stream, std::forward<A>(args)...);
#endif
}

// A block's shared memory: NASNET_SHARED(double[kThreads], scratch); NASNET_SHARED(GemmTiles, tiles);
#if defined(__CUDACC__)
#define NASNET_SHARED(type, name) __shared__ ::nasnet::cuda::shared_type<type> name
#else
#define NASNET_SHARED(type, name) NASNET_EMU_SHARED(::nasnet::cuda::shared_type<type>, name)
#endif
template <typename T>
using shared_type = T;  // lets an array type such as double[256] be written before the name

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements (capped: the loop covers the rest).
inline unsigned grid_for(size_t n, int threads = kThreads) {
  size_t blocks = (n + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  if (blocks > 65535u * 8u) blocks = 65535u * 8u;
  return static_cast<unsigned>(blocks);
}

#define NASNET_GRID_STRIDE(i, n) \
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

// Body of a Status-returning launcher of a 1-D grid-stride kernel whose first argument is n
// (needs a `stream` in scope).
#define NASNET_LAUNCH_1D(kernel, n, ...)                                                        \
  do {                                                                                          \
    if ((n) == 0) return Status::Ok();                                                          \
    CUDA_CHECK(NASNET_LAUNCH(kernel, grid_for(n), kThreads, 0, as_stream(stream), n, __VA_ARGS__)); \
    return Status::Ok();                                                                        \
  } while (0)

// Sum of one value per thread over the block, in a fixed tree order; the result is valid in thread 0.
// blockDim.x must be a power of two <= 1024; `scratch` holds blockDim.x values.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* scratch) {
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) scratch[threadIdx.x] += scratch[threadIdx.x + s];
    __syncthreads();
  }
  T r = scratch[0];
  __syncthreads();
  return r;
}

}  // namespace nasnet::cuda

namespace nasnet::cuda {

// Scratch memory ordered on a stream and freed when it goes out of scope: from the calling thread's
// ScratchArena when one is installed and has room (a captured step: scratch_arena.h), else
// stream-ordered cudaMallocAsync/cudaFreeAsync.
class Scratch {
 public:
  explicit Scratch(cudaStream_t stream) : stream_(stream) {}
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (arena_ != nullptr) arena_->give_back(bytes_, from_arena_);
    if (ptr_ != nullptr && !from_arena_) cudaFreeAsync(ptr_, stream_);
  }
  Status alloc(size_t bytes) {
    bytes_ = bytes == 0 ? 1 : bytes;
    arena_ = ScratchArena::current();
    if (arena_ != nullptr) {
      ptr_ = arena_->take(bytes_);
      from_arena_ = ptr_ != nullptr;
      if (from_arena_) return Status::Ok();
    }
    CUDA_CHECK(cudaMallocAsync(&ptr_, bytes_, stream_));
    return Status::Ok();
  }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  cudaStream_t stream_;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  ScratchArena* arena_ = nullptr;
  bool from_arena_ = false;
};

// out[c] += sum over n < N, i < HW of x[n, c, i], one block per channel, fixed order (reductions.cu).
// Serves conv/depthwise bias gradients (HW = OH*OW) and linear bias gradients (N = M, HW = 1).
Status channel_sum_accumulate(cudaStream_t stream, int N, int C, int HW, const float* x, float* out);

}  // namespace nasnet::cuda
