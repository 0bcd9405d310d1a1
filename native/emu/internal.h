// The emulated device's internals, shared by its translation units:
//   config.cc     settings from the environment (NASNET_EMU_*)
//   errors.cc     last error, sticky errors, error names and details
//   memory.cc     allocations with guard pages and canary redzones, the fault handler, copy checks
//   streams.cc    streams, events, stream-ordered (deferred) execution, capture and graphs
//   scheduler.cc  kernel execution: blocks on OS threads, threads as fibers, barriers, warp ops
//   device.cc     device properties, attributes, versions, reset
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace nasnet_emu {

// ---- config.cc
struct Config {
  size_t memory_limit;   // NASNET_EMU_MEMORY (bytes; K/M/G suffixes), default 8 GiB
  int threads;           // NASNET_EMU_THREADS: OS threads running blocks, default OpenMP's max threads
  int poison;            // the byte new allocations and shared memory are filled with, -1 for none:
                         // NASNET_EMU_POISON=nan (0xff, NaN floats: the default), huge (0x7f: 3.4e38
                         // floats, which max/min reductions do not ignore as they do NaN), 0 (none)
  bool reverse;          // NASNET_EMU_ORDER=reverse runs blocks and threads in reverse order
  int multiprocessors;   // NASNET_EMU_SMS, default 16
  size_t stack_bytes;    // NASNET_EMU_STACK: each device thread's fiber stack, default 64 KiB
};
const Config& config();

// ---- errors.cc
// Records err (with `detail`, appended by cudaGetErrorString) as this thread's last error; returns it.
cudaError_t fail(cudaError_t err, const std::string& detail);
// Records err as the device's sticky error (every later call returns it until cudaDeviceReset).
cudaError_t fail_sticky(cudaError_t err, const std::string& detail);
// The sticky error, or cudaSuccess.
cudaError_t sticky_error();
void clear_errors();
// Every API call starts with this: a sticky error is returned by everything.
#define NASNET_EMU_ENTER()                                                  \
  do {                                                                      \
    cudaError_t _sticky = ::nasnet_emu::sticky_error();                     \
    if (_sticky != cudaSuccess) return ::nasnet_emu::fail(_sticky, "");     \
  } while (0)

// ---- memory.cc
enum class MemKind { kDevice, kManaged, kPinned, kRegistered };
const char* mem_kind_name(MemKind k);
// What `p` points into, for checks and messages.
struct Where {
  bool found = false;
  MemKind kind = MemKind::kDevice;
  uint64_t id = 0;
  const char* user = nullptr;   // the allocation's start
  size_t size = 0;
  bool freed = false;           // a recently freed allocation (quarantined)
};
Where find_allocation(const void* p);
std::string describe(const Where& w);  // "the 4096-byte device allocation #7 (cudaMalloc)"
bool device_accessible(MemKind k);
// Ok when [p, p + n) lies inside one device-accessible allocation; else a message.
std::string check_device_range(const void* p, size_t n);
// Ok when [p, p + n) is host memory (pageable or pinned), not device memory; else a message.
std::string check_host_range(const void* p, size_t n, bool* pinned);
// Device memory in use and the limit.
size_t device_bytes_used();
// After an operation: canaries of every live allocation, and faults the handler recovered from
// (re-protecting their pages). Empty when clean; else the message of the sticky error.
std::string check_memory(const char* after);
// The operation now running on this OS thread, named in fault reports (a kernel's name while one of
// its blocks runs); `what` must outlive the operation. Returns the previous one.
const char* set_activity(const char* what);
void free_all_memory();  // cudaDeviceReset
cudaError_t free_device(void* p, const char* call);  // quarantines; returns an error for a bad pointer
// Graph-owned allocations (cudaMallocAsync during capture) live until their graph is destroyed.
void release_graph_allocation(void* p);

// ---- streams.cc
// One unit of device work in stream order (a kernel, a copy, a memset, a host function, a free).
struct Work {
  std::string what;              // for messages: "kernel relu_fwd", "cudaMemcpyAsync"
  std::function<cudaError_t()> run;
};
// Enqueues `w` on `stream` (or records it into the stream's capture). Returns the call's error.
cudaError_t enqueue(cudaStream_t stream, Work w, const char* call);
// Validates a stream handle (nullptr, cudaStreamLegacy, cudaStreamPerThread or a live stream).
cudaError_t check_stream(cudaStream_t stream, const char* call);
// Runs all pending work of `stream` (a copy into pageable memory returns only when it is done).
cudaError_t finish_stream(cudaStream_t stream);
// Runs all pending work of every stream (cudaDeviceSynchronize, cudaFree, synchronous copies).
cudaError_t flush_all();
// Whether a synchronizing call is illegal now (a capture is active that it would break): the error
// to return, after invalidating that capture; cudaSuccess when legal.
cudaError_t capture_forbids(const char* call, bool uses_legacy_stream);
bool stream_is_capturing(cudaStream_t stream);
// Fails a call made on a capturing stream with `err`, invalidating that capture.
cudaError_t fail_capture(cudaStream_t stream, cudaError_t err, const std::string& why);
// The capture `stream` belongs to records this allocation (owned by the resulting graph).
void capture_own_allocation(cudaStream_t stream, void* p);
void reset_streams();  // cudaDeviceReset

// ---- scheduler.cc
struct KernelLaunch {
  const char* name;
  const void* kernel;
  dim3 grid, block;
  size_t smem;
  std::function<void()> body;
};
// Validates a launch configuration as the device does; empty when valid.
cudaError_t check_launch(const char* name, const void* kernel, dim3 grid, dim3 block, size_t smem);
// Runs every block of the launch; returns cudaSuccess or the (sticky) error it recorded.
cudaError_t run_kernel(const KernelLaunch& k);
void set_max_dynamic_shared(const void* kernel, int bytes);
size_t max_dynamic_shared(const void* kernel);

}  // namespace nasnet_emu
