// Tests of the emulated CUDA device itself (native/emu), built only with -DNASNET_CUDA_EMULATED=ON.
// Half of them are negative: kernels written wrong on purpose (a missing __syncthreads, an index
// past the end, a thread that leaves before a barrier, a host pointer passed to a kernel, ...), and
// the test asserts that the emulator turns each into a failure a CUDA test would see: a wrong
// (poisoned) result, or an error whose message names the kernel and the allocation. The other half
// checks the runtime semantics the CUDA backend relies on: deferred stream-ordered work, events,
// pinned versus pageable copies, stream capture and graph replay, the memory limit.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/info.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "tests/test.h"

namespace {

namespace cu = nasnet::cuda;

// Expects `got` to be `want` with `needle` in its message; prints the message; leaves the device
// usable again (cudaDeviceReset clears a sticky error, as on a device).
void expect_error(cudaError_t got, cudaError_t want, const char* needle, const char* where, bool reset = true) {
  const char* msg = cudaGetErrorString(got);
  std::printf("  %s -> %s: %s\n", where, cudaGetErrorName(got), msg);
  if (got != want) {
    std::printf("  %s: expected %s, got %s\n", where, cudaGetErrorName(want), cudaGetErrorName(got));
    ++::nasnet::test::failures();
  }
  if (std::strstr(msg, needle) == nullptr) {
    std::printf("  %s: message lacks \"%s\"\n", where, needle);
    ++::nasnet::test::failures();
  }
  if (reset) cudaDeviceReset();
}

// Runs a test in one thread order whatever NASNET_EMU_ORDER says, and restores it.
struct Order {
  explicit Order(bool reverse) : was(::nasnet_emu::reverse_order()) { ::nasnet_emu::set_reverse_order(reverse); }
  ~Order() { ::nasnet_emu::set_reverse_order(was); }
  bool was;
};

// A test of the emulator starts on a fresh device: a CUDA test before it may have left a sticky error.
#define EMU_TEST(name)                 \
  static void name##_body();           \
  NASNET_TEST(name) {                  \
    cudaDeviceReset();                 \
    name##_body();                     \
  }                                    \
  static void name##_body()

#define EXPECT_OK(expr)                                                                                  \
  do {                                                                                                   \
    cudaError_t _e = (expr);                                                                             \
    if (_e != cudaSuccess) {                                                                             \
      std::printf("  %s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorName(_e), cudaGetErrorString(_e)); \
      ++::nasnet::test::failures();                                                                      \
    }                                                                                                    \
  } while (0)

template <class T>
T* device_copy(const std::vector<T>& host) {
  T* p = nullptr;
  cudaMalloc(&p, host.size() * sizeof(T));
  cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
  return p;
}
template <class T>
std::vector<T> host_copy(const T* p, size_t n) {
  std::vector<T> out(n);
  cudaMemcpy(out.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost);
  return out;
}

// ---- kernels, right and wrong ---------------------------------------------------------------------

// One sum per block, with the fixed tree of cu::block_sum.
__global__ void block_sums(int n, const float* x, float* out) {
  NASNET_SHARED(float[256], scratch);
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  float s = cu::block_sum(i < n ? x[i] : 0.f, scratch);
  if (threadIdx.x == 0) out[blockIdx.x] = s;
}

// block_sum without the first __syncthreads: reads slots other threads have not written yet.
__global__ void block_sums_missing_sync(int n, const float* x, float* out) {
  NASNET_SHARED(float[256], scratch);
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  scratch[threadIdx.x] = i < n ? x[i] : 0.f;
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) scratch[threadIdx.x] += scratch[threadIdx.x + s];
    if (s < blockDim.x / 2) __syncthreads();  // the first one is missing
  }
  if (threadIdx.x == 0) out[blockIdx.x] = scratch[0];
}

// Each thread reads its left neighbour's slot; the __syncthreads between the write and the read is
// missing. In forward order the neighbour has always written already: only reverse order shows it.
__global__ void left_neighbour_missing_sync(float* y) {
  NASNET_SHARED(float[64], slot);
  slot[threadIdx.x] = (float)threadIdx.x;
  y[threadIdx.x] = threadIdx.x > 0 ? slot[threadIdx.x - 1] : 0.f;
}

// Every block loads the same 64 values per step into shared memory and sums a neighbour's; the
// second __syncthreads (before the next load overwrites the tile) is missing: a write-after-read race.
__global__ void tiled_neighbour_sum(int steps, const float* x, float* out, bool second_sync) {
  NASNET_SHARED(float[64], tile);
  float acc = 0.f;
  for (int k = 0; k < steps; ++k) {
    tile[threadIdx.x] = x[k * 64 + threadIdx.x];
    __syncthreads();
    acc += tile[(threadIdx.x + 1) % 64];
    if (second_sync) __syncthreads();
  }
  out[blockIdx.x * 64 + threadIdx.x] = acc;
}

__global__ void write_one_past(int n, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) y[i] = 1.f;  // <= : one element too far
}

// An optimizer-like read-modify-write that also runs one element too far: what it writes there is
// computed from what it read there, so only a canary that float arithmetic changes can show it.
__global__ void update_one_past(int n, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) y[i] = y[i] * 0.9f - 0.5f;  // <= : one element too far
}

__global__ void read_next(int n, const float* x, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i] + x[i + 1];  // the last thread reads x[n]
}

__global__ void write_before_start(float* y) {
  if (threadIdx.x == 0) y[-1] = 2.f;
}

__global__ void scale2(int n, const float* x, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = 2.f * x[i];
}

__global__ void early_exit_then_barrier(float* y) {
  if (threadIdx.x >= 100) return;
  __syncthreads();
  y[threadIdx.x] = 1.f;
}

// Lanes 0..15 shuffle with the whole warp while lanes 16..31 wait at a barrier: neither completes.
__global__ void divergent_barrier(float* y) {
  float v = threadIdx.x;
  if (threadIdx.x < 16)
    v = __shfl_down_sync(0xffffffffu, v, 1);
  else
    __syncthreads();
  y[threadIdx.x] = v;
}

// Warp-level primitives: a shuffle-down sum, an xor butterfly, an inclusive scan, width-16 broadcasts
// and a ballot, one warp per block.
__global__ void warp_ops(const int* x, int* out) {
  int lane = threadIdx.x % 32, v = x[threadIdx.x];
  int sum = v;
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, off);
  int all = v;
  for (int m = 1; m < 32; m <<= 1) all += __shfl_xor_sync(0xffffffffu, all, m);
  int scan = v;
  for (int d = 1; d < 32; d <<= 1) {
    int o = __shfl_up_sync(0xffffffffu, scan, d);
    if (lane >= d) scan += o;
  }
  int head16 = __shfl_sync(0xffffffffu, v, 0, 16);
  unsigned odd = __ballot_sync(0xffffffffu, v & 1);
  out[0 * 32 + lane] = lane == 0 ? sum : 0;
  out[1 * 32 + lane] = all;
  out[2 * 32 + lane] = scan;
  out[3 * 32 + lane] = head16;
  out[4 * 32 + lane] = static_cast<int>(odd);
}

__global__ void shfl_outside_mask(int* out) {
  int v = threadIdx.x;
  if (threadIdx.x < 16) v = __shfl_down_sync(0x0000ffffu, v, 8);  // lanes 8..15 read 16..23: not in the mask
  out[threadIdx.x] = v;
}

__global__ void count_atomics(int* count, float* sum) {
  atomicAdd(count, 1);
  atomicAdd(sum, 0.5f);
}

__global__ void use_dynamic_shared(int n, float* y, int overrun) {
  float* smem = static_cast<float*>(::nasnet_emu::dynamic_shared());
  for (int i = threadIdx.x; i < n + overrun; i += blockDim.x) smem[i] = (float)i;
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) y[i] = smem[n - 1 - i];
}

// Writes one element past its shared array.
__global__ void shared_one_past(float* y) {
  NASNET_SHARED(float[32], slot);
  slot[threadIdx.x + 1] = 1.f;  // thread 31 writes slot[32]
  __syncthreads();
  y[threadIdx.x] = slot[threadIdx.x];
}

struct Big {
  float v[13 * 1024];  // 52 KiB: more than a block may declare
};
__global__ void too_much_static_shared(float* y) {
  NASNET_SHARED(Big, big);
  big.v[threadIdx.x] = 1.f;
  y[threadIdx.x] = big.v[threadIdx.x];
}

__global__ void noop(float*) {}

}  // namespace

// ---- the device ---------------------------------------------------------------------------------

EMU_TEST(cuda_emu_device_reports_itself) {
  int count = 0;
  EXPECT_OK(cudaGetDeviceCount(&count));
  EXPECT_TRUE(count == 1);
  cudaDeviceProp p;
  EXPECT_OK(cudaGetDeviceProperties(&p, 0));
  EXPECT_TRUE(std::strcmp(p.name, "nasnet emulated CUDA device (CPU)") == 0);
  EXPECT_TRUE(p.major == 9 && p.minor == 0 && p.warpSize == 32 && p.maxThreadsPerBlock == 1024);
  size_t free = 0, total = 0;
  EXPECT_OK(cudaMemGetInfo(&free, &total));
  EXPECT_TRUE(total == p.totalGlobalMem && free <= total);
  int sms = 0;
  EXPECT_OK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  EXPECT_TRUE(sms == p.multiProcessorCount && sms > 0);
  nasnet::CudaInfo info = nasnet::cuda_info();
  EXPECT_TRUE(info.compiled && info.emulated && info.devices.size() == 1);
  EXPECT_TRUE(!info.devices.empty() && info.devices[0].name == p.name && info.devices[0].major == 9);
  nasnet::CudnnInfo dnn = nasnet::cudnn_info();
  EXPECT_TRUE(!dnn.available && dnn.reason == "emulated CUDA device: cuDNN not available");
  expect_error(cudaSetDevice(1), cudaErrorInvalidDevice, "the only one", "cudaSetDevice(1)", false);
  EXPECT_TRUE(cudaGetLastError() == cudaErrorInvalidDevice);
  EXPECT_TRUE(cudaGetLastError() == cudaSuccess);  // not sticky: read once
}

EMU_TEST(cuda_emu_new_device_memory_reads_as_poison) {
  const int poison = ::nasnet_emu::poison_byte();  // NaN floats by default (NASNET_EMU_POISON)
  std::printf("  poison byte: %d\n", poison);
  if (poison < 0) return;
  unsigned char* p = nullptr;
  EXPECT_OK(cudaMalloc(&p, 256));
  std::vector<unsigned char> h = host_copy(p, 256);
  bool all = true;
  for (unsigned char v : h) all &= v == poison;
  EXPECT_TRUE(all);
  cudaFree(p);
}

// ---- barriers and shared memory ---------------------------------------------------------------------

EMU_TEST(cuda_emu_block_reduction_is_right) {
  const int n = 1000, blocks = 4;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = (float)(i % 7);
  float* gx = device_copy(x);
  float* gs = nullptr;
  cudaMalloc(&gs, blocks * sizeof(float));
  EXPECT_OK(NASNET_LAUNCH(block_sums, blocks, 256, 0, nullptr, n, gx, gs));
  std::vector<float> s = host_copy(gs, blocks);
  for (int b = 0; b < blocks; ++b) {
    float want = 0.f;
    for (int i = b * 256; i < (b + 1) * 256 && i < n; ++i) want += x[i];
    EXPECT_NEAR(s[b], want, 1e-3);
  }
  cudaFree(gx);
  cudaFree(gs);
}

EMU_TEST(cuda_emu_missing_syncthreads_reads_poison) {
  Order forward(false);
  const int n = 512;
  std::vector<float> x(n, 1.f);
  float* gx = device_copy(x);
  float* gs = nullptr;
  cudaMalloc(&gs, 2 * sizeof(float));
  for (int run = 0; run < 2; ++run) {  // deterministic: the same failure every time
    EXPECT_OK(NASNET_LAUNCH(block_sums_missing_sync, 2, 256, 0, nullptr, n, gx, gs));
    std::vector<float> s = host_copy(gs, 2);
    std::printf("  run %d: block sums %g %g (right: 256)\n", run, s[0], s[1]);
    EXPECT_TRUE(!(s[0] == 256.f) && !(s[1] == 256.f));  // NaN or huge, whichever poison
  }
  cudaFree(gx);
  cudaFree(gs);
}

EMU_TEST(cuda_emu_missing_second_syncthreads_is_a_wrong_result) {
  Order forward(false);
  const int steps = 3, blocks = 2;
  std::vector<float> x(steps * 64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (float)i;
  float* gx = device_copy(x);
  float* gy = nullptr;
  cudaMalloc(&gy, blocks * 64 * sizeof(float));
  std::vector<float> want(64);
  for (int t = 0; t < 64; ++t)
    for (int k = 0; k < steps; ++k) want[t] += x[k * 64 + (t + 1) % 64];
  for (int second_sync = 1; second_sync >= 0; --second_sync) {
    EXPECT_OK(NASNET_LAUNCH(tiled_neighbour_sum, blocks, 64, 0, nullptr, steps, gx, gy, second_sync != 0));
    std::vector<float> y = host_copy(gy, blocks * 64);
    int wrong = 0;
    for (int i = 0; i < blocks * 64; ++i) wrong += y[i] != want[i % 64];
    std::printf("  second __syncthreads %s: %d of %d outputs wrong\n", second_sync ? "present" : "missing", wrong,
                blocks * 64);
    EXPECT_TRUE(second_sync ? wrong == 0 : wrong > 0);
  }
  cudaFree(gx);
  cudaFree(gy);
}

// Why CI runs the CUDA tests in both thread orders: each order shows a race the other hides.
EMU_TEST(cuda_emu_each_thread_order_shows_a_race_the_other_hides) {
  std::vector<float> x(256, 1.f);
  float* gx = device_copy(x);
  float *gs = nullptr, *gy = nullptr;
  cudaMalloc(&gs, sizeof(float));
  cudaMalloc(&gy, 64 * sizeof(float));
  for (bool reverse : {false, true}) {
    Order order(reverse);
    EXPECT_OK(NASNET_LAUNCH(block_sums_missing_sync, 1, 256, 0, nullptr, 256, gx, gs));
    EXPECT_OK(NASNET_LAUNCH(left_neighbour_missing_sync, 1, 64, 0, nullptr, gy));
    float sum = host_copy(gs, 1)[0];
    std::vector<float> y = host_copy(gy, 64);
    bool left_right = true;
    for (int t = 0; t < 64; ++t) left_right &= y[t] == (t > 0 ? t - 1.f : 0.f);
    std::printf("  %s order: block sum %g (right: 256), left neighbours %s\n", reverse ? "reverse" : "forward", sum,
                left_right ? "right" : "wrong");
    EXPECT_TRUE(reverse ? sum == 256.f && !left_right : !(sum == 256.f) && left_right);
  }
  cudaFree(gx);
  cudaFree(gs);
  cudaFree(gy);
}

// Blocks that cannot run as written: each launch fails (never hangs) with a message that says why.
EMU_TEST(cuda_emu_broken_blocks_fail_the_launch) {
  struct Case {
    void (*kernel)(float*);
    const char* name;
    unsigned threads;
    const char* needle;
  };
  const Case cases[] = {
      {early_exit_then_barrier, "early_exit_then_barrier", 256, "exited while"},
      {divergent_barrier, "divergent_barrier", 64, "waits elsewhere"},
      {too_much_static_shared, "too_much_static_shared", 32, "48 KiB"},
      {shared_one_past, "shared_one_past", 32, "past the end of shared variable 'slot' (128 bytes)"},
  };
  for (const Case& c : cases) {
    float* gy = nullptr;
    cudaMalloc(&gy, c.threads * sizeof(float));
    EXPECT_OK(::nasnet::cuda::launch_kernel(c.name, c.kernel, 1, c.threads, 0, nullptr, gy));
    expect_error(cudaDeviceSynchronize(), cudaErrorLaunchFailure, c.needle, c.name);  // resets the device
  }
}

EMU_TEST(cuda_emu_dynamic_shared_memory) {
  const int n = 16 * 1024;  // 64 KiB: needs the opt-in
  float* gy = nullptr;
  cudaMalloc(&gy, n * sizeof(float));
  expect_error(NASNET_LAUNCH(use_dynamic_shared, 1, 128, n * sizeof(float), nullptr, n, gy, 0), cudaErrorInvalidValue,
               "cudaFuncSetAttribute", "64 KiB without the opt-in", false);
  EXPECT_TRUE(cudaGetLastError() == cudaErrorInvalidValue);
  EXPECT_OK(cudaFuncSetAttribute(use_dynamic_shared, cudaFuncAttributeMaxDynamicSharedMemorySize, n * sizeof(float)));
  EXPECT_OK(NASNET_LAUNCH(use_dynamic_shared, 1, 128, n * sizeof(float), nullptr, n, gy, 0));
  std::vector<float> y = host_copy(gy, n);
  EXPECT_TRUE(y[0] == n - 1 && y[n - 1] == 0);
  EXPECT_OK(NASNET_LAUNCH(use_dynamic_shared, 1, 128, n * sizeof(float), nullptr, n, gy, 4));
  expect_error(cudaDeviceSynchronize(), cudaErrorLaunchFailure, "past the end of its 65536 bytes of dynamic shared",
               "use_dynamic_shared overrun");
}

// ---- warps and atomics --------------------------------------------------------------------------------

EMU_TEST(cuda_emu_warp_operations) {
  std::vector<int> x(64);
  for (int i = 0; i < 64; ++i) x[i] = (i * 7 + 3) % 11;
  int* gx = device_copy(x);
  int* gout = nullptr;
  cudaMalloc(&gout, 5 * 32 * sizeof(int));
  EXPECT_OK(NASNET_LAUNCH(warp_ops, 1, 32, 0, nullptr, gx, gout));
  std::vector<int> out = host_copy(gout, 5 * 32);
  int total = 0, scan = 0;
  unsigned odd = 0;
  for (int l = 0; l < 32; ++l) {
    total += x[l];
    odd |= (unsigned)(x[l] & 1) << l;
  }
  EXPECT_TRUE(out[0] == total);
  for (int l = 0; l < 32; ++l) {
    scan += x[l];
    EXPECT_TRUE(out[32 + l] == total);
    EXPECT_TRUE(out[64 + l] == scan);
    EXPECT_TRUE(out[96 + l] == x[l < 16 ? 0 : 16]);
    EXPECT_TRUE(static_cast<unsigned>(out[128 + l]) == odd);
  }
  EXPECT_OK(NASNET_LAUNCH(shfl_outside_mask, 1, 32, 0, nullptr, gout));
  expect_error(cudaDeviceSynchronize(), cudaErrorLaunchFailure, "not in the mask", "shfl_outside_mask");
}

EMU_TEST(cuda_emu_atomics_across_blocks) {
  int* count = nullptr;
  float* sum = nullptr;
  cudaMalloc(&count, sizeof(int));
  cudaMalloc(&sum, sizeof(float));
  cudaMemset(count, 0, sizeof(int));
  cudaMemset(sum, 0, sizeof(float));
  EXPECT_OK(NASNET_LAUNCH(count_atomics, 300, 64, 0, nullptr, count, sum));
  EXPECT_TRUE(host_copy(count, 1)[0] == 300 * 64);
  EXPECT_TRUE(host_copy(sum, 1)[0] == 300 * 64 * 0.5f);  // exact: halves add exactly up to 2^24
  cudaFree(count);
  cudaFree(sum);
}

// ---- memory safety --------------------------------------------------------------------------------

EMU_TEST(cuda_emu_write_past_the_end_is_reported) {
  const int n = 1000;
  float* gy = nullptr;
  cudaMalloc(&gy, n * sizeof(float));
  EXPECT_OK(NASNET_LAUNCH(write_one_past, 4, 256, 0, nullptr, n, gy));
  expect_error(cudaDeviceSynchronize(), cudaErrorIllegalAddress, "kernel write_one_past", "write_one_past",
               false);
  const char* msg = cudaGetErrorString(cudaErrorIllegalAddress);
  EXPECT_TRUE(std::strstr(msg, "past the end of the 4000-byte device allocation") != nullptr);
  // sticky: every call fails until the device is reset
  void* p = nullptr;
  EXPECT_TRUE(cudaMalloc(&p, 16) == cudaErrorIllegalAddress);
  EXPECT_OK(cudaDeviceReset());
  EXPECT_OK(cudaMalloc(&p, 16));
  cudaFree(p);
}

EMU_TEST(cuda_emu_update_past_the_end_is_reported) {
  // The tail canary is a signalling NaN: arithmetic on it gives a quiet NaN, which breaks it (a
  // quiet-NaN canary came back bit for bit from y * 0.9 - 0.5 and hid this overrun).
  const int n = 1000;
  std::vector<float> x(n, 1.f);
  float* gy = device_copy(x);
  EXPECT_OK(NASNET_LAUNCH(update_one_past, 4, 256, 0, nullptr, n, gy));
  expect_error(cudaDeviceSynchronize(), cudaErrorIllegalAddress, "kernel update_one_past", "update_one_past",
               false);
  EXPECT_TRUE(std::strstr(cudaGetErrorString(cudaErrorIllegalAddress),
                          "past the end of the 4000-byte device allocation") != nullptr);
  cudaDeviceReset();
}

EMU_TEST(cuda_emu_read_past_the_end_faults) {
  const int n = 256;  // 1024 bytes: the allocation ends right at its guard page
  std::vector<float> x(n, 1.f);
  float* gx = device_copy(x);
  float* gy = nullptr;
  cudaMalloc(&gy, n * sizeof(float));
  EXPECT_OK(NASNET_LAUNCH(read_next, 1, 256, 0, nullptr, n, gx, gy));
  expect_error(cudaStreamSynchronize(nullptr), cudaErrorIllegalAddress,
               "thread (255,0,0): read at", "read_next", false);
  EXPECT_TRUE(std::strstr(cudaGetErrorString(cudaErrorIllegalAddress),
                          "0 bytes past the end of the 1024-byte device allocation") != nullptr);
  cudaDeviceReset();
}

EMU_TEST(cuda_emu_write_before_the_start_is_reported) {
  float* gy = nullptr;
  cudaMalloc(&gy, 64 * sizeof(float));
  EXPECT_OK(NASNET_LAUNCH(write_before_start, 1, 32, 0, nullptr, gy));
  expect_error(cudaDeviceSynchronize(), cudaErrorIllegalAddress, "before the start of the 256-byte device allocation",
               "write_before_start");
}

EMU_TEST(cuda_emu_use_after_free_is_reported) {
  std::vector<float> x(256, 1.f);
  float* gx = device_copy(x);
  float* gy = nullptr;
  cudaMalloc(&gy, 256 * sizeof(float));
  cudaStream_t s;
  cudaStreamCreate(&s);
  // freed in stream order before the kernel that still reads it
  EXPECT_OK(cudaFreeAsync(gx, s));
  EXPECT_OK(NASNET_LAUNCH(scale2, 1, 256, 0, s, 256, gx, gy));
  expect_error(cudaStreamSynchronize(s), cudaErrorIllegalAddress, "use after free", "kernel after cudaFreeAsync");
  // a pointer freed before the launch is refused at the launch
  gy = nullptr;
  cudaMalloc(&gy, 64);
  cudaFree(gy);
  expect_error(NASNET_LAUNCH(noop, 1, 1, 0, nullptr, gy), cudaErrorIllegalAddress, "use after free",
               "launch with a freed pointer");
}

EMU_TEST(cuda_emu_host_pointer_passed_to_a_kernel_is_refused) {
  std::vector<float> host(256, 1.f);
  float* gy = nullptr;
  cudaMalloc(&gy, 256 * sizeof(float));
  expect_error(NASNET_LAUNCH(scale2, 1, 256, 0, nullptr, 256, host.data(), gy), cudaErrorIllegalAddress,
               "argument 2", "scale2(host pointer)");
}

EMU_TEST(cuda_emu_copies_check_their_ranges) {
  float* gy = nullptr;
  cudaMalloc(&gy, 100 * sizeof(float));
  std::vector<float> h(128, 0.f);
  expect_error(cudaMemcpy(gy, h.data(), 128 * sizeof(float), cudaMemcpyHostToDevice), cudaErrorInvalidValue,
               "run 112 bytes past its end", "cudaMemcpy 128 floats into 100", false);
  expect_error(cudaMemcpy(h.data(), h.data() + 64, 64 * sizeof(float), cudaMemcpyDeviceToHost), cudaErrorInvalidValue,
               "is not device memory", "cudaMemcpy D2H from host memory", false);
  expect_error(cudaMemsetAsync(gy + 50, 0, 51 * sizeof(float), nullptr), cudaErrorInvalidValue, "past its end",
               "cudaMemsetAsync overrun", false);
  expect_error(cudaFree(h.data()), cudaErrorInvalidValue, "not memory from cudaMalloc", "cudaFree(host)", false);
  EXPECT_OK(cudaFree(gy));
  expect_error(cudaFree(gy), cudaErrorInvalidValue, "double free", "cudaFree twice", false);
  EXPECT_TRUE(cudaGetLastError() == cudaErrorInvalidValue);
}

EMU_TEST(cuda_emu_out_of_memory) {
  size_t free = 0, total = 0;
  cudaMemGetInfo(&free, &total);
  void* p = nullptr;
  expect_error(cudaMalloc(&p, total + 1), cudaErrorMemoryAllocation, "limit: NASNET_EMU_MEMORY", "cudaMalloc(limit + 1)",
               false);
  EXPECT_TRUE(p == nullptr);
  EXPECT_TRUE(cudaGetLastError() == cudaErrorMemoryAllocation);
  EXPECT_OK(cudaMalloc(&p, 1024));  // not sticky
  size_t free2 = 0;
  cudaMemGetInfo(&free2, &total);
  EXPECT_TRUE(free2 + 1024 == free);
  cudaFree(p);
  // the kernels' own path: a Status naming the call and the bytes
  void* q = nullptr;
  nasnet::Status st = cu::device_malloc(&q, total + 4096);
  std::printf("  %s\n", st.message().c_str());
  EXPECT_TRUE(st.code() == nasnet::StatusCode::kResourceExhausted);
  EXPECT_TRUE(st.message().find(std::to_string(total + 4096) + " bytes") != std::string::npos);
}

EMU_TEST(cuda_emu_launch_configuration_is_checked) {
  float* gy = nullptr;
  cudaMalloc(&gy, 64);
  expect_error(NASNET_LAUNCH(noop, 1, 1025, 0, nullptr, gy), cudaErrorInvalidConfiguration, "1024 threads per block",
               "block of 1025", false);
  expect_error(NASNET_LAUNCH(noop, dim3(1, 65536), 32, 0, nullptr, gy), cudaErrorInvalidConfiguration, "grid (1,65536,1)",
               "grid.y 65536", false);
  expect_error(NASNET_LAUNCH(noop, 0, 32, 0, nullptr, gy), cudaErrorInvalidConfiguration, "grid (0,1,1)", "empty grid",
               false);
  cudaGetLastError();
  EXPECT_OK(NASNET_LAUNCH(noop, 1, dim3(32, 32), 0, nullptr, gy));  // not sticky
  EXPECT_OK(cudaDeviceSynchronize());
  cudaFree(gy);
}

// ---- streams, events, copies ------------------------------------------------------------------------

EMU_TEST(cuda_emu_work_is_deferred_until_synchronized) {
  const int n = 256;
  std::vector<float> x(n, 3.f);
  float* gx = device_copy(x);
  float* gy = nullptr;
  cudaMalloc(&gy, n * sizeof(float));
  float* pinned = nullptr;
  EXPECT_OK(cudaMallocHost(&pinned, n * sizeof(float)));
  for (int i = 0; i < n; ++i) pinned[i] = -1.f;
  cudaStream_t s;
  EXPECT_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  EXPECT_OK(NASNET_LAUNCH(scale2, 1, n, 0, s, n, gx, gy));
  EXPECT_OK(cudaMemcpyAsync(pinned, gy, n * sizeof(float), cudaMemcpyDeviceToHost, s));
  EXPECT_TRUE(pinned[0] == -1.f);  // a host that reads before synchronizing reads stale data, as on a device
  EXPECT_OK(cudaStreamSynchronize(s));
  EXPECT_TRUE(pinned[0] == 6.f && pinned[n - 1] == 6.f);
  // pageable destination: the call returns when the copy is done
  std::vector<float> h(n, 0.f);
  EXPECT_OK(NASNET_LAUNCH(scale2, 1, n, 0, s, n, gy, gy));
  EXPECT_OK(cudaMemcpyAsync(h.data(), gy, n * sizeof(float), cudaMemcpyDeviceToHost, s));
  EXPECT_TRUE(h[0] == 12.f);
  EXPECT_OK(cudaStreamDestroy(s));
  EXPECT_OK(cudaFreeHost(pinned));
  cudaFree(gx);
  cudaFree(gy);
}

EMU_TEST(cuda_emu_pageable_sources_are_staged_pinned_ones_are_not) {
  const int n = 64;
  float* gy = nullptr;
  cudaMalloc(&gy, n * sizeof(float));
  cudaStream_t s;
  cudaStreamCreate(&s);
  std::vector<float> pageable(n, 1.f);
  EXPECT_OK(cudaMemcpyAsync(gy, pageable.data(), n * sizeof(float), cudaMemcpyHostToDevice, s));
  pageable.assign(n, 5.f);  // after the call: the staged copy keeps 1
  EXPECT_TRUE(host_copy(gy, n)[0] == 1.f);
  float* pinned = nullptr;
  cudaMallocHost(&pinned, n * sizeof(float));
  for (int i = 0; i < n; ++i) pinned[i] = 1.f;
  EXPECT_OK(cudaMemcpyAsync(gy, pinned, n * sizeof(float), cudaMemcpyHostToDevice, s));
  for (int i = 0; i < n; ++i) pinned[i] = 7.f;  // before the copy ran: the DMA reads 7
  EXPECT_OK(cudaStreamSynchronize(s));
  EXPECT_TRUE(host_copy(gy, n)[0] == 7.f);
  cudaFreeHost(pinned);
  cudaStreamDestroy(s);
  cudaFree(gy);
}

EMU_TEST(cuda_emu_events_order_streams) {
  const int n = 256;
  std::vector<float> x(n, 1.f);
  float* gx = device_copy(x);
  float* ga = nullptr;
  float* gb = nullptr;
  cudaMalloc(&ga, n * sizeof(float));
  cudaMalloc(&gb, n * sizeof(float));
  cudaStream_t s1, s2;
  cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking);
  cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking);
  cudaEvent_t produced, t0, t1, untimed;
  cudaEventCreate(&produced);
  cudaEventCreate(&t0);
  cudaEventCreate(&t1);
  cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming);
  EXPECT_OK(cudaEventRecord(t0, s1));
  EXPECT_OK(NASNET_LAUNCH(scale2, 1, n, 0, s1, n, gx, ga));  // a = 2
  EXPECT_OK(cudaEventRecord(produced, s1));
  EXPECT_OK(cudaEventRecord(t1, s1));
  EXPECT_OK(cudaStreamWaitEvent(s2, produced, 0));
  EXPECT_OK(NASNET_LAUNCH(scale2, 1, n, 0, s2, n, ga, gb));  // b = 4, after a
  float ms = -1.f;
  expect_error(cudaEventElapsedTime(&ms, t0, t1), cudaErrorNotReady, "has not completed", "elapsed before sync", false);
  EXPECT_OK(cudaStreamSynchronize(s2));  // runs s1's work first: s2 waits on it
  EXPECT_TRUE(host_copy(gb, n)[0] == 4.f);
  EXPECT_OK(cudaEventSynchronize(t1));
  EXPECT_OK(cudaEventElapsedTime(&ms, t0, t1));
  EXPECT_TRUE(ms >= 0.f);
  EXPECT_OK(cudaEventRecord(untimed, s1));
  EXPECT_OK(cudaEventSynchronize(untimed));
  expect_error(cudaEventElapsedTime(&ms, t0, untimed), cudaErrorInvalidResourceHandle, "cudaEventDisableTiming",
               "elapsed of an untimed event", false);
  EXPECT_OK(cudaEventQuery(produced));
  for (cudaEvent_t e : {produced, t0, t1, untimed}) cudaEventDestroy(e);
  cudaStreamDestroy(s1);
  cudaStreamDestroy(s2);
  cudaFree(gx);
  cudaFree(ga);
  cudaFree(gb);
  cudaGetLastError();
}

// ---- capture and graphs ----------------------------------------------------------------------------

EMU_TEST(cuda_emu_graph_replays_captured_work_with_pinned_inputs_read_at_replay) {
  const int n = 128;
  float *in = nullptr, *out = nullptr, *gx = nullptr, *gy = nullptr;
  cudaMallocHost(&in, n * sizeof(float));
  cudaMallocHost(&out, n * sizeof(float));
  cudaMalloc(&gx, n * sizeof(float));
  cudaMalloc(&gy, n * sizeof(float));
  cudaStream_t s;
  cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  EXPECT_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  cudaStreamCaptureStatus status;
  EXPECT_OK(cudaStreamIsCapturing(s, &status));
  EXPECT_TRUE(status == cudaStreamCaptureStatusActive);
  EXPECT_OK(cudaMemcpyAsync(gx, in, n * sizeof(float), cudaMemcpyHostToDevice, s));
  EXPECT_OK(NASNET_LAUNCH(scale2, 1, n, 0, s, n, gx, gy));
  EXPECT_OK(cudaMemcpyAsync(out, gy, n * sizeof(float), cudaMemcpyDeviceToHost, s));
  cudaGraph_t graph = nullptr;
  EXPECT_OK(cudaStreamEndCapture(s, &graph));
  size_t nodes = 0;
  EXPECT_OK(cudaGraphGetNodes(graph, nullptr, &nodes));
  EXPECT_TRUE(nodes == 3);
  cudaGraphExec_t exec = nullptr;
  EXPECT_OK(cudaGraphInstantiate(&exec, graph, 0));
  for (int replay = 1; replay <= 3; ++replay) {
    for (int i = 0; i < n; ++i) in[i] = (float)(replay * 10 + i);  // the next batch, written into pinned memory
    EXPECT_OK(cudaGraphLaunch(exec, s));
    EXPECT_OK(cudaStreamSynchronize(s));
    EXPECT_TRUE(out[0] == 2.f * replay * 10 && out[n - 1] == 2.f * (replay * 10 + n - 1));
  }
  EXPECT_OK(cudaGraphExecDestroy(exec));
  EXPECT_OK(cudaGraphDestroy(graph));
  cudaStreamDestroy(s);
  cudaFreeHost(in);
  cudaFreeHost(out);
  cudaFree(gx);
  cudaFree(gy);
}

EMU_TEST(cuda_emu_capture_refuses_what_a_device_refuses) {
  float* gy = nullptr;
  cudaMalloc(&gy, 256);
  cudaStream_t s;
  cudaStreamCreate(&s);
  cudaGraph_t graph = nullptr;
  struct Case {
    const char* what;
    cudaError_t want;
    const char* needle;
  };
  const Case cases[] = {{"cudaStreamSynchronize", cudaErrorStreamCaptureUnsupported, "capturing stream"},
                        {"cudaMalloc", cudaErrorStreamCaptureUnsupported, "not permitted while"},
                        {"legacy stream launch", cudaErrorStreamCaptureImplicit, "legacy default stream"},
                        {"pageable copy", cudaErrorStreamCaptureUnsupported, "pageable"},
                        {"cudaDeviceSynchronize", cudaErrorStreamCaptureUnsupported, "not permitted while"}};
  std::vector<float> pageable(64, 0.f);
  for (const Case& c : cases) {
    EXPECT_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    EXPECT_OK(NASNET_LAUNCH(noop, 1, 1, 0, s, gy));
    cudaError_t e = cudaSuccess;
    void* p = nullptr;
    if (c.want == cudaErrorStreamCaptureImplicit) e = NASNET_LAUNCH(noop, 1, 1, 0, nullptr, gy);
    else if (std::strcmp(c.what, "cudaMalloc") == 0) e = cudaMalloc(&p, 64);
    else if (std::strcmp(c.what, "pageable copy") == 0)
      e = cudaMemcpyAsync(gy, pageable.data(), 64, cudaMemcpyHostToDevice, s);
    else if (std::strcmp(c.what, "cudaDeviceSynchronize") == 0) e = cudaDeviceSynchronize();
    else e = cudaStreamSynchronize(s);
    expect_error(e, c.want, c.needle, c.what, false);
    expect_error(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated, c.needle, "  then EndCapture",
                 false);
    EXPECT_TRUE(graph == nullptr);
  }
  cudaGetLastError();
  EXPECT_OK(cudaStreamSynchronize(s));  // the stream works again after the capture ended
  cudaStreamDestroy(s);
  cudaFree(gy);
}

EMU_TEST(cuda_emu_capture_forks_and_joins_streams) {
  const int n = 64;
  std::vector<float> x(n, 1.f);
  float* gx = device_copy(x);
  float *ga = nullptr, *gb = nullptr;
  cudaMalloc(&ga, n * sizeof(float));
  cudaMalloc(&gb, n * sizeof(float));
  cudaStream_t origin, side;
  cudaStreamCreate(&origin);
  cudaStreamCreate(&side);
  cudaEvent_t fork, join;
  cudaEventCreateWithFlags(&fork, cudaEventDisableTiming);
  cudaEventCreateWithFlags(&join, cudaEventDisableTiming);
  for (int joined = 1; joined >= 0; --joined) {
    EXPECT_OK(cudaStreamBeginCapture(origin, cudaStreamCaptureModeGlobal));
    EXPECT_OK(NASNET_LAUNCH(scale2, 1, n, 0, origin, n, gx, ga));
    EXPECT_OK(cudaEventRecord(fork, origin));
    EXPECT_OK(cudaStreamWaitEvent(side, fork, 0));  // side joins the capture
    EXPECT_OK(NASNET_LAUNCH(scale2, 1, n, 0, side, n, ga, gb));
    EXPECT_OK(cudaEventRecord(join, side));
    if (joined) EXPECT_OK(cudaStreamWaitEvent(origin, join, 0));
    cudaGraph_t graph = nullptr;
    if (!joined) {
      expect_error(cudaStreamEndCapture(origin, &graph), cudaErrorStreamCaptureUnjoined, "never waited on",
                   "EndCapture without the join", false);
      continue;
    }
    EXPECT_OK(cudaStreamEndCapture(origin, &graph));
    cudaGraphExec_t exec = nullptr;
    EXPECT_OK(cudaGraphInstantiate(&exec, graph, 0));
    EXPECT_OK(cudaGraphLaunch(exec, origin));
    EXPECT_OK(cudaStreamSynchronize(origin));
    EXPECT_TRUE(host_copy(gb, n)[0] == 4.f);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
  }
  cudaGetLastError();
  cudaEventDestroy(fork);
  cudaEventDestroy(join);
  cudaStreamDestroy(origin);
  cudaStreamDestroy(side);
  cudaFree(gx);
  cudaFree(ga);
  cudaFree(gb);
}

// The kernels' own launchers under capture: each must use the stream it is given (a launch on the
// legacy stream would fail the capture), and stream-ordered scratch (cudaMallocAsync) becomes the
// graph's memory. The replay must equal the direct run bit for bit.
EMU_TEST(cuda_emu_kernels_capture_into_a_graph_and_replay_exactly) {
  nasnet::ConvShape s{};
  s.N = 8; s.C = 4; s.H = 32; s.W = 32; s.K = 6; s.kh = 3; s.kw = 3; s.sh = 1; s.sw = 1;
  s.pt = 1; s.pl = 1; s.pb = 1; s.pr = 1; s.dh = 1; s.dw = 1; s.groups = 1; s.OH = 32; s.OW = 32;
  size_t nx = (size_t)s.N * s.C * s.H * s.W, nw = (size_t)s.K * s.C * 9, ny = (size_t)s.N * s.K * s.OH * s.OW;
  std::vector<float> x(nx), w(nw), dy(ny), zeros(nw, 0.f);
  for (size_t i = 0; i < nx; ++i) x[i] = std::sin(0.1f * i);
  for (size_t i = 0; i < nw; ++i) w[i] = std::cos(0.3f * i);
  for (size_t i = 0; i < ny; ++i) dy[i] = std::sin(0.7f * i);
  float *gx = device_copy(x), *gw = device_copy(w), *gdy = device_copy(dy);
  float *gy = nullptr, *gdw_direct = device_copy(zeros), *gdw_graph = device_copy(zeros);
  cudaMalloc(&gy, ny * sizeof(float));
  double* gsq = nullptr;
  cudaMalloc(&gsq, sizeof(double));
  cudaStream_t st;
  cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking);
  auto step = [&](float* gdw) {
    nasnet::Status a = cu::conv2d_forward(st, s, gx, gw, nullptr, gy);
    nasnet::Status b = cu::relu_forward(st, ny, gy, gy);
    nasnet::Status c = cu::conv2d_backward(st, s, gx, gw, gdy, nullptr, gdw, nullptr);  // split-K: scratch
    nasnet::Status d = cu::sum_squares(st, nw, gdw, gsq);                               // scratch too
    for (const nasnet::Status* q : {&a, &b, &c, &d})
      if (!q->ok()) {
        std::printf("  %s\n", q->message().c_str());
        ++::nasnet::test::failures();
      }
  };
  step(gdw_direct);
  EXPECT_OK(cudaStreamSynchronize(st));
  std::vector<float> y_direct = host_copy(gy, ny);
  double sq_direct = host_copy(gsq, 1)[0];
  cudaMemsetAsync(gy, 0, ny * sizeof(float), st);  // on st: a legacy-stream memset would race with st's work
  EXPECT_OK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
  step(gdw_graph);
  cudaGraph_t graph = nullptr;
  EXPECT_OK(cudaStreamEndCapture(st, &graph));
  cudaGraphExec_t exec = nullptr;
  EXPECT_OK(cudaGraphInstantiate(&exec, graph, 0));
  EXPECT_OK(cudaGraphLaunch(exec, st));
  EXPECT_OK(cudaStreamSynchronize(st));
  EXPECT_TRUE(host_copy(gy, ny) == y_direct);
  EXPECT_TRUE(host_copy(gdw_graph, nw) == host_copy(gdw_direct, nw));
  EXPECT_TRUE(host_copy(gsq, 1)[0] == sq_direct);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(st);
  for (float* p : {gx, gw, gdy, gy, gdw_direct, gdw_graph}) cudaFree(p);
  cudaFree(gsq);
}
