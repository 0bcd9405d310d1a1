// How fast a core reads a buffer the other core has just written, against one it wrote itself: the
// price of handing a tensor from one thread to another, which a batch-1 plan's node workers pay on
// every edge between them (plan/node_parallel.cc). On the 2-vCPU machines here it changes from run
// to run with where the host puts the vCPUs: 26-28 GB/s against 65-70 local in one run, 64-66
// against 70 in another, and batch-1 rates (ours and ONNX Runtime's) move with it.
// Two threads, no OpenMP; each round one thread writes kBytes, the other (cross) or the same one
// (local) then reads them, timed alone; the median of many rounds. Prints one line:
//   core-to-core: local 67.1 GB/s, cross 27.3 GB/s (0.41 of local), 256 KiB
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr size_t kBytes = 256 << 10;  // a 64 × 32 × 32 activation: between the cores' L2 sizes
constexpr int kRounds = 3000;

float* g_buf;
std::atomic<int> g_turn{0};  // round * 2 (+1 once written)
float g_sink = 0;

void Write(int round) {
  const size_t n = kBytes / sizeof(float);
  for (size_t i = 0; i < n; ++i) g_buf[i] = static_cast<float>(i + round);
}

double TimedRead() {
  const size_t n = kBytes / sizeof(float);
  const auto t0 = std::chrono::steady_clock::now();
  float a = 0;
#pragma omp simd reduction(+ : a)
  for (size_t i = 0; i < n; ++i) a += g_buf[i];
  const auto t1 = std::chrono::steady_clock::now();
  g_sink += a;
  return std::chrono::duration<double>(t1 - t0).count();
}

// Median read time (seconds) when `writer_is_reader` (local) or not (cross).
double Measure(bool cross) {
  std::vector<double> times;
  times.reserve(kRounds);
  g_turn = 0;
  std::thread writer([&] {
    for (int r = 0; r < kRounds; ++r) {
      while (g_turn.load(std::memory_order_acquire) != 2 * r) {
      }
      if (cross) Write(r);
      g_turn.store(2 * r + 1, std::memory_order_release);
    }
  });
  for (int r = 0; r < kRounds; ++r) {
    while (g_turn.load(std::memory_order_acquire) != 2 * r + 1) {
    }
    if (!cross) Write(r);
    times.push_back(TimedRead());
    g_turn.store(2 * r + 2, std::memory_order_release);
  }
  writer.join();
  std::nth_element(times.begin(), times.begin() + kRounds / 2, times.end());
  return times[kRounds / 2];
}

}  // namespace

int main() {
  g_buf = static_cast<float*>(std::aligned_alloc(64, kBytes));
  if (g_buf == nullptr) return 1;
  Measure(false);  // warm up both threads and the buffer
  const double local = Measure(false), cross = Measure(true);
  const double gb = static_cast<double>(kBytes) / 1e9;
  std::printf("core-to-core: local %.1f GB/s, cross %.1f GB/s (%.2f of local), %zu KiB (checksum %g)\n", gb / local,
              gb / cross, local / cross, kBytes >> 10, static_cast<double>(g_sink));
  std::free(g_buf);
  return 0;
}
